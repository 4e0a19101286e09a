"""What each memory policy is expected to free, and when, on the running interpreter: the one table
that names variants and interpreters.

Every test, in the contract and in shared/tests, reads the row of the installed variant on the running
interpreter (`EXPECTED`), so a test states the behaviour and this table states where it shows. A test
that does not apply to a row is marked `@pytest.mark.needs("<field>")` and is not collected where that
field is false or None (see conftest.py); no test asks which variant or interpreter it runs on.

Every number below is computed by hand from the seed loop's arrays and gc_only's counting rule,
written out here, never read from the variant under test. Importable on Python 3.9 (PyPy 7.3.11).
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Optional

import dezero

SEED_ARRAY_BYTES = 10_000 * 8  # one float64 array of the seed loop
SEED_GRAPH_ARRAYS = 4  # x and the three outputs of square(square(square(x)))
SEED_GRAPH_BYTES = SEED_GRAPH_ARRAYS * SEED_ARRAY_BYTES
SEED_ITERATIONS = 10
SMALL_BUDGET = 1 << 20  # gc_only's budget in the memory tests, so that 10 seed graphs pass it
# memray's peak also sees the loop's Python objects (a few kB): half an array of slack, so that one
# more array than computed (80 kB) already fails a bound.
SLACK_BYTES = SEED_ARRAY_BYTES // 2


# --- the interpreter's memory model ---------------------------------------------------------------

@dataclass(frozen=True)
class Interpreter:
    """How the running interpreter frees objects, as far as the contract depends on it."""

    name: str
    # A dropped object goes the moment its last reference does (CPython). Otherwise (PyPy's tracing GC)
    # it goes at the next collection that reaches it: nothing is freed at the drop.
    reference_counting: bool
    # Under gc.disable(), a dropped object may still be freed before a full collection: PyPy keeps
    # running minor collections (only major ones stop), so a young dropped graph can go at any allocation.
    frees_while_disabled: bool
    gen0_threshold: Optional[int]  # gc.get_threshold()[0] on CPython (700 on 3.11/3.12, 2000 on 3.13); None on PyPy
    memray: bool  # memray and pytest-memray exist here (CPython only)
    tracemalloc: bool  # tracemalloc exists here (CPython only)


def cpython_gen0_threshold(version):
    """CPython's default gen-0 threshold, from its release notes: 2000 since 3.13, 700 before."""
    return 2000 if version >= (3, 13) else 700


def running_interpreter():
    version = sys.version_info[:2]
    if sys.implementation.name == "cpython":
        return Interpreter(name=f"CPython {version[0]}.{version[1]}", reference_counting=True,
                           frees_while_disabled=False, gen0_threshold=cpython_gen0_threshold(version),
                           memray=True, tracemalloc=True)
    if sys.implementation.name == "pypy":
        return Interpreter(name=f"PyPy {platform.python_version()}", reference_counting=False,
                           frees_while_disabled=True, gen0_threshold=None, memray=False, tracemalloc=False)
    raise LookupError(f"the contract has no memory model for {sys.implementation.name}; add it to expectations.py")


INTERPRETER = running_interpreter()


# --- the policies ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    """What one variant does to a graph, independent of the interpreter."""

    acyclic: bool  # outputs hold their creator weakly: a dropped graph has no cycle (weakref)
    budgeted: bool  # the variant runs its own gc.collect() once graph bytes pass a budget (gc_only)


POLICIES = {
    "strong": Policy(acyclic=False, budgeted=False),
    "weakref": Policy(acyclic=True, budgeted=False),
    "gc_only": Policy(acyclic=False, budgeted=True),
}


# --- gc_only's count of one seed graph, by hand ---------------------------------------------------------
# Its collector counts, per recorded call: 512 B for the Function, 128 B + the array for each output,
# and 128 B + twice the array (data and future gradient) for each leaf input; an array is its data
# plus 112 B plus 16 B per dimension.
SEED_ARRAY_COUNTED = SEED_ARRAY_BYTES + 112 + 16  # 80,128
SEED_CALLS_COUNTED = (
    512 + (128 + SEED_ARRAY_COUNTED) + (128 + 2 * SEED_ARRAY_COUNTED),  # square(x), x a leaf: 241,152
    512 + (128 + SEED_ARRAY_COUNTED),  # the second square: 80,768
    512 + (128 + SEED_ARRAY_COUNTED),  # the third: 80,768
)


def seed_loop_under_budget(budget=SMALL_BUDGET, iterations=SEED_ITERATIONS):
    """Replay the seed loop by hand on gc_only's schedule with the collector off: (graphs still alive at
    the end, most arrays alive at once). Graph i is dropped when graph i+1 is bound to y; a collection
    runs when the count passes the budget after a call, and frees every graph dropped by then."""
    pending = {}  # graph -> bytes counted for it, while it is alive
    dropped, peak_arrays = set(), 0
    for i in range(iterations):
        pending[i] = 0
        for call, nbytes in enumerate(SEED_CALLS_COUNTED):
            pending[i] += nbytes
            arrays = SEED_GRAPH_ARRAYS * (len(pending) - 1) + 2 + call  # graph i so far: x and call+1 outputs
            peak_arrays = max(peak_arrays, arrays)
            if sum(pending.values()) > budget:
                for graph in dropped:
                    del pending[graph]
                dropped = set()
        if i > 0:
            dropped.add(i - 1)  # y = graph i: the previous graph has no name left
    return len(pending), peak_arrays  # `del x, y` drops the last graph too; no collection follows


# --- the rows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryExpectation:
    """How one policy, on one interpreter, frees a graph the program has dropped, with the collector off.
    A field that is None (or False) marks the tests that need it as not collected for this row."""

    variant: str
    interpreter: Interpreter
    freed_on_drop: bool  # gone the moment the last reference goes
    # The fate of a dropped graph is decided at the drop and at full collections only, so probing it after
    # other allocations tells which (False on PyPy: a minor collection may free it at any allocation).
    drop_is_deterministic: bool
    budget_collector: bool  # the variant has dezero.collector, a byte budget that runs gc.collect()
    # A dropped graph is freed once graph bytes pass the budget (by the budget's collection, or at the drop).
    freed_at_budget: bool
    seed_loop_survivors: Optional[int]  # seed graphs still alive after the loop and `del x, y`
    seed_loop_peak_limit: Optional[int]  # pytest-memray limit_memory for the seed loop, in bytes
    seed_loop_leak_limit: Optional[int]  # pytest-memray limit_leaks for the seed loop, per location, in bytes
    # A workload's peak stays within this multiple of its live-set bound (shared/graphmem/workloads/__init__.py);
    # None: no upper limit, because dropped graphs wait for a collector. Every policy's peak is at least the bound.
    workload_peak_at_most: Optional[float]
    # tracemalloc's peak over 30,000 dropped tiny graphs stays within this many tiny graphs (beyond the
    # budget where there is one); None: they pile up (nothing frees them with the collector off).
    tiny_loop_graphs_at_most: Optional[int]
    tiny_loop_budget: int  # the budget the tiny loop's peak may reach first: SMALL_BUDGET where there is one

    @property
    def no_budget_collector(self):
        return not self.budget_collector

    @property
    def gen0_threshold(self):
        return self.interpreter.gen0_threshold

    @property
    def memray(self):
        return self.interpreter.memray

    @property
    def tracemalloc(self):
        return self.interpreter.tracemalloc

    @property
    def tiny_graphs_pile_up(self):
        return self.tiny_loop_graphs_at_most is None and self.drop_is_deterministic


def expectation(variant, interpreter):
    policy = POLICIES[variant]
    freed_on_drop = policy.acyclic and interpreter.reference_counting
    deterministic = not interpreter.frees_while_disabled
    if freed_on_drop:
        # Reference counting frees the previous graph as the next is bound: at most two graphs alive,
        # and the loop's frame ends with none.
        survivors, peak_arrays, left_per_location = 0, 2 * SEED_GRAPH_ARRAYS, 0
    elif policy.budgeted:
        survivors, peak_arrays = seed_loop_under_budget()
        left_per_location = 3 * survivors  # the three outputs of each graph left, at square's forward
    else:
        # Each seed graph is a cycle: all of them stay.
        survivors, peak_arrays = SEED_ITERATIONS, SEED_ITERATIONS * SEED_GRAPH_ARRAYS
        left_per_location = 3 * SEED_ITERATIONS
    memray = interpreter.memray and deterministic
    return MemoryExpectation(
        variant=variant, interpreter=interpreter,
        freed_on_drop=freed_on_drop, drop_is_deterministic=deterministic,
        budget_collector=policy.budgeted,
        freed_at_budget=freed_on_drop or policy.budgeted,
        # Where minor collections run, the count depends on where the nursery fills: only the budget's
        # upper bound holds, and that is not an exact count.
        seed_loop_survivors=survivors if deterministic else None,
        seed_loop_peak_limit=peak_arrays * SEED_ARRAY_BYTES + SLACK_BYTES if memray else None,
        seed_loop_leak_limit=left_per_location * SEED_ARRAY_BYTES + SLACK_BYTES if memray else None,
        workload_peak_at_most=1.1 if freed_on_drop else None,
        # weakref: the graph bound to y, the one being built, and the temporaries of building it and of
        # memray's tracking, if on (under two graphs more). What is left is the one graph y holds: one
        # kept a loop too long leaves two.
        tiny_loop_graphs_at_most=4 if freed_on_drop else (4 if policy.budgeted else None),
        tiny_loop_budget=SMALL_BUDGET if policy.budgeted else 0,
    )


EXPECTATIONS = {variant: expectation(variant, INTERPRETER) for variant in POLICIES}
EXPECTED = EXPECTATIONS[dezero.VARIANT]
