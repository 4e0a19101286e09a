"""The shared workloads and their live-set bounds, measured directly with tracemalloc (or, where the
interpreter has none, as on PyPy, with the numpy_bytes counter of shared/numpy_bytes)."""
import gc
import inspect

try:
    import tracemalloc
except ImportError:  # PyPy
    tracemalloc = None

import numpy.random  # noqa: F401  numpy imports it lazily; its import must not count as a workload's memory
import pytest

from graphmem import workloads
from graphmem.adapters import make_adapter
from graphmem.workloads import WORKLOADS
from expectations import EXPECTED
from small_workloads import SMALL_PARAMS

OURS = make_adapter("ours")



def traced_peak(function, **params):
    """Peak bytes traced (numpy reports its array data to tracemalloc) while function runs."""
    if tracemalloc is None:
        return counted_peak(function, **params)
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        function(OURS, **params)
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
        gc.collect()


def counted_peak(function, **params):
    """Peak bytes of array data counted by numpy_bytes while function runs."""
    counter = pytest.importorskip("_numpy_bytes", reason="no tracemalloc here, and shared/numpy_bytes is not built")
    if not counter.installed():
        counter.install()
    gc.collect()
    start = counter.live()
    counter.reset_peak()
    function(OURS, **params)
    peak = counter.peak() - start
    gc.collect()
    return peak


def test_every_workload_has_small_params_here():
    assert set(SMALL_PARAMS) == set(WORKLOADS)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_peak_respects_the_live_set_bound(name):
    workload = WORKLOADS[name]
    params = workload.params(SMALL_PARAMS[name])
    bound = workload.live_set_bound(params)
    peak = traced_peak(workload.function, **params)
    assert peak >= bound, f"{name}: peak {peak} below its live-set bound {bound}: the bound is wrong"
    if EXPECTED.workload_peak_at_most is not None:
        assert peak <= EXPECTED.workload_peak_at_most * bound, (
            f"{name}: peak {peak} is {peak / bound:.3f}x its bound {bound}")


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_registry_entry_describes_the_function(name):
    workload = WORKLOADS[name]
    signature = inspect.signature(workload.function)
    assert list(signature.parameters)[0] == "ops"  # every workload runs over an adapter
    assert set(workload.default_params) <= set(signature.parameters)
    assert set(workload.full_params) <= set(signature.parameters)
    assert workload.full_params.get("size") == 1_000_000
    assert workload.progress_total in workload.default_params
    assert any(workload.progress_local in code.co_varnames
               for code in workloads.code_objects(workload.function.__code__))
    assert workload.description and workload.bound_formula
    # Workloads are plain: no profiling or collector code inside them.
    source = inspect.getsource(workload.function)
    for word in ("memray", "tracemalloc", "gc.", "Tracker"):
        assert word not in source


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_bound_grows_with_the_array_size(name):
    workload = WORKLOADS[name]
    small = workload.live_set_bound({"size": 1000})
    assert workload.live_set_bound({"size": 2000}) == 2 * small > 0


def test_seed_loop_bound_is_eight_arrays():
    assert WORKLOADS["seed_loop"].live_set_bound({"size": 100_000, "iterations": 2}) == 8 * 100_000 * 8


@pytest.mark.parametrize("overrides, message", [
    ({"sizes": 10}, "has no parameter 'sizes'"),
    ({"size": 0}, "size must be a positive integer"),
    ({"size": 1.5}, "size must be a positive integer"),
    ({"iterations": True}, "iterations must be a positive integer"),
    ({"lr": -1.0}, "lr must be a positive number"),
])
def test_bad_parameters_are_named(overrides, message):
    name = "rosenbrock" if "lr" in overrides else "seed_loop"
    with pytest.raises(ValueError, match=message):
        WORKLOADS[name].params(overrides)


def test_workloads_are_seeded(monkeypatch):
    drawn = []
    real_randn = workloads.np.random.randn
    monkeypatch.setattr(workloads.np.random, "randn", lambda n: drawn.append(real_randn(n)) or drawn[-1])
    workloads.seed_loop(OURS, size=5, iterations=2)
    workloads.seed_loop(OURS, size=5, iterations=2)
    assert all((a == b).all() for a, b in zip(drawn[:2], drawn[2:]))


@pytest.mark.parametrize("name, params, counter", [
    ("seed_loop", {"size": 4, "iterations": 5}, 3),
    ("deep_chain", {"size": 4, "depth": 9}, 6),  # the counter of the chain nested in the workload
])
def test_progress_is_read_from_the_frame_that_failed(name, params, counter):
    """The harness reports how far a workload got when it stopped; the loop may be nested in a traced graph."""

    ops, calls = make_adapter("ours"), []

    def stopping(op):
        def counted(*args):
            calls.append(op)
            if len(calls) > counter:
                raise MemoryError("stop")
            return op(*args)
        return counted

    ops.neg, ops.variable = stopping(ops.neg), stopping(ops.variable)
    workload = WORKLOADS[name]
    with pytest.raises(MemoryError) as stopped:
        workload.function(ops, **params)
    # deep_chain makes its leaf first (one call), then counts negs from 0
    assert workload.progress_in(stopped.value.__traceback__) == (counter if name == "seed_loop" else counter - 1)
