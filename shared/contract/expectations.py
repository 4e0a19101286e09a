"""What each memory policy is expected to free, and when: the one table that names variants.

Every test, in the contract and in shared/tests, reads the row of the installed variant
(`EXPECTED`), so a test states the behaviour and this table states which policy shows it.
"""
from dataclasses import dataclass

import dezero

SEED_ARRAY_BYTES = 10_000 * 8  # one float64 array of the seed loop
SEED_GRAPH_BYTES = 4 * SEED_ARRAY_BYTES  # x and the three outputs of square(square(square(x)))
SEED_ITERATIONS = 10
SMALL_BUDGET = 1 << 20  # gc_only's budget in the memory tests, so that 10 seed graphs pass it


@dataclass(frozen=True)
class MemoryExpectation:
    """How one policy frees a graph the program has dropped, with the cyclic collector off."""

    freed_on_drop: bool  # by reference counting alone, the moment the last reference goes
    freed_at_budget: bool  # by the variant's own gc.collect() once graph bytes pass its budget
    seed_loop_peak_limit: int  # pytest-memray limit_memory for the seed loop, in bytes
    seed_loop_leak_limit: int  # pytest-memray limit_leaks for the seed loop, per location, in bytes
    # A workload's peak stays within this multiple of its live-set bound (shared/graphmem/workloads/__init__.py);
    # None: no upper limit, because dropped graphs wait for a collector. Every policy's peak is at least the bound.
    workload_peak_at_most: float | None


EXPECTATIONS = {
    # Each seed graph is a cycle; with the collector off all ten stay: 10 graphs, 3.2 MB.
    "strong": MemoryExpectation(
        freed_on_drop=False, freed_at_budget=False,
        seed_loop_peak_limit=SEED_ITERATIONS * SEED_GRAPH_BYTES + SEED_GRAPH_BYTES,
        seed_loop_leak_limit=SEED_ITERATIONS * SEED_GRAPH_BYTES,
        workload_peak_at_most=None,
    ),
    # Reference counting frees the previous graph as the next one is bound: at most two
    # graphs are alive, and nothing is left when the loop's frame goes.
    "weakref": MemoryExpectation(
        freed_on_drop=True, freed_at_budget=True,
        seed_loop_peak_limit=2 * SEED_GRAPH_BYTES + SEED_ARRAY_BYTES,
        seed_loop_leak_limit=SEED_ARRAY_BYTES,
        workload_peak_at_most=1.1,
    ),
    # Cycles pile up until the bytes the collector counts for graphs not yet freed (their arrays,
    # each leaf's data and future gradient, per-object overhead) pass SMALL_BUDGET; then a
    # collection frees every dropped graph. The peak is the budget plus the two graphs the loop
    # holds at once and the array being made; what is left at the end is under the budget.
    "gc_only": MemoryExpectation(
        freed_on_drop=False, freed_at_budget=True,
        seed_loop_peak_limit=SMALL_BUDGET + 2 * SEED_GRAPH_BYTES + SEED_ARRAY_BYTES,
        seed_loop_leak_limit=SMALL_BUDGET + SEED_GRAPH_BYTES,
        workload_peak_at_most=None,
    ),
}

EXPECTED = EXPECTATIONS[dezero.VARIANT]
