"""The PNG charts: drawn for every chart the text shows, none for runs that were not measured, and each PNG
checked for what a program can see in it: no blank panel, and a line in the colour of every variant its
caption names (labels inside their panels: test_report_captions)."""
import copy
import io
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from graphmem.report import captions, charts
from graphmem.report import render as report
from graphmem.facts import VARIANTS
from graphmem.report.data import load_summary
from graphmem.report.selection import chart_plan

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_planned_chart_is_drawn(fixture_summary):
    images = charts.render_charts(fixture_summary)
    assert list(images) == [chart.name for chart in chart_plan(fixture_summary)]
    assert all(png.startswith(PNG_SIGNATURE) for png in images.values())


# The series colours, written out here rather than read from charts.COLOURS: red, orange, blue.
SERIES_RGB = {"strong": (0xd6, 0x27, 0x28), "gc_only": (0xff, 0x7f, 0x0e), "weakref": (0x1f, 0x77, 0xb4)}
ENOUGH_PIXELS = 15  # a drawn line or marker covers far more; stray antialiasing of another colour far fewer


def pixels_of(image, rgb, tolerance=0.05):
    """How many pixels of `image` (floats 0–1, RGB or RGBA) are within `tolerance` of `rgb` in every channel."""
    target = np.array(rgb) / 255
    return int(np.all(np.abs(image[..., :3] - target) <= tolerance, axis=-1).sum())


def panel_boxes(summary, chart):
    """Each axes' pixel box (x0, y0, x1, y1) from the top-left corner, as the PNG is laid out."""
    figure = charts.draw(summary, chart)
    try:
        figure.canvas.draw()
        height = figure.bbox.height
        return [(int(a.bbox.x0), int(height - a.bbox.y1), int(a.bbox.x1), int(height - a.bbox.y0))
                for a in figure.axes], (int(figure.bbox.height), int(figure.bbox.width))
    finally:
        plt.close(figure)


@pytest.mark.parametrize("source", ["fixture", "committed"])
def test_no_panel_is_blank_and_every_series_the_caption_names_is_drawn(source):
    summary = load_summary(FIXTURE if source == "fixture" else report.SUMMARY_PATH)
    images = charts.render_charts(summary)
    for chart in chart_plan(summary):
        if chart.missing:
            continue
        image = matplotlib.image.imread(io.BytesIO(images[chart.name]), format="png")
        boxes, size = panel_boxes(summary, chart)
        assert image.shape[:2] == size, chart.name
        for x0, y0, x1, y1 in boxes:
            panel = image[y0:y1, x0:x1]
            assert max(pixels_of(panel, rgb) for rgb in SERIES_RGB.values()) >= ENOUGH_PIXELS, \
                (chart.name, "a panel without any series drawn in it")
        caption = captions.caption(summary, chart)
        named = [variant for variant in VARIANTS if variant in caption]
        assert named, chart.name
        for variant in named:
            assert pixels_of(image, SERIES_RGB[variant]) >= ENOUGH_PIXELS, (chart.name, f"no {variant} drawn")


def test_a_summary_without_measurements_draws_nothing_and_does_not_fail(fixture_summary):
    summary = copy.deepcopy(fixture_summary)
    for run in summary["runs"].values():
        run.update(peak_heap_bytes=None, peak_ratio_to_bound=None, gc=None, wall_seconds=None)
        run.pop("snapshots", None)
    assert charts.render_charts(summary) == {}
    assert all(chart.missing for chart in chart_plan(summary))


def test_one_variant_without_snapshots_still_draws_the_others(fixture_summary):
    summary = copy.deepcopy(fixture_summary)
    for run in summary["runs"].values():
        if run["variant"] == "strong":
            run.pop("snapshots", None)
    assert "chart-memory-over-time-auto.png" in charts.render_charts(summary)


def test_the_report_session_writes_text_and_charts_together(tmp_path):
    out = tmp_path / "COMPARISON.md"
    assert report.main(["--summary", str(FIXTURE), "--out", str(out)]) == 0
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == sorted(["COMPARISON.md", *(chart.name for chart in chart_plan(load_summary(FIXTURE)))])


def test_a_chart_that_fails_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "COMPARISON.md"
    out.write_text("the previous report\n", encoding="utf-8")

    def broken(summary):
        raise RuntimeError("matplotlib fell over")

    with monkeypatch.context() as patch:
        patch.setattr(charts, "render_charts", broken)
        with pytest.raises(RuntimeError, match="fell over"):
            report.main(["--summary", str(FIXTURE), "--out", str(out)])
    assert out.read_text(encoding="utf-8") == "the previous report\n"
    assert [path.name for path in tmp_path.iterdir()] == ["COMPARISON.md"]
