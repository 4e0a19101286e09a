"""BENCH.md's chart: backward time against graph size per variant, and each variant relative to weakref.

Drawn on a matplotlib Figure of its own (no pyplot, no global backend), so importing this module
only needs matplotlib, which the bench session installs.
"""
import io

from matplotlib.figure import Figure

from graphmem.atomic_files import write_atomically
from graphmem.bench.targets import REFERENCE
from graphmem.facts import VARIANTS

CHART_NAME = "bench-backward-scaling.png"


def chart_series(result):
    """(label, [functions], [seconds]) for each variant and graph with backward scaling data."""
    series = []
    for name in VARIANTS:
        for graph in ("chain", "branching"):
            rows = sorted((r for r in result.get("scaling", []) if r["implementation"] == name and r["graph"] == graph),
                          key=lambda r: r["functions"])
            if rows:
                series.append((f"{name}, {graph}", [r["functions"] for r in rows],
                               [r["backward_ns"]["median"] / 1e9 for r in rows]))
    return series


# Each variant its own colour, marker, line style and a small sideways shift on the log axis, so
# that lines which coincide (strong and gc_only run the same code in backward) all stay visible.
CHART_STYLES = {"strong": ("C0", "o", "-", 0.92), "weakref": ("C1", "s", "--", 1.0), "gc_only": ("C2", "^", ":", 1.08)}


def write_chart(result, path):
    """Backward time against graph size, a panel per graph; below, each variant relative to weakref."""
    figure = Figure(figsize=(10, 7))
    axes = figure.subplots(2, 2, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    series = chart_series(result)
    for column, graph in enumerate(("chain", "branching")):
        top, bottom = axes[0][column], axes[1][column]
        reference = {f: s for label, fs, ss in series if label == f"{REFERENCE}, {graph}" for f, s in zip(fs, ss)}
        for label, functions, seconds in series:
            variant, series_graph = label.split(", ")
            if series_graph != graph:
                continue
            colour, marker, line, shift = CHART_STYLES[variant]
            shifted = [f * shift for f in functions]
            top.loglog(shifted, seconds, line, color=colour, marker=marker, fillstyle="none", label=variant)
            ratios = [(f * shift, s / reference[f]) for f, s in zip(functions, seconds) if reference.get(f)]
            if ratios:
                bottom.semilogx(*zip(*ratios), line, color=colour, marker=marker, fillstyle="none", label=variant)
        top.set_title(f"{graph}: backward() time, median (1-element arrays)", fontsize="medium")
        top.set_ylabel("seconds")
        bottom.set_ylabel(f"× {REFERENCE}")
        bottom.axhline(1.0, color="grey", linewidth=0.8)
        bottom.set_xlabel("graph size (Functions); markers shifted sideways to stay apart")
        for ax in (top, bottom):
            ax.grid(True, which="both", alpha=0.3)
            if any(not line.get_label().startswith("_") for line in ax.get_lines()):
                ax.legend(fontsize="small")
        if not top.get_lines():
            top.text(0.5, 0.5, "no backward scaling data in this run", ha="center", transform=top.transAxes)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    write_atomically(path, png.getvalue())


