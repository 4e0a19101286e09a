"""The report's times and provenance: median [min–max] from processes without memray, 'within noise' unless
ranges part, a notice when one table mixes commits or machines, failed reruns named beside the row."""
import copy
from pathlib import Path

import pytest

from graphmem.report import render as report
from graphmem.report.argument import wall_time_comparison
from graphmem.report.cells import fmt_spread
from graphmem.report.data import load_summary
from graphmem.report.provenance import mixed_provenance
from graphmem.report.times import compare_times

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
STRONG_LOOP_AUTO = "cpython-3.11/strong/seed_loop/auto/iterations=50,size=100000"
WEAKREF_LOOP_AUTO = "cpython-3.11/weakref/seed_loop/auto/iterations=50,size=100000"


@pytest.fixture
def summary():
    return copy.deepcopy(load_summary(FIXTURE))


def spread(*samples):
    samples = sorted(samples)
    return {"median": samples[len(samples) // 2], "q1": samples[1], "q3": samples[-2], "min": samples[0],
            "max": samples[-1], "samples": samples}


def headline_section(text, workload):
    start = text.index(f"### {workload}\n")
    return text[start:text.index("\n### ", start + 1)]


def test_times_show_the_median_and_the_range():
    assert fmt_spread(spread(0.2, 0.21, 0.22, 0.25, 0.3)) == "220.0 ms [200.0 ms–300.0 ms]"


@pytest.mark.parametrize("weak, strong, verdict", [
    (spread(0.10, 0.11, 0.12, 0.13, 0.14), spread(0.20, 0.21, 0.22, 0.23, 0.24), "lower"),
    (spread(0.30, 0.31, 0.32, 0.33, 0.34), spread(0.20, 0.21, 0.22, 0.23, 0.24), "higher"),
    (spread(0.10, 0.11, 0.12, 0.13, 0.25), spread(0.20, 0.21, 0.22, 0.23, 0.24), "within noise"),
])
def test_a_time_difference_is_real_only_when_the_ranges_do_not_overlap(summary, weak, strong, verdict):
    weak_run, strong_run = summary["runs"][WEAKREF_LOOP_AUTO], summary["runs"][STRONG_LOOP_AUTO]
    weak_run["timing"]["wall_seconds"], strong_run["timing"]["wall_seconds"] = weak, strong
    assert compare_times(weak_run, strong_run, "wall") == verdict


def test_the_argument_says_within_noise_when_the_ranges_overlap(summary):
    weak, strong = summary["runs"][WEAKREF_LOOP_AUTO], summary["runs"][STRONG_LOOP_AUTO]
    weak["timing"]["wall_seconds"] = spread(0.10, 0.11, 0.12, 0.13, 0.25)
    strong["timing"]["wall_seconds"] = spread(0.20, 0.21, 0.22, 0.23, 0.24)
    assert "within noise" in wall_time_comparison(weak, strong)
    weak["timing"]["wall_seconds"] = spread(0.10, 0.11, 0.12, 0.13, 0.14)
    assert "really faster" in wall_time_comparison(weak, strong)
    strong["timing"] = None
    assert "cannot compare their speed" in wall_time_comparison(weak, strong)


def test_a_run_without_timing_reads_not_timed_never_its_memray_time(summary):
    run = summary["runs"][STRONG_LOOP_AUTO]
    run["timing"], run["wall_seconds"] = None, 0.987654
    text = report.render_markdown(summary)
    assert "not timed" in headline_section(text, "seed_loop")
    assert "987.7 ms" not in text


def test_one_table_from_two_commits_says_so(summary):
    assert "Mixed provenance" not in report.render_markdown(summary)
    summary["runs"][STRONG_LOOP_AUTO]["provenance"]["git_commit"] = "fedcba9876543210fedcba9876543210fedcba98"
    text = report.render_markdown(summary)
    assert "**Mixed provenance:**" in headline_section(text, "seed_loop")
    assert "`fedcba987654`" in text
    assert "several commits" in text
    assert text.count("```sh\n") >= 1 and "from 2 such groups" in text


def test_one_table_from_two_machines_says_so(summary):
    runs = [summary["runs"][STRONG_LOOP_AUTO], summary["runs"][WEAKREF_LOOP_AUTO]]
    assert mixed_provenance(runs) is None
    runs[0]["provenance"]["numpy"] = "1.26.0"
    note = mixed_provenance(runs)
    assert "2 machines or interpreter versions" in note and "numpy 1.26.0" in note


def test_a_failed_rerun_is_named_beside_the_row_it_did_not_replace(summary):
    run = summary["runs"][STRONG_LOOP_AUTO]
    run["failures"] = [{"at": "2999-01-01T00:00:00+00:00", "reason": "the harness timed out after 0.5 s",
                        "log": "build/profile-logs/strong/x.log"}]
    text = headline_section(report.render_markdown(summary), "seed_loop")
    assert "a rerun at 2999-01-01T00:00:00+00:00 failed: the harness timed out after 0.5 s" in text
    assert "`build/profile-logs/strong/x.log`" in text
    assert f"the row shows the measurement of {run['measured_at']}" in text
