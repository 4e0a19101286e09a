"""The answer on every interpreter (issue 18): the verdict lines, README's result line, the section "On your
interpreter", the claims per interpreter and the chart, against fixtures/summary-interpreters.json.

That fixture is written by hand after the issue's table (seed_loop, 100 iterations of 10^5 float64, bound
7,200,000 B = 6.9 MiB): CPython 3.11/3.12 strong `auto` one collection (179,200,000 B = 170.9 MiB at iteration
56 on 3.11; 176,000,000 B = 167.8 MiB at 55 on 3.12), `off` 320,000,000 B = 305.2 MiB; 3.13 strong `auto` =
`off` = 305.2 MiB with no collection; weakref 6,400,000 B = 6.1 MiB; gc_only 53,600,000 B = 51.1 MiB on
CPython; PyPy strong = weakref = gc_only 22,400,000 B = 21.4 MiB `auto`, strong = weakref 305.2 MiB `off`,
gc_only 89,660,000 B = 85.5 MiB `off`. 3.11 also has start-phase runs (strong's first collection at
iterations 53, 40, 26 and 13 for phases 0, 1/4, 1/2, 3/4). Every expected sentence below is written from
those figures, not from the functions under test. Variants of the fixture change one figure so that a
sentence the data no longer supports must be absent.
"""
import copy
import io
import json
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from graphmem.report import interpreter_chart, interpreter_section, interpreters
from graphmem.spread import SPREAD_NAME

FIXTURE = Path(__file__).parent / "fixtures" / "summary-interpreters.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PARAMS = "iterations=100,size=100000"


@pytest.fixture(scope="module")
def fixture_interpreters():
    # Read as JSON: the store's schema 3 lands with the interpreter pipeline.
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture
def summary(fixture_interpreters):
    return copy.deepcopy(fixture_interpreters)


def run(summary, label, variant, mode, budget=None):
    budget = budget or (67108864 if variant == "gc_only" else None)
    return summary["runs"][f"{label}/{variant}/seed_loop/{mode}/{PARAMS}" + (f"/budget={budget}" if budget else "")]


def set_peak(summary, label, variant, mode, peak, collections=None):
    record = run(summary, label, variant, mode)
    record["array_bytes"]["peak"] = peak
    if collections is not None:
        record["collection_iterations"] = collections


def drop_phases(summary):
    summary["runs"] = {key: value for key, value in summary["runs"].items() if "/phase=" not in key}


def table_rows(markdown):
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]


# --- 1. the verdict per family -------------------------------------------------------------------

CPYTHON_LINE = (
    "- **CPython 3.11–3.13: use `weakref`.** Reference counting frees each graph the loop drops at once: on "
    "`seed_loop` weakref peaked at 6.1 MiB in both collector modes (at most 0.89× the live-set bound), strong, with "
    "the collector on, at 161.7–183.1 MiB on 3.11 (over 4 start phases and the unset one; 1–2 collections), 167.8 MiB on 3.12 "
    "(1 collection) and 305.2 MiB on 3.13 (no collection).")
NEVER_COMES = (
    " On CPython 3.13 strong's collection never comes in the book's loop: its peak with the collector on equals its "
    "peak with it off (305.2 MiB), and no collection ran in its 100 iterations (generation-0 threshold 2000).")
PYPY_NO_DROP = (
    " No policy frees a graph at the drop (PyPy has no reference counting; a dropped graph waits for the next "
    "collection): weakref peaked as strong did, 21.4 MiB with the collector on and 305.2 MiB with it off "
    "(44.44× the live-set bound).")
PYPY_BOUNDED = (
    " With the collector off only gc_only's explicit, byte-budgeted collection kept the peak bounded: 85.5 MiB "
    "against strong's 305.2 MiB and weakref's 305.2 MiB (collector on: 21.4 MiB).")


def test_the_verdict_per_family_with_figures(summary):
    assert interpreters.verdict_lines(summary) == [
        CPYTHON_LINE + NEVER_COMES,
        "- **PyPy 3.9: collect explicitly, as `gc_only` does.**" + PYPY_NO_DROP + PYPY_BOUNDED,
    ]


def test_without_start_phases_each_cpython_figure_is_its_run(summary):
    drop_phases(summary)
    assert interpreters.verdict_lines(summary)[0].startswith(CPYTHON_LINE.replace(
        "161.7–183.1 MiB on 3.11 (over 4 start phases and the unset one; 1–2 collections)",
        "170.9 MiB on 3.11 (1 collection)"))


@pytest.mark.parametrize("change", ["40% below off", "a collection recorded", "collections not recorded"])
def test_the_313_sentence_is_absent_when_the_data_do_not_show_it(summary, change):
    if change == "40% below off":
        set_peak(summary, "cpython-3.13", "strong", "auto", 192_000_000, [[60, 0]])  # 183.1 MiB
    elif change == "a collection recorded":
        set_peak(summary, "cpython-3.13", "strong", "auto", 320_000_000, [[99, 0]])
    else:
        del run(summary, "cpython-3.13", "strong", "auto")["collection_iterations"]
    text = "\n".join(interpreters.verdict_lines(summary))
    assert "never comes" not in text and "threshold 2000" not in text
    assert text.startswith("- **CPython 3.11–3.13: use `weakref`.**")
    if change == "40% below off":
        assert "183.1 MiB on 3.13 (1 collection)." in text


def test_an_interpreter_where_weakref_does_not_win_gets_a_figure_line_not_the_verdict(summary):
    set_peak(summary, "cpython-3.12", "weakref", "auto", 170_000_000)  # 162.1 MiB, far above the bound
    lines = interpreters.verdict_lines(summary)
    assert lines[0].startswith("- **CPython 3.11 and 3.13: use `weakref`.**")
    assert lines[1] == (
        "- **CPython 3.12:** on `seed_loop` (peak of array data, collector on / off): strong 167.8 MiB / 305.2 MiB, "
        "weakref 162.1 MiB / 6.1 MiB, gc_only 51.1 MiB / 51.1 MiB; this run does not show weakref at the live-set "
        "bound and clearly (1.5×) below strong there.")


def test_pypy_sentences_are_absent_where_weakref_freed_at_the_drop(summary):
    set_peak(summary, "pypy-3.9", "weakref", "off", 6_400_000)
    line = interpreters.verdict_lines(summary)[-1]
    assert line == ("- **PyPy 3.9:** on `seed_loop` (peak of array data, collector on / off): strong 21.4 MiB / "
                    "305.2 MiB, weakref 21.4 MiB / 6.1 MiB, gc_only 21.4 MiB / 85.5 MiB.")


def test_pypy_gc_only_unbounded_keeps_only_the_no_drop_sentence(summary):
    set_peak(summary, "pypy-3.9", "gc_only", "off", 300_000_000)
    assert interpreters.verdict_lines(summary)[-1] == "- **PyPy 3.9:**" + PYPY_NO_DROP


def test_a_run_without_its_interpreter_is_a_clear_error(summary):
    del run(summary, "cpython-3.12", "strong", "off")["interpreter"]
    with pytest.raises(interpreters.InterpreterDataError,
                       match=r"'cpython-3.12/strong/seed_loop/off/iterations=100,size=100000' has no interpreter"):
        interpreters.verdict_lines(summary)


# --- 4. README's result line ---------------------------------------------------------------------

def test_the_result_line_names_the_interpreters(summary):
    assert interpreters.result_line(summary) == (
        "**Result: On CPython 3.11–3.13 hold a Function's outputs by `weakref.ref`; on PyPy 3.9 collect explicitly, "
        "as `gc_only` does.** Measured on the loop of step 17 of *Deep Learning from Scratch 3* (`seed_loop`): on "
        "CPython 3.11–3.13 weakref peaked at 6.1 MiB of arrays with the collector on, strong at 161.7–183.1 MiB on "
        "3.11, 167.8 MiB on 3.12 and 305.2 MiB on 3.13; on PyPy 3.9, collector off, gc_only peaked at 85.5 MiB, "
        "strong at 305.2 MiB and weakref at 305.2 MiB. The answer per interpreter, its costs and its evidence open "
        "[reports/COMPARISON.md](reports/COMPARISON.md).")


def test_the_result_line_recommends_nothing_the_data_do_not_support(summary):
    for label in ("cpython-3.11", "cpython-3.12", "cpython-3.13", "pypy-3.9"):
        set_peak(summary, label, "weakref", "auto", 400_000_000)
    set_peak(summary, "pypy-3.9", "gc_only", "off", 320_000_000)
    assert interpreters.result_line(summary) == (
        "**Result:** the committed runs (CPython 3.11, CPython 3.12, CPython 3.13 and PyPy 3.9 measured on the loop "
        "of step 17 of *Deep Learning from Scratch 3* (`seed_loop`)) support no recommendation yet; see "
        "[reports/COMPARISON.md](reports/COMPARISON.md).")


# --- 2. On your interpreter ----------------------------------------------------------------------

def test_the_table_of_interpreter_variant_and_mode(summary):
    table = interpreter_section.table(summary)
    header = table.splitlines()[0]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "interpreter", "variant", "mode", "peak of array data", "memray peak heap", "× bound", "collections",
        f"time collecting, {SPREAD_NAME}"]
    rows = table_rows(table)
    assert len(rows) == 4 * 3 * 2  # the budget-sweep point and the phase runs are not rows
    # 3.11's collector-on rows span the run without a set phase and the four phase runs: strong's array peaks
    # 169.6-192.0 MB, memray's 172-195 MB, 1 or 2 collections; gc_only's all 53.6 MB.
    assert ["CPython 3.11", "strong", "auto", "161.7–183.1 MiB †", "164.0–186.0 MiB", "23.56–26.67×", "1–2",
            "2.1 ms [1.9 ms–2.4 ms]"] in rows
    assert ["CPython 3.11", "gc_only", "auto", "51.1 MiB †", "51.9 MiB", "7.44×", "4", "8.0 ms [7.2 ms–9.1 ms]"] in rows
    assert ["CPython 3.11", "strong", "off", "305.2 MiB", "309.9 MiB", "44.44×", "0", "0 ms"] in rows
    assert table.endswith("\n\n† min–max over the start phases and the run without a set phase (one figure where "
                          "they agree within 3%); its time collecting is the run without a set phase's.")
    assert ["CPython 3.13", "strong", "auto", "305.2 MiB", "309.9 MiB", "44.44×", "0", "0 ms"] in rows
    assert ["PyPy 3.9", "gc_only", "off", "85.5 MiB", "–", "12.45×", "4", "9.0 ms [8.0 ms–11.0 ms]"] in rows


def test_without_memray_figures_the_table_has_no_memray_column(summary):
    for record in summary["runs"].values():
        record["peak_heap_bytes"] = None
    assert "memray" not in interpreter_section.table(summary)


def test_a_run_memray_moved_is_flagged_and_a_missing_one_is_not_measured(summary):
    run(summary, "cpython-3.12", "strong", "auto")["timing"]["memray_moved_collections"] = True
    del summary["runs"][f"cpython-3.13/weakref/seed_loop/off/{PARAMS}"]
    rows = table_rows(interpreter_section.table(summary))
    assert ["CPython 3.12", "strong", "auto", "167.8 MiB", "170.7 MiB", "24.44×", "1 (moved by memray)",
            "2.0 ms [1.8 ms–2.3 ms]"] in rows
    assert not any(row[:3] == ["CPython 3.13", "weakref", "off"] for row in rows)


THRESHOLDS = (
    "**How the thresholds explain the difference.** CPython's cyclic collector runs when its generation-0 count "
    "(container objects allocated less those freed since its last run) passes the first of `gc.get_threshold()`: "
    "(700, 10, 10) on CPython 3.11 and 3.12 and (2000, 10, 10) on CPython 3.13.")
# From 3.11's runs: 700 x (1 - phase) / first iteration = 13.21, 13.13, 13.46, 13.46 and 700 / spacing 53 =
# 13.21 twice; median 13.21, so 700 / 13.21 = 53 and 2000 / 13.21 = 151.
ESTIMATE = (
    " strong's `seed_loop` adds about 13 to that count per iteration (estimated on CPython 3.11 from the iterations "
    "its collections came at: threshold × (1 − start phase) ÷ the first one's iteration, threshold ÷ the iterations "
    "between two), so its first collection comes near iteration 53 at a threshold of 700 and 151 at a threshold of "
    "2000; the loop runs 100 iterations.")
MEASURED = (" Measured with the collector on, strong's first collection came at iteration 56 on 3.11 and iteration 55 "
            "on 3.12; none came on 3.13.")
PYPY_THRESHOLDS = " PyPy 3.9 records no thresholds: its collector is not scheduled by a count of objects."


def test_the_thresholds_paragraph_computes_the_first_collection(summary):
    assert interpreter_section.thresholds_paragraph(summary) == THRESHOLDS + ESTIMATE + MEASURED + PYPY_THRESHOLDS


def test_without_collections_to_estimate_from_it_states_only_the_thresholds(summary):
    drop_phases(summary)  # 3.11 and 3.12 each have one collection: no spacing, no phase
    assert interpreter_section.thresholds_paragraph(summary) == THRESHOLDS + MEASURED + PYPY_THRESHOLDS


def test_the_start_phases_give_a_range_and_one_figure_only_where_they_agree(summary):
    assert interpreter_section.phases_paragraph(summary) == (
        "**Start phase.** strong's and gc_only's peaks with the collector on, measured with generation 0's count "
        "set to a share of its threshold when the loop began (min–max over the phases; one figure where they agree "
        "within 3%): on CPython 3.11 (phases 0, 0.25, 0.5 and 0.75) strong 161.7–183.1 MiB over 4 start phases, "
        "gc_only 51.1 MiB at all 4 start phases. The table's rows are the runs without a set start phase.")
    drop_phases(summary)
    assert interpreter_section.phases_paragraph(summary) is None


def test_unavailable_interpreters_are_listed_with_their_reasons(summary):
    assert interpreter_section.unavailable_line(summary) == (
        "**Not measured here:** 3.14 (not found on PATH or in pyenv's versions folder); 3.13t (no free-threaded "
        "build on PATH or in pyenv's versions folder).")
    for entry in summary["interpreters"].values():
        entry["available"] = True
    assert interpreter_section.unavailable_line(summary) is None


def test_pypy_has_no_flamegraphs_and_the_section_says_why(summary):
    assert interpreter_section.flamegraph_line(summary) == (
        "**No flamegraphs on PyPy 3.9:** memray does not support PyPy (nor is there tracemalloc), so these runs have "
        "no flamegraph and no memray peak; their measurement is the peak of live array data counted by the project's "
        "NumPy allocator hook (NEP 49).")
    summary["runs"] = {key: value for key, value in summary["runs"].items() if not key.startswith("pypy")}
    assert interpreter_section.flamegraph_line(summary) is None


def test_the_section_holds_the_table_chart_paragraphs_and_claims(summary):
    blocks = interpreter_section.section(summary)
    assert blocks[0] == "## On your interpreter"
    assert blocks[2] == interpreter_section.table(summary)
    assert "![Peak array memory by interpreter and variant, seed_loop](chart-interpreters.png)" in blocks
    assert "### The book's four claims on each interpreter" in blocks


def test_a_summary_without_interpreter_runs_says_not_measured(summary):
    assert interpreters.measured(summary)
    for record in summary["runs"].values():
        record["array_bytes"] = None  # as on records migrated from schema 2
    assert not interpreters.measured(summary)
    assert interpreters.verdict_lines(summary) == []
    summary["runs"] = {}
    blocks = interpreter_section.section(summary)
    assert blocks[1].startswith("Not measured: no interpreter has a completed `seed_loop` run")
    assert blocks[2].startswith("**Not measured here:** 3.14")


# --- 3. the book's four claims per interpreter -------------------------------------------------------

def claims_table(summary):
    blocks = interpreter_section.claims(summary)
    return {row[0].split(".")[0]: row[1:] for row in table_rows(blocks[2])}, blocks


def test_the_four_claims_per_interpreter(summary):
    cells, blocks = claims_table(summary)
    assert [cell.strip() for cell in blocks[2].splitlines()[0].strip("|").split("|")] == [
        "claim", "CPython 3.11", "CPython 3.12", "CPython 3.13", "PyPy 3.9"]
    assert cells["1"] == ["Supported: weakref, collector off, 6.1 MiB (0.89× bound)"] * 3 + [
        "Not supported: weakref, collector off, 305.2 MiB (44.44× bound)"]
    assert cells["2"] == ["Supported: collector off, strong 305.2 MiB, weakref 6.1 MiB"] * 3 + [
        "Not supported: collector off, strong 305.2 MiB, weakref 305.2 MiB"]
    # 3.11's strong collector-on figure spans the unset run and its four start phases (169.6-192.0 MB)
    assert cells["3"] == [
        "Supported: strong 161.7–183.1 MiB on, 305.2 MiB off; weakref 6.1 MiB on",
        "Supported: strong 167.8 MiB on, 305.2 MiB off; weakref 6.1 MiB on",
        "Not supported: strong 305.2 MiB on, 305.2 MiB off; weakref 6.1 MiB on",
        "Not supported: strong 21.4 MiB on, 305.2 MiB off; weakref 21.4 MiB on"]
    assert cells["4"] == [
        "Supported: weakref 6.1 MiB on, 6.1 MiB off; strong 161.7–183.1 MiB on",
        "Supported: weakref 6.1 MiB on, 6.1 MiB off; strong 167.8 MiB on",
        "Supported: weakref 6.1 MiB on, 6.1 MiB off; strong 305.2 MiB on",
        "Not supported: weakref 21.4 MiB on, 305.2 MiB off; strong 21.4 MiB on"]
    assert "(CPython's claim)" in table_rows(blocks[2])[0][0]
    assert blocks[3] == ("Claim 1 is CPython's: it describes reference counting, which PyPy does not have. On PyPy "
                         "3.9 its cell reads what frees a graph without it: nothing did at the drop; with the "
                         "collector off weakref's live arrays reached 305.2 MiB.")


def test_a_figure_between_the_tests_is_undecided_and_a_missing_run_not_measured(summary):
    set_peak(summary, "cpython-3.12", "strong", "auto", 8_960_000)  # 8.5 MiB: 1.4× weakref's, neither clear nor same
    del summary["runs"][f"cpython-3.13/weakref/seed_loop/off/{PARAMS}"]
    cells, _ = claims_table(summary)
    assert cells["3"][1] == "Undecided: strong 8.5 MiB on, 305.2 MiB off; weakref 6.1 MiB on"
    assert cells["4"][1] == "Undecided: weakref 6.1 MiB on, 6.1 MiB off; strong 8.5 MiB on"
    assert [cells[claim][2] for claim in "1234"] == ["Not measured", "Not measured",
                                                     "Not supported: strong 305.2 MiB on, 305.2 MiB off; weakref 6.1 MiB on",
                                                     "Not measured"]


def test_start_phases_that_split_a_claim_leave_it_undecided(summary):
    record = summary["runs"][f"cpython-3.11/strong/seed_loop/auto/{PARAMS}/phase=0.25"]
    record["array_bytes"]["peak"], record["collection_iterations"] = 320_000_000, []  # no collection at this phase
    cells, _ = claims_table(summary)
    assert cells["3"][0] == "Undecided: strong 161.7–305.2 MiB on, 305.2 MiB off; weakref 6.1 MiB on"
    assert cells["4"][0] == "Supported: weakref 6.1 MiB on, 6.1 MiB off; strong 161.7–305.2 MiB on"


def test_without_pypy_there_is_no_pypy_note(summary):
    summary["runs"] = {key: value for key, value in summary["runs"].items() if not key.startswith("pypy")}
    _, blocks = claims_table(summary)
    assert len(blocks) == 3


# --- the chart -----------------------------------------------------------------------------------

# The series colours, written out here rather than read from the chart: red, orange, blue.
SERIES_RGB = {"strong": (0xd6, 0x27, 0x28), "gc_only": (0xff, 0x7f, 0x0e), "weakref": (0x1f, 0x77, 0xb4)}
ENOUGH_PIXELS = 40  # a bar covers far more; antialiasing of another colour far fewer


def pixels_of(image, rgb, tolerance=0.05):
    target = np.array(rgb) / 255
    return int(np.all(np.abs(image[..., :3] - target) <= tolerance, axis=-1).sum())


def drawn(summary):
    """(the PNG as an array, each panel's pixel box from the top-left, each panel's text boxes inside it?)"""
    png = interpreter_chart.render(summary)
    assert png.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    figure = interpreter_chart.draw(summary)
    try:
        figure.savefig(io.BytesIO(), format="png", dpi=100)  # lays the figure out exactly as render does
        renderer = figure.canvas.get_renderer()
        height = figure.bbox.height
        boxes, outside = [], []
        for axis in figure.axes:
            box = axis.get_window_extent(renderer)
            boxes.append((int(box.x0), int(height - box.y1), int(box.x1), int(height - box.y0)))
            for text in axis.texts:
                extent = text.get_window_extent(renderer)
                if not (box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1
                        and box.y0 - 1 <= extent.y0 and extent.y1 <= box.y1 + 1):
                    outside.append(text.get_text())
        assert image.shape[:2] == (int(height), int(figure.bbox.width))
    finally:
        plt.close(figure)
    return image, boxes, outside


def named_series(caption):
    drawn_part = caption.split(" on each interpreter")[0]
    return [variant for variant in SERIES_RGB if variant in drawn_part]


def test_the_chart_has_no_blank_panel_its_labels_inside_and_every_series_its_caption_names(summary):
    image, boxes, outside = drawn(summary)
    assert len(boxes) == 2
    for x0, y0, x1, y1 in boxes:
        panel = image[y0:y1, x0:x1]
        assert all(pixels_of(panel, rgb) >= ENOUGH_PIXELS for rgb in SERIES_RGB.values())
    assert outside == []
    caption = interpreter_section.chart_caption(summary)
    assert named_series(caption) == ["strong", "gc_only", "weakref"]
    assert "dashed: the live-set bound, 6.9 MiB" in caption and "log scale" in caption
    assert ("a black whisker: the min–max over the start phases (strong on CPython 3.11), the bar the run without a "
            "set phase") in caption  # gc_only's phases agree: no whisker
    figure = interpreter_chart.draw(summary)
    try:
        whiskers = [container for axis in figure.axes for container in axis.containers
                    if type(container).__name__ == "ErrorbarContainer"]
        assert len(whiskers) == 1
        (low, high), = [segment[:, 1] for segment in whiskers[0].lines[2][0].get_segments()]
        assert (low, high) == pytest.approx((169_600_000 / 2**20, 192_000_000 / 2**20))
    finally:
        plt.close(figure)


def test_a_variant_measured_nowhere_is_neither_drawn_nor_named(summary):
    summary["runs"] = {key: value for key, value in summary["runs"].items() if "/gc_only/" not in key}
    image, boxes, outside = drawn(summary)
    caption = interpreter_section.chart_caption(summary)
    assert named_series(caption) == ["strong", "weakref"]
    assert pixels_of(image, SERIES_RGB["gc_only"]) < ENOUGH_PIXELS
    assert all(pixels_of(image, SERIES_RGB[variant]) >= ENOUGH_PIXELS for variant in ("strong", "weakref"))
    assert outside == []
    assert caption.endswith(" Not measured: gc_only (no run).*")


def test_a_missing_bar_is_marked_inside_its_panel(summary):
    del summary["runs"][f"pypy-3.9/weakref/seed_loop/off/{PARAMS}"]
    _, _, outside = drawn(summary)
    assert outside == []
    assert interpreter_section.chart_caption(summary).endswith(" Not measured: weakref on PyPy 3.9 (off).*")


def test_nothing_measured_draws_nothing(summary):
    assert list(interpreter_chart.render_charts(summary)) == ["chart-interpreters.png"]
    summary["runs"] = {}
    assert interpreter_chart.render_charts(summary) == {}
    assert interpreter_chart.render(summary) is None
    assert interpreter_section.chart_caption(summary) is None


def test_a_collection_without_its_iteration_still_counts(summary):
    run(summary, "cpython-3.12", "strong", "auto")["collection_iterations"] = [[None, 2], [55, 0]]
    rows = table_rows(interpreter_section.table(summary))
    assert ["CPython 3.12", "strong", "auto", "167.8 MiB", "170.7 MiB", "24.44×", "2",
            "2.0 ms [1.8 ms–2.3 ms]"] in rows
    assert "iteration 55 on 3.12" in interpreter_section.thresholds_paragraph(summary)


def test_an_interpreters_entry_without_availability_is_a_clear_error(summary):
    summary["interpreters"]["3.14"] = {"requested": "3.14"}
    with pytest.raises(interpreters.InterpreterDataError, match=r"summary\['interpreters'\]\['3.14'\] has no boolean"):
        interpreter_section.unavailable_line(summary)


def test_a_free_threaded_build_is_named_apart_from_its_version(summary):
    for key in [key for key in summary["runs"] if key.startswith("cpython-3.13/")]:
        record = copy.deepcopy(summary["runs"][key])
        record["id"] = key.replace("cpython-3.13/", "cpython-3.13t/")
        record["interpreter"]["label"] = "cpython-3.13t"
        summary["runs"][record["id"]] = record
    cells, _ = claims_table(summary)
    names = interpreter_section.claims(summary)[2].splitlines()[0]
    assert "CPython 3.13t" in names and len(cells["1"]) == 5


def test_without_start_phases_a_row_is_its_run_and_has_no_mark(summary):
    drop_phases(summary)
    table = interpreter_section.table(summary)
    assert ["CPython 3.11", "strong", "auto", "170.9 MiB", "173.6 MiB", "24.89×", "1",
            "2.1 ms [1.9 ms–2.4 ms]"] in table_rows(table)
    assert "†" not in table


def test_a_span_of_versions_is_written_with_a_dash_only_where_none_is_left_out(summary):
    for key in [key for key in summary["runs"] if key.startswith("cpython-3.13/")]:
        record = copy.deepcopy(summary["runs"][key])
        record["id"] = key.replace("cpython-3.13/", "cpython-3.14/")
        record["interpreter"].update(label="cpython-3.14", version="3.14.0")
        summary["runs"][record["id"]] = record
    set_peak(summary, "cpython-3.12", "weakref", "auto", 170_000_000)
    assert interpreters.verdict_lines(summary)[0].startswith("- **CPython 3.11, 3.13 and 3.14: use `weakref`.**")


def test_peaks_of_one_order_of_magnitude_draw_on_a_linear_axis(summary):
    summary["runs"] = {key: value for key, value in summary["runs"].items()
                       if key.startswith(("cpython-3.11/gc_only/", "pypy-3.9/gc_only/")) and "/phase=" not in key
                       and "budget=16777216" not in key}  # 21.4 to 85.5 MiB
    image, boxes, outside = drawn(summary)
    assert outside == []
    for x0, y0, x1, y1 in boxes:
        assert pixels_of(image[y0:y1, x0:x1], SERIES_RGB["gc_only"]) >= ENOUGH_PIXELS
    caption = interpreter_section.chart_caption(summary)
    assert named_series(caption) == ["gc_only"] and "log scale" not in caption
