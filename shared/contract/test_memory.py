"""Who frees a dropped graph, and when: weakref probes and memray bounds, per EXPECTED's row."""
import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

import dezero
from dezero import Variable, square
from expectations import EXPECTED, SEED_ITERATIONS, SMALL_BUDGET


def build_graph(size=100):
    """x -> square -> square -> y; returns the output and probes on its inner nodes."""
    x = Variable(np.random.randn(size))
    y = square(square(x))
    inner = y.creator.inputs[0]
    probes = [weakref.ref(obj) for obj in (y, y.creator, inner, inner.creator)]
    return y, probes


def alive(probes):
    return [probe() is not None for probe in probes]


def test_graph_is_alive_while_the_output_is_referenced(collector_off):
    y, probes = build_graph()
    assert all(alive(probes))
    y.backward()
    assert all(alive(probes))


def test_dropped_graph_under_reference_counting_alone(collector_off):
    y, probes = build_graph()
    del y
    expected = [not EXPECTED.freed_on_drop] * len(probes)
    assert alive(probes) == expected


def test_dropped_graph_after_a_full_collection(collector_off):
    y, probes = build_graph()
    del y
    gc.collect()
    assert not any(alive(probes))


def graph_bytes_counted(collector):
    """What the variant's collector counts for one build_graph(), or a nominal figure without one."""
    if collector is None:
        return 2 * 100 * 8  # the two square outputs of build_graph(100)
    collector.collect()
    build_graph()
    return collector.pending_bytes


def test_dropped_graph_freed_at_the_budget_and_not_before(collector_off, small_budget):
    graph_bytes = graph_bytes_counted(small_budget)
    y, probes = build_graph()
    del y
    # Stay below the budget: nothing but reference counting may have freed it yet.
    filler = []
    for _ in range(SMALL_BUDGET // graph_bytes - 3):
        filler.append(build_graph()[0])
    assert alive(probes) == [not EXPECTED.freed_on_drop] * len(probes)
    # Pass the budget with graphs that are themselves dropped at once.
    for _ in range(4):
        build_graph()
    assert alive(probes) == [not EXPECTED.freed_at_budget] * len(probes)
    assert all(y.creator is not None for y in filler)  # what the program keeps is never freed


def test_collections_triggered_are_counted(collector_off, small_budget):
    if small_budget is None:
        assert not hasattr(dezero, "collector")
        return
    before_count, before_seconds = small_budget.collections, small_budget.seconds
    for _ in range(3):
        build_graph(size=SMALL_BUDGET // 8)  # each graph's outputs alone pass the budget
    assert small_budget.collections >= before_count + 3
    assert small_budget.seconds > before_seconds


def test_a_collection_that_frees_nothing_backs_off(collector_off, small_budget):
    """Graphs the program keeps are no garbage: collecting again and again would free nothing."""
    if small_budget is None:
        assert not hasattr(dezero, "collector")
        return
    small_budget.collect()
    before = small_budget.collections
    kept = [build_graph(size=1000)[0] for _ in range(1000)]  # about 30 budgets' worth, all kept
    # Each fruitless collection raises the threshold by a quarter of what survived: a dozen
    # collections, not one per budget's worth.
    assert small_budget.collections - before <= 14
    assert small_budget.threshold >= 16 * SMALL_BUDGET
    del kept
    count = small_budget.collections
    for _ in range(100):  # the next collection, at the raised threshold, frees the dropped graphs
        build_graph(size=SMALL_BUDGET // 8)
        if small_budget.collections > count:
            break
    assert small_budget.pending_bytes < 8 * SMALL_BUDGET  # only the graph under construction is left


def seed_loop():
    for i in range(SEED_ITERATIONS):
        x = Variable(np.random.randn(10000))
        y = square(square(square(x)))  # noqa: F841 - the seed keeps y until the next iteration


@pytest.mark.limit_memory(f"{EXPECTED.seed_loop_peak_limit}B")
def test_seed_loop_peak_memory(collector_off, small_budget):
    seed_loop()


@pytest.mark.limit_leaks(f"{EXPECTED.seed_loop_leak_limit}B")
def test_seed_loop_leaks(collector_off, small_budget):
    seed_loop()


def test_seed_loop_holds_graphs_by_policy(collector_off, small_budget):
    """The deterministic twin of the memray bounds: count the seed's outputs still alive."""
    probes = []
    for i in range(SEED_ITERATIONS):
        x = Variable(np.random.randn(10000))
        y = square(square(square(x)))
        probes.append(weakref.ref(y))
    del x, y
    survivors = sum(probe() is not None for probe in probes)
    if EXPECTED.freed_on_drop:
        assert survivors == 0
    elif EXPECTED.freed_at_budget:
        assert 0 < survivors < SEED_ITERATIONS
    else:
        assert survivors == SEED_ITERATIONS


def test_import_leaves_the_interpreters_collector_settings_alone():
    code = ("import gc; before = (gc.isenabled(), gc.get_threshold(), len(gc.callbacks)); import dezero; "
            "after = (gc.isenabled(), gc.get_threshold(), len(gc.callbacks)); print(before == after)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


# --- what a budget bounds (issue 10): everything a dropped graph holds, not just its outputs ---

GRAPH_SHAPES = {
    "square of a kept leaf": lambda leaf: square(leaf),
    "product of two fresh 0-d leaves": lambda leaf: Variable(np.array(1.0)) * Variable(np.array(2.0)),
    "the same with backward": lambda leaf: backward_and_keep(Variable(np.array(1.0)) * Variable(np.array(2.0))),
    "seed graph of 1000 with backward": lambda leaf: backward_and_keep(square(square(Variable(np.ones(1000))))),
    "2-d graph": lambda leaf: Variable(np.ones((3, 4))) * Variable(np.ones((1, 4))),
}


def backward_and_keep(y):
    y.backward()
    return y


@pytest.mark.parametrize("shape", GRAPH_SHAPES)
def test_a_budget_counts_at_least_what_a_graph_holds(shape, collector_off, small_budget):
    """tracemalloc's bytes per kept graph never exceed what the variant's collector counted for it."""
    if small_budget is None:
        assert not hasattr(dezero, "collector")
        return
    import tracemalloc
    make, leaf, kept, count = GRAPH_SHAPES[shape], Variable(np.array(1.0)), [], 200
    small_budget.budget = 1 << 40  # no collection inside the measurement
    small_budget.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(count):
            kept.append(make(leaf))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= small_budget.pending_bytes, f"{held / count:.0f} B held, {small_budget.pending_bytes / count:.0f} B counted per graph"


def test_tiny_dropped_graphs_stay_within_the_budget(collector_off, small_budget):
    """A million tiny graphs held 70 times the budget when only output bytes were counted."""
    import tracemalloc
    tracemalloc.start()
    try:
        for _ in range(30_000):  # about 30 MB of graphs: many budgets' worth, each dropped at once
            y = Variable(np.array(1.0)) * Variable(np.array(2.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if EXPECTED.freed_at_budget:
        assert peak <= SMALL_BUDGET + 64 * 1024  # the budget plus the last graphs and the loop's own
    else:
        assert peak > 10 * SMALL_BUDGET  # nothing frees the cycles: they pile up
