"""COMPARISON.md is rendered from the summary alone: every figure follows the data, bad input is named."""
import copy
import json
import os
import re
from pathlib import Path

import pytest

from graphmem.report import render as report
from graphmem.facts import CANONICAL, ROOT, VARIANTS
from graphmem.report.cells import fmt_bytes, fmt_seconds
from graphmem.report.data import SummaryError, load_summary, validate_summary
from graphmem.report.selection import budget_sweeps, chart_plan, sweep
from graphmem.variant_sources import differing_lines

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
STRONG_LOOP_AUTO = "cpython-3.11/strong/seed_loop/auto/iterations=50,size=100000"
STRONG_LOOP_OFF = "cpython-3.11/strong/seed_loop/off/iterations=50,size=100000"
WEAKREF_LOOP_OFF = "cpython-3.11/weakref/seed_loop/off/iterations=50,size=100000"


def render(summary, committed=frozenset()):
    return report.render_markdown(summary, committed)


def section(text, title):
    """The text of one `## ` section, up to the next."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def step_text(text, title_start):
    start = text.index(f"### {title_start}")
    return text[start:text.index("\n### ", start + 1)]


# --- the fixture is a real summary and covers what the report must handle ----------------------

def test_fixture_covers_every_case_the_report_handles(fixture_summary):
    runs = list(fixture_summary["runs"].values())
    assert {run["mode"] for run in runs} == {"auto", "off"}
    assert {run["variant"] for run in runs} == set(VARIANTS)
    assert {run["status"] for run in runs} == {"ok", "ceiling", "failed"}
    for workload in ("seed_loop", "seed_backward"):
        assert any(run["workload"] == workload and run.get("snapshots") for run in runs)
    for key in ("size", "iterations"):
        assert sweep(fixture_summary, "seed_loop", "auto", key)
    assert budget_sweeps(fixture_summary)
    assert any(run["gc"] and run["gc"]["variant_collections"] for run in runs)
    assert not any(chart.missing for chart in chart_plan(fixture_summary))


def test_the_text_does_not_depend_on_the_order_runs_were_recorded_in(fixture_summary):
    """The profile merges runs into summary.json in whatever order they finished; the report sorts them."""
    shuffled = copy.deepcopy(fixture_summary)
    shuffled["runs"] = dict(reversed(list(shuffled["runs"].items())))
    text = render(fixture_summary)
    assert render(shuffled) == text
    # and that order is the one section 5 promises: workloads as the summary lists them, auto before off,
    # strong, weakref, gc_only
    rows = re.findall(r"^\| `((?:strong|weakref|gc_only)/[^`]+)`", section(text, "5. Flamegraphs"), re.M)
    assert rows[:3] == ["strong/seed_loop/auto/iterations=10,size=100000",
                        "strong/seed_loop/auto/iterations=50,size=10000",
                        "strong/seed_loop/auto/iterations=50,size=100000"]


# --- every figure comes from the summary -------------------------------------------------------

@pytest.mark.parametrize("change, expected", [
    (lambda s: s["runs"][STRONG_LOOP_AUTO].update(peak_heap_bytes=123_456_789), fmt_bytes(123_456_789)),
    (lambda s: s["runs"][STRONG_LOOP_OFF].update(held_bytes_at_return=98_765_432), fmt_bytes(98_765_432)),
    (lambda s: s["runs"][STRONG_LOOP_AUTO]["timing"]["wall_seconds"].update(median=0.3217), fmt_seconds(0.3217)),
    (lambda s: s["runs"][STRONG_LOOP_AUTO].update(total_allocations=4_321_987), "4,321,987"),
    (lambda s: s["runs"][STRONG_LOOP_AUTO]["gc"].update(runs=[71, 7, 3]), "71/7/3"),
    (lambda s: [run["provenance"].update(numpy="9.8.7") for run in s["runs"].values()], "9.8.7"),
    (lambda s: [run["provenance"].update(command="python3 -m nox -s profile -- --full") for run in s["runs"].values()],
     "python3 -m nox -s profile -- --full"),
    (lambda s: s["workloads"]["seed_loop"].update(live_set_bound="a bound in other words"), "a bound in other words"),
], ids=["peak", "held", "wall", "allocations", "collector-runs", "environment", "command", "bound-formula"])
def test_changing_a_measured_value_changes_the_text(summary, change, expected):
    before = render(summary)
    assert expected not in before
    change(summary)
    after = render(summary)
    assert after != before
    assert expected in after


def test_the_closing_sentences_follow_the_numbers(summary):
    summary["runs"][STRONG_LOOP_AUTO]["peak_heap_bytes"] = 555 * 2**20
    closing = section(render(summary), "Closing note")
    assert "strong peaked at 555.0 MiB" in closing
    assert all(f"`{chart.name}`" in closing for chart in chart_plan(summary))


# --- the argument says what the data show, and nothing more ------------------------------------

def test_each_step_of_the_book_is_supported_by_the_fixture(fixture_summary):
    argument = section(render(fixture_summary), "4. The argument")
    for title in ("Step 1", "Step 2", "Step 3", "Step 4", "What the book gets wrong", "What the book leaves out"):
        assert step_text(argument, title).split("\n\n")[1].startswith("**Supported.**"), title


def test_a_cycle_that_frees_nothing_extra_is_not_claimed(summary):
    summary["runs"][STRONG_LOOP_OFF].update(held_bytes_at_return=0, peak_heap_bytes=7 * 2**20)
    argument = section(render(summary), "4. The argument")
    assert "**Not supported by this run.**" in step_text(argument, "Step 2")
    assert "**Not supported by this run.**" in step_text(argument, "Step 3")


def test_a_collector_that_is_not_late_is_not_called_late(summary):
    weak = summary["runs"]["cpython-3.11/weakref/seed_loop/auto/iterations=50,size=100000"]
    weak["peak_heap_bytes"] = summary["runs"][STRONG_LOOP_AUTO]["peak_heap_bytes"]
    step3 = step_text(section(render(summary), "4. The argument"), "Step 3")
    assert "**Not supported by this run.**" in step3
    assert "not late enough to matter" in step3


def test_a_step_without_runs_says_not_measured(summary):
    summary["runs"] = {key: run for key, run in summary["runs"].items()
                       if not (run["variant"] == "weakref" and run["mode"] == "off")}
    step1 = step_text(section(render(summary), "4. The argument"), "Step 1")
    assert "**Not measured.**" in step1


def test_missing_optional_fields_read_not_measured(summary):
    for run in summary["runs"].values():
        for field in ("total_allocations", "total_bytes_allocated", "wall_seconds", "gc", "held_bytes_at_return",
                      "held_bytes_after_collect", "iterations_completed", "ceiling_bytes", "timing"):
            run[field] = None
        run.pop("snapshots", None)
        run.pop("files", None)
        run["provenance"]["PYTHONMALLOC"] = None
    validate_summary(summary)
    text = render(summary)
    assert "not measured" in section(text, "2. Headline")
    assert "**Not measured.**" in section(text, "4. The argument")
    assert "Not measured:" in section(text, "3. Charts")


def test_a_summary_without_runs_still_renders(summary):
    summary["runs"] = {}
    text = render(summary)
    assert text.count("**Not measured.**") == 7  # the verdict and the six steps of section 4


# --- what was compared: the code itself --------------------------------------------------------

def test_every_policy_line_appears_in_the_diff(fixture_summary):
    compared = section(render(fixture_summary), "1. What was compared")
    for variant in VARIANTS:
        if variant == CANONICAL:
            continue
        for line in differing_lines(variant):
            sign = "-" if line.variant == CANONICAL else "+"
            assert f"\n{sign}{line.text}\n" in compared, line
    assert "```diff" in compared


# --- reads well on GitHub ----------------------------------------------------------------------

def test_tables_are_aligned(fixture_summary):
    tables, current = [], []
    for line in render(fixture_summary).splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) > 5
    for table in tables:
        assert len({len(line) for line in table}) == 1, table[0]
        assert len({line.count(" | ") for line in table}) == 1, table[0]


def test_links_are_relative_and_point_at_real_things(fixture_summary):
    text = render(fixture_summary)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(images) == sorted(chart.name for chart in chart_plan(fixture_summary))
    for target in re.findall(r"\]\((\.\./[^)#]+)\)", text):
        assert (ROOT / "reports" / target).resolve().exists(), target
    assert "](/" not in text and "](http" not in text


def test_uncommitted_flamegraphs_say_where_they_come_from(fixture_summary):
    run = fixture_summary["runs"][STRONG_LOOP_AUTO]
    committed = frozenset(run["files"].values())
    flamegraphs = section(render(fixture_summary, committed), "5. Flamegraphs")
    # the report prints ids without the interpreter label: it describes one interpreter
    row = next(line for line in flamegraphs.splitlines() if f"`{STRONG_LOOP_AUTO.split('/', 1)[1]}`" in line)
    assert row.rstrip(" |").endswith("yes")
    other = next(line for line in flamegraphs.splitlines() if f"`{STRONG_LOOP_OFF.split('/', 1)[1]}`" in line)
    assert "`python3 -m nox -s profile` creates them" in other
    assert "Width is memory, not time" in flamegraphs
    without = flamegraphs[flamegraphs.index("<details>"):]
    assert "`gc_only/branching/auto/iterations=50,size=100000/budget=67108864` | failed" in without


# --- bad input and atomic writes ---------------------------------------------------------------

def test_a_missing_summary_is_named(tmp_path):
    with pytest.raises(SummaryError, match=r"summary\.json does not exist; `python3 -m nox -s profile`"):
        load_summary(tmp_path / "summary.json")


def test_a_summary_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text('{"schema_version": 1,\n  "runs": [oops]}', encoding="utf-8")
    with pytest.raises(SummaryError, match=r"summary\.json is not valid JSON: .* line 2"):
        load_summary(path)


@pytest.mark.parametrize("change, complaint", [
    (lambda s: s["runs"][STRONG_LOOP_AUTO].update(mode="sometimes"),
     r"runs/cpython-3.11/strong/seed_loop/auto/.*/mode: 'sometimes' is not one of"),
    (lambda s: s["runs"][STRONG_LOOP_AUTO].pop("status"),
     r"runs/cpython-3.11/strong/seed_loop/auto/.*'status' is a required property"),
    (lambda s: s.update(schema_version=4), r"schema_version: 3 was expected"),
    (lambda s: s["runs"][STRONG_LOOP_AUTO]["provenance"].pop("python"),
     r"runs/cpython-3.11/strong/seed_loop/auto/.*/provenance: 'python' is a required property"),
], ids=["bad-mode", "no-status", "schema-version", "no-python"])
def test_a_summary_off_schema_is_named_with_the_schema_message(tmp_path, fixture_summary, change, complaint):
    broken = copy.deepcopy(fixture_summary)
    change(broken)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(SummaryError, match=r"summary\.json does not match .*summary\.schema\.json at " + complaint):
        load_summary(path)


def test_a_failed_render_leaves_the_previous_report_intact(tmp_path, capsys):
    out = tmp_path / "COMPARISON.md"
    out.write_text("the previous report\n", encoding="utf-8")
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--summary", str(tmp_path / "summary.json"), "--out", str(out), "--no-charts"])
    assert exit_info.value.code == 2
    assert "summary.json does not match" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "the previous report\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["COMPARISON.md", "summary.json"]


def test_the_report_is_written_from_the_summary(tmp_path):
    out, bench = tmp_path / "COMPARISON.md", tmp_path / "bench.json"
    assert report.main(["--summary", str(FIXTURE), "--out", str(out), "--no-charts", "--bench", str(bench)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Who frees the computation graph, and when? The measured comparison\n")
    # the fixture's seed_loop at its default parameters, collector auto: strong 110,100,480 B = 105.0 MiB,
    # weakref 7,759,462 B = 7.4 MiB, bound 7,200,000 B = 6.9 MiB (written by hand from the fixture)
    headline = text[text.index("### seed_loop\n"):text.index("\n### ", text.index("### seed_loop\n") + 1)]
    assert "| `auto` | strong  | ok     | 105.0 MiB |" in headline
    assert "| `auto` | weakref | ok     |   7.4 MiB |" in headline
    assert "Live-set bound: 6.9 MiB" in headline
    assert "Time per operation:** not measured here: there is no reports/bench.json" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_an_interrupted_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "COMPARISON.md"
    target.write_text("old\n", encoding="utf-8")

    def refuse(source, destination):
        raise OSError("disk full")

    with monkeypatch.context() as patch:  # undone before pytest-memray writes its own files
        patch.setattr(os, "replace", refuse)
        with pytest.raises(OSError, match="disk full"):
            report.write_atomically(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["COMPARISON.md"]


# --- sentences that state a measured fact only when the data show it -------------------------------------

def only(summary, workloads):
    """The summary cut down to `workloads` and their runs."""
    summary["workloads"] = {name: info for name, info in summary["workloads"].items() if name in workloads}
    summary["runs"] = {key: run for key, run in summary["runs"].items() if run["workload"] in workloads}
    return summary


def test_every_workload_in_every_mode_is_claimed_only_for_a_complete_matrix(summary):
    claim = "Every workload ran once per variant and per collector mode"
    text = render(summary)  # the fixture has no weakref or gc_only run of deep_chain, no auto run of it, ...
    assert claim not in text and "Not every workload ran in every variant and collector mode" in text
    # seed_loop alone has strong, weakref and gc_only (its default budget) at the default parameters in
    # both modes
    assert claim in render(only(summary, {"seed_loop"}))
    del summary["runs"]["cpython-3.11/weakref/seed_loop/off/iterations=50,size=100000"]
    assert claim not in render(summary)


def set_collector_time(run, low, high):
    run["timing"]["collector_seconds"].update(median=(low + high) / 2, min=low, max=high)


def test_the_budget_trade_is_stated_only_when_the_numbers_show_one(summary):
    """Fixture: the budget sweep runs from 1 MiB (peak 9.9 MiB, 878–999 ms collecting) to 256 MiB (peak
    153.0 MiB, 3.8–4.3 ms): a lower peak bought with more time collecting, ranges apart."""
    small = summary["runs"]["cpython-3.11/gc_only/seed_loop/auto/iterations=50,size=100000/budget=1048576"]
    large = summary["runs"]["cpython-3.11/gc_only/seed_loop/auto/iterations=50,size=100000/budget=268435456"]
    traded = "gc_only's budget traded collecting time for memory on seed_loop"
    assert traded in section(render(summary), "Closing note")
    set_collector_time(small, 0.003, 0.005)  # overlaps the large budget's 3.8–4.3 ms
    closing = section(render(summary), "Closing note")
    assert traded not in closing and "not above the larger's beyond the overlap of their ranges" in closing
    set_collector_time(small, 0.5, 0.9)
    small["peak_heap_bytes"] = large["peak_heap_bytes"]
    closing = section(render(summary), "Closing note")
    assert traded not in closing and "the smaller budget did not peak lower" in closing


def test_the_closing_note_counts_the_charts_it_lists(summary):
    closing = section(render(summary), "Closing note")
    assert "Charts drawn from this summary (5): " in closing
    for run in summary["runs"].values():
        run.pop("snapshots", None)  # no memory-over-time chart can be drawn
    closing = section(render(summary), "Closing note")
    assert "Charts drawn from this summary (3): " in closing and "Not drawn, for want of runs (2): " in closing


def test_no_hand_written_note_about_looking_at_the_charts(fixture_summary):
    text = render(fixture_summary)
    assert "looked at" not in text and "read cleanly" not in text


COLLECTION_STEP = "What the book leaves out: a full collection's time"
LARGE_BUDGET_RUN = "cpython-3.11/gc_only/seed_loop/auto/iterations=50,size=100000/budget=67108864"


def own_collection(run, median, low, high):
    run["timing"]["variant_collection_seconds"].update(median=median, min=low, max=high)


@pytest.mark.parametrize("timing, verdict, changed", [
    # the committed run's shape: ranges overlap, the time did not measurably move while the budget grew 64×
    ((0.00805, 0.007567, 0.008613), "**Supported.**", "did not measurably change"),
    # a rerun that reproduces every peak, with the time 1.7× and ranges apart: the same verdict
    ((0.0133, 0.0129, 0.0136), "**Supported.**", "really grew"),
    # the time's range takes in the budget's 64×: a rerun could land either side
    ((0.05, 0.008, 0.6), "**Undecided by this run.**", "did not measurably change"),
    # the time grew more than the budget even at the bottom of its range
    ((0.6, 0.59, 0.61), "**Not supported by this run.**", "really grew"),
], ids=["overlapping", "apart-but-slower-than-bytes", "undecided", "faster-than-bytes"])
def test_the_collection_cost_claim_is_decided_by_the_ranges_against_the_budget(summary, timing, verdict, changed):
    """Fixture: gc_only's own collections at 1 MiB took 7.75 ms [7.285–8.292]; the budget grows 64× to 64 MiB."""
    own_collection(summary["runs"][LARGE_BUDGET_RUN], *timing)
    text = step_text(render(summary), COLLECTION_STEP)
    assert f"\n\n{verdict} " in text
    assert "the graph bytes freed per collection grew 64.00×" in text
    assert changed in text
