"""The run matrix: every (interpreter, implementation, workload, mode, params, budget, start phase) the
arguments select, in order.

A Run is what one fresh harness process measures; its id is its key in summary.json. Our variants run
on every available interpreter given (graphmem.interpreters); the peers on the session's own, which
their pins are for.
"""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from graphmem.adapters import PEERS, UnknownImplementation, adapter_class
from graphmem.facts import BUDGETED_VARIANT, DEFAULT_GC_BUDGET, MODES, VARIANTS
from graphmem.interpreters import running_label
from graphmem.profile.parsing import SelectionError, choose, parse_params, parse_size, split_names
from graphmem.sizes import format_size
from graphmem.workloads import WORKLOADS
DEFAULT_BUDGET_SWEEP = (8 * 2**20, DEFAULT_GC_BUDGET, 512 * 2**20)
TIMED_KINDS = ("default", "full", "budget")  # the runs whose times the report prints; sweeps show peaks only
PEER_TIMED_WORKLOAD = "seed_loop"  # a peer's one timed workload: its report row quotes the seed loop's time


@dataclass(frozen=True)
class Sweep:
    """Extra runs of one workload: one parameter over several values, in the given modes."""

    workload: str
    param: str
    values: tuple
    modes: tuple


# The report charts peak against array size (under auto) and held bytes against
# iterations (under off, where strong leaks); the 400-iteration point passes the
# default ceiling in strong, to show a run that stops there.
DEFAULT_SWEEPS = (
    Sweep("seed_loop", "size", (10_000, 30_000, 300_000), ("auto",)),
    Sweep("seed_loop", "iterations", (25, 50, 200, 400), ("auto", "off")),
)
BUDGET_SWEEP_WORKLOAD = "seed_loop"
# Where the collector's gen-0 count stands when the loop begins moves strong's peak under auto (an
# import between gc.collect() and the loop shifts it): the headline workload is measured at these
# fractions of gen-0's threshold, in the variants the collector frees, on each CPython (PyPy has no
# generational threshold to set).
START_PHASES = (0, 0.25, 0.5, 0.75)
PHASE_WORKLOADS = ("seed_loop",)
PHASE_VARIANTS = ("strong", BUDGETED_VARIANT)
PHASE_MODE = "auto"
SESSION_LABEL = running_label()  # the interpreter this driver runs on: the peers' (and a Run's by default)


@dataclass(frozen=True)
class Run:
    """One measurement: what the harness runs in one fresh process."""

    variant: str
    workload: str
    mode: str
    params: tuple  # sorted (name, value) pairs
    gc_budget: Optional[int]
    kind: str  # "default", "full", "sweep" or "budget": default and full runs get flamegraphs
    peer: Optional[str] = None  # a peer's adapter (name or module:Class); `variant` is then its name
    interpreter: str = SESSION_LABEL  # the interpreter's label, e.g. cpython-3.13, pypy-3.9
    start_phase: Optional[float] = None  # only on phase runs: gen-0's count at the loop's start, over its threshold

    @property
    def params_dict(self):
        return dict(self.params)

    @property
    def id(self):
        text = (f"{self.interpreter}/{self.variant}/{self.workload}/{self.mode}/"
                + ",".join(f"{k}={v}" for k, v in self.params))
        text += f"/budget={self.gc_budget}" if self.gc_budget is not None else ""
        return text + (f"/phase={self.start_phase:g}" if self.start_phase is not None else "")

    @property
    def where(self):
        """(name, interpreter label): the environment the run's process runs in."""
        return self.variant, self.interpreter

    @property
    def timed(self):
        # A peer is timed only on the seed loop, the one time its report row quotes.
        return self.kind in TIMED_KINDS and (not self.peer or self.workload == PEER_TIMED_WORKLOAD)

    @property
    def file_stem(self):
        """<workload>-<mode>, plus -full or the parameters when not the defaults, plus gc_only's budget."""
        spec = WORKLOADS[self.workload]
        stem = f"{self.workload}-{self.mode}"
        if self.params_dict == spec.params(spec.full_params) and self.params_dict != spec.params():
            stem += "-full"
        elif self.params_dict != spec.params():
            stem += "-" + "-".join(f"{name}{value}" for name, value in self.params)
        if self.gc_budget is not None and self.gc_budget != DEFAULT_GC_BUDGET:
            stem += f"-budget{format_size(self.gc_budget).replace(' ', '')}"
        if self.start_phase is not None:
            stem += f"-phase{self.start_phase:g}"
        return stem


# --- the matrix --------------------------------------------------------------------
def chosen_peers(args):
    """{name: adapter target} of the peers the arguments select (see --peer and --adapter)."""
    named = bool(args.variant or args.peer or args.adapter)
    given = split_names(args.peer)
    if named and not given:
        names = []
    elif "all" in given or not given:
        names = list(PEERS)
    else:
        names = [name for name in given if name != "none"]
    peers = {name: name for name in choose("peer", names, PEERS)} if names else {}
    for target in args.adapter or []:
        where, _, class_name = target.rpartition(":")
        if where.endswith(".py"):  # the path as the harness will see it, from the repository root
            target = f"{Path(where).resolve()}:{class_name}"
        try:
            name = adapter_class(target).name
        except UnknownImplementation as error:
            raise SelectionError(str(error)) from None
        if name in peers or name in VARIANTS:
            raise SelectionError(f"--adapter {target}: its name {name!r} is taken; give the adapter class its own name")
        peers[name] = target
    return peers


def interpreter_labels(on, variant):
    """[(label, has a generational threshold)] our `variant` runs on: `on` is a list of interpreters for
    every variant, or {variant: list}; each an Interpreter (graphmem.interpreters) or a label. By
    default, the session's own interpreter."""
    chosen = on.get(variant, []) if isinstance(on, dict) else on
    if chosen is None:
        return [(SESSION_LABEL, SESSION_LABEL.startswith("cpython-"))]
    labels = []
    for interpreter in chosen:
        if isinstance(interpreter, str):
            labels.append((interpreter, interpreter.startswith("cpython-")))
        elif interpreter.available:
            labels.append((interpreter.label, interpreter.gc_threshold is not None))
    return list(dict.fromkeys(labels))


def build_matrix(args, on=None):
    """Every run the arguments select, in order, without duplicates; our variants on the interpreters `on`
    (see interpreter_labels), the peers on the session's."""
    peers = chosen_peers(args)
    named = bool(args.variant or args.peer or args.adapter)
    variants = choose("variant", args.variant, VARIANTS) if args.variant or not named else []
    workloads = choose("workload", args.workload, list(WORKLOADS))
    modes = choose("mode", args.mode, MODES)
    budgets = [parse_size(b) for b in split_names(args.gc_budget)]
    if not variants and not peers:
        raise SelectionError("nothing to run: no variant and no peer selected")
    if budgets and BUDGETED_VARIANT not in variants:
        raise SelectionError(f"--gc-budget applies only to {BUDGETED_VARIANT}, which is not among the selected "
                             f"variants ({', '.join(variants)})")
    overrides = parse_params(args.params)
    sweeps = not (args.no_sweeps or overrides)
    for name in workloads:
        try:
            WORKLOADS[name].params({k: v for k, v in overrides.items() if k in WORKLOADS[name].default_params})
        except ValueError as error:
            raise SelectionError(f"--params: {error}") from None
    unused = [k for k in overrides if not any(k in WORKLOADS[w].default_params for w in workloads)]
    if unused:
        raise SelectionError(f"--params: no selected workload has parameter(s) {', '.join(unused)}")

    runs = {}

    def add(variant, workload, mode, params, kind, budget_list, phase=None):
        for budget in budget_list if variant == BUDGETED_VARIANT else [None]:
            run = Run(variant, workload, mode, tuple(sorted(params.items())), budget, kind, interpreter=label,
                      start_phase=phase)
            runs.setdefault(run.id, run)

    for variant, (label, phased) in ((v, each) for v in variants for each in interpreter_labels(on, v)):
        base_budgets = budgets or [DEFAULT_GC_BUDGET]
        for workload in workloads:
            spec = WORKLOADS[workload]
            own = {k: v for k, v in overrides.items() if k in spec.default_params}
            for mode in modes:
                add(variant, workload, mode, spec.params(own), "default", base_budgets)
                if args.full:
                    add(variant, workload, mode, spec.params(spec.full_params), "full", base_budgets)
        if not sweeps:
            continue
        for sweep in DEFAULT_SWEEPS:
            if sweep.workload not in workloads:
                continue
            spec = WORKLOADS[sweep.workload]
            for mode in (m for m in sweep.modes if m in modes):
                for value in sweep.values:
                    add(variant, sweep.workload, mode, spec.params({sweep.param: value}), "sweep", base_budgets)
        if not budgets and variant == BUDGETED_VARIANT and BUDGET_SWEEP_WORKLOAD in workloads:
            spec = WORKLOADS[BUDGET_SWEEP_WORKLOAD]
            for mode in modes:
                add(variant, BUDGET_SWEEP_WORKLOAD, mode, spec.params(), "budget", DEFAULT_BUDGET_SWEEP)
        if phased and variant in PHASE_VARIANTS and PHASE_MODE in modes:
            for workload in (w for w in PHASE_WORKLOADS if w in workloads):
                for phase in START_PHASES:
                    add(variant, workload, PHASE_MODE, WORKLOADS[workload].params(), "phase", base_budgets, phase)
    # Peers: the default (and full) parameters of every workload their adapter runs; no sweeps.
    for name, target in peers.items():
        unsupported = adapter_class(target).unsupported
        for workload in (w for w in workloads if w not in unsupported):
            spec = WORKLOADS[workload]
            own = {k: v for k, v in overrides.items() if k in spec.default_params}
            for mode in modes:
                for kind, params in [("default", spec.params(own))] + (
                        [("full", spec.params(spec.full_params))] if args.full else []):
                    run = Run(name, workload, mode, tuple(sorted(params.items())), None, kind, peer=target,
                              interpreter=SESSION_LABEL)
                    runs.setdefault(run.id, run)
    return list(runs.values())


# Rough costs on a 2-core machine, for a run no earlier profile measured: its memray process, the
# rendering of its files, and one timing process. A peer's processes also import and warm up its library.
ESTIMATED_SECONDS = {"memray": 0.8, "rendered": 0.3, "timing": 0.6, "peer": 2.0}


def run_seconds(run, args, measured=None):
    """(memory, timing) seconds of one run's processes: as an earlier profile measured them (`measured`:
    run id -> the record's phase_seconds), else from ESTIMATED_SECONDS."""
    per_process = ESTIMATED_SECONDS["peer"] * bool(run.peer)
    memory = ESTIMATED_SECONDS["memray"] + per_process + ESTIMATED_SECONDS["rendered"] * (
        run.kind in ("default", "full") and not args.no_flamegraphs)
    timing = (ESTIMATED_SECONDS["timing"] + per_process) * args.timing_processes * run.timed
    earlier = (measured or {}).get(run.id)
    if earlier is None:
        return memory, timing
    # An earlier profile timed this run or not, with its own --timing-processes: its timing phase counts
    # only when it ran as many processes as this one will.
    same_timing = earlier.get("timing_processes") == (args.timing_processes if run.timed else 0)
    return earlier["memory"], earlier["timing"] if same_timing else timing


def plan_estimate(runs, args, measured=None):
    """Seconds the runs' processes take, one after another (run_seconds)."""
    return sum(sum(run_seconds(run, args, measured)) for run in runs)


def measured_phases(summary):
    """run id -> phase_seconds, for every good run of `summary` that has them."""
    return {run_id: record["phase_seconds"] for table in ("runs", "peer_runs")
            for run_id, record in (summary.get(table) or {}).items()
            if record.get("phase_seconds") and record.get("status") != "failed"}


def workloads_record():
    """What summary.json says of each workload: its description, live-set bound and parameters."""
    return {name: {"description": w.description, "live_set_bound": w.bound_formula,
                   "default_params": w.default_params, "full_params": w.full_params}
            for name, w in WORKLOADS.items()}


# --- shards: one slice of the matrix per machine ------------------------------------------------
def shard(runs, which, cost=lambda run: 1.0):
    """The runs of slice K of N (`which` = (K, N), or None for all), in plan order.

    Deterministic and independent of the runs' order: runs are taken by decreasing cost, ties by the
    SHA-256 of their id, each to the slice with the least cost so far (the lowest-numbered on a tie),
    so the slices' costs differ by at most about one run's."""
    if which is None:
        return list(runs)
    index, count = which
    ordered = sorted(runs, key=lambda run: (-cost(run), hashlib.sha256(run.id.encode()).hexdigest()))
    loads, chosen = [0.0] * count, set()
    for run in ordered:
        slot = min(range(count), key=lambda k: (loads[k], k))
        loads[slot] += cost(run)
        if slot == index - 1:
            chosen.add(run.id)
    return [run for run in runs if run.id in chosen]


def parallel_estimate(runs, args, measured=None):
    """plan_estimate with --jobs: the memray processes shared among the jobs (the cores permitting),
    the timing processes one after another."""
    phases = [run_seconds(run, args, measured) for run in runs]
    memory, timing = sum(memory for memory, _ in phases), sum(timing for _, timing in phases)
    return memory / max(1, min(args.jobs, os.cpu_count() or 1)) + timing
