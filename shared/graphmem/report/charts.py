"""The PNG charts beside COMPARISON.md, drawn with matplotlib from the same runs the text cites."""
import io

import matplotlib

matplotlib.use("Agg")  # files only: no display on the profiling machine or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from graphmem.report.data import (  # noqa: E402
    MODE_MEANING, MODES, TIMELINE_WORKLOADS, chart_plan, collecting_seconds, drawable_budget_sweeps, drawable_sweep,
    fmt_bytes, fmt_params, headline_params, headline_run, matching_run, peak,
)
from graphmem.variant_sources import VARIANTS  # noqa: E402

MiB = 2**20
COLOURS = {"strong": "#d62728", "gc_only": "#ff7f0e", "weakref": "#1f77b4"}
MARKERS = {"strong": "s", "gc_only": "o", "weakref": "D"}
BOUND_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1}
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: same data, same bytes


def _mib_axis(axis, log=False):
    axis.set_ylabel("heap (MiB)" if not log else "peak heap (MiB, log scale)")
    if log:
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_minor_formatter(NullFormatter())
    axis.grid(True, which="major", alpha=0.3)


def _timeline(summary, chart):
    figure, axes = plt.subplots(1, len(TIMELINE_WORKLOADS), figsize=(12, 4.5), squeeze=False)
    for axis, workload in zip(axes[0], TIMELINE_WORKLOADS):
        bound = None
        for variant in VARIANTS:
            run = headline_run(summary, workload, chart.mode, variant)
            if run is None or run["status"] == "failed" or not run.get("snapshots"):
                continue
            bound = run["live_set_bound_bytes"]
            times = [snapshot["t"] for snapshot in run["snapshots"]]
            heaps = [snapshot["heap"] / MiB for snapshot in run["snapshots"]]
            axis.plot(times, heaps, color=COLOURS[variant], linewidth=1.4,
                      label=f"{variant} (peak {fmt_bytes(peak(run))})")
        if bound is not None:
            axis.axhline(bound / MiB, label=f"live-set bound ({fmt_bytes(bound)})", **BOUND_STYLE)
            axis.legend(loc="upper left", fontsize=8)
        else:
            axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_title(workload)
        axis.set_xlabel("time since tracking started (s)")
        _mib_axis(axis)
        axis.set_ylim(bottom=0)
    figure.suptitle(f"{chart.title}: {MODE_MEANING[chart.mode]}")
    return figure


def _sweep(summary, chart):
    modes = [mode for mode in MODES if drawable_sweep(summary, chart.workload, mode, chart.key)]
    figure, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for axis, mode in zip(axes[0], modes):
        points = drawable_sweep(summary, chart.workload, mode, chart.key)
        bounds = {}
        for variant in VARIANTS:
            drawn = [(value, run) for value, run in points.get(variant, []) if peak(run) is not None]
            if not drawn:
                continue
            bounds.update({value: run["live_set_bound_bytes"] for value, run in drawn})
            axis.plot([value for value, _ in drawn], [peak(run) / MiB for _, run in drawn],
                      color=COLOURS[variant], marker=MARKERS[variant], label=variant)
            for value, run in drawn:
                if run["status"] == "ceiling":
                    axis.annotate("stopped at the ceiling", (value, peak(run) / MiB), textcoords="offset points",
                                  xytext=(-8, -4), ha="right", va="top", fontsize=8, color=COLOURS[variant])
        values = sorted(bounds)
        axis.plot(values, [bounds[value] / MiB for value in values], label="live-set bound", **BOUND_STYLE)
        axis.set_xscale("log")
        # Ticks at the measured values, in plain numbers: log-axis minor labels overlap.
        axis.set_xticks(values)
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(f"{'array size (float64 elements)' if chart.key == 'size' else 'iterations'}, log scale")
        _mib_axis(axis, log=True)
        fixed = {name: value for name, value in headline_params(summary, chart.workload).items() if name != chart.key}
        axis.set_title(f"{chart.workload} ({fmt_params(fixed)}), collector {mode}", fontsize=10)
        axis.legend(fontsize=8)
    figure.suptitle(chart.title)
    return figure


def _budget(summary, chart):
    sweeps = drawable_budget_sweeps(summary)
    figure, axes = plt.subplots(1, len(sweeps), figsize=(7 * len(sweeps), 5), squeeze=False)
    for axis, (workload, mode, params, runs) in zip(axes[0], sweeps):
        drawn = [run for run in runs if peak(run) is not None and collecting_seconds(run) is not None]
        axis.plot([collecting_seconds(run) * 1000 for run in drawn], [peak(run) / MiB for run in drawn],
                  color=COLOURS["gc_only"], marker=MARKERS["gc_only"], label="gc_only, one point per budget")
        for run in drawn:
            axis.annotate(f"budget {fmt_bytes(run['gc_budget'])}",
                          (collecting_seconds(run) * 1000, peak(run) / MiB),
                          textcoords="offset points", xytext=(6, 4), fontsize=8)
        for variant in ("strong", "weakref"):
            reference = matching_run(summary, runs[0], variant)
            if reference is not None and peak(reference) is not None and collecting_seconds(reference) is not None:
                axis.scatter([collecting_seconds(reference) * 1000], [peak(reference) / MiB], s=90, zorder=3,
                             color=COLOURS[variant], marker="*" if variant == "strong" else "D",
                             label=f"{variant} (reference)")
        bound = runs[0]["live_set_bound_bytes"]
        axis.axhline(bound / MiB, label=f"live-set bound ({fmt_bytes(bound)})", **BOUND_STYLE)
        axis.set_xlabel("time spent in the cyclic collector (ms)")
        _mib_axis(axis, log=True)
        axis.set_ylabel("peak heap (MiB, log scale)")
        axis.set_title(f"{workload}, collector {mode}, {fmt_params(params)}", fontsize=9)
        axis.legend(fontsize=8)
    figure.suptitle(chart.title)
    return figure


DRAW = {"timeline": _timeline, "sweep": _sweep, "budget": _budget}


def render_charts(summary):
    """{file name: PNG bytes} for every chart the summary has runs for."""
    images = {}
    for chart in chart_plan(summary):
        if chart.missing:
            continue
        figure = DRAW[chart.kind](summary, chart)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
        plt.close(figure)
        images[chart.name] = buffer.getvalue()
    return images
