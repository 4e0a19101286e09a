"""Each chart's caption, written from the panels graphmem.report.layout plans and charts.py draws.

A caption names the panels, modes, workloads and lines that are drawn, and says of the data only what the
data show (where lines end, which sit on the bound, which runs are lower bounds, which points coincide).
"""
from graphmem.report import layout
from graphmem.facts import MODES, VARIANTS
from graphmem.report.cells import fmt_bytes, peak
from graphmem.report.claims import AT_BOUND
from graphmem.report.selection import workload_names
from graphmem.report.times import fmt_time_figure

SWEEP_LABELS = {"size": "array size (float64 elements)", "iterations": "iterations"}


def _code(items):
    return [f"`{item}`" for item in items]


def _variants(panel):
    return layout.names([series.variant for series in panel.series])


def drawn_variants(panels):
    """The variants with a line in any of `panels`, in VARIANTS order."""
    drawn = {series.variant for panel in panels for series in panel.series}
    return [variant for variant in VARIANTS if variant in drawn]


def timeline_caption(summary, chart, panels):
    workloads = [panel.workload for panel in panels]
    others = [name for name in workload_names(summary) if name not in workloads]
    parts = [
        f"Heap in MiB against seconds since tracking started, collector `{chart.mode}`: "
        f"{layout.count_panels(len(panels))}, one per workload ({layout.names(workloads)})"
        + (f"; the other {len(others)} workloads ({layout.names(others)}) are in section 2's tables" if others else "")
        + ". Each panel has a strip under it zoomed to the bottom (up to 3× the live-set bound), where the bound "
        "(dashed, drawn over the lines) and any line near it can be told apart.",
    ]
    said = {}  # one sentence for every panel that has the same lines and the same lines near the bound
    for panel in panels:
        near = [series.variant for series in panel.series if peak(series.runs[0]) is not None
                and peak(series.runs[0]) <= AT_BOUND * panel.bound]
        text = f"lines for {_variants(panel)}"
        if near:
            text += f"; {layout.names(near)} stays within {AT_BOUND:g}× of the bound throughout"
        said.setdefault(text, []).append(panel.workload)
    parts += [f"In {layout.names(workloads)}: {text}." for text, workloads in said.items()]
    fallen, standing = [], []
    for panel in panels:
        for series in panel.series:
            run = series.runs[0]
            last, fell = layout.line_end(run)
            (fallen if fell else standing).append((panel.workload, series.variant, run, last))
    if fallen and not standing:
        parts.append("Every line falls at its right end: its last snapshot holds at most "
                     f"{layout.FALLEN_SHARE:.0%} of the run's peak.")
    else:
        if fallen:
            parts.append("These lines fall at their right end: " + layout.names(
                [f"{variant} on {workload}" for workload, variant, _, _ in fallen]) + ".")
        for workload, variant, run, last in standing:
            after = run.get("held_bytes_after_collect")
            parts.append(
                f"{variant}'s {workload} line ends at {fmt_bytes(last)}: memray's last snapshot came before the "
                "harness's final `gc.collect()`"
                + (f", after which {fmt_bytes(after)} of arrays were held." if after is not None else "."))
    parts.append("How to read a line: a sawtooth is a collection freeing piled-up graphs; a ramp is memory nobody "
                 "frees; a flat line is reference counting freeing each graph as it is dropped.")
    return " ".join(parts)


def sweep_caption(summary, chart, panels):
    modes = [panel.mode for panel in panels]
    missing = [mode for mode in MODES if mode not in modes]
    fixed = panels[0].params
    parts = [
        f"Peak heap in MiB against {SWEEP_LABELS[chart.key]}, both axes logarithmic, workload {chart.workload} "
        f"({', '.join(f'{name}={value}' for name, value in sorted(fixed.items()))}): "
        f"{layout.count_panels(len(panels))}, collector {layout.names(_code(modes))}"
        + (f" (no {chart.key} sweep was measured with the collector {layout.names(_code(missing))})" if missing else "")
        + f". Lines: {layout.names(drawn_variants(panels))}."
        " The live-set bound is the wide grey band under the lines.",
    ]
    for panel in panels:
        sitting = layout.on_bound(panel)
        if sitting:
            parts.append(f"With the collector `{panel.mode}`, {layout.names(sitting)}'s line lies on the band at "
                         f"every point (within {AT_BOUND:g}× of the bound).")
    for panel in panels:
        for variant, value, run in layout.stopped_points(panel):
            parts.append(
                f"{variant} at {chart.key}={value:,} (collector `{panel.mode}`) stopped at the memory ceiling: its "
                f"point is a hollow triangle labelled ≥ {fmt_bytes(peak(run))}, a lower bound reached by a dotted "
                "line, since the run would have used more.")
    together = [(panel.mode, value, variants) for panel in panels for value, variants in layout.coinciding_points(panel)]
    if together:
        parts.append("Points that coincide (within {:.0%}): ".format(layout.COINCIDE_SHARE) + "; ".join(
            f"{layout.names(variants)} at {value:,} (`{mode}`)" for mode, value, variants in together)
            + ". Markers shrink from strong to weakref, so a smaller one shows inside a larger one.")
    return " ".join(parts)


def budget_caption(summary, chart, panels):
    parts = [
        "Peak heap in MiB (log scale) against milliseconds spent in the cyclic collector (the median over "
        "processes without memray; the table under the chart gives each range): "
        f"{layout.count_panels(len(panels))}, "
        + layout.names([f"{panel.workload} with the collector `{panel.mode}`" for panel in panels])
        + ". gc_only is one labelled point per budget ("
        + layout.names([fmt_bytes(budget) for budget, _ in panels[0].series[0].points])
        + "); strong (hollow star) and weakref (hollow diamond) on the same work are the reference points.",
    ]
    for panel in panels:
        for run, variant, reference in layout.budget_points_on_references(panel):
            own = (run.get("gc") or {}).get("variant_collections")
            parts.append(
                f"With the collector `{panel.mode}`, gc_only at a budget of {fmt_bytes(run['gc_budget'])} sits inside "
                f"{variant}'s marker ({fmt_bytes(peak(run))} in {fmt_time_figure(run, 'collector')} "
                f"against {fmt_bytes(peak(reference))} in {fmt_time_figure(reference, 'collector')})"
                + (": it never reached its budget (no collection of its own), so it behaved as strong."
                   if own == 0 else "."))
    return " ".join(parts)


CAPTIONS = {"timeline": timeline_caption, "sweep": sweep_caption, "budget": budget_caption}


def caption(summary, chart):
    """The caption of a chart that is drawn."""
    return CAPTIONS[chart.kind](summary, chart, layout.panels(summary, chart))
