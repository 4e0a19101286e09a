"""The NumPy array-bytes counter (shared/numpy_bytes) and the harness's use of it: exact counts, the
collector's schedule unmoved by it (on every interpreter given), memray's peak agreeing with it,
and the start phase moving the first collection.

Other interpreters join through GRAPHMEM_INTERPRETERS (paths of pythons, os.pathsep-separated),
each with numpy, the strong variant and the counter (pip install --no-build-isolation
shared/numpy_bytes) installed.
"""
import functools
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphmem.adapters import make_adapter
from graphmem.profile.collector_log import has_generations, iteration_starts, iterations_of, set_start_phase
from graphmem.workloads import WORKLOADS, code_objects
from expectations import EXPECTATIONS
from small_workloads import SMALL_PARAMS

import _numpy_bytes  # noqa: E402  built by every test environment (noxfile); its absence is a failure, not a skip

OURS = make_adapter("ours")
CPYTHON_GC = [True] if has_generations() else []  # gc.callbacks and a generation-0 count
SHARED = Path(__file__).resolve().parents[1]
INTERPRETERS = [sys.executable] + [path for path in os.environ.get("GRAPHMEM_INTERPRETERS", "").split(os.pathsep)
                                   if path and os.path.realpath(path) != os.path.realpath(sys.executable)]
try:
    import memray
except ImportError:
    memray = None



@pytest.fixture
def counter():
    if not _numpy_bytes.installed():
        _numpy_bytes.install()
    yield _numpy_bytes


# --- the counter itself -------------------------------------------------------------------
def test_counts_exact_bytes_of_each_array(counter):
    start = counter.live()
    a = np.empty(1000)  # 8000 bytes
    assert counter.live() - start == 8000
    b = np.zeros(300, dtype=np.int32)  # 1200 bytes, calloc
    assert counter.live() - start == 9200
    a.resize(2000, refcheck=False)  # realloc to 16000 bytes
    assert counter.live() - start == 17200
    counter.reset_peak()
    del a
    gc.collect()  # a dropped array's data goes at once under reference counting, at a collection on PyPy
    assert counter.live() - start == 1200
    assert counter.peak() - start == 17200
    del b
    gc.collect()
    assert counter.live() == start
    assert counter.stats()["size_mismatches"] == 0  # numpy's free size agrees with the table's


def test_an_array_made_before_counting_frees_uncounted(counter):
    counter.uninstall()
    try:
        older = np.ones(1000)
    finally:
        counter.install()
    before, unknown = counter.live(), counter.stats()["unknown_frees"]
    del older
    gc.collect()
    gc.collect()  # PyPy: its C part may go only at the next collection
    assert counter.live() == before
    assert counter.stats()["unknown_frees"] >= unknown + 1


def test_views_add_nothing(counter):
    a = np.ones(500)
    before = counter.live()
    view = a[::2]
    assert counter.live() == before
    del view, a


def test_install_twice_and_uninstall_twice_are_named(counter):
    with pytest.raises(RuntimeError, match="already installed"):
        counter.install()
    counter.uninstall()
    try:
        with pytest.raises(RuntimeError, match="not installed"):
            counter.uninstall()
        kept = np.ones(100)  # made by numpy's own handler: not counted
        before = counter.live()
        del kept
        gc.collect()
        assert counter.live() == before
    finally:
        counter.install()


def test_numpy_keeps_its_default_handler(counter):
    """The counter wraps the default handler's functions in place: numpy's context variable is untouched."""
    from numpy._core.multiarray import get_handler_name

    assert get_handler_name() == "default_allocator"
    assert get_handler_name(np.ones(3)) == "default_allocator"


# --- the schedule: the counter and the log do not move the collector ------------------------
@functools.lru_cache(maxsize=None)
def variant_of(python):
    """The variant installed for that interpreter."""
    done = subprocess.run([python, "-c", "import dezero; print(dezero.VARIANT)"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    return done.stdout.strip()


def harness(python, tmp_path, name, **spec):
    spec = {"variant": variant_of(python), "workload": "seed_loop", "mode": "auto", "gc_budget": None,
            "ceiling_bytes": None, "capture": str(tmp_path / f"{name}.bin"), "memray": False, **spec}
    done, result_path = harness_process(python, tmp_path, name, spec)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(result_path.read_text())


def harness_process(python, tmp_path, name, spec):
    """`python -m graphmem.profile.harness` on the spec: the finished process and its result's path."""
    spec_path, result_path = tmp_path / f"{name}.spec.json", tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SHARED), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([python, "-m", "graphmem.profile.harness", str(spec_path), str(result_path)],
                          env=env, capture_output=True, text=True)
    return done, result_path


@pytest.mark.parametrize("python", INTERPRETERS)
@pytest.mark.parametrize("params", [{"size": 100_000, "iterations": 100}, {"size": 1000, "iterations": 400}],
                         ids=["seed", "long"])
def test_collections_are_the_same_with_the_counter_as_without(python, params, tmp_path):
    without = harness(python, tmp_path, "without", params=params, numpy_bytes=False)
    counted = harness(python, tmp_path, "with", params=params, numpy_bytes=True)
    assert without["numpy_bytes"] is None and counted["numpy_bytes"] is not None
    if counted["interpreter"]["gc_threshold"] is not None:
        # CPython is deterministic: the same collections, and the count where it stood at the end
        # (any object more or less on the way would show there or move a collection).
        assert counted["gc"]["runs"] == without["gc"]["runs"]
        assert counted["gc_count_at_end"] == without["gc_count_at_end"]
        assert [g for g, _, _ in counted["gc"]["collections"]] == [g for g, _, _ in without["gc"]["collections"]]
        return
    # PyPy's major collections move by one iteration between identical runs without the counter
    # (measured: at iteration 371 or 372 in the long loop), so the counter's run is held to the
    # spread of two runs without it: the same number of collections, minor and major.
    again = harness(python, tmp_path, "without_again", params=params, numpy_bytes=False)
    assert counted["gc"]["runs"][2] == without["gc"]["runs"][2] == again["gc"]["runs"][2]
    low, high = sorted([without["gc"]["runs"][0], again["gc"]["runs"][0]])
    assert low - 1 <= counted["gc"]["runs"][0] <= high + 1


def test_the_seed_loop_begins_an_iteration_every_four_arrays(counter):
    """The book's loop allocates x's data and three squares per iteration: the traced run finds that."""
    workload = WORKLOADS["seed_loop"]
    starts = iteration_starts(workload, OURS, {"size": 16, "iterations": 5}, counter,
                              code_objects(workload.function.__code__))
    assert [iteration for iteration, _ in starts] == [0, 1, 2, 3, 4]
    assert [b - a for (_, a), (_, b) in zip(starts, starts[1:])] == [4, 4, 4, 4]


@pytest.mark.parametrize("name", list(SMALL_PARAMS))
def test_where_iterations_begin_does_not_depend_on_the_size(name, counter):
    workload = WORKLOADS[name]
    params = workload.params(SMALL_PARAMS[name])
    codes = code_objects(workload.function.__code__)
    small = iteration_starts(workload, OURS, dict(params, size=16), counter, codes)
    assert small == iteration_starts(workload, OURS, params, counter, codes)
    assert small, f"{name}: no iteration seen"


def test_positions_become_iterations():
    starts = [(0, 0), (1, 4), (2, 8)]
    assert iterations_of([0, 3, 4, 7, 8, 100, None], starts) == [0, 0, 1, 1, 2, 2, None]
    assert iterations_of([5], None) == [None]


# --- memray agrees ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SMALL_PARAMS) if memray is not None else [])
def test_memray_peak_and_the_counter_agree_within_two_percent(name, counter, tmp_path):
    workload = WORKLOADS[name]
    params = workload.params(SMALL_PARAMS[name])
    gc.collect()
    with memray.Tracker(tmp_path / "capture.bin", native_traces=False, trace_python_allocators=True):
        start = counter.live()
        counter.reset_peak()
        workload.function(OURS, **params)
        counted = counter.peak() - start
    gc.collect()
    with memray.FileReader(tmp_path / "capture.bin") as reader:
        traced = reader.metadata.peak_memory
    assert counted >= workload.live_set_bound(params)
    assert abs(traced - counted) <= 0.02 * counted, f"memray {traced} vs numpy_bytes {counted}"


# --- the start phase -------------------------------------------------------------------------
# CPython (a generation-0 count) with a variant whose dropped graphs wait for a collection (with
# one that frees them at the drop, the count never reaches the threshold in this loop).
GENERATIONAL = [python for python in INTERPRETERS
                if subprocess.run([python, "-c", "import gc; gc.get_count; gc.get_threshold"],
                                  capture_output=True).returncode == 0
                and not EXPECTATIONS[variant_of(python)].freed_on_drop]


@pytest.mark.parametrize("python", GENERATIONAL)
def test_the_start_phase_moves_the_first_collection(python, tmp_path):
    params = {"size": 1000, "iterations": 400}
    first, floor = {}, None
    for phase in (0, 0.25, 0.5, 0.75):
        result = harness(python, tmp_path, f"phase{phase}", params=params, start_phase=phase, numpy_bytes=True)
        threshold = result["interpreter"]["gc_threshold"][0]
        floor = result["gc_count_at_start"][0] if floor is None else floor  # what the harness itself leaves
        assert result["gc_count_at_start"][0] == max(floor, round(phase * threshold))
        first[phase] = next(iteration for generation, _, iteration in result["gc"]["collections"] if generation == 0)
    # The count grows by the same objects each iteration, so the first collection comes sooner in
    # proportion to the phase: the shift per unit of phase is the same for every phase (each shift
    # is exact to one iteration, which divided by a phase of 1/4 is 4).
    assert first[0] > first[0.25] > first[0.5] > first[0.75]
    per_unit = {phase: (first[0] - first[phase]) / phase for phase in (0.25, 0.5, 0.75)}
    assert max(per_unit.values()) - min(per_unit.values()) <= 4 + 0.05 * per_unit[0.25], first


@pytest.mark.parametrize("phase", [1, -0.1, 1.5, "half", True])
def test_a_bad_start_phase_is_named(phase):
    with pytest.raises(ValueError, match="start_phase must be a number in"):
        set_start_phase(phase, [])


@pytest.mark.parametrize("generational", CPYTHON_GC)
def test_start_phase_reaches_its_count(generational):
    keep = []
    gc.collect()
    reached = set_start_phase(0.5, keep)
    assert reached == round(0.5 * gc.get_threshold()[0])



# --- an interpreter without memray, tracemalloc or generations (PyPy) --------------------------
TRACING_ONLY = [python for python in INTERPRETERS
                if subprocess.run([python, "-c", "import gc; gc.get_count"], capture_output=True).returncode != 0]


@pytest.mark.parametrize("python", TRACING_ONLY)
def test_without_memray_the_counter_measures(python, tmp_path):
    result = harness(python, tmp_path, "pypy", params={"size": 10_000, "iterations": 10}, memray=True)
    assert result["peak_heap_bytes"] is None and "memray" in result["memray_unavailable"]
    assert result["numpy_bytes"]["peak"] >= result["live_set_bound_bytes"]
    assert result["interpreter"]["gc_threshold"] is None
    assert result["interpreter"]["implementation"] != "cpython"


@pytest.mark.parametrize("python", TRACING_ONLY)
def test_a_start_phase_without_generations_is_named(python, tmp_path):
    done, _ = harness_process(python, tmp_path, "phase", {
        "variant": variant_of(python), "workload": "seed_loop", "mode": "auto", "params": {"size": 10, "iterations": 2},
        "gc_budget": None, "memray": False, "start_phase": 0.5})
    assert done.returncode != 0
    assert "start_phase needs a generational collector's count" in done.stderr.strip().splitlines()[-1]
