"""What the harness records about the interpreter and its collector, without moving the collector.

`CollectorLog` counts the collector's runs and seconds per generation and where each collection
came: CPython's cyclic collections through `gc.callbacks`; PyPy's through `gc.hooks` (runs[0]
its minor collections, runs[2] its major ones, which are the ones that free cycles; PyPy has no
generation 1). `interpreter()` describes the process's interpreter for every record.
`set_start_phase` sets CPython's generation-0 count to a fraction of its threshold.

The log must not move what it records. On CPython every allocation of a collector-tracked object
raises the generation-0 count and (unless it goes to a free list) every free lowers it, never
below 0; reading the workload's loop counter from its frame would make frame objects and a
locals dict, whose frees later in the iteration the uninstrumented run does not have. So during
the run the log records only where each collection came as the number of NumPy arrays allocated
so far, read from the C counter (shared/numpy_bytes: a Python int, which the collector does not
track). `iteration_starts` then runs the workload once more, small and traced, to learn at which
array each iteration begins; `iterations_of` turns positions into iterations. The workloads are
seeded and allocate the same arrays in the same order whatever their size.
Runs on Python 3.9 (PyPy 7.3.11).
"""
import bisect
import gc
import platform
import sys
import sysconfig
import time


def has_generations():
    return hasattr(gc, "get_count") and hasattr(gc, "get_threshold")


def interpreter():
    """The interpreter of this process: implementation, versions, numpy and the collector's thresholds."""
    import numpy

    return {
        "implementation": sys.implementation.name,
        "version": platform.python_version(),
        "implementation_version": ".".join(str(part) for part in sys.implementation.version[:3]),
        "numpy": numpy.__version__,
        "gc_threshold": list(gc.get_threshold()) if hasattr(gc, "get_threshold") else None,
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "executable": sys.executable,
    }


class CollectorLog:
    """Runs and seconds per generation, and generation and position of each collection, while installed.

    `counter` is the numpy_bytes module (or None: then positions are None); a position is the
    number of arrays it counted since `install()`.
    """

    def __init__(self, counter=None):
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.generations = []  # one entry per collection, ints only (nothing tracked per entry)
        self.positions = []  # arrays allocated before that collection, or None
        self._counter = counter
        self._base = 0
        self._started = None
        self._pypy = not hasattr(gc, "callbacks")

    def install(self):
        if self._counter is not None:
            self._base = self._counter.allocations()
        if self._pypy:
            gc.hooks.set(self)  # reads on_gc_minor, on_gc_collect_step, on_gc_collect
        else:
            gc.callbacks.append(self)

    def uninstall(self):
        if self._pypy:
            gc.hooks.reset()
        else:
            gc.callbacks.remove(self)

    def _position(self):
        return self._counter.allocations() - self._base if self._counter is not None else None

    # --- CPython: gc.callbacks ----------------------------------------------------------
    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop" and self._started is not None:
            generation = info["generation"]
            self.runs[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started
            self._started = None
            self.generations.append(generation)
            self.positions.append(self._position())

    # --- PyPy: gc.hooks (called at the next safe point after the collection) ---------------
    def on_gc_minor(self, stats):
        self.runs[0] += stats.count
        self.seconds[0] += stats.duration

    def on_gc_collect_step(self, stats):
        self.seconds[2] += stats.duration  # a major collection is done in steps; their time is its time

    def on_gc_collect(self, stats):
        self.runs[2] += stats.count
        position = self._position()
        for _ in range(stats.count):
            self.generations.append(2)
            self.positions.append(position)

    def collections(self, starts=None):
        """[[generation, position, iteration], ...] in order; the iteration from `starts` (iteration_starts)."""
        iterations = iterations_of(self.positions, starts)
        return [[generation, position, iteration]
                for generation, position, iteration in zip(self.generations, self.positions, iterations)]


def record_keys(numbers):
    """The summary record's names for what the harness measured: `array_bytes` {peak, at_return} from the
    counter's figures, and `collection_iterations` [[iteration, generation], ...] where every collection's
    iteration is known."""
    keys = {}
    counted = numbers.get("numpy_bytes")
    if counted is not None:
        keys["array_bytes"] = {"peak": counted["peak"], "at_return": counted["live_at_return"]}
    pairs = iteration_pairs((numbers.get("gc") or {}).get("collections"))
    if pairs is not None and all(iteration is not None for iteration, _ in pairs):
        keys["collection_iterations"] = pairs
    return keys


def iteration_pairs(collections):
    """[[iteration, generation], ...] from CollectorLog.collections' [generation, arrays before, iteration];
    None for None."""
    return None if collections is None else [[iteration, generation] for generation, _, iteration in collections]


def iteration_starts(workload, ops, kwargs, counter, codes):
    """(iteration, arrays allocated before it) for each iteration, from one traced call of the workload.

    Call it after the measured run, with small arguments: the trace and the run are not measured."""
    starts, seen = [], [None]
    local = workload.progress_local
    base = counter.allocations()

    def in_frame(frame, event, arg):
        if event == "line":
            value = frame.f_locals.get(local)
            if value is not None and value != seen[0]:
                seen[0] = value
                starts.append((value, counter.allocations() - base))
        return in_frame

    def on_call(frame, event, arg):
        if frame.f_code in codes and local in frame.f_code.co_varnames:
            return in_frame
        return None

    sys.settrace(on_call)
    try:
        workload.function(ops, **kwargs)
    finally:
        sys.settrace(None)
    return starts


def iterations_of(positions, starts):
    """The iteration running at each position (None where unknown or before the first iteration)."""
    if not starts:
        return [None] * len(positions)
    boundaries = [allocated for _, allocated in starts]
    found = []
    for position in positions:
        index = bisect.bisect_right(boundaries, position) - 1 if position is not None else -1
        found.append(starts[index][0] if index >= 0 else None)
    return found


def set_start_phase(phase, keep):
    """Allocates empty lists into `keep` until CPython's generation-0 count is `phase` of its threshold.

    Returns the count reached. A phase in [0, 1); an interpreter without generations has none.
    """
    if isinstance(phase, bool) or not isinstance(phase, (int, float)) or not 0 <= phase < 1:
        raise ValueError(f"start_phase must be a number in [0, 1), got {phase!r}")
    if not has_generations():
        raise ValueError(f"start_phase needs a generational collector's count; "
                         f"{sys.implementation.name} has none")
    target = round(phase * gc.get_threshold()[0])
    while gc.get_count()[0] < target:
        keep.append([])
    return gc.get_count()[0]
