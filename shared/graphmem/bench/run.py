"""Speed of the three variants against PyTorch and the book's package: the measuring harness.

Two commands:
  python -m graphmem.bench measure --kind KIND --group GROUP [--quick] --out PART.json
      measures one group in this interpreter (one process per implementation and per group,
      because ours and the book's package are both `dezero`, and collector settings are global);
  python -m graphmem.bench run --envs DIR [--quick] [--only NAME ...] [--group GROUP ...] [--out-dir DIR]
      reads the environment records that `nox -s bench` wrote into DIR (one JSON per
      implementation: its interpreter, or why it is unavailable), runs `measure` in each,
      interleaving the per-operation rounds across implementations so that drift in the
      machine's load falls on all of them alike, then writes bench.json and renders BENCH.md.

Only a full run (the full plan, every implementation, every group) is the record: it goes to
reports/. A quick or partial run goes to build/bench-quick/ unless --out-dir says otherwise,
and its report calls itself indicative wherever it is written.

All times are time.perf_counter_ns() around the timed region, with the cyclic collector
disabled there except where a collection is what is measured.
"""
import argparse
import cProfile
import contextlib
import datetime
import gc
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

from graphmem.checkout import ROOT, cpu_name, git
from graphmem.atomic_files import write_json_atomically
from graphmem.spread import quartiles
from graphmem.adapters import KINDS, make_adapter, process_environment
from graphmem.workloads.bench import EXPRESSIONS as EXPRESSION_BUILDS, GRAPHS, build_expression, \
    expression_leaves, square_chain

GROUPS = ("per_op", "scaling", "collection", "teardown", "profile", "features")
# Which groups each kind of implementation runs: the peers only take part in per-operation time;
# the floor is also profiled, to set against weakref's profile.
GROUPS_FOR_KIND = {"ours": GROUPS, "book": ("per_op",), "torch": ("per_op",), "minimal": ("per_op", "profile")}
PROFILED = ("weakref", "minimal")  # the profile group runs for these implementations only
# Groups that run for some implementations of their kinds only: the profile, and the cost of
# weakref's features (graphmem.bench.features), which sets weakref against the floor.
ONLY_FOR = {"profile": PROFILED, "features": ("weakref",)}
EXPRESSIONS = tuple(EXPRESSION_BUILDS)  # the chain of squares, and the binary mix
# The per-operation inputs: 0-d as every example in the book, (1,), and a mid size where numpy's
# own work starts to count. Labels are the keys of the plans and of the result rows.
SHAPES = {"0-d": (), "(1,)": (1,), "(1000,)": (1000,)}
PHASES = ("forward", "backward", "forward+backward")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
MEASURE_TIMEOUT_S = 1800


class BenchInputError(ValueError):
    """Bad input to the bench: a missing or malformed environment record, plan or file."""


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one bench run."""

    name: str
    per_op_functions: dict  # shape label (a key of SHAPES) -> Functions in the chain
    per_op_repeats: int
    warmup: int
    rounds: int  # per-operation processes per implementation, interleaved across implementations
    scaling_repeats: dict  # graph size in Functions -> repetitions
    collection_repeats: dict  # graph size -> repetitions
    teardown_functions: int
    teardown_repeats: int
    profile_functions: int  # the square chain on 0-d inputs, built and backpropagated under cProfile
    profile_repeats: int


PLANS = {
    "full": Plan("full", {"0-d": 1000, "(1,)": 1000, "(1000,)": 200}, per_op_repeats=20, warmup=3, rounds=5,
                 scaling_repeats={10**3: 15, 10**4: 9, 10**5: 7, 10**6: 4},
                 collection_repeats={10**3: 15, 10**4: 7, 10**5: 3, 10**6: 1},
                 teardown_functions=10**5, teardown_repeats=5, profile_functions=1000, profile_repeats=20),
    "quick": Plan("quick", {"0-d": 400, "(1,)": 400, "(1000,)": 40}, per_op_repeats=5, warmup=1, rounds=2,
                  scaling_repeats={10**3: 5, 10**4: 3, 10**5: 1},
                  collection_repeats={10**3: 3, 10**4: 2, 10**5: 1},
                  teardown_functions=10**5, teardown_repeats=2, profile_functions=400, profile_repeats=5),
    # The smallest sizes, for the test suite: proves the code runs, measures nothing useful.
    "smoke": Plan("smoke", {"0-d": 8, "(1,)": 8, "(1000,)": 4}, per_op_repeats=2, warmup=1, rounds=1,
                  scaling_repeats={10: 2, 100: 1}, collection_repeats={10: 2, 100: 1},
                  teardown_functions=100, teardown_repeats=2, profile_functions=8, profile_repeats=2),
}
RECORD_PLAN = "full"
RECORD_DIR = ROOT / "reports"  # where the record goes: only a full run of everything
SCRATCH_DIR = ROOT / "build" / "bench-quick"  # where every other run goes unless --out-dir says otherwise


def summarize(samples_ns, per=1):
    """Median, quartiles and range of samples (ns), each divided by `per`."""
    if not samples_ns:
        raise BenchInputError("no samples to summarize")
    return {**quartiles(s / per for s in samples_ns), "repeats": len(samples_ns)}


@contextlib.contextmanager
def collector_disabled():
    """The cyclic collector off for a timed region, restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _count(ops):
    return ops.collections_so_far() or 0


# --- Measurements -------------------------------------------------------------------
def time_forward_backward(ops, make_leaves, build, repeats, warmup):
    """Per repetition: build the graph (forward), then backward; collection between, untimed."""
    forward, backward, collections = [], [], 0
    with collector_disabled():
        for rep in range(warmup + repeats):
            ops.collect_garbage()
            leaves = make_leaves()
            before = _count(ops)
            t0 = time.perf_counter_ns()
            y = build(*leaves)
            t1 = time.perf_counter_ns()
            ops.backward(y)
            t2 = time.perf_counter_ns()
            del y, leaves
            if rep >= warmup:
                forward.append(t1 - t0)
                backward.append(t2 - t1)
                collections += _count(ops) - before
        ops.collect_garbage()
    return forward, backward, collections


def expressions_of(ops):
    """The expressions an implementation can build: the floor has no binary operators."""
    return [e for e in EXPRESSIONS if e != "binary_mix" or ops.add is not None]


def measure_per_op(ops, plan):
    """Forward, backward and both, per Function, on the square chain and the binary mix, per shape."""
    rows = []
    for label, functions in plan.per_op_functions.items():
        shape = SHAPES[label]
        for expression in expressions_of(ops):
            forward, backward, collections = time_forward_backward(
                ops, lambda: expression_leaves(ops, expression, shape),
                lambda *leaves: build_expression(ops, expression, leaves, functions), plan.per_op_repeats, plan.warmup)
            both = [f + b for f, b in zip(forward, backward)]
            for phase, samples in zip(PHASES, (forward, backward, both)):
                rows.append({"expression": expression, "shape": label, "elements": _elements(shape),
                             "functions": functions, "phase": phase, "samples_ns": samples,
                             "collections": collections, "per_function_ns": summarize(samples, functions)})
    return rows


def _elements(shape):
    count = 1
    for extent in shape:
        count *= extent
    return count


def measure_weakref_cost(ops, plan, objects=10_000):
    """What the weakref policy adds per output, alone: weakref.ref(output) in forward, ref() in backward.

    Timed on fresh objects of this implementation's Variable class (a ref to an object that
    already has one is reused, which would flatter it), minus the same loops without the
    weakref calls, in this process and alongside its per-operation rows.
    """
    create, dereference = [], []
    ref = weakref.ref
    with collector_disabled():
        for _ in range(plan.warmup + plan.per_op_repeats):
            targets = [ops.leaf((), 0.0) for _ in range(objects)]
            t0 = time.perf_counter_ns()
            refs = [ref(v) for v in targets]
            t1 = time.perf_counter_ns()
            baseline = [v for v in targets]
            t2 = time.perf_counter_ns()
            dereferenced = [r() for r in refs]
            t3 = time.perf_counter_ns()
            baseline = [r for r in refs]
            t4 = time.perf_counter_ns()
            create.append(max(0, (t1 - t0) - (t2 - t1)))
            dereference.append(max(0, (t3 - t2) - (t4 - t3)))
            del targets, refs, baseline, dereferenced
    create, dereference = create[plan.warmup:], dereference[plan.warmup:]
    both = [c + d for c, d in zip(create, dereference)]
    return {"objects": objects, "create_ns": summarize(create, objects),
            "dereference_ns": summarize(dereference, objects), "create+dereference_ns": summarize(both, objects),
            "samples_ns": both}


def measure_scaling(ops, plan):
    """backward() on a chain and on a wide branching graph, per graph size.

    The sizes take turns, repetition by repetition, so that a change in the machine's load
    falls on every size rather than on whichever was being measured at the time.
    """
    rows = []
    sizes = sorted(plan.scaling_repeats)
    for graph, (build, count) in GRAPHS.items():
        forward, backward = {size: [] for size in sizes}, {size: [] for size in sizes}
        with collector_disabled():
            ops.collect_garbage()
            warm = build(ops, ops.leaf(1, 0.0), sizes[0])  # warm-up: the code paths, not the sizes
            ops.backward(warm)
            del warm
            for rep in range(max(plan.scaling_repeats.values())):
                for size in (s for s in sizes if rep < plan.scaling_repeats[s]):
                    ops.collect_garbage()
                    x = ops.leaf(1, 0.0)
                    t0 = time.perf_counter_ns()
                    y = build(ops, x, size)
                    t1 = time.perf_counter_ns()
                    ops.backward(y)
                    t2 = time.perf_counter_ns()
                    forward[size].append(t1 - t0)
                    backward[size].append(t2 - t1)
                    del y, x
            ops.collect_garbage()
        rows += [{"graph": graph, "size": size, "functions": count(size),
                  "backward_ns": summarize(backward[size]), "build_ns": summarize(forward[size]),
                  "backward_samples_ns": backward[size], "build_samples_ns": forward[size]} for size in sizes]
    return rows


def _build_and_drop(ops, size):
    """A chain of `size` squares, built and dropped: whatever remains is for a collector."""
    y = square_chain(ops, ops.leaf(1, 0.0), size)
    del y


def measure_collection(ops, plan):
    """The collection the variant's policy relies on, timed right after dropping a graph.

    For a variant with its own collector that is its collect(); otherwise one gc.collect().
    Bytes and objects reclaimed come from a second, untimed pass under tracemalloc (which
    slows allocation and freeing, so it never overlaps a timed region).
    """
    rows = []
    for size in sorted(plan.collection_repeats):
        samples = []
        with collector_disabled():
            for _ in range(plan.collection_repeats[size]):
                ops.collect_garbage()
                _build_and_drop(ops, size)
                t0 = time.perf_counter_ns()
                ops.collect_garbage()
                samples.append(time.perf_counter_ns() - t0)
            reclaimed_bytes, collected_objects = _reclaimed_by_collection(ops, size)
        rows.append({"functions": size, "collect_ns": summarize(samples), "samples_ns": samples,
                     "reclaimed_bytes": reclaimed_bytes, "collected_objects": collected_objects})
    return rows


def _reclaimed_by_collection(ops, size):
    collected = []

    def count_collected(phase, info):
        if phase == "stop":
            collected.append(info["collected"])

    ops.collect_garbage()
    tracemalloc.start()
    try:
        _build_and_drop(ops, size)
        before = tracemalloc.get_traced_memory()[0]
        gc.callbacks.append(count_collected)
        try:
            ops.collect_garbage()
        finally:
            gc.callbacks.remove(count_collected)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return max(0, before - after), sum(collected)


def measure_teardown(ops, plan):
    """Dropping the last reference to a chain, then the collection that follows, timed apart."""
    drop, collect, freed_by_drop = [], [], []
    with collector_disabled():
        for _ in range(plan.teardown_repeats):
            ops.collect_garbage()
            y = square_chain(ops, ops.leaf(1, 0.0), plan.teardown_functions)
            probe = weakref.ref(y.creator)  # the Function that made the output
            t0 = time.perf_counter_ns()
            del y
            t1 = time.perf_counter_ns()
            freed_by_drop.append(probe() is None)
            ops.collect_garbage()
            t2 = time.perf_counter_ns()
            drop.append(t1 - t0)
            collect.append(t2 - t1)
    return [{"functions": plan.teardown_functions, "drop_ns": summarize(drop), "drop_samples_ns": drop,
             "collect_after_ns": summarize(collect), "collect_after_samples_ns": collect,
             "freed_by_drop": all(freed_by_drop)}]


def measure_profile(ops, plan, top=25):
    """cProfile of fwd+bwd on 0-d inputs, the square chain and (where the implementation has binary
    operators) the binary mix: where the time per op goes.

    cProfile's own hooks slow every call, so its times are for the shares, not the totals.
    """
    rows = []
    for expression in expressions_of(ops):
        profiler = cProfile.Profile()
        with collector_disabled():
            for _ in range(plan.profile_repeats):
                ops.collect_garbage()
                leaves = expression_leaves(ops, expression, ())
                profiler.enable()
                ops.backward(build_expression(ops, expression, leaves, plan.profile_functions))
                profiler.disable()
                del leaves
        ops.collect_garbage()
        rows.append(_profile_row(profiler, expression, plan, top))
    return rows


def _profile_row(profiler, expression, plan, top):
    operations = plan.profile_functions * plan.profile_repeats
    entries = []
    for (file, line, function), (_, calls, total, cumulative, _) in pstats.Stats(profiler).stats.items():
        if any(part in file for part in HARNESS_FILES) or "_lsprof.Profiler" in function:
            continue  # the bench's own workload and adapter, and the profiler: not the autograd's time
        entries.append({"function": function, "where": _short_location(file, line), "calls_per_op": calls / operations,
                        "own_ns_per_op": total * 1e9 / operations, "cumulative_ns_per_op": cumulative * 1e9 / operations})
    entries.sort(key=lambda r: r["own_ns_per_op"], reverse=True)
    return {"shape": "0-d", "expression": expression, "functions": plan.profile_functions,
            "repeats": plan.profile_repeats, "profiler": "cProfile",
            "total_own_ns_per_op": sum(r["own_ns_per_op"] for r in entries), "functions_profiled": entries[:top]}


HARNESS_FILES = (str(Path("graphmem", "workloads")), str(Path("graphmem", "adapters")))


def _short_location(file, line):
    """A profile entry's place: the module file's last two parts, or CPython's own for builtins."""
    if file == "~":
        return "built-in"
    parts = Path(file).parts
    return f"{'/'.join(parts[-2:])}:{line}"


def measure_feature_costs(ops, plan):
    """The variant's core with each feature switched off, timed beside it, the lean design and the floor."""
    import dezero.core
    from graphmem.bench.features import measure_features  # features imports this module's helpers
    source = Path(dezero.core.__file__).read_text(encoding="utf-8")
    return measure_features(source, ops.name, plan.per_op_functions["0-d"], plan.per_op_repeats * plan.rounds,
                            plan.warmup)


MEASUREMENTS = {"per_op": measure_per_op, "scaling": measure_scaling, "collection": measure_collection,
                "teardown": measure_teardown, "profile": measure_profile, "features": measure_feature_costs}


def measure(kind, group, plan):
    """One group on the implementation installed in this interpreter, as a JSON-ready dict."""
    if group not in GROUPS_FOR_KIND.get(kind, ()):
        raise BenchInputError(f"group {group!r} is not measured for kind {kind!r}; "
                              f"it runs {', '.join(GROUPS_FOR_KIND.get(kind, ()))}")
    ops = make_adapter(kind)
    started = time.perf_counter()
    rows = MEASUREMENTS[group](ops, plan)
    part = {"implementation": ops.name, "kind": kind, "group": group, "plan": plan.name,
            "versions": ops.versions(), "process": process_environment(),
            "seconds": time.perf_counter() - started,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": rows}
    if group == "per_op" and kind == "ours":
        part["weakref_cost"] = measure_weakref_cost(ops, plan)
    return part


# --- Files --------------------------------------------------------------------------
def read_environment_records(envs_dir):
    """The per-implementation environment records that the bench_env sessions wrote."""
    folder = Path(envs_dir)
    if not folder.is_dir():
        raise BenchInputError(f"no environment records folder {folder} (run `nox -s bench`, which writes it)")
    records = {}
    for file in sorted(folder.glob("*.json")):
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise BenchInputError(f"environment record {file} is not valid JSON: {error}") from None
        missing = {"name", "kind"} - set(record)
        if missing or record.get("kind") not in KINDS or not ("python" in record or "unavailable" in record):
            raise BenchInputError(f"environment record {file} needs name, kind (one of {', '.join(KINDS)}) "
                                  f"and python or unavailable; got keys {sorted(record)}")
        records[record["name"]] = record
    if not records:
        raise BenchInputError(f"no environment records (*.json) in {folder}")
    return records


# --- The whole run ------------------------------------------------------------------
def _run_measure(record, group, plan, parts_dir, label):
    out = Path(parts_dir) / f"{label}.json"
    command = [record["python"], "-m", "graphmem.bench", "measure", "--kind", record["kind"],
               "--group", group, "--plan", plan.name, "--out", str(out)]
    print(f"bench: {label} ...", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MEASURE_TIMEOUT_S,
                              env=_measure_environment())
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{group} could not run: {error}"
    if done.returncode != 0:
        # The last line of a traceback is the error itself; it must fit in one table cell of the report.
        last = (done.stderr.strip().splitlines() or ["(no output on stderr)"])[-1].strip()
        return None, f"{group} exited with code {done.returncode}: {last}"
    return json.loads(out.read_text(encoding="utf-8")), None


def _measure_environment():
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_VARIABLES})
    shared = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = shared + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def machine_environment(command="python3 -m nox -s bench"):
    """The machine and checkout a run measured on, and the command that measured it."""
    status = git("status", "--porcelain", "--untracked-files=no", "--", "variants", "shared/graphmem/bench",
                 "shared/graphmem/adapters", "shared/graphmem/workloads")
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": sys.version.split()[0], "git_commit": git("rev-parse", "HEAD"),
            "git_dirty_variants_or_bench": bool(status) if status is not None else None,
            "threads": {**{name: "1" for name in THREAD_VARIABLES}, "torch.set_num_threads": 1},
            "timer": "time.perf_counter_ns", "command": command,
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()]}


def run(records, plan, parts_dir, groups=GROUPS, subset=(), command="python3 -m nox -s bench", log=print):
    """Every available implementation measured, per-operation rounds interleaved; a result dict.

    `groups` may be a subset of GROUPS and `records` a subset of the implementations, described
    in `subset`; the result says whether it is the record (the full plan and no subset).
    """
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    implementations, rows, weakref_costs = {}, {group: [] for group in GROUPS}, []
    for name, record in records.items():
        entry = {"kind": record["kind"], "note": record.get("note")}
        if "unavailable" in record:
            entry.update(status="unavailable", reason=record["unavailable"])
        else:
            entry.update(status="ok", versions={}, peak_rss_mib={}, failures=[])
        implementations[name] = entry
    # Ours first, then the peers, each group in a fixed order.
    runnable = sorted((name for name, entry in implementations.items() if entry["status"] == "ok"),
                      key=lambda name: (records[name]["kind"] != "ours", name))

    def take(name, group, label, round_index=0):
        part, failure = _run_measure(records[name], group, plan, parts_dir, label)
        entry = implementations[name]
        if failure:
            log(f"bench: {name} {failure}")
            entry["failures"].append(failure)
            return
        entry["versions"] = part["versions"]
        entry["peak_rss_mib"][group] = max(entry["peak_rss_mib"].get(group, 0), part["peak_rss_mib"])
        rows[group] += [{"implementation": name, "round": round_index, **row} for row in part["rows"]]
        if "weakref_cost" in part:
            weakref_costs.append({"implementation": name, "round": round_index, **part["weakref_cost"]})

    if "per_op" in groups:
        for round_index in range(plan.rounds):
            shift = round_index % max(1, len(runnable))
            for name in runnable[shift:] + runnable[:shift]:
                take(name, "per_op", f"{name}-per_op-{round_index}", round_index)
    for group in (g for g in GROUPS[1:] if g in groups):
        for name in runnable:
            if group in GROUPS_FOR_KIND[records[name]["kind"]] and name in ONLY_FOR.get(group, (name,)):
                take(name, group, f"{name}-{group}")
    for name in runnable:
        entry = implementations[name]
        if entry["failures"] and not any(r["implementation"] == name for g in rows.values() for r in g):
            entry.update(status="failed", reason="; ".join(dict.fromkeys(entry["failures"])))
    finished = datetime.datetime.now(datetime.timezone.utc)
    environment = machine_environment(command)
    environment["load_average_at_start"] = load_at_start
    subset = list(subset)
    return {"format": "graphmem-bench/2", "plan": asdict(plan), "quick": plan.name != RECORD_PLAN,
            "subset": subset, "record": plan.name == RECORD_PLAN and not subset,
            "started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
            "environment": environment, "implementations": implementations,
            "per_op": _merge_per_op(rows["per_op"]), "weakref_cost": weakref_costs, "scaling": rows["scaling"],
            "collection": rows["collection"], "teardown": rows["teardown"], "profile": rows["profile"],
            "features": rows["features"]}


def _merge_per_op(rows):
    """Rounds of the same implementation and case pooled into one row of samples.

    Each round's own median per Function is kept too: a ratio between two implementations is
    then taken round by round, and its spread over the rounds is the spread between processes.
    """
    merged = {}
    for row in rows:
        key = (row["implementation"], row["expression"], row["shape"], row["phase"])
        round_median = summarize(row["samples_ns"], row["functions"])["median"]
        if key in merged:
            merged[key]["samples_ns"] += row["samples_ns"]
            merged[key]["collections"] += row["collections"]
            merged[key]["rounds"] += 1
            merged[key]["round_medians_ns"][str(row["round"])] = round_median
        else:
            merged[key] = {**{k: v for k, v in row.items() if k != "round"}, "samples_ns": list(row["samples_ns"]),
                           "rounds": 1, "round_medians_ns": {str(row["round"]): round_median}}
    for row in merged.values():
        row["per_function_ns"] = summarize(row["samples_ns"], row["functions"])
    return list(merged.values())


# --- Command line -------------------------------------------------------------------
def _plan_from(args):
    if args.quick and args.plan not in (None, "quick"):
        raise BenchInputError(f"--quick contradicts --plan {args.plan}")
    return PLANS["quick" if args.quick else (args.plan or "full")]


def select(records, only, groups):
    """The records and groups a run measures, and a description of what it leaves out."""
    subset = []
    if only:
        unknown = sorted(set(only) - set(records))
        if unknown:
            raise BenchInputError(f"--only names {', '.join(unknown)}, which have no environment record; "
                                  f"known: {', '.join(sorted(records))}")
        records = {name: record for name, record in records.items() if name in only}
        subset.append(f"implementations {', '.join(records)} only")
    groups = tuple(g for g in GROUPS if g in groups) if groups else GROUPS
    if groups != GROUPS:
        subset.append(f"groups {', '.join(groups)} only")
    return records, groups, subset


def output_folder(out_dir, plan, subset):
    """Where a run's files go: --out-dir if given, else the record's folder for a full run of
    everything and the scratch folder for any other, so that a quick look never replaces the record."""
    if out_dir is not None:
        return Path(out_dir)
    return RECORD_DIR if plan.name == RECORD_PLAN and not subset else SCRATCH_DIR


def command_line(args):
    """The nox command that reproduces this run, as the report quotes it."""
    options = (["--quick"] if args.quick else []) + ([f"--plan {args.plan}"] if args.plan else []) \
        + [f"--only {name}" for name in args.only or ()] + [f"--group {g}" for g in args.group or ()] \
        + ([f"--out-dir {args.out_dir}"] if args.out_dir is not None else [])
    return "python3 -m nox -s bench" + (" -- " + " ".join(options) if options else "")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m graphmem.bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("measure", "run"):
        sub = commands.add_parser(command)
        sub.add_argument("--quick", action="store_true", help="the one-minute plan (not the record)")
        sub.add_argument("--plan", choices=sorted(PLANS), help="sizes and repetitions (default: full)")
    measure_cmd = commands.choices["measure"]
    measure_cmd.add_argument("--kind", required=True, choices=KINDS)
    measure_cmd.add_argument("--group", required=True, choices=GROUPS)
    measure_cmd.add_argument("--out", required=True, type=Path)
    run_cmd = commands.choices["run"]
    run_cmd.add_argument("--envs", required=True, type=Path, help="folder of environment records")
    run_cmd.add_argument("--only", action="append", metavar="NAME",
                         help="measure this implementation only (repeatable; a subset is not the record)")
    run_cmd.add_argument("--group", action="append", choices=GROUPS,
                         help="measure this group only (repeatable; a subset is not the record)")
    run_cmd.add_argument("--out-dir", type=Path, default=None,
                         help=f"where bench.json, BENCH.md and the chart go (default: {RECORD_DIR} for a full "
                              f"run of everything, else {SCRATCH_DIR})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        plan = _plan_from(args)
        if args.command == "measure":
            write_json_atomically(args.out, measure(args.kind, args.group, plan))
            return 0
        records, groups, subset = select(read_environment_records(args.envs), args.only, args.group)
        out_dir = output_folder(args.out_dir, plan, subset)
        print(f"bench: plan {plan.name}, {', '.join(subset) or 'everything'}: writing to {out_dir}"
              + ("" if plan.name == RECORD_PLAN and not subset else " (indicative, not the record)"), flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-parts-") as parts:
            result = run(records, plan, parts, groups, subset, command_line(args))
    except BenchInputError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    from graphmem.bench.report import write_report  # matplotlib only where the report is drawn
    json_path = out_dir / "bench.json"
    write_json_atomically(json_path, result)
    written = write_report(result, out_dir)
    for path in (json_path, *written):
        print(f"bench: wrote {path}")
    failed = [n for n, e in result["implementations"].items() if e["status"] == "failed" or e.get("failures")]
    if any(result["implementations"][n]["kind"] == "ours" for n in failed):
        print(f"bench: error: a variant failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
