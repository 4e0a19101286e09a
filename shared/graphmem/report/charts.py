"""The PNG charts beside COMPARISON.md, drawn with matplotlib from the panels graphmem.report.layout plans,
and section 7's cycle diagram from the cycles graphmem.report.peers lists.

The captions in COMPARISON.md are written from the same panels, so what a caption names is what is drawn.
"""
import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: no display on the profiling machine or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from graphmem.report import layout, peers  # noqa: E402
from graphmem.report.cells import fmt_bytes, peak  # noqa: E402
from graphmem.report.selection import MODE_MEANING, chart_plan  # noqa: E402
from graphmem.report.times import time_figure  # noqa: E402

MiB = 2**20
COLOURS = {"strong": "#d62728", "gc_only": "#ff7f0e", "weakref": "#1f77b4"}
MARKERS = {"strong": "s", "gc_only": "o", "weakref": "D"}
# Drawn largest first, so where points coincide the smaller marker shows inside the larger one.
MARKER_SIZES = {"strong": 11, "gc_only": 7, "weakref": 4.5}
LINE_WIDTHS = {"strong": 2.6, "gc_only": 1.8, "weakref": 1.2}
# The bound is a wide pale band under the lines: a line that sits on it stays visible, and so does the band.
BOUND_BAND = {"color": "#9e9e9e", "alpha": 0.45, "linewidth": 7, "solid_capstyle": "butt", "zorder": 1}
# On the timelines the bound is a dashed line drawn over the series, so weakref's line cannot hide it.
BOUND_LINE = {"color": "black", "linestyle": (0, (4, 3)), "linewidth": 1.1, "zorder": 5}
STOPPED_MARKER = {"marker": "^", "s": 170, "facecolors": "white", "linewidths": 2, "zorder": 6}
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: same data, same bytes


def _mib_axis(axis, log=False):
    axis.set_ylabel("peak heap (MiB, log scale)" if log else "heap (MiB)")
    if log:
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_minor_formatter(NullFormatter())
    axis.grid(True, which="major", alpha=0.3)


ZOOM_BOUNDS = 3  # the strip under each timeline shows the heap up to this many live-set bounds


def _timeline(summary, chart):
    """Per workload, the full heap over time and under it a strip zoomed to the bottom, where the live-set
    bound and any line that stays near it can be told apart."""
    panels = layout.panels(summary, chart)
    figure, axes = plt.subplots(2, len(panels), figsize=(6 * len(panels), 6), squeeze=False, sharex="col",
                                gridspec_kw={"height_ratios": [3, 1.3]})
    for column, panel in enumerate(panels):
        full, zoom = axes[0][column], axes[1][column]
        for axis in (full, zoom):
            for series in panel.series:
                run = series.runs[0]
                times, heaps = layout.snapshots_mib(run)
                axis.plot(times, heaps, color=COLOURS[series.variant], linewidth=LINE_WIDTHS[series.variant],
                          zorder=3, label=f"{series.variant} (peak {fmt_bytes(peak(run))})")
            axis.axhline(panel.bound / MiB, label=f"live-set bound ({fmt_bytes(panel.bound)})", **BOUND_LINE)
            _mib_axis(axis)
            axis.set_ylim(bottom=0)
        full.set_title(panel.title)
        full.legend(loc="upper left", fontsize=8)
        zoom.set_ylim(0, ZOOM_BOUNDS * panel.bound / MiB)
        zoom.set_ylabel(f"heap (MiB),\nup to {ZOOM_BOUNDS}× bound", fontsize=8)
        zoom.set_xlabel("time since tracking started (s)")
    figure.suptitle(f"{chart.title}: {MODE_MEANING[chart.mode]}")
    figure.tight_layout()
    return figure


# Where a point's label may go, in offset points, tried in order until one collides with nothing.
LABEL_OFFSETS = [(12, 8, "left", "bottom"), (-12, 8, "right", "bottom"), (12, -10, "left", "top"),
                 (-12, -10, "right", "top"), (16, 22, "left", "bottom"), (-16, 22, "right", "bottom"),
                 (16, -24, "left", "top"), (-16, -24, "right", "top")]


def _place_label(axis, text, xy, color):
    """Annotate `xy` with `text` at the first offset where it touches no other label, line, marker or legend."""
    figure = axis.figure  # laid out already: the check below sees the positions the PNG will have
    for dx, dy, ha, va in LABEL_OFFSETS:
        label = axis.annotate(text, xy, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, fontsize=8,
                              color=color, zorder=7)
        if not [hit for hit in label_collisions(figure, only=label)]:
            return label
        label.remove()
    return axis.annotate(text, xy, textcoords="offset points", xytext=LABEL_OFFSETS[0][:2], fontsize=8,
                         color=color, zorder=7)


def _sweep(summary, chart):
    panels = layout.panels(summary, chart)
    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.8), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        values = sorted(panel.bound)
        axis.plot(values, [panel.bound[value] / MiB for value in values], label="live-set bound (grey band)",
                  **BOUND_BAND)
        for series in panel.series:
            finished = [(value, run) for value, run in series.points if run["status"] != "ceiling"]
            axis.plot([value for value, _ in finished], [peak(run) / MiB for _, run in finished],
                      color=COLOURS[series.variant], marker=MARKERS[series.variant],
                      markersize=MARKER_SIZES[series.variant], linewidth=LINE_WIDTHS[series.variant] * 0.6,
                      zorder=3, label=series.variant)
            if finished and len(finished) < len(series.points):
                # The way up to a lower bound is dotted: the run did not finish there.
                last = finished[-1]
                for value, run in series.points:
                    if run["status"] == "ceiling" and value > last[0]:
                        axis.plot([last[0], value], [peak(last[1]) / MiB, peak(run) / MiB], linestyle=":",
                                  color=COLOURS[series.variant], linewidth=LINE_WIDTHS[series.variant] * 0.6,
                                  zorder=3)
        stopped = layout.stopped_points(panel)
        for variant, value, run in stopped:
            axis.scatter([value], [peak(run) / MiB], edgecolors=COLOURS[variant], **STOPPED_MARKER,
                         label=f"{variant}: stopped at the ceiling (≥)")
        axis.set_xscale("log")
        # Ticks at the measured values, in plain numbers: log-axis minor labels overlap.
        axis.set_xticks(values)
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(f"{'array size (float64 elements)' if chart.key == 'size' else 'iterations'}, log scale")
        _mib_axis(axis, log=True)
        # Room above the highest point for a ceiling label.
        low, high = axis.get_ylim()
        axis.set_ylim(low, high * (3 if layout.stopped_points(panel) else 1.2))
        axis.set_title(panel.title, fontsize=10)
    figure.suptitle(chart.title)
    _figure_legend(figure)
    for axis, panel in zip(axes[0], panels):
        for variant, value, run in layout.stopped_points(panel):
            _place_label(axis, f"≥ {fmt_bytes(peak(run))}: stopped at the ceiling", (value, peak(run) / MiB),
                         COLOURS[variant])
    return figure


def _figure_legend(figure):
    """One legend for all panels, below them, where it cannot cover a line."""
    entries = {}
    for axis in figure.axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    figure.legend(list(entries.values()), list(entries), loc="lower center", ncol=min(len(entries), 5), fontsize=8,
                  frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))


def _budget(summary, chart):
    panels = layout.panels(summary, chart)
    figure, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        for series in panel.series:
            milliseconds = [time_figure(run, "collector") * 1000 for run in series.runs]
            mib = [peak(run) / MiB for run in series.runs]
            if series.variant == "gc_only":
                axis.plot(milliseconds, mib, color=COLOURS["gc_only"], marker="o", markersize=6, zorder=4,
                          label="gc_only, one point per budget")
            else:
                axis.scatter(milliseconds, mib, s=260 if series.variant == "strong" else 120, zorder=3,
                             facecolors="none", edgecolors=COLOURS[series.variant], linewidths=2,
                             marker="*" if series.variant == "strong" else "D", label=f"{series.variant} (reference)")
        axis.axhline(panel.bound / MiB, label=f"live-set bound ({fmt_bytes(panel.bound)})",
                     **{**BOUND_LINE, "zorder": 2})
        axis.set_xlabel("time spent in the cyclic collector (ms, median over processes without memray)")
        _mib_axis(axis, log=True)
        low, high = axis.get_ylim()
        axis.set_ylim(low, high * 1.6)
        left, right = axis.get_xlim()
        axis.set_xlim(left, right + 0.25 * (right - left))  # room for the rightmost label beside its point
        axis.set_title(panel.title, fontsize=9)
        axis.legend(fontsize=8, loc="upper right")
    figure.suptitle(chart.title)
    figure.tight_layout()
    for axis, panel in zip(axes[0], panels):
        gc_only = next(series for series in panel.series if series.variant == "gc_only")
        for budget, run in gc_only.points:
            _place_label(axis, f"budget {fmt_bytes(budget)}", (time_figure(run, "collector") * 1000, peak(run) / MiB),
                         "#a04000")
    return figure


DRAW = {"timeline": _timeline, "sweep": _sweep, "budget": _budget}


def draw(summary, chart):
    """The matplotlib figure of one planned chart, laid out (the caller closes it)."""
    return DRAW[chart.kind](summary, chart)


def label_collisions(figure, only=None):
    """[(label text, what it collides with)] for every annotation in `figure` (or just `only`) that overlaps
    another annotation, a plotted line or marker, the legend, or crosses the edge of its panel."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    for axis in figure.axes:
        labels = [text for text in axis.texts if text.get_text()]
        legend = axis.get_legend()
        legend_box = legend.get_window_extent(renderer) if legend else None
        for text in labels:
            if only is not None and text is not only:
                continue
            box = text.get_window_extent(renderer)
            name = text.get_text().replace("\n", " ")
            frame = axis.bbox
            if not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1):
                found.append((name, "the edge of its panel"))
            if legend_box is not None and box.overlaps(legend_box):
                found.append((name, "the legend"))
            for other in labels:
                if other is not text and box.overlaps(other.get_window_extent(renderer)):
                    found.append((name, other.get_text().replace("\n", " ")))
            for line in axis.lines:
                path = line.get_transform().transform_path(line.get_path())
                if path.intersects_bbox(box, filled=False) or any(box.contains(*vertex) for vertex in path.vertices):
                    found.append((name, f"line {line.get_label()}"))
            for collection in axis.collections:
                offsets = collection.get_offset_transform().transform(collection.get_offsets())
                if any(box.padded(6).contains(*offset) for offset in offsets):
                    found.append((name, f"marker {collection.get_label()}"))
    return found


def render_charts(summary):
    """{file name: PNG bytes} for every chart the summary has runs for."""
    images = {}
    for chart in chart_plan(summary):
        if chart.missing:
            continue
        figure = draw(summary, chart)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
        plt.close(figure)
        images[chart.name] = buffer.getvalue()
    return images


def render_diagram(summary):
    """{peers.DIAGRAM_NAME: PNG bytes}: each measured cycle drawn as a ring of boxes; {} when there is none."""
    cycles = peers.diagram_cycles(summary)
    if not cycles:
        return {}
    figure, axes = plt.subplots(1, len(cycles), figsize=(4.2 * len(cycles), 4.2), squeeze=False)
    for axis, (title, steps) in zip(axes[0], cycles):
        count = len(steps)
        points = [(math.cos(math.pi / 2 - 2 * math.pi * i / count), math.sin(math.pi / 2 - 2 * math.pi * i / count))
                  for i in range(count)]
        for i, step in enumerate(steps):
            start, end = points[i], points[(i + 1) % count]
            axis.annotate("", xy=(end[0] * 0.82, end[1] * 0.82), xytext=(start[0] * 0.82, start[1] * 0.82),
                          arrowprops={"arrowstyle": "-|>", "color": "#d62728", "lw": 1.5,
                                      "connectionstyle": "arc3,rad=-0.25", "shrinkA": 22, "shrinkB": 22})
            middle = ((start[0] + end[0]) / 2 * 1.25, (start[1] + end[1]) / 2 * 1.25)
            axis.text(*middle, step["edge"] or "refers to", ha="center", va="center", fontsize=8, color="#7f1d1d")
            axis.text(points[i][0] * 0.82, points[i][1] * 0.82, step["node"].split(".")[-1], ha="center",
                      va="center", fontsize=9, bbox={"boxstyle": "round", "facecolor": "#fde2e2", "edgecolor": "#d62728"})
        axis.set_title(title, fontsize=10)
        axis.set_xlim(-1.5, 1.5)
        axis.set_ylim(-1.4, 1.4)
        axis.set_aspect("equal")
        axis.axis("off")
    figure.suptitle("The reference cycle one dropped seed graph leaves (measured; collector off)", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    plt.close(figure)
    return {peers.DIAGRAM_NAME: buffer.getvalue()}
