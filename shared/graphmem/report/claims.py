"""What every claim of COMPARISON.md shares: the verdict words, the factor a clear difference needs, which
workload a claim reads first, and the links to the row or chart it rests on.

Section 4 (argument, beyond), the answer (verdict) and the closing note build on these.
"""
import re

from graphmem.facts import MODES
from graphmem.report.cells import NOT_MEASURED, collector_runs, fmt_time, peak, time_spread
from graphmem.report.selection import TIMELINE_WORKLOADS, chart_plan, headline_run, workload_names
from graphmem.spread import SPREAD_NAME

# A difference counts as clear only beyond this factor: smaller ones are within what a rerun on a shared,
# noisy machine can move (allocator reuse, the collector's thresholds falling a few objects earlier).
CLEAR_FACTOR = 1.5
# A peak "at the live-set bound": within this factor of it.
AT_BOUND = 1.1

SUPPORTED = "**Supported.**"
NOT_SUPPORTED = "**Not supported by this run.**"
NOT_MEASURED_VERDICT = "**Not measured.**"
UNDECIDED = "**Undecided by this run.**"  # the deciding ranges overlap: a rerun could go either way


def anchor(heading):
    """GitHub's anchor for a heading's text."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def row_link(workload):
    return f"[{workload}](#{anchor(workload)})"


def chart_link(summary, kind, mode=None, key=None):
    for chart in chart_plan(summary):
        if chart.kind == kind and chart.mode == mode and chart.key == key and not chart.missing:
            return f"[{chart.name}]({chart.name})"
    return None


def ok_run(summary, workload, mode, variant):
    run = headline_run(summary, workload, mode, variant)
    return run if run is not None and run["status"] == "ok" else None


def preferred_workloads(summary):
    names = workload_names(summary)
    return [name for name in TIMELINE_WORKLOADS if name in names] + \
        [name for name in names if name not in TIMELINE_WORKLOADS]


def first_workload(summary, needs):
    """The first workload, the book's loop first, whose headline runs satisfy `needs(workload)`."""
    return next((workload for workload in preferred_workloads(summary) if needs(workload)), None)


def times(count):
    return {0: "no times", 1: "once", 2: "twice"}.get(count, f"{count} times")


def describe_runs(run):
    runs = collector_runs(run)
    if runs is None:
        return f"collector runs {NOT_MEASURED}"
    return (f"the collector ran {runs[0]}, {runs[1]} and {runs[2]} times in generations 0, 1 and 2"
            + (f", for {fmt_time(run, 'collector_seconds')} in all ({SPREAD_NAME} without memray)"
               if time_spread(run, "collector_seconds") else " (their time was not measured without memray)"))


def step(title, verdict, sentences, evidence):
    return [f"### {title}", f"{verdict} {' '.join(sentences)}", f"*Where to look:* {evidence}"]


def compared_workload(summary):
    """The first workload (the book's loop first) with completed strong and weakref runs in both modes."""
    return first_workload(summary, lambda w: all(ok_run(summary, w, mode, variant) is not None
                                                 and peak(ok_run(summary, w, mode, variant)) is not None
                                                 for mode in MODES for variant in ("strong", "weakref")))


def four_runs(summary, workload):
    """strong and weakref with the collector on, then off."""
    return tuple(ok_run(summary, workload, mode, variant) for mode in MODES for variant in ("strong", "weakref"))
