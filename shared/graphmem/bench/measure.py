"""The measuring process: one group of measurements on the implementation installed in this interpreter.

    python -m graphmem.bench.measure --kind KIND --group GROUP [--plan NAME | --quick] --out PART.json

One process per implementation and per group, because ours and the book's package are both
`dezero`, and collector settings are global; graphmem.bench.run starts these processes, each in
its implementation's environment, and merges what they write. All times are
time.perf_counter_ns() around the timed region, with the cyclic collector disabled there except
where a collection is what is measured. Imports numpy and the adapters, never matplotlib: the
peers' environments have only what their adapters install.
"""
import argparse
import cProfile
import gc
import importlib
import pstats
import resource
import sys
import time
import tracemalloc
import weakref
from pathlib import Path

from graphmem.adapters import KINDS, make_adapter, process_environment
from graphmem.atomic_files import write_json_atomically
from graphmem.bench.features import measure_features
from graphmem.bench.plan import EXPRESSIONS, GROUPS, GROUPS_FOR_KIND, PHASES, PLANS, SHAPES, BenchInputError, \
    plan_named, summarize
from graphmem.collector import collector_disabled
from graphmem.workloads.bench import GRAPHS, build_expression, expression_leaves, square_chain


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
    core = importlib.import_module(f"{ops.module}.core")  # the installed variant's core
    source = Path(core.__file__).read_text(encoding="utf-8")
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m graphmem.bench.measure", description=__doc__.split("\n")[0])
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--group", required=True, choices=GROUPS)
    parser.add_argument("--quick", action="store_true", help="the one-minute plan (not the record)")
    parser.add_argument("--plan", choices=sorted(PLANS), help="sizes and repetitions (default: full)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        write_json_atomically(args.out, measure(args.kind, args.group, plan_named(args.plan, args.quick)))
    except BenchInputError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
