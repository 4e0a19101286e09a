"""reports/BENCH.md and its chart, generated from a bench result (reports/bench.json) alone.

    python -m graphmem.bench.report [--json reports/bench.json] [--out-dir reports]

Every figure in the markdown is computed here from the result; the targets' met / not met
too. Ratios are to the weakref variant measured in the same run.
"""
import argparse
import io
import json
import sys
from pathlib import Path

from graphmem.atomic_files import write_atomically

REFERENCE = "weakref"
VARIANTS = ("strong", "weakref", "gc_only")
PEERS = ("book", "torch")
EXPRESSIONS = {"square_chain": "chain of `square`", "binary_mix": "chain of `+ * - /` with a shared leaf"}
PHASES = ("forward", "backward", "forward+backward")
CHART_NAME = "bench-backward-scaling.png"
PEER_LABELS = {"book": "book's dezero 0.0.13", "torch": "PyTorch eager CPU"}

# The targets of issue 5, as thresholds on ratios measured in one run.
FWD_BWD_VS_PEER = {"book": 0.25, "torch": 0.4}  # weakref fwd+bwd per op, 1-element arrays
SCALING_STEP_LIMIT = 12.0  # backward t(10n)/t(n)
SCALING_STEPS = (10**4, 10**5)  # n for t(10n)/t(n): 10^4 -> 10^5 and 10^5 -> 10^6
PARITY_TOLERANCE = 0.05  # strong and gc_only per op within 5% of weakref


class ReportInputError(ValueError):
    """A bench result that cannot be rendered: missing file, bad JSON or missing sections."""


# --- Lookups --------------------------------------------------------------------------
def _per_op(result, implementation, expression, elements, phase):
    for row in result.get("per_op", []):
        if (row["implementation"], row["expression"], row["elements"], row["phase"]) == \
                (implementation, expression, elements, phase):
            return row
    return None


def _median_per_op(result, implementation, expression, elements, phase):
    row = _per_op(result, implementation, expression, elements, phase)
    return None if row is None else row["per_function_ns"]["median"]


def _scaling(result, implementation, graph, size):
    for row in result.get("scaling", []):
        if (row["implementation"], row["graph"], row["size"]) == (implementation, graph, size):
            return row
    return None


def _ratio(value, reference):
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def scaling_step(result, implementation, graph, size):
    """t(10n)/t(n) of backward for graph size n, or None when either size was not measured."""
    small, large = _scaling(result, implementation, graph, size), _scaling(result, implementation, graph, 10 * size)
    if small is None or large is None:
        return None
    return _ratio(large["backward_ns"]["median"], small["backward_ns"]["median"])


# --- Targets --------------------------------------------------------------------------
def evaluate_targets(result):
    """Each target row: what, the measured value, the limit and met (True/False, None: not measured)."""
    rows = []
    implementations = result.get("implementations", {})
    for peer, limit in FWD_BWD_VS_PEER.items():
        peer_entry = implementations.get(peer, {})
        for expression in EXPRESSIONS:
            value = _ratio(_median_per_op(result, REFERENCE, expression, 1, "forward+backward"),
                           _median_per_op(result, peer, expression, 1, "forward+backward"))
            why = None
            if value is None:
                why = peer_entry.get("reason") or f"{peer} was not measured"
            rows.append({"target": f"weakref fwd+bwd per op, 1 element, {expression}: × {PEER_LABELS[peer]}",
                         "value": value, "limit": f"≤ {limit}", "met": None if value is None else value <= limit,
                         "why_unmeasured": why})
    for graph in ("chain", "branching"):
        for size in SCALING_STEPS:
            value = scaling_step(result, REFERENCE, graph, size)
            exponent = len(str(size)) - 1
            rows.append({"target": f"weakref backward t(10n)/t(n), {graph}, 10^{exponent} → 10^{exponent + 1}",
                         "value": value, "limit": f"≤ {SCALING_STEP_LIMIT:g}",
                         "met": None if value is None else value <= SCALING_STEP_LIMIT,
                         "why_unmeasured": None if value is not None else "size not in this run's plan"})
    for variant in ("strong", "gc_only"):
        for elements in sorted({row["elements"] for row in result.get("per_op", [])}):
            for expression in EXPRESSIONS:
                row = _per_op(result, variant, expression, elements, "forward+backward")
                value = _ratio(None if row is None else row["per_function_ns"]["median"],
                               _median_per_op(result, REFERENCE, expression, elements, "forward+backward"))
                why = None if value is not None else f"{variant} or weakref was not measured"
                if row is not None and row.get("collections"):
                    value, why = None, f"{row['collections']} collections ran in the timed region"
                rows.append({"target": f"{variant} fwd+bwd per op, {elements} element{'s' * (elements != 1)}, "
                                       f"{expression}: × weakref",
                             "value": value, "limit": f"within {1 - PARITY_TOLERANCE:.2f}–{1 + PARITY_TOLERANCE:.2f}",
                             "met": None if value is None else abs(value - 1) <= PARITY_TOLERANCE + 1e-12,
                             "why_unmeasured": why})
    return rows


# --- Formatting -----------------------------------------------------------------------
def _time(ns):
    """A duration in ns as a short human figure with its unit."""
    if ns is None:
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _spread(stats):
    return f"{_time(stats['median'])} [{_time(stats['q1'])}–{_time(stats['q3'])}]"


def _x(ratio):
    return "–" if ratio is None else f"{ratio:.2f}×"


def _met(met):
    return {True: "**met**", False: "**not met**", None: "not measured"}[met]


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ordered_implementations(result):
    present = result.get("implementations", {})
    return [name for name in (*VARIANTS, *PEERS) if name in present] + \
        [name for name in present if name not in VARIANTS + PEERS]


# --- Sections -------------------------------------------------------------------------
def _targets_section(result):
    rows = [[t["target"], "–" if t["value"] is None else f"{t['value']:.3f}", t["limit"],
             _met(t["met"]) + (f" ({t['why_unmeasured']})" if t["why_unmeasured"] else "")]
            for t in evaluate_targets(result)]
    return ("## Targets\n\nRatios from this run; computed by `graphmem.bench.report` from bench.json.\n\n"
            + _table(["target", "measured", "limit", "status"], rows) + "\n\n" + WHAT_THE_POLICIES_ADD)


# Not a result: what the code of each policy does per Function, to read the parity rows by.
WHAT_THE_POLICIES_ADD = (
    "The policies are not free per operation, by their own code: weakref creates a `weakref.ref` per "
    "output in forward and dereferences it in backward; gc_only adds each output's bytes to its count in "
    "forward. strong does neither. Where an operation is a few microseconds of Python (1-element arrays) "
    "that bookkeeping can show in the parity rows; on 10,000-element arrays numpy's work dominates.")


def _implementations_section(result):
    rows = []
    for name in _ordered_implementations(result):
        entry = result["implementations"][name]
        versions = ", ".join(f"{k} {v}" for k, v in (entry.get("versions") or {}).items())
        peak = ", ".join(f"{group} {mib:.0f}" for group, mib in (entry.get("peak_rss_mib") or {}).items())
        status = entry["status"] if entry["status"] == "ok" else f"**{entry['status']}**: {entry.get('reason')}"
        rows.append([name, entry["kind"], status, versions or "–", peak or "–", entry.get("note") or ""])
    return "## Implementations\n\n" + _table(
        ["name", "kind", "status", "versions", "peak RSS per process (MiB)", "note"], rows)


def _per_op_section(result):
    parts = ["## Per-operation time\n\nTime per Function (median [interquartile range]) over all "
             "repetitions of all rounds; × = ratio to weakref's median in this run."]
    for elements in sorted({row["elements"] for row in result.get("per_op", [])}):
        rows = []
        for expression in EXPRESSIONS:
            for name in _ordered_implementations(result):
                cells = [EXPRESSIONS[expression], name]
                measured = False
                for phase in PHASES:
                    row = _per_op(result, name, expression, elements, phase)
                    if row is None:
                        cells += ["–", "–"]
                        continue
                    measured = True
                    reference = _median_per_op(result, REFERENCE, expression, elements, phase)
                    cells += [_spread(row["per_function_ns"]), _x(_ratio(row["per_function_ns"]["median"], reference))]
                if measured:
                    row = _per_op(result, name, expression, elements, "forward")
                    cells.append(f"{row['functions']} × {row['per_function_ns']['repeats']}")
                    rows.append(cells)
        parts.append(f"### Arrays of {elements:,} element{'s' * (elements != 1)}\n\n" + _table(
            ["expression", "implementation", "forward", "×", "backward", "×", "fwd+bwd", "×",
             "Functions × repetitions"], rows))
    return "\n\n".join(parts)


def _scaling_section(result):
    rows = []
    for graph in ("chain", "branching"):
        for size in sorted({row["size"] for row in result.get("scaling", []) if row["graph"] == graph}):
            reference = _scaling(result, REFERENCE, graph, size)
            for name in VARIANTS:
                row = _scaling(result, name, graph, size)
                if row is None:
                    continue
                step = scaling_step(result, name, graph, size // 10) if size >= 10 else None
                rows.append([graph, f"{row['functions']:,}", name,
                             f"{_time(row['backward_ns']['median'])} [{_time(row['backward_ns']['min'])}–"
                             f"{_time(row['backward_ns']['max'])}]",
                             _x(_ratio(row["backward_ns"]["median"],
                                       reference and reference["backward_ns"]["median"])),
                             _x(step), _time(row["build_ns"]["median"]), row["backward_ns"]["repeats"]])
    return ("## Backward scaling\n\n`backward()` on a chain of squares and on a wide branching graph (one leaf "
            "fanned out to n/2 squares, summed pairwise), 1-element arrays. Median [min–max]; "
            "t(10n)/t(n) is this size's median over the median at a tenth of it.\n\n"
            + _table(["graph", "Functions", "variant", "backward", "× weakref", "t(10n)/t(n)", "build (forward)",
                      "repetitions"], rows)
            + f"\n\n![backward time against graph size]({CHART_NAME})")


def _collection_section(result):
    rows = []
    for name in VARIANTS:
        for row in (r for r in result.get("collection", []) if r["implementation"] == name):
            mib = row["reclaimed_bytes"] / 2**20
            # Time per MiB means something only where the collection freed the graph.
            per_mib = row["collect_ns"]["median"] / mib if row["collected_objects"] and mib > 0 else None
            rows.append([name, f"{row['functions']:,}", _spread(row["collect_ns"]), f"{row['collected_objects']:,}",
                         f"{mib:.2f}", _time(per_mib), row["collect_ns"]["repeats"]])
    return ("## Collection cost\n\nThe collection each policy relies on, timed right after dropping a chain of n "
            "squares (1-element arrays): strong and weakref one `gc.collect()`, gc_only its own "
            "`dezero.collector.collect()` (the same `gc.collect()`, plus its bookkeeping). Objects and MiB "
            "reclaimed come from a second, untimed pass under tracemalloc; weakref has already freed the graph "
            "on drop, so its collection finds nothing of it.\n\n"
            + _table(["variant", "Functions", "collection", "objects collected", "MiB reclaimed", "time per MiB",
                      "repetitions"], rows))


def _teardown_section(result):
    rows = []
    reference = next((r for r in result.get("teardown", []) if r["implementation"] == REFERENCE), None)
    for name in VARIANTS:
        for row in (r for r in result.get("teardown", []) if r["implementation"] == name):
            total = row["drop_ns"]["median"] + row["collect_after_ns"]["median"]
            ref_total = reference and reference["drop_ns"]["median"] + reference["collect_after_ns"]["median"]
            rows.append([name, f"{row['functions']:,}", _spread(row["drop_ns"]), "yes" if row["freed_by_drop"] else "no",
                         _spread(row["collect_after_ns"]), _time(total), _x(_ratio(total, ref_total)),
                         row["drop_ns"]["repeats"]])
    return ("## Teardown\n\nDropping the last reference to a chain of squares (`del y`), then the collection "
            "the harness runs next. 'freed by drop' says whether the output's Function was gone right after "
            "`del`.\n\n" + _table(["variant", "Functions", "drop", "freed by drop", "collection after",
                                    "drop + collection", "× weakref", "repetitions"], rows))


def _method_section(result):
    plan, env = result["plan"], result["environment"]
    book = result.get("implementations", {}).get("book", {})
    per_op = ", ".join(f"{functions} Functions on {elements}-element arrays"
                       for elements, functions in plan["per_op_functions"].items())
    return "\n".join([
        "## Method",
        "",
        f"- Command: `{env.get('command')}`{' -- --quick' if result.get('quick') else ''}; plan `{plan['name']}`, "
        f"run {result['started']} to {result['finished']} (UTC).",
        f"- Machine: {env.get('cpu')}, {env.get('logical_cpus')} logical CPUs, {env.get('platform')}; "
        f"Python {env.get('python')}; git commit `{env.get('git_commit')}`"
        f"{' (variants or bench code modified)' if env.get('git_dirty_variants_or_bench') else ''}.",
        f"- The machine is shared: load average (1, 5, 15 min) {env.get('load_average_at_start')} at the start "
        f"and {env.get('load_average_at_end')} at the end of the run (2 cores). Interleaving and medians are "
        "there to keep that load from deciding a ratio.",
        f"- Timer: `{env.get('timer')}` around each timed region. Threads: "
        + ", ".join(f"{k}={v}" for k, v in env.get("threads", {}).items()) + ".",
        "- One process per implementation and per measurement group (ours and the book's package are both "
        "imported as `dezero`; collector settings are process-wide). The per-operation group runs "
        f"{plan['rounds']} round(s), the implementations interleaved in a rotating order, so that drift in the "
        "machine's load falls on all alike; the samples of all rounds are pooled.",
        f"- Per-operation: {per_op}; {plan['warmup']} warm-up repetition(s) then {plan['per_op_repeats']} "
        "per round. Forward is building the expression, backward is `backward()` from its output (seeded with "
        "ones, as the dezero packages do; PyTorch gets `backward(ones_like(y))`); fwd+bwd is their sum in the "
        "same repetition. Leaves are float64 arrays (zeros for the square chain, so that no value or gradient "
        "overflows; ones for the mix); every leaf needs a gradient.",
        "- The cyclic collector is disabled in every timed region, and a collection runs (untimed) before "
        "each repetition: gc_only's own `collector.collect()`, so that its byte count starts at zero and it "
        "never collects inside a timed region (the collections it ran there are counted, and a parity target "
        "with any is not evaluated). The collection and teardown groups time a collection on purpose.",
        "- Backward scaling: the sizes take turns repetition by repetition; repetitions per size " + ", ".join(
            f"{int(size):,}: {count}" for size, count in plan["scaling_repeats"].items())
        + "; the 10^6 graphs are built once or twice only, to fit the machine (peak RSS per process is "
          "in the implementations table).",
        "- Same expressions everywhere: the book's package has no `square()`, so its square is `x ** 2` "
        "(one Pow Function); PyTorch's is `torch.square`; binary operators are Python's.",
        "- The book's package `dezero==0.0.13` runs in its own environment with numpy "
        f"{(book.get('versions') or {}).get('numpy', '1.23.5')} (it needs numpy<1.24: it uses `np.int`) and "
        "matplotlib (it imports it at import time).",
        "- Spread: interquartile range where shown as [q1–q3]; [min–max] where repetitions are few.",
    ])


def render_markdown(result):
    """BENCH.md as a string, from a bench result dict."""
    for key in ("implementations", "plan", "environment", "per_op", "scaling", "collection", "teardown"):
        if key not in result:
            raise ReportInputError(f"bench result has no {key!r} section")
    title = "# Speed: per-operation time and backward scaling against PyTorch and the book's package"
    note = ("Generated by `python -m graphmem.bench.report` from `reports/bench.json`, written by "
            f"`python3 -m nox -s bench{' -- --quick' if result.get('quick') else ''}`. Do not edit by hand.")
    if result.get("quick"):
        note += " **Quick plan**: small sizes and few repetitions; not the committed figures."
    sections = [title, note, _targets_section(result), _implementations_section(result), _per_op_section(result),
                _scaling_section(result), _collection_section(result), _teardown_section(result),
                _method_section(result)]
    return "\n\n".join(sections) + "\n"


def chart_series(result):
    """(label, [functions], [seconds]) for each variant and graph with backward scaling data."""
    series = []
    for name in VARIANTS:
        for graph in ("chain", "branching"):
            rows = sorted((r for r in result.get("scaling", []) if r["implementation"] == name and r["graph"] == graph),
                          key=lambda r: r["functions"])
            if rows:
                series.append((f"{name}, {graph}", [r["functions"] for r in rows],
                               [r["backward_ns"]["median"] / 1e9 for r in rows]))
    return series


def write_chart(result, path):
    """The log-log chart of backward time against graph size, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(7, 4.5))
    styles = {"chain": "-", "branching": "--"}
    colours = {name: f"C{index}" for index, name in enumerate(VARIANTS)}  # one colour per variant
    markers = dict(zip(VARIANTS, "os^"))  # and a marker, so that variants that coincide stay visible
    series = chart_series(result)
    for label, functions, seconds in series:
        variant, graph = label.split(", ")
        axes.loglog(functions, seconds, styles[graph], color=colours[variant], marker=markers[variant],
                    fillstyle="none", label=label)
    if not series:
        axes.text(0.5, 0.5, "no backward scaling data in this run", ha="center", transform=axes.transAxes)
    axes.set_xlabel("graph size (Functions)")
    axes.set_ylabel("backward() time (s), median")
    axes.set_title("Backward time against graph size (1-element arrays)")
    axes.grid(True, which="both", alpha=0.3)
    if series:
        axes.legend(fontsize="small")
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110)
    plt.close(figure)
    write_atomically(path, png.getvalue())


def write_report(result, out_dir):
    """BENCH.md and the chart into out_dir; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(result)
    chart = out_dir / CHART_NAME
    write_chart(result, chart)
    write_atomically(out_dir / "BENCH.md", markdown)
    return [out_dir / "BENCH.md", chart]


def load_result(path):
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"no bench result at {path} (run `python3 -m nox -s bench` first)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{path} is not valid JSON: {error}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m graphmem.bench.report", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=Path("reports/bench.json"))
    parser.add_argument("--out-dir", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    try:
        written = write_report(load_result(args.json), args.out_dir)
    except ReportInputError as error:
        print(f"bench_report: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"bench_report: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
