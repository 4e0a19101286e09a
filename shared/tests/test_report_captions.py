"""Every chart's caption says what the PNG draws: its panels, modes, workloads and lines follow the data."""
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from graphmem.report import captions, charts, layout
from graphmem.report import render as report
from graphmem.report.cells import fmt_bytes
from graphmem.report.data import load_summary
from graphmem.report.selection import chart_plan

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
COUNT_WORDS = {1: "one panel", 2: "two panels", 3: "three panels"}


def summaries():
    return {"fixture": load_summary(FIXTURE), "committed": load_summary(report.SUMMARY_PATH)}


def drawn(summary, chart):
    figure = charts.draw(summary, chart)
    try:
        titled = [axis for axis in figure.axes if axis.get_title()]
        return {
            "titles": [axis.get_title() for axis in titled],
            "axes": len(figure.axes),
            "collisions": charts.label_collisions(figure),
            "stopped_markers": sum(1 for axis in figure.axes for collection in axis.collections
                                   if "stopped at the ceiling" in collection.get_label()),
            "labels": [text.get_text() for axis in figure.axes for text in axis.texts],
        }
    finally:
        plt.close(figure)


def chart_named(summary, name):
    return next(chart for chart in chart_plan(summary) if chart.name == name)


@pytest.mark.parametrize("source", ["fixture", "committed"])
def test_each_caption_names_the_panels_the_png_draws(source):
    summary = summaries()[source]
    for chart in chart_plan(summary):
        if chart.missing:
            continue
        panels = layout.panels(summary, chart)
        text = captions.caption(summary, chart)
        picture = drawn(summary, chart)
        assert COUNT_WORDS[len(panels)] in text, (chart.name, text)
        assert len(picture["titles"]) == len(panels), chart.name
        per_panel = 2 if chart.kind == "timeline" else 1  # a timeline has its zoomed strip under it
        assert picture["axes"] == per_panel * len(panels), chart.name
        for panel, title in zip(panels, picture["titles"]):
            assert panel.workload in title and panel.workload in text
            if chart.kind != "timeline":
                assert panel.mode in title and f"`{panel.mode}`" in text
        assert picture["collisions"] == [], (chart.name, picture["collisions"])


def test_a_sweep_measured_in_one_mode_is_captioned_and_drawn_as_one_panel(summary):
    summary["runs"] = {key: run for key, run in summary["runs"].items()
                       if not (run["mode"] == "off" and run["workload"] == "seed_loop")}
    chart = chart_named(summary, "chart-peak-vs-iterations.png")
    text = captions.caption(summary, chart)
    assert "one panel, collector `auto` (no iterations sweep was measured with the collector `off`)" in text
    assert drawn(summary, chart)["titles"] == [layout.panels(summary, chart)[0].title]
    assert "collector off" not in drawn(summary, chart)["titles"][0]


def test_a_timeline_that_does_not_fall_at_its_end_is_not_said_to(summary):
    run = summary["runs"]["cpython-3.11/gc_only/seed_loop/auto/iterations=50,size=100000/budget=67108864"]
    chart = chart_named(summary, "chart-memory-over-time-auto.png")
    for other in summary["runs"].values():
        if other.get("snapshots"):
            other["snapshots"].append({"t": other["snapshots"][-1]["t"] + 0.01, "heap": 0, "rss": 0})
    assert "Every line falls at its right end" in captions.caption(summary, chart)
    top = max(snapshot["heap"] for snapshot in run["snapshots"])
    run["snapshots"][-1]["heap"] = top // 2
    run["held_bytes_after_collect"] = 0
    text = captions.caption(summary, chart)
    assert "Every line falls" not in text
    assert (f"gc_only's seed_loop line ends at {fmt_bytes(top // 2)}: memray's last snapshot came before the "
            "harness's final `gc.collect()`, after which 0 B of arrays were held") in text


def test_a_timeline_without_a_workload_drops_its_panel(summary):
    summary["runs"] = {key: run for key, run in summary["runs"].items() if run["workload"] != "seed_backward"}
    chart = chart_named(summary, "chart-memory-over-time-auto.png")
    text = captions.caption(summary, chart)
    assert "one panel, one per workload (seed_loop)" in text
    assert drawn(summary, chart)["titles"] == ["seed_loop"]


def test_a_run_stopped_at_the_ceiling_is_a_labelled_lower_bound(summary):
    chart = chart_named(summary, "chart-peak-vs-iterations.png")
    assert "stopped at the memory ceiling" not in captions.caption(summary, chart)
    assert drawn(summary, chart)["stopped_markers"] == 0
    run = summary["runs"]["cpython-3.11/strong/seed_loop/off/iterations=200,size=100000"]
    run.update(status="ceiling", reason="stopped at the ceiling of 1 GiB after 150 iterations", iterations_completed=150)
    text = captions.caption(summary, chart)
    assert "strong at iterations=200 (collector `off`) stopped at the memory ceiling" in text
    assert f"≥ {fmt_bytes(run['peak_heap_bytes'])}" in text
    picture = drawn(summary, chart)
    assert picture["stopped_markers"] == 1
    assert any(label.startswith(f"≥ {fmt_bytes(run['peak_heap_bytes'])}") for label in picture["labels"])
    assert picture["collisions"] == []


def test_a_line_is_said_to_sit_on_the_bound_only_when_it_does(summary):
    chart = chart_named(summary, "chart-peak-vs-size.png")
    claim = "With the collector `auto`, weakref's line lies on the band"
    assert claim in captions.caption(summary, chart)
    weak = summary["runs"]["cpython-3.11/weakref/seed_loop/auto/iterations=50,size=10000"]
    weak["peak_heap_bytes"] = 3 * weak["live_set_bound_bytes"]
    assert claim not in captions.caption(summary, chart)


def test_a_budget_point_on_a_reference_is_named(summary):
    chart = chart_named(summary, "chart-budget-sweep.png")
    strong = summary["runs"]["cpython-3.11/strong/seed_loop/auto/iterations=50,size=100000"]
    big = summary["runs"]["cpython-3.11/gc_only/seed_loop/auto/iterations=50,size=100000/budget=268435456"]
    big["peak_heap_bytes"] = strong["peak_heap_bytes"]
    big["gc"] = {**strong["gc"], "variant_collections": 0, "variant_seconds": 0.0}
    text = captions.caption(summary, chart)
    assert f"gc_only at a budget of {fmt_bytes(big['gc_budget'])} sits inside strong's marker" in text
    assert "it never reached its budget" in text
    big["peak_heap_bytes"] = strong["peak_heap_bytes"] // 3
    assert "sits inside strong's marker" not in captions.caption(summary, chart)


# What each chart's caption opens with, written out by hand for the fixture (whose workloads, modes and
# sweeps are known): the caption under an image must be that chart's, not another's and not a stale one.
CAPTION_OPENINGS = {
    "chart-memory-over-time-auto.png": "Heap in MiB against seconds since tracking started, collector `auto`: "
                                       "two panels, one per workload (seed_loop and seed_backward)",
    "chart-memory-over-time-off.png": "Heap in MiB against seconds since tracking started, collector `off`: "
                                      "two panels, one per workload (seed_loop and seed_backward)",
    "chart-peak-vs-size.png": "Peak heap in MiB against array size (float64 elements), both axes logarithmic, "
                              "workload seed_loop (iterations=50): two panels, collector `auto` and `off`",
    "chart-peak-vs-iterations.png": "Peak heap in MiB against iterations, both axes logarithmic, workload seed_loop "
                                    "(size=100000): two panels, collector `auto` and `off`",
    "chart-budget-sweep.png": "Peak heap in MiB (log scale) against milliseconds spent in the cyclic collector",
}


def test_the_markdown_carries_each_caption_under_its_image(fixture_summary):
    text = report.render_markdown(fixture_summary)
    images = re.findall(r"^!\[[^\]]*\]\((chart-[^)]+\.png)\)\n\n(.*)$", text, re.M)
    assert [name for name, _ in images] == list(CAPTION_OPENINGS)
    for name, caption in images:
        assert caption.startswith(CAPTION_OPENINGS[name]), (name, caption[:160])
    assert not re.search(r"one panel per (workload|collector mode)", text)
