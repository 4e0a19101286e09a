"""What the harness records about the interpreter and its collector, without moving the collector.

`CollectorLog` counts the collector's runs and seconds per generation and the workload iteration
of each collection: CPython's cyclic collections through `gc.callbacks`; PyPy's through
`gc.hooks` (runs[0] its minor collections, runs[2] its major ones, which are the ones that free
cycles; PyPy has no generation 1). `interpreter()` describes the process's interpreter for every
record. `set_start_phase` sets CPython's generation-0 count to a fraction of its threshold.

The log must not move what it records. On CPython every allocation of a collector-tracked object
raises the generation-0 count and every free of one lowers it, so the log allocates none that
outlive a collection except two: reading the iteration materializes the workload's frame object
(and, before 3.13, its locals dict), which live as long as the workload. For those it frees as
many of the objects it allocated before the loop, so the count stays where it would be.
Runs on Python 3.9 (PyPy 7.3.11).
"""
import gc
import platform
import sys
import sysconfig
import time

RESERVE = 8  # objects freed to give back those that reading the iteration keeps alive


class _Token:
    """A reserve object: a plain instance, allocated and freed through the collector's count (a list
    or a dict may come from and go to a free list, which the count does not see)."""


def _gen0():
    """CPython's generation-0 count (the tuple get_count makes is freed at once), None elsewhere."""
    return gc.get_count()[0] if hasattr(gc, "get_count") else None


def has_generations():
    return hasattr(gc, "get_count") and hasattr(gc, "get_threshold")


def interpreter():
    """The interpreter of this process: implementation, versions, numpy and the collector's thresholds."""
    import numpy

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return {
        "implementation": sys.implementation.name,
        "version": platform.python_version(),
        "implementation_version": ".".join(str(part) for part in sys.implementation.version[:3]),
        "numpy": numpy.__version__,
        "gc_threshold": list(gc.get_threshold()) if hasattr(gc, "get_threshold") else None,
        "free_threaded": free_threaded,
        "executable": sys.executable,
    }


class CollectorLog:
    """Runs and seconds per generation, and (generation, iteration) of each collection, while installed."""

    def __init__(self, codes=frozenset(), progress_local="iteration"):
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.generations = []  # one entry per collection, ints only (no tracked object per entry)
        self.iterations = []  # the workload's loop counter at that collection, or None
        self.uncompensated = 0  # objects kept alive that the reserve could not give back
        self._codes = codes
        self._local = progress_local
        self._frame = None
        self._reserve = [_Token() for _ in range(RESERVE)]
        self._started = None
        self._pypy = not hasattr(gc, "callbacks")

    # --- installing --------------------------------------------------------------------
    def install(self):
        if self._pypy:
            gc.hooks.set(self)  # reads on_gc_minor, on_gc_collect_step, on_gc_collect
        else:
            gc.callbacks.append(self)

    def uninstall(self):
        """Stops logging and lets the workload's frame go (it holds the workload's last locals)."""
        if self._pypy:
            gc.hooks.reset()
        else:
            gc.callbacks.remove(self)
        self._frame = None

    def collections(self):
        """[[generation, iteration], ...] in order (a fresh list: call it after uninstall)."""
        return [[generation, iteration] for generation, iteration in zip(self.generations, self.iterations)]

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
            self.iterations.append(self._iteration(2))

    # --- PyPy: gc.hooks -----------------------------------------------------------------
    def on_gc_minor(self, stats):
        self.runs[0] += stats.count
        self.seconds[0] += stats.duration

    def on_gc_collect_step(self, stats):
        self.seconds[2] += stats.duration  # a major collection is done in steps; their time is its time

    def on_gc_collect(self, stats):
        self.runs[2] += stats.count
        iteration = self._iteration(2)
        for _ in range(stats.count):
            self.generations.append(2)
            self.iterations.append(iteration)

    # --- the iteration ------------------------------------------------------------------
    def _iteration(self, depth):
        """The progress counter in the innermost workload frame of the stack `depth` frames up."""
        if self._frame is None:
            frame = sys._getframe(depth)
            while frame is not None and not (frame.f_code in self._codes
                                             and self._local in frame.f_code.co_varnames):
                frame = frame.f_back
            if frame is None:
                return None
            # Its frame object now lives while the workload runs (the frames walked past are
            # freed when their functions return, which gives their counts back by itself).
            self._frame = frame
            self._give_back(1)
        before = _gen0()
        value = self._frame.f_locals.get(self._local)
        if before is not None:
            self._give_back(_gen0() - before)  # the locals dict made by the first read (< 3.13)
        return value

    def _give_back(self, objects):
        if self._pypy:
            return
        for _ in range(objects):
            if self._reserve:
                self._reserve.pop()
            else:
                self.uncompensated += 1


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
