"""The section "Where real libraries stand" and its diagram, rendered from a summary with peers.

The summary is the small fixture plus peers whose records are copies of its own runs with other
numbers: every figure the section prints must be the summary's, and a peer recorded as
unavailable must be named with its reason.
"""
import copy
import json
from pathlib import Path

import pytest

from graphmem.report import charts, peers
from graphmem.report.data import migrate, schema_validator
from graphmem.report.render import render_markdown

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
MICROGRAD_CYCLE = [{"node": "micrograd.Value", "edge": "._backward"}, {"node": "function _backward",
                                                                       "edge": "__closure__"},
                   {"node": "tuple", "edge": "[1]"}, {"node": "cell", "edge": "cell_contents"}]


def described(name, version, holds, file, line, text, advice, unsupported=None, notes=None):
    return {"name": name, "kind": name, "version": version, "holds_outputs": holds,
            "source": {"file": file, "line": line, "text": text}, "source_problem": None, "advice": advice,
            "scalar_scale": None, "notes": notes, "unsupported": unsupported or {}, "element_bytes": 8}


def anatomy_record(objects, by_type, array_bytes, cycle, after_backward=None):
    phase = {"objects": objects, "by_type": by_type, "array_bytes": array_bytes, "cycle": cycle,
             "bytes_freed_by_collect": array_bytes}
    return {"implementation": "x", "version": "1", "size": 10_000, "elements": 100, "graph": "g",
            "python": "3.11", "forward": phase, "backward": {**phase, **(after_backward or {})}}


@pytest.fixture
def summary():
    summary = migrate(json.loads(FIXTURE.read_text()))  # the fixture is schema 2, as a reader finds it
    seed = next(run for run in summary["runs"].values() if run["variant"] == "weakref"
                and run["workload"] == "seed_loop" and run["params"] == summary["workloads"]["seed_loop"]["default_params"]
                and run["mode"] == "auto")
    summary["peer_runs"] = {}
    for mode, peak in (("auto", 3_000_000), ("off", 250_000_000)):
        run = copy.deepcopy(seed)
        run.update(id=f"cpython-3.11/micrograd/seed_loop/{mode}/x", variant="micrograd", implementation="micrograd", mode=mode,
                   peak_heap_bytes=peak, peak_ratio_to_bound=round(peak / run["live_set_bound_bytes"], 4))
        run.pop("timing", None)
        summary["peer_runs"][run["id"]] = run
    summary["implementations"] = {
        "weakref": {"kind": "ours", "available": True, "reason": None,
                    "description": described("weakref", "weakref (this project)", "by weakref", "dezero/core.py", 181,
                                             "self.outputs = [weakref.ref(output) for output in outputs]",
                                             "nothing to do")},
        "micrograd": {"kind": "peer", "available": True, "reason": None,
                      "description": described("micrograd", "0.1.0", "closure captures out", "micrograd/engine.py", 20,
                                               "out._backward = _backward", "run gc.collect()",
                                               unsupported={"no_grad_loop": "no no-grad mode"},
                                               notes="scalar-only: size // 100 Values")},
        "tinygrad": {"kind": "peer", "available": False, "reason": "needs the `clang` binary, not on PATH"},
    }
    summary["anatomy"] = {
        "weakref": anatomy_record(0, {}, 0, None),
        "micrograd": anatomy_record(2400, {"cell": 900, "micrograd.Value": 400}, 0, MICROGRAD_CYCLE,
                                    after_backward={"objects": 3100}),
    }
    return summary


def test_a_summary_with_peers_matches_the_schema(summary):
    schema_validator().validate(summary)


def test_a_peer_run_without_its_implementation_is_refused_by_the_schema(summary):
    del next(iter(summary["peer_runs"].values()))["implementation"]
    assert list(schema_validator().iter_errors(summary))


def test_the_section_prints_the_summary_s_figures_and_names_the_unavailable_peer(summary):
    text = render_markdown(summary)
    section = text[text.index("## 7. Where real libraries stand"):]
    assert "| micrograd 0.1.0" in section and "closure captures out (`micrograd/engine.py:20`)" in section
    assert "**yes**: 2,400 objects (cell 900, Value 400), 0 B of arrays; after backward 3,100 objects" in section
    assert "no: reference counting frees it" in section  # weakref's anatomy
    assert "2.9 MiB / 238.4 MiB" in section  # micrograd's seed loop peaks, auto / off
    ratio_auto = summary["peer_runs"]["cpython-3.11/micrograd/seed_loop/auto/x"]["peak_ratio_to_bound"]
    assert f"{ratio_auto:.2f}×" in section
    assert "`Value -._backward-> function _backward -__closure__-> tuple -[1]-> cell -cell_contents-> Value`" \
        in section
    assert "- **micrograd 0.1.0**: run gc.collect()." in section
    assert "- **micrograd 0.1.0**: scalar-only: size // 100 Values." in section
    assert "- **tinygrad**: needs the `clang` binary, not on PATH" in section
    row = next(line for line in section.splitlines() if line.startswith("| micrograd") and "no_grad" not in line
               and "×" in line)
    assert row.rstrip(" |").endswith("– / –")  # no_grad_loop: micrograd does not run it
    assert f"![The reference cycle a dropped graph leaves, per implementation]({peers.DIAGRAM_NAME})" in section


def test_a_summary_from_before_the_peers_renders_no_section(summary):
    for key in ("implementations", "anatomy", "peer_runs"):
        del summary[key]
    assert "Where real libraries stand" not in render_markdown(summary)
    assert charts.render_diagram(summary) == {}


def test_the_diagram_is_a_png_with_one_panel_per_cycle_and_none_without_a_cycle(summary):
    image = charts.render_diagram(summary)[peers.DIAGRAM_NAME]
    assert image.startswith(b"\x89PNG") and image == charts.render_diagram(summary)[peers.DIAGRAM_NAME]
    summary["anatomy"]["micrograd"]["forward"]["cycle"] = None
    assert charts.render_diagram(summary) == {}


def test_the_scalar_bound_note_appears_only_for_a_measured_scalar_library(summary):
    note = "the bound counts one leaf Value per scalar"
    assert note not in render_markdown(summary)  # micrograd's adapter recorded no scalar_scale here
    summary["implementations"]["micrograd"]["description"]["scalar_scale"] = 100
    assert "micrograd 0.1.0: the bound counts one leaf Value per scalar" in render_markdown(summary)
    summary["peer_runs"] = {}
    assert note not in render_markdown(summary)  # no run of it: nothing to read the ratios of


def test_the_closing_note_counts_the_cycle_diagram_with_the_charts(summary):
    closing = render_markdown(summary).split("## Closing note")[1]
    assert "Charts drawn from this summary (6): " in closing and f"`{peers.DIAGRAM_NAME}` (section 7)" in closing
    summary["anatomy"]["micrograd"]["forward"]["cycle"] = None
    closing = render_markdown(summary).split("## Closing note")[1]
    assert "Charts drawn from this summary (5): " in closing and peers.DIAGRAM_NAME not in closing
