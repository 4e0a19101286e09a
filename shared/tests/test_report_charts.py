"""The PNG charts: drawn for every chart the text shows, none for runs that were not measured."""
import copy
from pathlib import Path

import pytest

from graphmem.report import charts
from graphmem.report import render as report
from graphmem.report.data import chart_plan, load_summary

FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_planned_chart_is_drawn(fixture_summary):
    images = charts.render_charts(fixture_summary)
    assert list(images) == [chart.name for chart in chart_plan(fixture_summary)]
    assert all(png.startswith(PNG_SIGNATURE) for png in images.values())


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
