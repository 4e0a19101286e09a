"""What each chart draws, panel by panel, decided once from the summary (no matplotlib).

charts.py draws exactly these panels and render.py writes each caption from them, so a caption cannot
claim a panel, a mode, a workload or a line that the PNG does not have.
"""
from dataclasses import dataclass

from graphmem.facts import MODES, VARIANTS
from graphmem.report.cells import fmt_params, peak, words
from graphmem.report.claims import AT_BOUND
from graphmem.report.selection import (
    TIMELINE_WORKLOADS, drawable_budget_sweeps, drawable_sweep, has_snapshots, headline_params, headline_run,
    matching_run,
)
from graphmem.report.times import time_figure

# A line "sits on" the live-set bound when every point is within this factor of it.
# Two points "coincide" on a chart when their values differ by less than this share.
COINCIDE_SHARE = 0.05
# A timeline "falls at its end" when its last snapshot holds no more than this share of the run's peak.
FALLEN_SHARE = 0.1


@dataclass(frozen=True)
class Series:
    """One variant's line in a panel: its (x, run) points, x ascending."""

    variant: str
    points: tuple

    @property
    def runs(self):
        return [run for _, run in self.points]


@dataclass(frozen=True)
class Panel:
    """One axes of a chart: what it shows and the lines in it."""

    workload: str
    mode: str
    title: str
    series: tuple  # of Series, in VARIANTS order
    params: dict = None
    bound: object = None  # timeline: the run's bound in bytes; sweeps: {x: bound bytes}


def _points_coincide(first, second):
    return first is not None and second is not None and \
        abs(first - second) <= COINCIDE_SHARE * max(abs(first), abs(second), 1e-12)


# --- memory over time --------------------------------------------------------------------------

def timeline_panels(summary, mode):
    """One panel per seed workload that has a run with snapshots in `mode`; one series per such run."""
    panels = []
    for workload in TIMELINE_WORKLOADS:
        series, bound = [], None
        for variant in VARIANTS:
            run = headline_run(summary, workload, mode, variant)
            if has_snapshots(run):
                bound = run["live_set_bound_bytes"]
                series.append(Series(variant, ((None, run),)))
        if series:
            panels.append(Panel(workload, mode, workload, tuple(series), headline_params(summary, workload), bound))
    return panels


def snapshots_mib(run):
    """([seconds], [MiB]) of a run's memory snapshots."""
    return ([snapshot["t"] for snapshot in run["snapshots"]], [snapshot["heap"] / 2**20 for snapshot in run["snapshots"]])


def line_end(run):
    """(heap at the last snapshot, whether that is a fall to FALLEN_SHARE of the peak or less)."""
    last = run["snapshots"][-1]["heap"]
    top = max(snapshot["heap"] for snapshot in run["snapshots"])
    return last, last <= FALLEN_SHARE * top


# --- peak against a parameter ------------------------------------------------------------------

def sweep_panels(summary, chart):
    """One panel per collector mode in which the sweep along chart.key has two measured values or more."""
    panels = []
    for mode in MODES:
        points = drawable_sweep(summary, chart.workload, mode, chart.key)
        if not points:
            continue
        series, bounds = [], {}
        for variant in VARIANTS:
            drawn = tuple((value, run) for value, run in points.get(variant, []) if peak(run) is not None)
            if drawn:
                series.append(Series(variant, drawn))
                bounds.update({value: run["live_set_bound_bytes"] for value, run in drawn})
        fixed = {name: value for name, value in headline_params(summary, chart.workload).items() if name != chart.key}
        panels.append(Panel(chart.workload, mode, f"{chart.workload} ({fmt_params(fixed)}), collector {mode}",
                            tuple(series), fixed, bounds))
    return panels


def stopped_points(panel):
    """[(variant, x, run)] for runs stopped at the memory ceiling: their peak is a lower bound."""
    return [(series.variant, value, run) for series in panel.series for value, run in series.points
            if run["status"] == "ceiling"]


def on_bound(panel):
    """Variants whose every point lies within AT_BOUND of the live-set bound."""
    return [series.variant for series in panel.series
            if all(panel.bound.get(value) and peak(run) <= AT_BOUND * panel.bound[value]
                   for value, run in series.points)]


def coinciding_points(panel):
    """[(x, [variants])] where two variants' peaks coincide at the same x."""
    found = []
    values = sorted({value for series in panel.series for value, _ in series.points})
    for value in values:
        peaks = [(series.variant, peak(run)) for series in panel.series for v, run in series.points if v == value]
        together = sorted({variant for variant, top in peaks for other, other_top in peaks
                           if other != variant and _points_coincide(top, other_top)}, key=VARIANTS.index)
        if together:
            found.append((value, together))
    return found


# --- gc_only's budget --------------------------------------------------------------------------

def budget_panels(summary):
    """One panel per (workload, mode, params) where gc_only ran at two budgets or more; series are gc_only's
    budgets (x = budget) and the strong and weakref reference runs."""
    panels = []
    for workload, mode, params, runs in drawable_budget_sweeps(summary):
        drawn = tuple((run["gc_budget"], run) for run in runs
                      if peak(run) is not None and time_figure(run, "collector") is not None)
        series = [Series("gc_only", drawn)]
        for variant in ("strong", "weakref"):
            reference = matching_run(summary, runs[0], variant)
            if reference is not None and peak(reference) is not None and time_figure(reference, "collector") is not None:
                series.append(Series(variant, ((None, reference),)))
        panels.append(Panel(workload, mode, f"{workload}, collector {mode}, {fmt_params(params)}", tuple(series),
                            params, runs[0]["live_set_bound_bytes"]))
    return panels


def budget_points_on_references(panel):
    """[(gc_only run, reference variant, reference run)] where a budget's point sits on a reference's point:
    the peaks coincide and the times differ by under COINCIDE_SHARE of the panel's widest time."""
    gc_only = next(series for series in panel.series if series.variant == "gc_only")
    widest = max(time_figure(run, "collector") for series in panel.series for run in series.runs) or 1e-3
    found = []
    for series in panel.series:
        if series.variant == "gc_only":
            continue
        reference = series.runs[0]
        for run in gc_only.runs:
            close = abs(time_figure(run, "collector") - time_figure(reference, "collector")) <= COINCIDE_SHARE * widest
            if close and _points_coincide(peak(run), peak(reference)):
                found.append((run, series.variant, reference))
    return found


# --- one entry point ---------------------------------------------------------------------------

def panels(summary, chart):
    """The panels `chart` draws; [] when the summary cannot draw it."""
    if chart.missing:
        return []
    if chart.kind == "timeline":
        return timeline_panels(summary, chart.mode)
    if chart.kind == "sweep":
        return sweep_panels(summary, chart)
    return budget_panels(summary)


def names(items):
    """`a`, `a and b`, `a, b and c`; `none` for none."""
    return words(items) or "none"


def count_panels(number):
    return {1: "one panel", 2: "two panels", 3: "three panels"}.get(number, f"{number} panels")
