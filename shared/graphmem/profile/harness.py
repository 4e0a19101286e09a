"""One measurement in one fresh process: a workload under memray, or timed without it.

Run by the profile driver with the python of a variant's (or a peer's) own environment:

    python -m graphmem.profile.harness SPEC.json RESULT.json

SPEC names the variant it expects (or, for a peer library, `"implementation"`: its adapter),
the workload and its parameters, the collector mode,
gc_only's budget, the memory ceiling and where the capture and the rendered files go; with
`"memray": false` the process only times the workload (memray's hooks slow every allocation,
so times compared in the report come from such processes). RESULT gets every number of the
run (the driver adds the ids and the provenance). The collector settings, the tracker and the
ceiling are process-wide, hence one process each.

Beside memray, every process counts the live bytes of NumPy array data and their exact peak with
the C handler of shared/numpy_bytes (`"numpy_bytes"`: true requires it, false leaves it out,
absent uses it where it is built), records the place of each collection (the arrays allocated
before it, and so its iteration: graphmem.profile.collector_log) and its interpreter. memray is used only where requested and importable: PyPy has
neither memray nor tracemalloc, and there the counter's peak is the measurement. `"start_phase"`
(a fraction in [0, 1)) sets CPython's generation-0 count to that share of its threshold before
the loop. Runs on Python 3.9 (PyPy 7.3.11).
"""
import gc
import json
import platform
import resource
import sys
import time
from pathlib import Path

from graphmem.atomic_files import write_json_atomically
from graphmem.facts import MODES
from graphmem.profile.capture import RENDERED, read_capture
from graphmem.profile.collector_log import CollectorLog, interpreter, iteration_starts, record_keys, set_start_phase
from graphmem.sizes import format_size
from graphmem.workloads import code_objects

def address_space_bytes():
    """This process's current virtual memory size (VmSize), which RLIMIT_AS limits."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


class Outcome:
    """What one call of the workload did: its status, time, the collector's work and the array bytes."""

    def __init__(self, status, reason, completed, wall_seconds, log, count_at_start, count_at_end, array_bytes):
        self.status, self.reason, self.completed, self.wall_seconds, self.log = (
            status, reason, completed, wall_seconds, log)
        self.count_at_start, self.count_at_end, self.array_bytes = count_at_start, count_at_end, array_bytes


def counts():
    """CPython's collector counts per generation as a list, None elsewhere. The list is tracked:
    read it only where one more tracked object does not matter (just before or after the workload)."""
    if not hasattr(gc, "get_count"):
        return None
    gen0, gen1, gen2 = gc.get_count()  # the tuple is freed at once
    return [gen0, gen1, gen2]


def run_workload(workload, params, ceiling, ops=None, counter=None, start_phase=None):
    """The one place a workload is called (through `ops`, the installed variant's adapter by default):
    timed, under the ceiling, with the collector logged and numpy's array bytes counted by `counter`.

    Everything the call allocates is made before a last gc.collect(), so that the loop starts from
    the same collector count in every process (or from the count `start_phase` sets)."""
    if ops is None:
        from graphmem.adapters import make_adapter
        ops = make_adapter("ours")
    log = CollectorLog(counter)
    kwargs = ops.scaled_params(params)
    keep = []  # the start phase's objects, alive through the loop
    soft_limit, hard_limit = resource.getrlimit(resource.RLIMIT_AS)
    status, reason, completed = "ok", None, workload.total_iterations(params)
    if ceiling:
        # The ceiling is address space on top of what the process already maps, so
        # it means the same in every variant; numpy raises MemoryError when it is hit.
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes() + ceiling, hard_limit))
    gc.collect()
    if start_phase is not None:
        set_start_phase(start_phase, keep)
    count_at_start = counts()
    log.install()  # a list append and a C read: nothing tracked
    if counter is not None:
        live_at_start = counter.live()
        counter.reset_peak()
    started = time.perf_counter()
    try:
        workload.function(ops, **kwargs)
    except MemoryError as error:
        wall_seconds = time.perf_counter() - started
        end = counts()
        log.uninstall()
        resource.setrlimit(resource.RLIMIT_AS, (soft_limit, hard_limit))
        completed = workload.progress_in(error.__traceback__)
        status = "ceiling"
        after = f" after {completed} {workload.progress_total}" if completed is not None else ""
        reason = f"stopped at the ceiling of {format_size(ceiling)}{after} ({error})"
        del error  # the traceback holds the workload's frame and so its last graph
    else:
        wall_seconds = time.perf_counter() - started
        end = counts()
        log.uninstall()
    array_bytes = None
    if counter is not None:
        array_bytes = {"live_at_start": live_at_start, "peak": counter.peak() - live_at_start,
                       "live_at_return": counter.live() - live_at_start}
    resource.setrlimit(resource.RLIMIT_AS, (soft_limit, hard_limit))
    del keep
    return Outcome(status, reason, completed, wall_seconds, log, count_at_start, end, array_bytes)


CALIBRATION_SIZE = 16  # the array size of the traced run that finds where each iteration begins


def collector_numbers(log, collector):
    return {
        "runs": log.runs,
        "seconds": [round(s, 6) for s in log.seconds],
        "variant_collections": collector.collections if collector is not None else None,
        "variant_seconds": round(collector.seconds, 6) if collector is not None else None,
    }


def collection_positions(spec, workload, params, ops, counter, log):
    """[[generation, arrays allocated before it, iteration], ...] per collection (PyPy: its major ones,
    as generation 2). The iterations come from a traced run at a small size, after everything else."""
    starts = None
    if counter is not None and log.positions:
        small = dict(params, size=min(params["size"], CALIBRATION_SIZE)) if "size" in params else params
        starts = iteration_starts(workload, ops, ops.scaled_params(small), counter,
                                  code_objects(workload.function.__code__))
    return log.collections(starts)


def numpy_bytes_counter(spec):
    """The C counter of shared/numpy_bytes, installed, or (None, why not)."""
    wanted = spec.get("numpy_bytes")
    if wanted is False:
        return None, "not requested"
    try:
        import _numpy_bytes
    except ImportError as error:
        if wanted is True:
            raise RuntimeError(f"numpy_bytes was requested but is not built in this environment ({error}); "
                               f"pip install --no-build-isolation shared/numpy_bytes") from None
        return None, f"not built in this environment ({error})"
    if not _numpy_bytes.installed():
        _numpy_bytes.install()
    return _numpy_bytes, None


def memray_module(spec):
    """memray where requested and importable, or (None, why not)."""
    if spec.get("memray", True) is False:
        return None, "not requested"
    try:
        import memray
    except ImportError as error:
        return None, f"memray is not importable on {sys.implementation.name} {platform.python_version()} ({error})"
    return memray, None


def prepare(spec):
    """Checks the variant, sets gc_only's budget, installs the array-bytes counter and sets the collector
    mode; returns (workload, params, collector, ops, counter, counter_reason)."""
    import numpy.random  # noqa: F401  numpy imports it lazily; its import is not the workload's

    from graphmem.adapters import make_adapter
    from graphmem.workloads import WORKLOADS

    workload = WORKLOADS[spec["workload"]]
    params = workload.params(spec["params"])
    if spec["mode"] not in MODES:
        raise ValueError(f"unknown collector mode {spec['mode']!r}; valid: {', '.join(MODES)}")
    ops = make_adapter(spec.get("implementation") or "ours")
    if not ops.supports(workload.name):
        raise ValueError(f"{ops.name} does not run {workload.name}: {ops.unsupported[workload.name]}")
    if spec.get("implementation"):
        collector = None
        ops.warm_up()  # a peer's one-time set-up is not its workload's memory (our variants have none)
    else:
        import dezero

        if dezero.VARIANT != spec["variant"]:
            raise RuntimeError(f"expected variant {spec['variant']!r} but this interpreter has "
                               f"{dezero.VARIANT!r} ({dezero.__file__})")
        collector = getattr(dezero, "collector", None)
    if spec.get("gc_budget") is not None:
        if collector is None:
            raise ValueError(f"{ops.name!r} has no collector budget to set")
        collector.budget = spec["gc_budget"]
    if collector is not None:
        collector.pending_bytes = collector.collections = 0
        collector.seconds = 0.0
    # Installing sets a context variable (tracked objects): before the collection that starts the count.
    counter, counter_reason = numpy_bytes_counter(spec)
    gc.collect()
    if spec["mode"] == "off":
        gc.disable()
    else:
        gc.enable()
    return workload, params, collector, ops, counter, counter_reason


def common_numbers(spec, outcome, collector, counter_reason):
    """What every process records: status, time, the collector's work, the array bytes, the interpreter
    (but the position of each collection: collection_positions, last)."""
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "iterations_completed": outcome.completed,
        "wall_seconds": round(outcome.wall_seconds, 6),
        "gc": collector_numbers(outcome.log, collector),
        "gc_count_at_start": outcome.count_at_start,  # CPython: where the loop's count began
        "gc_count_at_end": outcome.count_at_end,  # and where it stood when the workload returned
        "start_phase": spec.get("start_phase"),
        "numpy_bytes": outcome.array_bytes,
        **({"numpy_bytes_unavailable": counter_reason} if outcome.array_bytes is None else {}),
        "interpreter": interpreter(),
    }


def run_in_process(spec, workload, params, ops, counter):
    return run_workload(workload, params, spec.get("ceiling_bytes"), ops, counter, spec.get("start_phase"))


def measure(spec):
    """Runs the spec's workload in this process, under memray where requested and importable (else only
    counted by numpy_bytes); returns its numbers. `"memray": false` times it instead (time_once)."""
    if spec.get("memray", True) is False:
        return time_once(spec)
    memray, memray_reason = memray_module(spec)
    workload, params, collector, ops, counter, counter_reason = prepare(spec)
    if memray is None and counter is None:
        raise RuntimeError(f"nothing can measure this run: memray {memray_reason}; numpy_bytes {counter_reason}")
    memray_numbers, problems = {}, []
    if memray is not None:
        capture = Path(spec["capture"])
        capture.parent.mkdir(parents=True, exist_ok=True)
        if capture.exists():
            capture.unlink()
        interval_ms = spec.get("memory_interval_ms", 10)
        with memray.Tracker(capture, native_traces=False, trace_python_allocators=True, follow_fork=False,
                            memory_interval_ms=interval_ms):
            outcome, held_at_return, held_after_collect = run_and_count_held(spec, workload, params, ops, counter)
            # memray snapshots the heap every interval; wait out one more, so that the memory-over-time
            # line ends where the run really ends, after the final collection.
            time.sleep(interval_ms * 1.5 / 1000)
        gc.enable()
        memray_numbers, files, problems = read_capture(capture, {key: spec.get(key) for key in RENDERED})
        memray_numbers["files"] = files
    else:
        outcome, held_at_return, held_after_collect = run_and_count_held(spec, workload, params, ops, counter)
        gc.enable()
        memray_numbers = {"peak_heap_bytes": None, "total_allocations": None, "total_bytes_allocated": None,
                          "snapshots": [], "files": {}, "memray_unavailable": memray_reason}
    bound = ops.live_set_bound(workload, params)
    if outcome.array_bytes is not None:
        outcome.array_bytes["ratio_to_bound"] = round(outcome.array_bytes["peak"] / bound, 4) if bound else None
        if counter is not None:
            outcome.array_bytes["live_after_collect"] = counter.live() - outcome.array_bytes["live_at_start"]
    peak = memray_numbers["peak_heap_bytes"]
    # A peer's record names its implementation (and, for a scalar library, the parameters it ran).
    who = ({"implementation": ops.name, "ran_params": ops.scaled_params(params)} if spec.get("implementation")
           else {"variant": ops.name})
    numbers = common_numbers(spec, outcome, collector, counter_reason)
    numbers["gc"]["collections"] = collection_positions(spec, workload, params, ops, counter, outcome.log)
    return {
        **who,
        "workload": workload.name,
        "mode": spec["mode"],
        "params": params,
        "gc_budget": collector.budget if collector is not None else None,
        **numbers,
        "reason": "; ".join(filter(None, [outcome.reason, *problems])) or None,
        "ceiling_bytes": spec.get("ceiling_bytes"),
        "live_set_bound_bytes": bound,
        **memray_numbers,
        "peak_ratio_to_bound": round(peak / bound, 4) if bound and peak is not None else None,
        "held_bytes_at_return": held_at_return,
        "held_bytes_after_collect": held_after_collect,
        **record_keys(numbers),
    }


def run_and_count_held(spec, workload, params, ops, counter):
    """The workload, then the bytes its graphs still hold, before and after a full collection."""
    outcome = run_in_process(spec, workload, params, ops, counter)
    # Counting allocates, which under `auto` could start a collection before the count;
    # (under memray, inside the tracked block, so that memray sees the cycles freed here as freed).
    gc.disable()
    held_at_return = ops.held_bytes()
    gc.collect()
    held_after_collect = ops.held_bytes()
    return outcome, held_at_return, held_after_collect


def time_once(spec):
    """The workload once, without memray: its wall time, the collector's runs, seconds and the iteration
    of each collection (to compare with the memray process's), and the array bytes."""
    workload, params, collector, ops, counter, counter_reason = prepare(spec)
    outcome = run_in_process(spec, workload, params, ops, counter)
    gc.enable()
    numbers = common_numbers(spec, outcome, collector, counter_reason)
    numbers["gc"]["collections"] = collection_positions(spec, workload, params, ops, counter, outcome.log)
    return {**numbers, **record_keys(numbers)}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m graphmem.profile.harness SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    write_json_atomically(argv[1], measure(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
