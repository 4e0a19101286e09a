"""reports/COMPARISON.md rendered from reports/summary.json alone, and `python -m graphmem.report` to write it.

The markdown is rendered by `render_markdown`, which needs neither matplotlib nor a profiler, so the
test sessions can check that the committed report is exactly what the committed summary renders to.
Each section has its own module (the answer: verdict; 1: compared; 2: headline; 3: here; 4: argument;
5: flamegraphs; 6: here; 7: peers; closing note: closing). `main` adds the PNG charts
(graphmem.report.charts) and writes everything atomically.
"""
import argparse
import subprocess
import sys
from pathlib import Path

from graphmem.atomic_files import NotWritable, check_writable, write_atomically
from graphmem.facts import MODES, ROOT, VARIANTS, VARIANTS_DIR
from graphmem.markdown import md_table
from graphmem.report import argument as report_argument
from graphmem.report.interpreters import measured as interpreters_measured
from graphmem.report import captions, closing, costs, flamegraphs, interpreter_section, verdict
from graphmem.report import peers as report_peers
from graphmem.report.cells import NOT_MEASURED, fmt_bytes, fmt_count, fmt_params, fmt_time, peak_cell, spread_header
from graphmem.report.compared import section_compared
from graphmem.store import SummaryError, load_summary
from graphmem.report.headline import PROFILE_COMMAND, provenance_notes, section_headline, status_notes
from graphmem.report.profile_cost import section_profile_cost
from graphmem.report.provenance import fmt_checkout, fmt_machine, provenance_groups
from graphmem.report.selection import REFERENCE_VARIANT, budget_sweeps, chart_plan, collector_owner, matching_run, sweep
from graphmem.report.claims import anchor

SUMMARY_PATH = ROOT / "reports" / "summary.json"
REPORT_PATH = ROOT / "reports" / "COMPARISON.md"
README_PATH = ROOT / "README.md"
REPORT_COMMAND = "python3 -m nox -s report"


def committed_paths(root=ROOT):
    """Repository paths git tracks; without git, the files that exist (a fresh clone has only those)."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        return frozenset(listing.decode("utf-8").split("\0")) - {""}
    except (OSError, subprocess.CalledProcessError):
        return frozenset(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


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
        parts.append(md_table(["gc_only budget", "status", "own collections", spread_header("time collecting"),
                               "peak heap", "held at return"], rows, right={2, 3, 4, 5}))
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
    return parts + section_profile_cost(summary)


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
        + (", 7. where real libraries stand." if report_peers.has_peers(summary) else ".")
        + (f" Sections 1 to 7 read the runs on {collector_owner(summary)[:-2]}; [On your interpreter]"
           f"(#{anchor(interpreter_section.SECTION_TITLE)}), after section 3, sets every interpreter measured side "
           "by side." if interpreters_measured(summary) else ""),
        *verdict.first_screen(summary, bench, bench_note),
        *section_compared(summary, variants_root),
        *section_headline(summary),
        *section_charts(summary),
        *(interpreter_section.section(summary) if interpreters_measured(summary) else []),
        *report_argument.section_argument(summary),
        *flamegraphs.section_flamegraphs(summary, committed),
        *section_reproduce(summary),
        *report_peers.section_peers(summary),
        *closing.closing_note(summary),
    ]
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def build(summary_path, report_path, with_charts=True, bench_path=costs.BENCH_PATH, readme_path=None):
    """Render everything in memory first, then write: a failure leaves the previous report intact."""
    summary = load_summary(summary_path)
    bench, bench_note = costs.load_bench(bench_path)
    text = render_markdown(summary, committed_paths(ROOT), bench=bench, bench_note=bench_note)
    images = {}
    if with_charts:
        from graphmem.report import charts  # matplotlib only where charts are drawn (an optional dependency)
        from graphmem.report import interpreter_chart
        images = {**charts.render_charts(summary), **charts.render_diagram(summary)}
        images.update(interpreter_chart.render_charts(summary))
    report_path = Path(report_path)
    readme = None
    if readme_path is not None:  # the README's one-line result, from the same summary
        readme = verdict.with_result_line(Path(readme_path).read_text(encoding="utf-8"), summary)
        if readme is None:
            raise SummaryError(f"{readme_path} has no `{verdict.README_START}` ... `{verdict.README_END}` block "
                               "for the result line")
    # Every folder is checked before the first file is written, so a read-only one changes nothing.
    check_writable([report_path.parent, *([Path(readme_path).parent] if readme is not None else [])])
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
    parser.add_argument("--bench", type=Path, default=costs.BENCH_PATH,
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
    except (SummaryError, NotWritable) as exc:
        parser.exit(2, f"report: error: {exc}\n")
    except OSError as exc:  # a write that fails halfway (a full disk): the files already written are whole
        parser.exit(1, f"report: error: cannot write {exc.filename or args.out}: {exc.strerror or exc}\n")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
