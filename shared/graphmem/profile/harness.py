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
"""
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from graphmem.atomic_files import write_json_atomically
from graphmem.profile.processes import start
from graphmem.sizes import format_size

MODES = ("auto", "off")
DEALLOCATORS = {"FREE", "MUNMAP", "PYMALLOC_FREE"}
MAX_SNAPSHOTS = 200  # memory-over-time points kept per run; the peak one is always among them


class CollectorLog:
    """Counts the cyclic collector's runs per generation and the seconds they take (a gc.callbacks entry)."""

    def __init__(self):
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = None

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop" and self._started is not None:
            generation = info["generation"]
            self.runs[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started
            self._started = None


def address_space_bytes():
    """This process's current virtual memory size (VmSize), which RLIMIT_AS limits."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def thin_snapshots(snapshots, start_ms, limit=MAX_SNAPSHOTS):
    """Memory over time as {t (s), heap, rss}, at most `limit` evenly spaced points plus the peak."""
    points = [{"t": round((s.time - start_ms) / 1000, 4), "heap": int(s.heap), "rss": int(s.rss)}
              for s in snapshots]
    if len(points) <= limit:
        return points
    step = len(points) / limit
    keep = {int(i * step) for i in range(limit)} | {len(points) - 1}
    keep.add(max(range(len(points)), key=lambda i: points[i]["heap"]))
    return [points[i] for i in sorted(keep)]


def allocation_totals(reader):
    """Number and bytes of allocations (not frees) in a capture, from its records."""
    from memray import AllocatorType

    count = total = 0
    for record in reader.get_allocation_records():
        if AllocatorType(record.allocator).name not in DEALLOCATORS:
            count += record.n_allocations
            total += record.size
    return count, total


def render(capture, spec):
    """Flamegraph, temporal flamegraph (offline HTML) and stats JSON, with memray's CLI, side by side."""
    commands = {}
    if spec.get("flamegraph"):
        commands["flamegraph"] = ["flamegraph", "--no-web", "-f", "-o", spec["flamegraph"]]
    if spec.get("temporal_flamegraph"):
        commands["temporal_flamegraph"] = ["flamegraph", "--temporal", "--no-web", "-f", "-o",
                                           spec["temporal_flamegraph"]]
    if spec.get("stats"):
        commands["stats"] = ["stats", "--json", "-f", "-o", spec["stats"]]
    processes = {}
    for key, args in commands.items():
        Path(args[-1]).parent.mkdir(parents=True, exist_ok=True)
        # In this harness's process group (the driver ends the group with the run), and dead with it.
        processes[key] = start([sys.executable, "-m", "memray", *args, str(capture)], new_group=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    written, problems = {}, []
    for key, process in processes.items():
        _, err = process.communicate()
        path = commands[key][-1]
        if process.returncode == 0 and os.path.exists(path):
            written[key] = path
        else:
            problems.append(f"memray {commands[key][0]} for {key} failed ({process.returncode}): "
                            f"{err.strip()[-300:]}")
    return written, problems


class Outcome:
    """What one call of the workload did: its status, time and the collector's work during it."""

    def __init__(self, status, reason, completed, wall_seconds, log):
        self.status, self.reason, self.completed, self.wall_seconds, self.log = (
            status, reason, completed, wall_seconds, log)


def run_workload(workload, params, ceiling, ops=None):
    """The one place a workload is called (through `ops`, the installed variant's adapter by default):
    timed, under the ceiling, with the collector logged."""
    if ops is None:
        from graphmem.adapters import make_adapter
        ops = make_adapter("ours")
    log = CollectorLog()
    soft_limit, hard_limit = resource.getrlimit(resource.RLIMIT_AS)
    status, reason, completed = "ok", None, workload.total_iterations(params)
    gc.callbacks.append(log)
    if ceiling:
        # The ceiling is address space on top of what the process already maps, so
        # it means the same in every variant; numpy raises MemoryError when it is hit.
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes() + ceiling, hard_limit))
    started = time.perf_counter()
    try:
        workload.function(ops, **ops.scaled_params(params))
    except MemoryError as error:
        wall_seconds = time.perf_counter() - started
        resource.setrlimit(resource.RLIMIT_AS, (soft_limit, hard_limit))
        completed = workload.progress_in(error.__traceback__)
        status = "ceiling"
        after = f" after {completed} {workload.progress_total}" if completed is not None else ""
        reason = f"stopped at the ceiling of {format_size(ceiling)}{after} ({error})"
        del error  # the traceback holds the workload's frame and so its last graph
    else:
        wall_seconds = time.perf_counter() - started
    resource.setrlimit(resource.RLIMIT_AS, (soft_limit, hard_limit))
    gc.callbacks.remove(log)
    return Outcome(status, reason, completed, wall_seconds, log)


def collector_numbers(log, collector):
    return {
        "runs": log.runs,
        "seconds": [round(s, 6) for s in log.seconds],
        "variant_collections": collector.collections if collector is not None else None,
        "variant_seconds": round(collector.seconds, 6) if collector is not None else None,
    }


def prepare(spec):
    """Checks the variant, sets gc_only's budget and the collector mode; returns (workload, params, collector, ops)."""
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
    gc.collect()
    if spec["mode"] == "off":
        gc.disable()
    else:
        gc.enable()
    return workload, params, collector, ops


def measure(spec):
    """Runs the spec's workload in this process, under memray unless `"memray": false`; returns its numbers."""
    if spec.get("memray", True) is False:
        return time_once(spec)
    import memray

    workload, params, collector, ops = prepare(spec)
    capture = Path(spec["capture"])
    capture.parent.mkdir(parents=True, exist_ok=True)
    capture.unlink(missing_ok=True)
    interval_ms = spec.get("memory_interval_ms", 10)

    with memray.Tracker(capture, native_traces=False, trace_python_allocators=True, follow_fork=False,
                        memory_interval_ms=interval_ms):
        outcome = run_workload(workload, params, spec.get("ceiling_bytes"), ops)
        # Counting allocates, which under `auto` could start a collection before the count;
        # inside the tracked block, so that memray sees the cycles freed here as freed.
        gc.disable()
        held_at_return = ops.held_bytes()
        gc.collect()
        held_after_collect = ops.held_bytes()
        # memray snapshots the heap every interval; wait out one more, so that the memory-over-time
        # line ends where the run really ends, after the final collection.
        time.sleep(interval_ms * 1.5 / 1000)
    gc.enable()

    with memray.FileReader(capture) as reader:
        metadata = reader.metadata
        start_ms = metadata.start_time.timestamp() * 1000
        snapshots = thin_snapshots(list(reader.get_memory_snapshots()), start_ms)
        total_allocations, total_bytes = allocation_totals(reader)

    files, problems = render(capture, spec)
    bound = ops.live_set_bound(workload, params)
    # A peer's record names its implementation (and, for a scalar library, the parameters it ran).
    who = ({"implementation": ops.name, "ran_params": ops.scaled_params(params)} if spec.get("implementation")
           else {"variant": ops.name})
    return {
        **who,
        "workload": workload.name,
        "mode": spec["mode"],
        "params": params,
        "gc_budget": collector.budget if collector is not None else None,
        "status": outcome.status,
        "reason": "; ".join(filter(None, [outcome.reason, *problems])) or None,
        "iterations_completed": outcome.completed,
        "ceiling_bytes": spec.get("ceiling_bytes"),
        "live_set_bound_bytes": bound,
        "peak_heap_bytes": metadata.peak_memory,
        "peak_ratio_to_bound": round(metadata.peak_memory / bound, 4) if bound else None,
        "total_allocations": total_allocations,
        "total_bytes_allocated": total_bytes,
        "wall_seconds": round(outcome.wall_seconds, 6),
        "snapshots": snapshots,
        "gc": collector_numbers(outcome.log, collector),
        "held_bytes_at_return": held_at_return,
        "held_bytes_after_collect": held_after_collect,
        "files": files,
    }


def time_once(spec):
    """The workload once, without memray: its wall time and the collector's runs and seconds."""
    workload, params, collector, ops = prepare(spec)
    outcome = run_workload(workload, params, spec.get("ceiling_bytes"), ops)
    gc.enable()
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "iterations_completed": outcome.completed,
        "wall_seconds": round(outcome.wall_seconds, 6),
        "gc": collector_numbers(outcome.log, collector),
    }


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
