"""Who frees a dropped graph, and when: weakref probes and memray bounds, per EXPECTED's row."""
import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

from dezero import Variable, square
from expectations import EXPECTED, SEED_ITERATIONS, SMALL_BUDGET
from graphmem.collector import collector_disabled

try:
    import tracemalloc
except ImportError:  # PyPy: the tests that use it need("tracemalloc") and are not collected there
    tracemalloc = None


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


def test_dropped_graph_at_the_drop_itself(collector_off):
    """Freed at once only where the policy leaves no cycle and the interpreter counts references."""
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
    """What the variant's collector counts for one build_graph()."""
    collector.collect()
    build_graph()
    return collector.pending_bytes


def graphs_below(collector, margin):
    """How many build_graph() outputs fit under the budget with `margin` graphs to spare."""
    return SMALL_BUDGET // graph_bytes_counted(collector) - margin


@pytest.mark.needs("drop_is_deterministic")
def test_dropped_graph_stays_until_a_collection_while_others_are_built(collector_off):
    """With the collector off nothing but the drop itself may free a graph, however much is built after it."""
    y, probes = build_graph()
    del y
    filler = [build_graph()[0] for _ in range(100)]
    assert alive(probes) == [not EXPECTED.freed_on_drop] * len(probes)
    assert all(y.creator is not None for y in filler)  # what the program keeps is never freed


@pytest.mark.needs("budget_collector", "drop_is_deterministic")
def test_dropped_graph_not_freed_before_the_budget(collector_off, small_budget):
    count = graphs_below(small_budget, margin=3)
    collections = small_budget.collections
    y, probes = build_graph()
    del y
    filler = [build_graph()[0] for _ in range(count)]  # stay below the budget
    assert small_budget.collections == collections
    assert alive(probes) == [True] * len(probes)
    assert all(y.creator is not None for y in filler)


@pytest.mark.needs("budget_collector")
def test_dropped_graph_freed_once_the_budget_passes(collector_off, small_budget):
    count = graphs_below(small_budget, margin=3)
    collections = small_budget.collections
    y, probes = build_graph()
    del y
    filler = [build_graph()[0] for _ in range(count)]
    for _ in range(4):  # pass the budget with graphs that are themselves dropped at once
        build_graph()
    assert small_budget.collections > collections
    assert alive(probes) == [False] * len(probes)
    assert all(y.creator is not None for y in filler)  # what the program keeps is never freed


@pytest.mark.needs("budget_collector")
def test_collections_triggered_are_counted(collector_off, small_budget):
    before_count, before_seconds = small_budget.collections, small_budget.seconds
    for _ in range(3):
        build_graph(size=SMALL_BUDGET // 8)  # each graph's outputs alone pass the budget
    assert small_budget.collections >= before_count + 3  # at least one per graph
    assert small_budget.seconds > before_seconds


@pytest.mark.needs("budget_collector")
def test_a_collection_that_frees_nothing_backs_off(collector_off, small_budget):
    """Graphs the program keeps are no garbage: collecting again and again would free nothing."""
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


@pytest.mark.needs("memray", "seed_loop_peak_limit")
@pytest.mark.limit_memory(f"{EXPECTED.seed_loop_peak_limit}B")
def test_seed_loop_peak_memory(collector_off, small_budget_if_any):
    seed_loop()


@pytest.mark.needs("memray", "seed_loop_leak_limit")
@pytest.mark.limit_leaks(f"{EXPECTED.seed_loop_leak_limit}B")
def test_seed_loop_leaks(collector_off, small_budget_if_any):
    seed_loop()


@pytest.mark.needs("seed_loop_survivors")
def test_seed_loop_holds_graphs_by_policy(collector_off, small_budget_if_any):
    """The deterministic twin of the memray bounds: count the seed's outputs still alive."""
    probes = []
    for i in range(SEED_ITERATIONS):
        x = Variable(np.random.randn(10000))
        y = square(square(square(x)))
        probes.append(weakref.ref(y))
    del x, y
    assert sum(probe() is not None for probe in probes) == EXPECTED.seed_loop_survivors


def test_a_full_collection_frees_every_dropped_seed_graph(collector_off):
    probes = []
    for i in range(SEED_ITERATIONS):
        x = Variable(np.random.randn(10000))
        y = square(square(square(x)))
        probes.append(weakref.ref(y))
    del x, y
    gc.collect()
    assert not any(probe() is not None for probe in probes)


@pytest.mark.needs("gen0_threshold")
def test_the_interpreters_collector_thresholds_are_the_models():
    assert gc.get_threshold()[0] == EXPECTED.gen0_threshold


def test_import_leaves_the_interpreters_collector_settings_alone():
    # Every setting the interpreter's gc module has (PyPy's has neither thresholds nor callbacks).
    settings = ("(gc.isenabled(), getattr(gc, 'get_threshold', tuple)(), "
                "len(getattr(gc, 'callbacks', ())))")
    code = f"import gc; before = {settings}; import dezero; after = {settings}; print(before == after)"
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


@pytest.mark.needs("budget_collector", "tracemalloc")
@pytest.mark.parametrize("shape", GRAPH_SHAPES)
def test_a_budget_counts_at_least_what_a_graph_holds(shape, collector_off, small_budget):
    """tracemalloc's bytes per kept graph never exceed what the variant's collector counted for it."""
    make, leaf = GRAPH_SHAPES[shape], Variable(np.array(1.0))
    small_budget.budget = 1 << 40  # no collection inside the measurement
    small_budget.collect()
    held, kept = bytes_held(lambda: make(leaf), count=200)
    assert held <= small_budget.pending_bytes, f"{held / 200:.0f} B held, {small_budget.pending_bytes / 200:.0f} B counted per graph"


def tiny_graph():
    return Variable(np.array(1.0)) * Variable(np.array(2.0))


def bytes_held(make, count):
    """tracemalloc's bytes held by `count` results of make(), all kept; and the kept results."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(count)]
        return tracemalloc.get_traced_memory()[0] - before, kept
    finally:
        tracemalloc.stop()


def tiny_loop():
    """tracemalloc's peak, and what is left at the end, beyond where it started, over 30,000 tiny graphs
    each dropped when the next is bound to y."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(30_000):  # about 30 MB of graphs: many budgets' worth
            y = tiny_graph()
        current, peak = tracemalloc.get_traced_memory()
        del y
        return peak - before, current - before
    finally:
        tracemalloc.stop()


def one_tiny_graph_bytes():
    with collector_disabled(collect_around=True):
        held, kept = bytes_held(tiny_graph, count=100)
    return held / 100


@pytest.mark.needs("tracemalloc", "tiny_loop_graphs_at_most")
def test_tiny_dropped_graphs_stay_within_their_bound(collector_off, small_budget_if_any):
    """A million tiny graphs held 70 times the budget when only output bytes were counted: the peak is
    the budget, if any, plus the few graphs the table allows; one graph kept a loop too long exceeds it."""
    one = one_tiny_graph_bytes()
    peak, left = tiny_loop()
    graphs = f"{peak} B at peak and {left} B left, {one:.0f} B per graph"
    assert peak <= EXPECTED.tiny_loop_budget + EXPECTED.tiny_loop_graphs_at_most * one, graphs
    # Left at the end: the graph y holds, and (with a budget) what has not reached it yet.
    assert left <= EXPECTED.tiny_loop_budget + 1.5 * one, graphs


@pytest.mark.needs("tracemalloc", "tiny_graphs_pile_up")
def test_tiny_dropped_graphs_pile_up_without_a_collector(collector_off):
    assert tiny_loop()[0] > 10 * SMALL_BUDGET  # nothing frees the cycles
