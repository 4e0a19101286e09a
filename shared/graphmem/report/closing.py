"""The closing note of COMPARISON.md: the charts drawn, and the two policies' result in one paragraph.

Every figure and count is computed from the summary: which charts this summary draws (and the cycle
diagram, when section 7 has one), the memory result, and what gc_only's byte budget traded, only where
its numbers show a trade.
"""
from graphmem.facts import MODES
from graphmem.report import peers
from graphmem.report.cells import NOT_MEASURED, fmt_bytes, fmt_ratio, fmt_time, peak, ratio, time_spread
from graphmem.report.claims import first_workload, ok_run
from graphmem.report.selection import budget_sweeps, chart_plan, collector_owner, default_budget
from graphmem.spread import SPREAD_NAME, compare

def closing_note(summary):
    charts = chart_plan(summary)
    drawn = [f"`{chart.name}`" for chart in charts if not chart.missing]
    if peers.diagram_cycles(summary):
        drawn.append(f"`{peers.DIAGRAM_NAME}` (section 7)")
    skipped = [f"`{chart.name}`" for chart in charts if chart.missing]
    listing = (f"Charts drawn from this summary ({len(drawn)}): " + ", ".join(drawn) + "." if drawn
               else "No chart could be drawn from this summary.") \
        + (f" Not drawn, for want of runs ({len(skipped)}): " + ", ".join(skipped) + "." if skipped else "")
    return ["## Closing note", listing, f"{_memory_sentence(summary)} {_budget_sentence(summary)}"]


def _memory_sentence(summary):
    workload = first_workload(summary, lambda w: all(
        ok_run(summary, w, mode, variant) is not None for mode in MODES for variant in ("strong", "weakref")))
    if workload is None:
        return ("This run does not hold strong and weakref on one workload in both collector modes, so it cannot "
                "show the two policies side by side.")
    strong_on, weak_on = ok_run(summary, workload, "auto", "strong"), ok_run(summary, workload, "auto", "weakref")
    strong_off, weak_off = ok_run(summary, workload, "off", "strong"), ok_run(summary, workload, "off", "weakref")
    return (f"In this run, on {workload} with {collector_owner(summary)} collector on, strong peaked at {fmt_bytes(peak(strong_on))} "
            f"against weakref's {fmt_bytes(peak(weak_on))} ({fmt_ratio(ratio(peak(strong_on), peak(weak_on)))}), "
            f"and with the collector off strong still held {fmt_bytes(strong_off.get('held_bytes_at_return'))} "
            f"when the workload returned, where weakref held {fmt_bytes(weak_off.get('held_bytes_at_return'))}.")


def _budget_sentence(summary):
    sweeps = [(workload, mode, [run for run in runs if run["status"] == "ok" and peak(run) is not None])
              for workload, mode, _, runs in budget_sweeps(summary)]
    sweeps = [entry for entry in sweeps if len(entry[2]) >= 2]
    budget = default_budget(summary)
    if not sweeps:
        return (f"gc_only's budget sweep was {NOT_MEASURED}, so this run does not show what its byte budget "
                f"trades (default budget: {fmt_bytes(budget)}).")
    workload, mode, runs = sweeps[0]
    small, large = runs[0], runs[-1]
    figures = (f"at {fmt_bytes(small['gc_budget'])} it spent {fmt_time(small, 'collector_seconds')} collecting for a "
               f"peak of {fmt_bytes(peak(small))}, and at {fmt_bytes(large['gc_budget'])} it spent "
               f"{fmt_time(large, 'collector_seconds')} for a peak of {fmt_bytes(peak(large))} (times: {SPREAD_NAME} "
               "without memray)")
    missing = budget_trade_missing(small, large)
    if missing is None:
        return f"gc_only's budget traded collecting time for memory on {workload} (collector `{mode}`): {figures}."
    return (f"On {workload} (collector `{mode}`), gc_only {figures}: {missing}, so this run does not show its "
            "budget trading collecting time for memory.")


def budget_trade_missing(small, large):
    """None when the smaller budget peaked lower and collected for longer (time ranges apart), else why not."""
    if not peak(small) < peak(large):
        return "the smaller budget did not peak lower"
    found = compare(time_spread(small, "collector_seconds"), time_spread(large, "collector_seconds"))
    if found is None:
        return "the collecting times were not repeated without memray"
    if found != "higher":
        return "the smaller budget's time collecting was not above the larger's beyond the overlap of their ranges"
    return None
