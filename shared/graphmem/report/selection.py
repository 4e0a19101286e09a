"""Which runs of summary.json the report compares, and which charts that summary can draw.

The headline run of each workload, mode and variant; the sweeps along one parameter; gc_only's budget
sweeps; and the chart plan that the markdown, the captions and charts.py all read, so they select the
same runs. Text only (no matplotlib).
"""
import json
from collections import Counter
from dataclasses import dataclass

from graphmem.facts import BUDGETED_VARIANT, MODES, VARIANTS
from graphmem.interpreters import REFERENCE_LABEL
from graphmem.report.cells import peak, time_spread

MODE_MEANING = {
    "auto": "CPython's cyclic collector on its default settings",
    "off": "gc.disable(): reference counting alone",
}
REFERENCE_VARIANT = "weakref"
BUDGET_SWEEP_MARK = "/budget="


# --- which runs are compared -------------------------------------------------------------------

def params_key(params):
    return json.dumps(params, sort_keys=True)


def params_order(params):
    """Sorts parameter sets by name, then numerically where the values are numbers."""
    return tuple((name, (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value)))
                 for name, value in sorted(params.items()))


def reported_label(summary):
    """The interpreter this report describes: CPython 3.11's where it ran, else the first label in the summary."""
    labels = sorted({run["interpreter"]["label"] for run in summary["runs"].values()})
    return REFERENCE_LABEL if REFERENCE_LABEL in labels or not labels else labels[0]


def collector_owner(summary):
    """Whose collector the report's sections speak of: "CPython's" where the summary holds one interpreter,
    else the reported one's name ("CPython 3.11's"), since other interpreters' collectors differ."""
    labels = {run["interpreter"]["label"] for run in summary["runs"].values()}
    if len(labels) <= 1:
        return "CPython's"
    implementation, _, version = reported_label(summary).partition("-")
    return f"{'PyPy' if implementation == 'pypy' else 'CPython'} {version}'s"


def reported_runs(summary):
    """The runs this report compares: on its one interpreter, without the start-phase runs."""
    label = reported_label(summary)
    return [run for run in summary["runs"].values()
            if run["interpreter"]["label"] == label and run.get("start_phase") is None]


def workload_names(summary):
    """The summary's workloads in its own order, then any that only appear in runs."""
    names = list(summary["workloads"])
    names += sorted({run["workload"] for run in reported_runs(summary)} - set(names))
    return names


def runs_sorted(summary):
    order = {name: index for index, name in enumerate(workload_names(summary))}
    return sorted(
        reported_runs(summary),
        key=lambda run: (order[run["workload"]], MODES.index(run["mode"]),
                         VARIANTS.index(run["variant"]), params_order(run["params"]),
                         run["gc_budget"] or 0, run["id"]),
    )


def default_budget(summary):
    """gc_only's budget outside the budget sweep: the one most of its runs used."""
    gc_only = [run for run in reported_runs(summary) if run["variant"] == BUDGETED_VARIANT]
    plain = [run for run in gc_only if BUDGET_SWEEP_MARK not in run["id"]] or gc_only
    budgets = Counter(run["gc_budget"] for run in plain)
    if not budgets:
        return None
    return min(budgets, key=lambda budget: (-budgets[budget], budget is None, budget or 0))


def is_budget_sweep_run(run, budget):
    return run["variant"] == BUDGETED_VARIANT and run["gc_budget"] != budget


def main_runs(summary):
    """Every run except gc_only's at a budget other than its default."""
    budget = default_budget(summary)
    return [run for run in runs_sorted(summary) if not is_budget_sweep_run(run, budget)]


def headline_params(summary, workload):
    """The workload's default parameters if any run used them, else the parameters most runs used."""
    candidates = [run for run in main_runs(summary) if run["workload"] == workload]
    default = summary["workloads"].get(workload, {}).get("default_params")
    if default is not None and any(run["params"] == default for run in candidates):
        return default
    if not candidates:
        return default
    counts = Counter(params_key(run["params"]) for run in candidates)
    return json.loads(min(counts, key=lambda key: (-counts[key], key)))


def headline_run(summary, workload, mode, variant):
    params = headline_params(summary, workload)
    for run in main_runs(summary):
        if (run["workload"], run["mode"], run["variant"]) == (workload, mode, variant) \
                and run["params"] == params:
            return run
    return None


def sweep(summary, workload, mode, key):
    """{variant: [(value, run), ...]} over runs that differ from the headline params only in `key`."""
    base = headline_params(summary, workload)
    if base is None:
        return {}
    fixed = {name: value for name, value in base.items() if name != key}
    found = {}
    for run in main_runs(summary):
        if (run["workload"], run["mode"]) != (workload, mode) or key not in run["params"]:
            continue
        if {name: value for name, value in run["params"].items() if name != key} == fixed:
            found.setdefault(run["variant"], []).append((run["params"][key], run))
    found = {variant: sorted(points, key=lambda point: point[0]) for variant, points in found.items()}
    values = {value for points in found.values() for value, _ in points}
    return found if len(values) >= 2 else {}


def drawable_sweep(summary, workload, mode, key):
    """The sweep if at least two of its values have a measured peak, else {}."""
    points = sweep(summary, workload, mode, key)
    values = {value for series in points.values() for value, run in series if peak(run) is not None}
    return points if len(values) >= 2 else {}


def sweep_workload(summary, key):
    """The first workload (in the summary's order) with a drawable sweep along `key` in any mode."""
    for workload in workload_names(summary):
        if any(drawable_sweep(summary, workload, mode, key) for mode in MODES):
            return workload
    return None


def budget_sweeps(summary):
    """[(workload, mode, params, [gc_only runs by budget])] where gc_only ran at two budgets or more."""
    groups = {}
    for run in runs_sorted(summary):
        if run["variant"] == BUDGETED_VARIANT and run["gc_budget"] is not None:
            groups.setdefault((run["workload"], run["mode"], params_key(run["params"])), []).append(run)
    sweeps = []
    for (workload, mode, key), runs in groups.items():
        if len({run["gc_budget"] for run in runs}) >= 2:
            sweeps.append((workload, mode, json.loads(key), sorted(runs, key=lambda r: r["gc_budget"])))
    return sweeps


def drawable_budget_sweeps(summary):
    """The budget sweeps with at least two budgets whose peak and collecting time were measured."""
    return [entry for entry in budget_sweeps(summary)
            if len({run["gc_budget"] for run in entry[3]
                    if peak(run) is not None and time_spread(run, "collector_seconds") is not None}) >= 2]


def matching_run(summary, like, variant):
    """The `variant` run with the same workload, mode and params as `like` (outside the budget sweep)."""
    for run in main_runs(summary):
        if run["variant"] == variant and (run["workload"], run["mode"]) == (like["workload"], like["mode"]) \
                and run["params"] == like["params"]:
            return run
    return None


def complete_matrix(summary):
    """Whether every workload has a headline run in every variant and collector mode."""
    return all(headline_run(summary, workload, mode, variant) is not None
               for workload in workload_names(summary) for mode in MODES for variant in VARIANTS)


def has_snapshots(run):
    return run is not None and run["status"] != "failed" and bool(run.get("snapshots"))


# --- the charts both the markdown and charts.py agree on ---------------------------------------

TIMELINE_WORKLOADS = ("seed_loop", "seed_backward")
SWEEP_KEYS = {"size": "array size", "iterations": "iterations"}


@dataclass(frozen=True)
class Chart:
    """One PNG beside COMPARISON.md: what it plots, or why this summary cannot draw it."""

    name: str
    title: str
    kind: str  # "timeline", "sweep" or "budget"
    mode: str = None
    key: str = None
    workload: str = None
    missing: str = None


def chart_plan(summary):
    charts = []
    for mode in MODES:
        drawable = any(has_snapshots(headline_run(summary, workload, mode, variant))
                       for workload in TIMELINE_WORKLOADS for variant in VARIANTS)
        charts.append(Chart(
            f"chart-memory-over-time-{mode}.png", f"Memory over time, collector {mode}", "timeline", mode=mode,
            missing=None if drawable else
            f"no run of {' or '.join(TIMELINE_WORKLOADS)} with the collector {mode} recorded memory over time",
        ))
    for key, label in SWEEP_KEYS.items():
        workload = sweep_workload(summary, key)
        charts.append(Chart(
            f"chart-peak-vs-{key}.png", f"Peak memory against {label}", "sweep", key=key, workload=workload,
            missing=None if workload else f"no workload's peak was measured at two {label} values or more",
        ))
    charts.append(Chart(
        "chart-budget-sweep.png", "gc_only's budget: peak memory against time spent collecting", "budget",
        missing=None if drawable_budget_sweeps(summary) else
        "gc_only's peak and collecting time were not measured at two budgets or more",
    ))
    return charts
