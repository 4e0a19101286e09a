"""reports/summary.json read, validated and queried: which runs the report compares, and how numbers read.

Everything here is text-only (no matplotlib), so the markdown and the charts select the same runs and
the byte-for-byte test of COMPARISON.md runs in the plain test environments.
"""
import json
from collections import Counter
from dataclasses import dataclass

from graphmem.store import (SCHEMA_PATH, SummaryError, load_summary, migrate, run_validator,  # noqa: F401
                            schema_validator, validate_summary)
from graphmem.interpreters import REFERENCE_LABEL
from graphmem.variant_sources import VARIANTS

MODES = ("auto", "off")
MODE_MEANING = {
    "auto": "CPython's cyclic collector on its default settings",
    "off": "gc.disable(): reference counting alone",
}
REFERENCE_VARIANT = "weakref"
BUDGET_SWEEP_MARK = "/budget="
NOT_MEASURED = "not measured"
NOT_TIMED = "not timed"


# --- human units -------------------------------------------------------------------------------

def fmt_bytes(nbytes):
    if nbytes is None:
        return NOT_MEASURED
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def fmt_seconds(seconds):
    if seconds is None:
        return NOT_MEASURED
    if seconds == 0:
        return "0 ms"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 10:
        return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
    return f"{seconds:.1f} s"


def fmt_ratio(ratio):
    if ratio is None:
        return NOT_MEASURED
    return f"{ratio:.0f}×" if ratio >= 100 else f"{ratio:.2f}×"


def fmt_count(count):
    return NOT_MEASURED if count is None else f"{count:,}"


def fmt_params(params):
    return ", ".join(f"{key}={params[key]}" for key in sorted(params)) or "no parameters"


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --- what a run measured -----------------------------------------------------------------------

def peak(run):
    return None if run is None or run["status"] == "failed" else run.get("peak_heap_bytes")


def peak_to_bound(run):
    if run is None or run["status"] == "failed":
        return None
    if run.get("peak_ratio_to_bound") is not None:
        return run["peak_ratio_to_bound"]
    return ratio(run.get("peak_heap_bytes"), run["live_set_bound_bytes"])


def collector_runs(run):
    """Runs per generation (0, 1, 2), or None when the collector was not observed."""
    gc_stats = run.get("gc") if run else None
    return None if gc_stats is None else tuple(gc_stats["runs"])


# --- times: statistics over processes without memray --------------------------------------------

def time_spread(run, key):
    """{median, q1, q3, min, max, samples} of one time (`wall_seconds`, `collector_seconds`,
    `full_collection_seconds`, `variant_collection_seconds`) over the run's timing processes, or None.

    Times come only from these processes, which ran without memray: a memray process's own times are
    slowed by its hooks and are never compared."""
    if run is None or run["status"] == "failed":
        return None
    return (run.get("timing") or {}).get(key)


def fmt_spread(spread, fmt=None):
    """'213.0 ms [205.1 ms–230.4 ms]': the median and, in brackets, the range over the timing processes
    (`fmt` formats each number, fmt_seconds unless given)."""
    fmt = fmt or fmt_seconds
    if spread is None:
        return NOT_MEASURED
    if spread["min"] == spread["max"]:
        return fmt(spread["median"])
    return f"{fmt(spread['median'])} [{fmt(spread['min'])}–{fmt(spread['max'])}]"


def fmt_time(run, key):
    """A run's time as median [range], 'not timed' when the run has no timing processes."""
    if run is None or run["status"] == "failed":
        return NOT_MEASURED
    if not run.get("timing"):
        return NOT_TIMED
    return fmt_spread(time_spread(run, key))


def time_difference(first, second):
    """'faster', 'slower' (first against second) when the ranges do not overlap, 'within noise' when they do,
    None when either is missing.

    The range is min to max over at least five processes each; two sets of five from one distribution
    fall wholly apart by chance 2 times in 252, so non-overlap is the evidence asked for a real difference."""
    if first is None or second is None:
        return None
    if first["max"] < second["min"]:
        return "faster"
    if first["min"] > second["max"]:
        return "slower"
    return "within noise"


# --- provenance: where and how each run was measured -------------------------------------------

MACHINE_KEYS = ("platform", "cpu", "cpu_count", "python", "numpy", "memray", "PYTHONMALLOC")


def checkout_of(run):
    provenance = run.get("provenance") or {}
    return provenance.get("git_commit", "unknown"), bool(provenance.get("git_dirty"))


def machine_of(run):
    provenance = run.get("provenance") or {}
    return tuple((key, provenance.get(key)) for key in MACHINE_KEYS)


def fmt_checkout(checkout):
    commit, dirty = checkout
    return f"`{commit[:12]}`" + (" with uncommitted changes" if dirty else "")


def fmt_machine(machine):
    values = dict(machine)
    return (f"{values['platform']}, {values['cpu']} ({values['cpu_count'] or '?'} CPUs), Python {values['python']}, "
            f"numpy {values['numpy']}, memray {values['memray']}"
            + (f", PYTHONMALLOC={values['PYTHONMALLOC']}" if values.get("PYTHONMALLOC") else ""))


def mixed_provenance(runs):
    """A sentence saying that `runs` (one table) come from several commits or machines, or None."""
    runs = [run for run in runs if run is not None and run["status"] != "failed"]
    checkouts = Counter(checkout_of(run) for run in runs)
    machines = Counter(machine_of(run) for run in runs)
    problems = []
    if len(checkouts) > 1:
        problems.append(f"{len(checkouts)} checkouts (" + "; ".join(
            f"{count} at {fmt_checkout(checkout)}" for checkout, count in checkouts.most_common()) + ")")
    if len(machines) > 1:
        problems.append(f"{len(machines)} machines or interpreter versions (" + "; ".join(
            f"{count} on {fmt_machine(machine)}" for machine, count in machines.most_common()) + ")")
    if not problems:
        return None
    return ("**Mixed provenance:** the runs in this table were measured at " + " and on ".join(problems)
            + "; compare them with care, or rerun them together.")


def provenance_groups(summary):
    """[(command, checkout, machine, [run ids])] for every run with a measurement, largest group first."""
    groups = {}
    for run in runs_sorted(summary):
        if run["status"] == "failed":
            continue
        key = ((run.get("provenance") or {}).get("command", "unknown"), checkout_of(run), machine_of(run))
        groups.setdefault(key, []).append(shown_id(run))
    return sorted(((command, checkout, machine, ids) for (command, checkout, machine), ids in groups.items()),
                  key=lambda group: (-len(group[3]), group[0], group[1]))


def later_failures(run):
    """Failed attempts of this run id made after its measurement (kept beside it, never over it)."""
    if run is None or run["status"] == "failed":
        return []
    return [failure for failure in run.get("failures", []) if failure["at"] > run["measured_at"]]


def iterations_done(run):
    if run.get("iterations_completed") is not None:
        return run["iterations_completed"]
    return run["params"].get("iterations")


# --- which runs are compared -------------------------------------------------------------------

def reported_label(summary):
    """The interpreter this report describes: CPython 3.11's where it ran, else the first label in the summary."""
    labels = sorted({run["interpreter"]["label"] for run in summary["runs"].values()})
    return REFERENCE_LABEL if REFERENCE_LABEL in labels or not labels else labels[0]


def reported_runs(summary):
    """The runs this report compares: on its one interpreter, without the start-phase runs."""
    label = reported_label(summary)
    return [run for run in summary["runs"].values()
            if run["interpreter"]["label"] == label and run.get("start_phase") is None]


def shown_id(run):
    """A run's id as the report prints it: without the interpreter label, which is the report's one."""
    return run["id"].split("/", 1)[1] if run["id"].startswith(run["interpreter"]["label"] + "/") else run["id"]


def params_key(params):
    return json.dumps(params, sort_keys=True)


def params_order(params):
    """Sorts parameter sets by name, then numerically where the values are numbers."""
    return tuple((name, (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value)))
                 for name, value in sorted(params.items()))


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
    gc_only = [run for run in reported_runs(summary) if run["variant"] == "gc_only"]
    plain = [run for run in gc_only if BUDGET_SWEEP_MARK not in run["id"]] or gc_only
    budgets = Counter(run["gc_budget"] for run in plain)
    if not budgets:
        return None
    return min(budgets, key=lambda budget: (-budgets[budget], budget is None, budget or 0))


def is_budget_sweep_run(run, budget):
    return run["variant"] == "gc_only" and run["gc_budget"] != budget


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
        if run["variant"] == "gc_only" and run["gc_budget"] is not None:
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
