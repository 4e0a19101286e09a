"""reports/BENCH.md and its chart, generated from a bench result (reports/bench.json) alone.

    python -m graphmem.bench.report [--json reports/bench.json] [--out-dir reports]

This module assembles the document: the title and note, the measured tables (implementations,
per-operation time, backward scaling, collection, teardown) and the method. The targets come
from graphmem.bench.targets, the explaining sections from graphmem.bench.explain, the chart from
graphmem.bench.chart. Every figure is computed from the result, and a sentence that states a
measured fact appears only where the result supports it. Ratios are to the weakref variant
measured in the same run; every spread is median [min–max] (graphmem.spread).
"""
import argparse
import json
import sys
from pathlib import Path

from graphmem.atomic_files import write_atomically
from graphmem.bench import cells
from graphmem.bench.chart import CHART_NAME, write_chart
from graphmem.bench.explain import features_section, policy_cost_section, profile_section
from graphmem.bench.plan import PHASES
from graphmem.bench.targets import EXPRESSIONS, REFERENCE, is_record, median_per_op, not_record_because, \
    ordered_implementations, per_op_row, ratio, scaling_row, scaling_step, shapes, targets_section
from graphmem.facts import VARIANTS
from graphmem.spread import SPREAD_NAME

REQUIRED = ("implementations", "plan", "environment", "per_op", "scaling", "collection", "teardown")
TITLE_PEERS = {"torch": "PyTorch", "book": "the book's package"}  # named in the title when measured


class ReportInputError(ValueError):
    """A bench result that cannot be rendered: missing file, bad JSON or missing sections."""


def _measured(result, name):
    return result.get("implementations", {}).get(name, {}).get("status") == "ok"


def title(result):
    """The title, naming the peers this run measured, and only those."""
    against = [label for name, label in TITLE_PEERS.items() if _measured(result, name)]
    return "# Speed: per-operation time and backward scaling" + (f" against {' and '.join(against)}" if against else "")


def _implementations_section(result):
    rows = []
    for name in ordered_implementations(result):
        entry = result["implementations"][name]
        versions = ", ".join(f"{k} {v}" for k, v in (entry.get("versions") or {}).items())
        peak = ", ".join(f"{group} {mib:.0f}" for group, mib in (entry.get("peak_rss_mib") or {}).items())
        status = entry["status"] if entry["status"] == "ok" else f"**{entry['status']}**: {entry.get('reason')}"
        rows.append([name, entry["kind"], status, versions or "–", peak or "–", entry.get("note") or ""])
    return "## Implementations\n\n" + cells.table(
        ["name", "kind", "status", "versions", "peak RSS per process (MiB)", "note"], rows)


def _per_op_section(result):
    parts = [f"## Per-operation time\n\nTime per Function ({SPREAD_NAME}) over all "
             "repetitions of all rounds; × = ratio to weakref's median in this run. The minimal floor has "
             "`square` only."]
    titles = {"0-d": "0-d arrays (`np.array(1.0)`, as every example in the book)", "(1,)": "Arrays of shape (1,)"}
    for shape in shapes(result):
        rows = []
        for expression in EXPRESSIONS:
            for name in ordered_implementations(result):
                line = [EXPRESSIONS[expression], name]
                measured = False
                for phase in PHASES:
                    row = per_op_row(result, name, expression, shape, phase)
                    if row is None:
                        line += ["–", "–"]
                        continue
                    measured = True
                    reference = median_per_op(result, REFERENCE, expression, shape, phase)
                    line += [cells.spread(row["per_function_ns"]),
                             cells.times(ratio(row["per_function_ns"]["median"], reference))]
                if measured:
                    row = per_op_row(result, name, expression, shape, "forward")
                    line.append(f"{row['functions']} × {row['per_function_ns']['repeats']}")
                    rows.append(line)
        parts.append(f"### {titles.get(shape, f'Arrays of shape {shape}')}\n\n" + cells.table(
            ["expression", "implementation", cells.named("forward"), "×", cells.named("backward"), "×",
             cells.named("fwd+bwd"), "×", "Functions × repetitions"], rows))
    return "\n\n".join(parts)


def _scaling_section(result):
    rows = []
    for graph in ("chain", "branching"):
        for size in sorted({row["size"] for row in result.get("scaling", []) if row["graph"] == graph}):
            reference = scaling_row(result, REFERENCE, graph, size)
            for name in VARIANTS:
                row = scaling_row(result, name, graph, size)
                if row is None:
                    continue
                step = scaling_step(result, name, graph, size // 10) if size >= 10 else None
                rows.append([graph, f"{row['functions']:,}", name, cells.spread(row["backward_ns"]),
                             cells.times(ratio(row["backward_ns"]["median"],
                                               reference and reference["backward_ns"]["median"])),
                             cells.times(step), cells.time(row["build_ns"]["median"]), row["backward_ns"]["repeats"]])
    return ("## Backward scaling\n\n`backward()` on a chain of squares and on a wide branching graph (one leaf "
            f"fanned out to n/2 squares, summed pairwise), 1-element arrays. {SPREAD_NAME[0].upper()}"
            f"{SPREAD_NAME[1:]}; t(10n)/t(n) is this size's median over the median at a tenth of it.\n\n"
            + cells.table(["graph", "Functions", "variant", cells.named("backward"), "× weakref", "t(10n)/t(n)",
                           "build (forward), median", "repetitions"], rows)
            + f"\n\n![backward time against graph size]({CHART_NAME})")


def weakref_collected_nothing(result):
    """True where every collection row of weakref collected no object: it had freed the graph on drop."""
    rows = [r for r in result.get("collection", []) if r["implementation"] == REFERENCE]
    return bool(rows) and all(r["collected_objects"] == 0 for r in rows)


def _collection_section(result):
    rows = []
    for name in VARIANTS:
        for row in (r for r in result.get("collection", []) if r["implementation"] == name):
            mib = row["reclaimed_bytes"] / 2**20
            # Time per MiB means something only where the collection freed the graph.
            per_mib = row["collect_ns"]["median"] / mib if row["collected_objects"] and mib > 0 else None
            rows.append([name, f"{row['functions']:,}", cells.spread(row["collect_ns"]),
                         f"{row['collected_objects']:,}", f"{mib:.2f}", cells.time(per_mib),
                         row["collect_ns"]["repeats"]])
    found_nothing = (" weakref's collection collected no objects at any size: it had freed the graph on drop."
                     if weakref_collected_nothing(result) else "")
    return ("## Collection cost\n\nThe collection each policy relies on, timed right after dropping a chain of n "
            "squares (1-element arrays): strong and weakref one `gc.collect()`, gc_only its own "
            "`dezero.collector.collect()` (the same `gc.collect()`, plus its bookkeeping). Objects and MiB "
            "reclaimed come from a second, untimed pass under tracemalloc." + found_nothing + "\n\n"
            + cells.table(["variant", "Functions", cells.named("collection"), "objects collected", "MiB reclaimed",
                           "time per MiB (median)", "repetitions"], rows))


def _teardown_section(result):
    rows = []
    reference = next((r for r in result.get("teardown", []) if r["implementation"] == REFERENCE), None)
    for name in VARIANTS:
        for row in (r for r in result.get("teardown", []) if r["implementation"] == name):
            total = row["drop_ns"]["median"] + row["collect_after_ns"]["median"]
            ref_total = reference and reference["drop_ns"]["median"] + reference["collect_after_ns"]["median"]
            rows.append([name, f"{row['functions']:,}", cells.spread(row["drop_ns"]),
                         "yes" if row["freed_by_drop"] else "no", cells.spread(row["collect_after_ns"]),
                         cells.time(total), cells.times(ratio(total, ref_total)), row["drop_ns"]["repeats"]])
    return ("## Teardown\n\nDropping the last reference to a chain of squares (`del y`), then the collection "
            "the harness runs next. 'freed by drop' says whether the output's Function was gone right after "
            "`del`; 'drop + collection' adds the two medians.\n\n"
            + cells.table(["variant", "Functions", cells.named("drop"), "freed by drop", cells.named("collection after"),
                           "drop + collection", "× weakref", "repetitions"], rows))


def _numpy(result, name):
    return (result.get("implementations", {}).get(name, {}).get("versions") or {}).get("numpy")


def floor_numpy_sentence(result):
    """The floor's numpy, set against the variants' where both were recorded; '' otherwise."""
    floor = _numpy(result, "minimal") if _measured(result, "minimal") else None
    if floor is None:
        return ""
    ours = {_numpy(result, name) for name in VARIANTS if _measured(result, name)} - {None}
    if ours == {floor}:
        return f" It ran in its own environment with numpy {floor}, the numpy our variants ran with."
    return f" It ran in its own environment with numpy {floor}" + (
        f" (our variants: numpy {', '.join(sorted(ours))})." if ours else ".")


def book_sentence(result):
    """How the book's package ran, from its recorded versions; '' when it was not measured."""
    versions = result.get("implementations", {}).get("book", {}).get("versions") or {}
    if not _measured(result, "book") or "numpy" not in versions:
        return ""
    return (f"- The book's package (dezero {versions.get('dezero', '?')}) ran in its own environment with numpy "
            f"{versions['numpy']} (it needs numpy<1.24: it uses `np.int`) and matplotlib (it imports it at "
            "import time).")


def load_sentence(env):
    """The load averages the run recorded; '' when it recorded none."""
    start, end = env.get("load_average_at_start"), env.get("load_average_at_end")
    if start is None and end is None:
        return ""
    said = [f"{start} at the start" if start is not None else "", f"{end} at the end" if end is not None else ""]
    return "- Load average (1, 5, 15 min): " + " and ".join(s for s in said if s) + " of the run."


def _method_section(result):
    plan, env = result["plan"], result["environment"]
    per_op = ", ".join(f"{functions} Functions on {shape} arrays"
                       for shape, functions in plan["per_op_functions"].items())
    lines = [
        f"- Command: `{env.get('command')}`; plan `{plan['name']}`, "
        f"run {result['started']} to {result['finished']} (UTC).",
        f"- Machine: {env.get('cpu')}, {env.get('logical_cpus')} logical CPUs, {env.get('platform')}; "
        f"Python {env.get('python')}; git commit `{env.get('git_commit')}`"
        f"{' (variants or bench code modified)' if env.get('git_dirty_variants_or_bench') else ''}.",
        load_sentence(env),
        f"- Timer: `{env.get('timer')}` around each timed region. Threads: "
        + ", ".join(f"{k}={v}" for k, v in env.get("threads", {}).items()) + ".",
        "- One process per implementation and per measurement group (ours and the book's package are both "
        "imported as `dezero`; collector settings are process-wide). The per-operation group runs "
        f"{plan['rounds']} round(s), the implementations interleaved in a rotating order, so that drift in the "
        "machine's load falls on all alike and does not decide a ratio; the samples of all rounds are pooled.",
        f"- Per-operation: {per_op}; {plan['warmup']} warm-up repetition(s) then {plan['per_op_repeats']} "
        "per round. Forward is building the expression, backward is `backward()` from its output (seeded with "
        "ones, as the dezero packages do; PyTorch gets `backward(ones_like(y))`); fwd+bwd is their sum in the "
        "same repetition. Leaves are float64 arrays (zeros for the square chain, so that no value or gradient "
        "overflows; ones for the mix); every leaf needs a gradient.",
        "- The minimal floor (`graphmem.minimal`, kind `minimal`) is the smallest autograd that the "
        "book's step 17 describes, written for this project: Variable with data, grad, creator and generation; "
        "Function holding its inputs and weak references to its outputs; Square; backward keeping pending "
        "Functions in a list re-sorted by generation on each insert; no checks and no operators."
        + floor_numpy_sentence(result),
        "- The features group runs in weakref's process only: its core compiled from the installed source, "
        "copies of that source with one feature's lines switched off (`graphmem.bench.features`), the lean "
        "design (`graphmem.bench.lean`) and the floor, all interleaved repetition by repetition in one process "
        "(same numpy, same interpreter), so that their ratios do not depend on which process ran faster.",
        "- The cyclic collector is disabled in every timed region, and a collection runs (untimed) before "
        "each repetition: gc_only's own `collector.collect()`, so that its byte count starts at zero and it "
        "never collects inside a timed region (the collections it ran there are counted, and a parity target "
        "with any is not evaluated). The collection and teardown groups time a collection on purpose.",
        "- Backward scaling: the sizes take turns repetition by repetition; repetitions per size " + ", ".join(
            f"{int(size):,}: {count}" for size, count in plan["scaling_repeats"].items())
        + "; the largest graphs are built only a few times, to fit the machine (peak RSS per process is "
          "in the implementations table). t(10n)/t(n)'s spread pairs repetition r of both sizes.",
        "- Same expressions everywhere: the book's package has no `square()`, so its square is `x ** 2` "
        "(one Pow Function); PyTorch's is `torch.square`; binary operators are Python's.",
        book_sentence(result),
        f"- Spread: every bracket is {SPREAD_NAME} (`graphmem.spread`): of the repetitions for a time, of the "
        "round-by-round ratios for a ratio between implementations per op, of the repetition-by-repetition "
        "ratios for t(10n)/t(n). A difference is real only where two min–max ranges do not overlap (or, "
        "against a limit, where the range lies on one side of it); elsewhere it is within noise.",
        "- Only a full run of every implementation and group writes `reports/`; `-- --quick`, `--only` or "
        "`--group` write to `build/bench-quick/` unless `--out-dir` says otherwise, and call their figures "
        "indicative.",
    ]
    return "## Method\n\n" + "\n".join(line for line in lines if line)  # a sentence the data lacks is ''



def render_markdown(result):
    """BENCH.md as a string, from a bench result dict."""
    for key in REQUIRED:
        if key not in result:
            raise ReportInputError(f"bench result has no {key!r} section")
    note = ("Generated by `python -m graphmem.bench.report` from `bench.json`, written by "
            f"`{result['environment'].get('command')}`. Do not edit by hand.")
    if is_record(result):
        note += " A full run (every implementation and group, the full plan): the committed record."
    else:
        note += (" **Indicative, not the record**: " + "; ".join(not_record_because(result))
                 + ". The committed BENCH.md comes only from a full `python3 -m nox -s bench`.")
    sections = [title(result), note, targets_section(result), policy_cost_section(result), profile_section(result),
                features_section(result), _implementations_section(result), _per_op_section(result),
                _scaling_section(result), _collection_section(result), _teardown_section(result),
                _method_section(result)]
    return "\n\n".join(sections) + "\n"


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
