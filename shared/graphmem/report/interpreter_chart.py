"""The chart of the section "On your interpreter": seed_loop's peak of live NumPy array data by interpreter and
variant, with the collector on (left panel) and off (right), drawn with matplotlib (Agg).

It is drawn from interpreter_section.chart_series, the same data the section's caption is written from, so
the caption names what the chart draws. Each bar carries its figure in MiB; the dashed line is the live-set
bound. The y axis is logarithmic where the figures span more than interpreter_section.LOG_SPAN (6.1 against
305.2 MiB does), as the caption says.
"""
import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: no display on the profiling machine or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from graphmem.facts import MODES  # noqa: E402
from graphmem.report.charts import BOUND_LINE, COLOURS, PNG_METADATA, MiB  # noqa: E402
from graphmem.report.interpreter_section import (  # noqa: E402
    chart_bound, chart_log, chart_phase_ranges, chart_series, chart_values, drawn_variants,
)
from graphmem.report.interpreters import CHART_NAME, CHART_TITLE  # noqa: E402

HEADROOM = 4  # the axis top, as a multiple of the largest bar (log) so the figure above it fits inside
LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.6}  # a figure stays legible over the bound line


def _scale(summary):
    """(log?, bottom of the bars, top of the axis) in MiB, for the bars and the bound to lie inside the axes."""
    values = [value / MiB for value in chart_values(summary)]
    low, high = min(values), max(values)
    if chart_log(summary):
        return True, 10 ** math.floor(math.log10(low / 2)), high * HEADROOM
    return False, 0, high * 1.25


def draw(summary):
    """The figure, or None when no interpreter has a plain seed_loop run with a peak of array data."""
    series = chart_series(summary)
    if not series:
        return None
    log, bottom, top = _scale(summary)
    bound, ranges = chart_bound(summary), chart_phase_ranges(summary)
    figure, axes = plt.subplots(1, len(MODES), figsize=(5.5 * len(MODES), 4.8), sharey=True, squeeze=False)
    variants = drawn_variants(summary)  # a variant with no run anywhere takes no slot (the caption says so)
    width = 0.8 / len(variants)
    for axis, mode in zip(axes[0], MODES):
        names, labelled = [name for name, _ in series[mode][variants[0]]], set()
        for index, variant in enumerate(variants):
            for position, (name, value) in enumerate(series[mode][variant]):
                x = position - 0.4 + width * (index + 0.5)
                if value is None:
                    axis.text(x, bottom * 1.5 if log else top * 0.02, "not measured", rotation=90, ha="center",
                              va="bottom", fontsize=7, color="#555555", zorder=6, bbox=LABEL_BOX)
                    continue
                label_text = f"{value / MiB:.1f}"
                axis.bar(x, value / MiB - bottom, width * 0.92, bottom=bottom, color=COLOURS[variant],
                         label=None if variant in labelled else variant, zorder=3)
                labelled.add(variant)
                if (mode, variant, name) in ranges:
                    low, high = (each / MiB for each in ranges[mode, variant, name])
                    axis.errorbar(x, (low + high) / 2, yerr=(high - low) / 2, fmt="none", ecolor="black",
                                  elinewidth=1.4, capsize=3, zorder=4)
                    value = max(value, ranges[mode, variant, name][1])  # its figure goes above the whisker
                axis.text(x, value / MiB * (1.12 if log else 1.02), label_text, rotation=90, ha="center",
                          va="bottom", fontsize=7, zorder=6, bbox=LABEL_BOX)
        if bound:
            axis.axhline(bound / MiB, label=f"live-set bound ({bound / MiB:.1f} MiB)", **BOUND_LINE)
        if log:
            axis.set_yscale("log")
            axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_ylim(bottom, top)
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names)
        axis.set_xlim(-0.6, len(names) - 0.4)
        axis.set_title(f"collector {mode}")
        axis.grid(True, axis="y", which="major", alpha=0.3, zorder=0)
    axes[0][0].set_ylabel("peak of array data (MiB" + (", log scale)" if log else ")"))
    legend = {}
    for axis in axes[0]:
        legend.update(zip(*reversed(axis.get_legend_handles_labels())))
    labels, handles = list(legend), list(legend.values())
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    figure.suptitle(CHART_TITLE)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def render(summary):
    """The chart as PNG bytes, or None when there is nothing to draw."""
    figure = draw(summary)
    if figure is None:
        return None
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def render_charts(summary):
    """{CHART_NAME: PNG bytes}, or {} when there is nothing to draw (as charts.render_charts gives its PNGs)."""
    png = render(summary)
    return {} if png is None else {CHART_NAME: png}
