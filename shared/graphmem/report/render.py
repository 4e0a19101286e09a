"""reports/COMPARISON.md rendered from reports/summary.json alone, and `python -m graphmem.report` to write it.

The markdown is rendered by `render_markdown`, which needs neither matplotlib nor a profiler, so the
test sessions can check that the committed report is exactly what the committed summary renders to.
`main` adds the PNG charts (graphmem.report.charts) and writes everything atomically.
"""
import argparse
import ast
import subprocess
import sys
from pathlib import Path

from graphmem.report import argument as report_argument
from graphmem.report import captions, flamegraphs, verdict
from graphmem.report import peers as report_peers
from graphmem.atomic_files import write_atomically
from graphmem.report.data import (
    MODE_MEANING, MODES, NOT_MEASURED, REFERENCE_VARIANT, SummaryError, budget_sweeps, chart_plan,
    checkout_of, collector_runs, default_budget, fmt_bytes, fmt_checkout, fmt_count, fmt_machine, fmt_params,
    fmt_ratio, fmt_time, headline_params, headline_run, later_failures, load_summary, matching_run,
    mixed_provenance, peak, peak_to_bound, provenance_groups, ratio, reported_runs, shown_id, sweep,
    workload_names,
)
from graphmem.variant_sources import CANONICAL, ROOT, VARIANTS, VARIANTS_DIR, differing_lines, hunks, variant_files

SUMMARY_PATH = ROOT / "reports" / "summary.json"
REPORT_PATH = ROOT / "reports" / "COMPARISON.md"
README_PATH = ROOT / "README.md"
PROFILE_COMMAND = "python3 -m nox -s profile"
REPORT_COMMAND = "python3 -m nox -s report"


# --- markdown building blocks ------------------------------------------------------------------

def md_table(headers, rows, right=()):
    """A GitHub table with every column padded to its widest cell; columns in `right` align right."""
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in [headers, *rows]]
    widths = [max(3, *(len(row[index]) for row in cells)) for index in range(len(headers))]

    def line(row):
        return "| " + " | ".join(
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ) + " |"

    rule = "| " + " | ".join(
        "-" * (width - 1) + ":" if index in right else "-" * width for index, width in enumerate(widths)
    ) + " |"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def committed_paths(root=ROOT):
    """Repository paths git tracks; without git, the files that exist (a fresh clone has only those)."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        return frozenset(listing.decode("utf-8").split("\0")) - {""}
    except (OSError, subprocess.CalledProcessError):
        return frozenset(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


# --- 1. what was compared ----------------------------------------------------------------------

def policy_statement(variant, variants_root=VARIANTS_DIR):
    """The variant's own `POLICY = "..."` sentence, read from its source rather than retyped here."""
    for path in variant_files(variant, variants_root):
        if path.endswith(".py"):
            tree = ast.parse((variants_root / variant / path).read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(
                        isinstance(target, ast.Name) and target.id == "POLICY" for target in node.targets):
                    return ast.literal_eval(node.value)
    return "(no POLICY statement in its source)"


def unified_hunks(variant, variants_root):
    """One ```diff block per file that differs from strong, one `@@` per run of differing lines."""
    blocks = []
    paths = sorted(set(variant_files(CANONICAL, variants_root)) | set(variant_files(variant, variants_root)))
    for path in paths:
        found = hunks(variant, path, variants_root)
        if not found:
            continue
        lines = [f"--- variants/{CANONICAL}/{path}", f"+++ variants/{variant}/{path}"]
        for hunk in found:
            # No line numbers: an edit elsewhere in a variant moves them without changing the policy.
            lines.append("@@")
            lines += [f"-{text}" for text in hunk.strong_lines] + [f"+{text}" for text in hunk.other_lines]
        blocks.append("```diff\n" + "\n".join(lines) + "\n```")
    return blocks


def section_compared(summary, variants_root):
    budget = default_budget(summary)
    rows = []
    for variant in VARIANTS:
        if variant == CANONICAL:
            differing = "canonical text"
        else:
            lines = differing_lines(variant, variants_root)
            differing = (f"{sum(line.variant == variant for line in lines)} lines replace "
                         f"{sum(line.variant == CANONICAL for line in lines)}")
        rows.append([f"`{variant}`", policy_statement(variant, variants_root), differing,
                     f"[core.py](../variants/{variant}/dezero/core.py)"])
    parts = [
        "## 1. What was compared",
        "One DeZero-style define-by-run autograd, built three times. The builds are identical except for the "
        "lines that decide who frees a computation graph the program has dropped; each policy below is the "
        "variant's own `dezero.POLICY` sentence, read from its source.",
        md_table(["variant", "policy (`dezero.POLICY`)", "lines that differ from strong", "source"], rows),
        "gc_only's budget outside the budget sweep: "
        + (f"{fmt_bytes(budget)} ({budget:,} bytes) of graph arrays between its own collections."
           if budget is not None else f"{NOT_MEASURED} (no gc_only run in this summary)."),
        "Every workload ran once per variant and per collector mode, each in its own process:",
        md_table(["mode", "meaning"], [[f"`{mode}`", MODE_MEANING[mode]] for mode in MODES]),
        "### The code that differs",
        "These are all the lines in which a variant differs from strong, extracted from the sources by "
        "`shared/graphmem/variant_sources.py`; everything else is the same text, and "
        "`shared/contract/test_drift.py` fails on any difference that is not marked `# policy: <variant>`. "
        f"They are read from the `variants/` this report was rendered beside; {measured_at(summary)}",
    ]
    for variant in VARIANTS:
        if variant != CANONICAL:
            parts.append(f"#### {variant} against strong")
            parts += unified_hunks(variant, variants_root)
    return parts


def measured_at(summary):
    """Which commit(s) the runs were measured at, for the sentence under the code that differs."""
    checkouts = sorted({checkout_of(run) for run in reported_runs(summary) if run["status"] != "failed"})
    if not checkouts:
        return "no run in this summary has a measurement."
    if len(checkouts) == 1:
        return f"the runs were measured at commit {fmt_checkout(checkouts[0])}."
    return ("the runs were measured at several commits, " + ", ".join(map(fmt_checkout, checkouts))
            + " (section 6 says which runs at which).")


# --- 2. headline table -------------------------------------------------------------------------

def sentence(text):
    """`text` as a sentence: capitalised, with one full stop."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def status_cell(run):
    return NOT_MEASURED if run is None else run["status"]


def peak_cell(run):
    value = peak(run)
    if run is not None and run["status"] == "ceiling" and value is not None:
        return f"≥ {fmt_bytes(value)}"  # stopped at the ceiling: it would have used more
    return fmt_bytes(value) if run is not None and run["status"] != "failed" else "—"


def collector_cell(run):
    runs = collector_runs(run)
    if runs is None:
        return NOT_MEASURED
    text = "/".join(str(count) for count in runs)
    own = run["gc"].get("variant_collections")
    return f"{text} ({own} its own)" if own is not None else text


def headline_row(summary, run, mode, variant):
    if run is None or run["status"] == "failed":
        return [f"`{mode}`", variant, status_cell(run)] + ["—"] * 9
    reference = matching_run(summary, run, REFERENCE_VARIANT)
    at_least = "≥ " if run["status"] == "ceiling" else ""
    return [
        f"`{mode}`", variant, run["status"], peak_cell(run), at_least + fmt_ratio(peak_to_bound(run)),
        at_least + fmt_ratio(ratio(peak(run), peak(reference))), fmt_time(run, "wall_seconds"),
        fmt_count(run.get("total_allocations")), collector_cell(run), fmt_time(run, "collector_seconds"),
        fmt_bytes(run.get("held_bytes_at_return")), fmt_bytes(run.get("held_bytes_after_collect")),
    ]


def status_notes(runs):
    notes = [f"- `{shown_id(run)}`: **{run['status']}**: {run.get('reason') or 'no reason recorded'}"
             for run in runs if run is not None and run["status"] != "ok"]
    return notes + failure_notes(runs)


def failure_notes(runs):
    """Failed reruns of runs whose last good measurement the table shows."""
    notes = []
    for run in runs:
        for failure in later_failures(run):
            log = f" (output: `{failure['log']}`)" if failure.get("log") else ""
            notes.append(f"- `{shown_id(run)}`: a rerun at {failure['at']} failed: {failure['reason']}{log}; "
                         f"the row shows the measurement of {run['measured_at']}")
    return notes


TIME_COLUMNS = (
    "**Times** (wall time, collector pause, time collecting) are the median and, in brackets, the range over "
    "{processes} processes that ran the workload without memray (its hooks slow every allocation); a time "
    "difference counts only where the ranges do not overlap. Memory figures (peak, allocations, held) come "
    "from the one process under memray: the workloads are seeded and allocate the same arrays on every run, "
    "so they are not repeated. Runs that stopped at the ceiling are not timed (their times would be of "
    "truncated work)."
)


def time_columns_note(summary):
    counts = sorted({run["timing"]["processes"] for run in reported_runs(summary)
                     if run["status"] != "failed" and run.get("timing")})
    note = TIME_COLUMNS.format(processes=" or ".join(map(str, counts)) if counts else "repeated")
    if not counts:
        note += (f" No run in this summary has such timings, so every time reads `not timed`; `{PROFILE_COMMAND}` "
                 "measures them.")
    return note


def provenance_notes(runs):
    note = mixed_provenance(runs)
    return [note] if note else []


def section_headline(summary):
    parts = [
        "## 2. Headline: every workload, both collector modes",
        "Each row is one process. **peak heap**: the most memory the process held at once while the workload "
        "ran (memray). **× bound**: peak over the workload's live-set bound, the arrays it needs at one time. "
        "**× weakref**: peak over weakref's on the same workload and mode. **allocations**: every allocation "
        "memray saw. **collector runs**: cyclic collections of generations 0/1/2 (from `gc.callbacks`), with "
        "those gc_only triggered itself in brackets; **collector pause**: their total time. **held**: array "
        "bytes still referenced by dezero Variables when the workload returned, and after one `gc.collect()`. "
        "Runs that hit the memory ceiling show the peak they had reached when stopped; failed runs show why.",
        time_columns_note(summary),
    ]
    headers = ["mode", "variant", "status", "peak heap", "× bound", "× weakref", "wall time", "allocations",
               "collector runs", "collector pause", "held at return", "held after collect"]
    for workload in workload_names(summary):
        info = summary["workloads"].get(workload, {})
        params = headline_params(summary, workload)
        runs = [(mode, variant, headline_run(summary, workload, mode, variant))
                for mode in MODES for variant in VARIANTS]
        bound = next((run["live_set_bound_bytes"] for _, _, run in runs if run is not None), None)
        parts.append(f"### {workload}")
        if bound is None:
            parts.append(f"{sentence(info.get('description', 'No description in the summary'))} Not measured: "
                         "this summary has no run of it at its default parameters.")
            continue
        parts.append(
            f"{sentence(info.get('description', 'No description in the summary'))} "
            f"Parameters: `{fmt_params(params)}`. Live-set bound: {fmt_bytes(bound)} "
            f"({info.get('live_set_bound', 'no formula in the summary')})."
        )
        parts.append(md_table(headers, [headline_row(summary, run, mode, variant) for mode, variant, run in runs],
                              right=set(range(3, len(headers)))))
        parts += provenance_notes([run for _, _, run in runs])
        notes = status_notes([run for _, _, run in runs])
        if notes:
            parts.append("\n".join(notes))
    return parts


# --- 3. charts ---------------------------------------------------------------------------------

def sweep_table(summary, chart):
    parts = []
    for mode in MODES:
        points = sweep(summary, chart.workload, mode, chart.key)
        if not points:
            continue
        values = sorted({value for series in points.values() for value, _ in series})
        variants = [variant for variant in VARIANTS if variant in points]
        rows = []
        for value in values:
            by_variant = {variant: run for variant in variants for v, run in points[variant] if v == value}
            bound = next((run["live_set_bound_bytes"] for run in by_variant.values()), None)
            rows.append([f"{value:,}" if isinstance(value, int) else str(value), fmt_bytes(bound)]
                        + [peak_cell(by_variant.get(variant)) if variant in by_variant else NOT_MEASURED
                           for variant in variants])
        parts.append(f"{chart.workload}, collector `{mode}`, peak heap:")
        parts.append(md_table([chart.key, "live-set bound", *variants], rows, right=set(range(len(variants) + 2))))
        parts += provenance_notes([run for series in points.values() for _, run in series])
        parts += [note for note in ["\n".join(status_notes(
            [run for series in points.values() for _, run in series]))] if note]
    return parts


def budget_table(summary):
    parts = []
    for workload, mode, params, runs in budget_sweeps(summary):
        rows = [[fmt_bytes(run["gc_budget"]), run["status"],
                 fmt_count((run.get("gc") or {}).get("variant_collections")),
                 fmt_time(run, "collector_seconds"), peak_cell(run), fmt_bytes(run.get("held_bytes_at_return"))]
                for run in runs]
        references = [matching_run(summary, runs[0], variant) for variant in ("strong", REFERENCE_VARIANT)]
        for variant, reference in zip(("strong", REFERENCE_VARIANT), references):
            if reference is not None:
                rows.append([f"({variant})", reference["status"], "—", fmt_time(reference, "collector_seconds"),
                             peak_cell(reference), fmt_bytes(reference.get("held_bytes_at_return"))])
        parts.append(f"{workload}, collector `{mode}`, `{fmt_params(params)}`:")
        parts.append(md_table(["gc_only budget", "status", "own collections", "time collecting", "peak heap",
                               "held at return"], rows, right={2, 3, 4, 5}))
        parts += provenance_notes(runs + references)
    return parts


def section_charts(summary):
    parts = ["## 3. Charts"]
    for chart in chart_plan(summary):
        parts.append(f"### {chart.title}")
        if chart.missing:
            parts.append(f"Not measured: {chart.missing} in this summary, so `{chart.name}` is not drawn.")
            continue
        parts.append(f"![{chart.title}]({chart.name})")
        parts.append(captions.caption(summary, chart))
        if chart.kind == "sweep":
            parts += sweep_table(summary, chart)
        elif chart.kind == "budget":
            parts += budget_table(summary)
    return parts


# --- 6. reproduce ------------------------------------------------------------------------------

def section_reproduce(summary):
    """Each group of runs with the command that measured them, the commit and the machine, from the runs."""
    groups = provenance_groups(summary)
    parts = ["## 6. Reproduce"]
    if not groups:
        return parts + [f"No run in this summary has a measurement; `{PROFILE_COMMAND}` measures them."]
    parts.append("Each run records the command that measured it, the commit and the machine. "
                 + ("All the runs in this report were measured by one command, at one commit, on one machine:"
                    if len(groups) == 1 else
                    f"The runs in this report come from {len(groups)} such groups, largest first:"))
    for command, checkout, machine, ids in groups:
        listed = "" if len(groups) == 1 else (
            f" ({len(ids)} runs" + (f": `{'`, `'.join(ids)}`)" if len(ids) <= 6 else ")"))
        parts.append(f"```sh\n{command}\n```")
        parts.append(f"at commit {fmt_checkout(checkout)}, on {fmt_machine(machine)}{listed}.")
    parts.append(f"`{PROFILE_COMMAND}` also renders this file; `{REPORT_COMMAND}` renders it again from "
                 "`reports/summary.json` alone"
                 + (f" (last written {summary['updated_at']})." if summary.get("updated_at") else "."))
    return parts


# --- the whole report --------------------------------------------------------------------------

def render_markdown(summary, committed=frozenset(), variants_root=VARIANTS_DIR, bench=None,
                    bench_note="reports/bench.json was not read"):
    """COMPARISON.md's text for `summary` (and `bench`, bench.json's content, for time per operation):
    deterministic, and every figure in it read from those."""
    parts = [
        "# Who frees the computation graph, and when? The measured comparison",
        f"Generated by `{REPORT_COMMAND}` from [`summary.json`](summary.json) and [`bench.json`](bench.json): do not "
        "edit by hand. The answer comes first; the evidence follows in sections 1. what was compared, 2. every "
        "workload, 3. charts, 4. the book's argument step by step, 5. flamegraphs, 6. reproduce"
        + (", 7. where real libraries stand." if report_peers.has_peers(summary) else "."),
        *verdict.first_screen(summary, bench, bench_note),
        *section_compared(summary, variants_root),
        *section_headline(summary),
        *section_charts(summary),
        *report_argument.section_argument(summary),
        *flamegraphs.section_flamegraphs(summary, committed),
        *section_reproduce(summary),
        *report_peers.section_peers(summary),
        *report_argument.closing_note(summary),
        captions.review_note(summary),
    ]
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def build(summary_path, report_path, with_charts=True, bench_path=verdict.BENCH_PATH, readme_path=None):
    """Render everything in memory first, then write: a failure leaves the previous report intact."""
    summary = load_summary(summary_path)
    bench, bench_note = verdict.load_bench(bench_path)
    text = render_markdown(summary, committed_paths(ROOT), bench=bench, bench_note=bench_note)
    images = {}
    if with_charts:
        from graphmem.report import charts  # matplotlib only where charts are drawn, not in the test sessions
        images = {**charts.render_charts(summary), **report_peers.render_diagram(summary)}
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    readme = None
    if readme_path is not None:  # the README's one-line result, from the same summary
        readme = verdict.with_result_line(Path(readme_path).read_text(encoding="utf-8"), summary)
        if readme is None:
            raise SummaryError(f"{readme_path} has no `{verdict.README_START}` ... `{verdict.README_END}` block "
                               "for the result line")
    for name, png in images.items():
        write_atomically(report_path.parent / name, png)
    write_atomically(report_path, text)
    written = [report_path, *(report_path.parent / name for name in images)]
    if readme is not None and readme != Path(readme_path).read_text(encoding="utf-8"):
        write_atomically(Path(readme_path), readme)
        written.append(Path(readme_path))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m graphmem.report", description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, default=SUMMARY_PATH, help="the profiler's summary.json")
    parser.add_argument("--bench", type=Path, default=verdict.BENCH_PATH,
                        help="bench.json for time per operation (optional: the report says when it is missing)")
    parser.add_argument("--out", type=Path, default=REPORT_PATH, help="COMPARISON.md to write; charts go beside it")
    parser.add_argument("--no-charts", action="store_true", help="write the markdown only")
    parser.add_argument("--readme", type=Path, default=None,
                        help="README whose result line to rewrite (default: the repository's, when --out is default)")
    args = parser.parse_args(argv)
    if args.readme is None and args.out == REPORT_PATH:
        args.readme = README_PATH
    try:
        written = build(args.summary, args.out, with_charts=not args.no_charts, bench_path=args.bench,
                        readme_path=args.readme)
    except SummaryError as exc:
        parser.exit(2, f"report: error: {exc}\n")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
