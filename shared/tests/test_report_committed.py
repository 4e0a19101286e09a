"""The committed COMPARISON.md is exactly what the committed summary.json (and bench.json) render to, its charts
committed too."""
import difflib
import re

from graphmem.report import interpreter_section, peers
from graphmem.report import render as report
from graphmem.report import costs
from graphmem.report.data import load_summary
from graphmem.report.selection import chart_plan


def test_committed_report_is_what_the_committed_summary_renders_to():
    bench, bench_note = costs.load_bench()
    expected = report.render_markdown(load_summary(report.SUMMARY_PATH), report.committed_paths(), bench=bench,
                                      bench_note=bench_note)
    actual = report.REPORT_PATH.read_text(encoding="utf-8")
    diff = difflib.unified_diff(actual.splitlines(), expected.splitlines(), "reports/COMPARISON.md (committed)",
                                "rendered from reports/summary.json", lineterm="", n=1)
    assert actual == expected, ("reports/COMPARISON.md has drifted from reports/summary.json or variants/; run "
                                "`python3 -m nox -s report` and commit the result:\n" + "\n".join(list(diff)[:40]))


def test_every_chart_the_committed_report_shows_is_committed():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.REPORT_PATH.read_text(encoding="utf-8"))
    summary = load_summary(report.SUMMARY_PATH)
    drawable = [chart.name for chart in chart_plan(summary) if not chart.missing]
    # "On your interpreter", after section 3, shows its chart when the summary has several interpreters.
    drawable += re.findall(r"!\[[^\]]*\]\(([^)]+)\)", "\n\n".join(interpreter_section.section(summary)))
    # Section 7 shows the cycle diagram when the summary has peers with a cycle to draw.
    drawable += re.findall(r"!\[[^\]]*\]\(([^)]+)\)", "\n\n".join(peers.section_peers(summary)))
    assert images == drawable
    committed = report.committed_paths()
    assert [name for name in images if f"reports/{name}" not in committed] == []
