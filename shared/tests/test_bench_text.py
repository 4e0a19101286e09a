"""BENCH.md says only what its bench.json shows: each computed sentence is there when the data
supports it and absent when not, every bracket is the one spread convention, named in its header,
and no fixed claim about the machine or a past measurement is printed. Hand-made results only."""
import re

import pytest

from graphmem.bench import report as bench_report
from graphmem.bench import plan, targets
from graphmem.spread import SPREAD_NAME
from test_bench import has_row, per_op_rows, small_result, table_rows  # noqa: F401 (small_result is a fixture)

FIXED_CLAIMS = ("(2 cores)", "The machine is shared", "shared machine", "Issue 13", "issue 13", "issue 5",
                "Issue 5", "10.4–10.9")


def render(result):
    return bench_report.render_markdown(result)


def test_no_fixed_claim_about_the_machine_or_an_earlier_measurement(small_result):
    markdown = render(small_result)
    assert [claim for claim in FIXED_CLAIMS if claim in markdown] == []
    committed = render(bench_report.load_result(plan.RECORD_DIR / "bench.json"))
    assert [claim for claim in FIXED_CLAIMS if claim in committed] == []


@pytest.mark.parametrize("available, title", [
    ({"torch", "book"}, "# Speed: per-operation time and backward scaling against PyTorch and the book's package"),
    ({"book"}, "# Speed: per-operation time and backward scaling against the book's package"),
    ({"torch"}, "# Speed: per-operation time and backward scaling against PyTorch"),
    (set(), "# Speed: per-operation time and backward scaling"),
])
def test_the_title_names_only_the_peers_that_were_measured(small_result, available, title):
    for name in ("torch", "book"):
        small_result["implementations"][name] = (
            {"kind": name, "status": "ok", "versions": {}, "peak_rss_mib": {}} if name in available
            else {"kind": name, "status": "unavailable", "reason": "did not install"})
    assert render(small_result).splitlines()[0] == title


def test_the_load_average_is_stated_only_when_recorded(small_result):
    assert "- Load average (1, 5, 15 min): [1.0, 1.0, 1.0] at the start and [2.0, 1.5, 1.0] at the end of the run." \
        in render(small_result)
    del small_result["environment"]["load_average_at_start"], small_result["environment"]["load_average_at_end"]
    assert "Load average" not in render(small_result)


def test_weakref_s_empty_collection_is_stated_only_when_it_collected_nothing(small_result):
    sentence = "weakref's collection collected no objects at any size: it had freed the graph on drop."
    assert sentence in render(small_result)  # the fixture's weakref row collected 0 objects
    small_result["collection"][1]["collected_objects"] = 12
    assert sentence not in render(small_result)
    small_result["collection"] = [r for r in small_result["collection"] if r["implementation"] != "weakref"]
    assert sentence not in render(small_result)


def test_the_book_s_environment_is_described_from_its_recorded_versions_and_only_when_it_ran(small_result):
    sentence = ("- The book's package (dezero 0.0.13) ran in its own environment with numpy 1.23.5 (it needs "
                "numpy<1.24")
    assert sentence in render(small_result)
    small_result["implementations"]["book"]["versions"]["numpy"] = "1.22.4"
    assert "with numpy 1.22.4 (it needs numpy<1.24" in render(small_result)
    small_result["implementations"]["book"] = {"kind": "book", "status": "unavailable", "reason": "no wheel"}
    assert "The book's package (dezero" not in render(small_result)


def test_the_floor_s_numpy_is_set_against_the_variants_only_as_recorded(small_result):
    implementations = small_result["implementations"]
    for name in ("strong", "weakref", "gc_only", "minimal"):
        implementations[name]["versions"] = {"numpy": "2.4.6"}
    assert "It ran in its own environment with numpy 2.4.6, the numpy our variants ran with." in render(small_result)
    implementations["minimal"]["versions"] = {"numpy": "2.3.0"}
    assert "It ran in its own environment with numpy 2.3.0 (our variants: numpy 2.4.6)." in render(small_result)
    implementations["minimal"] = {"kind": "minimal", "status": "unavailable", "reason": "no numpy"}
    assert "It ran in its own environment with numpy" not in render(small_result)


def test_the_book_is_named_by_the_version_measured_and_generically_without_one(small_result):
    assert targets.peer_label(small_result, "book") == "book's dezero 0.0.13"
    small_result["implementations"]["book"]["versions"] = {"numpy": "1.23.5"}
    assert targets.peer_label(small_result, "book") == "the book's dezero"


BRACKET = re.compile(r"\[[^\]]*–[^\]]*\]")


def test_every_bracket_in_a_table_is_median_min_max_and_its_header_says_so(small_result):
    small_result["features"] = []
    markdown = render(small_result)
    lines = markdown.splitlines()
    checked = 0
    for index, line in enumerate(lines):
        if not line.startswith("| ") or not BRACKET.search(line):
            continue
        start = index
        while lines[start - 1].startswith("|"):
            start -= 1
        header = table_rows(lines[start])[0]
        for column, cell in enumerate(table_rows(line)[0]):
            if BRACKET.search(cell):
                assert header[column].endswith(SPREAD_NAME), (header[column], cell)
                checked += 1
    assert checked > 50


def test_teardown_and_collection_brackets_are_min_max_not_quartiles(small_result):
    spread = {"median": 5e6, "q1": 4e6, "q3": 6e6, "min": 1e6, "max": 9e6, "repeats": 5}
    small_result["teardown"][0]["collect_after_ns"] = spread
    small_result["collection"][0]["collect_ns"] = spread
    markdown = render(small_result)
    assert has_row(markdown, "weakref", "100,000", "40.0 ms [40.0 ms–40.0 ms]", "yes", "5.0 ms [1.0 ms–9.0 ms]")
    assert has_row(markdown, "strong", "1,000", "5.0 ms [1.0 ms–9.0 ms]")
    assert "[4.0 ms–6.0 ms]" not in markdown


def test_a_difference_between_variants_is_real_only_where_their_round_ranges_do_not_overlap(small_result):
    # strong's rounds at 880 ± 2% against weakref's at 1000: the ranges do not overlap.
    assert targets.difference(small_result, "strong", "weakref", "square_chain", "0-d") == "strong lower than weakref"
    target = {t["target"]: t for t in targets.evaluate_targets(small_result)}[
        "strong/weakref fwd+bwd per op, 0-d, square_chain"]
    assert target["why_unmeasured"] == "strong lower than weakref"
    # strong's rounds spread to 880 ± 15%: 748–1012 overlaps weakref's 1000, whatever the medians say.
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "strong"] \
        + per_op_rows("strong", 880, spread=0.15)
    assert targets.difference(small_result, "strong", "weakref", "square_chain", "0-d") == "within noise"
    assert has_row(render(small_result), "strong/weakref fwd+bwd per op, 0-d, square_chain", "0.880 [0.748–1.012]",
                   "reported with its spread", "reported (within noise)")


@pytest.mark.parametrize("bounds, note", [
    ((0.15, 0.24), ""),  # clear of the limit 0.25, below
    ((0.26, 0.40), ""),  # clear of it, above
    ((0.20, 0.30), "within noise: its min–max range spans the limit"),
    ((0.25, 0.30), "within noise: its min–max range spans the limit"),  # touching counts as overlapping
])
def test_a_target_s_status_is_within_noise_exactly_where_its_range_spans_the_limit(bounds, note):
    assert targets.against_limit(bounds, 0.25) == note
