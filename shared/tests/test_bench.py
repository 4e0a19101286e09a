"""The bench harness on the installed variant at its smallest sizes, and BENCH.md from a fixture.

No timing is asserted: these prove the code runs, that the report's arithmetic is right, and
that only a full run is written where the record lives.
"""
import json
import sys
import tomllib
from dataclasses import asdict

import dezero
import numpy as np
import pytest

from expectations import EXPECTED
from graphmem.adapters import environments
from graphmem.adapters.environments import PeerEnvironment
from graphmem.bench import chart, envs, plan, targets
from graphmem.bench import measure as bench_measure
from graphmem.bench import report as bench_report
from graphmem.bench import run as bench
from graphmem.adapters import MinimalAdapter, OursAdapter, UnknownImplementation, make_adapter
from graphmem.facts import VARIANTS, VARIANTS_DIR
from graphmem.workloads.bench import binary_mix, branching, branching_functions, square_chain

SMOKE = plan.PLANS["smoke"]


@pytest.fixture(scope="module")
def ops():
    return OursAdapter()


def count_functions(y):
    """Functions in the graph behind y, found by walking creators and inputs."""
    seen, stack = set(), [y.creator]
    while stack:
        func = stack.pop()
        if func is None or func in seen:
            continue
        seen.add(func)
        stack += [x.creator for x in func.inputs]
    return len(seen)


# --- Workloads through the adapter ------------------------------------------------------
def test_square_chain_records_one_function_per_step_and_its_gradient(ops):
    x = ops.leaf(3, 0.5)
    y = square_chain(ops, x, 3)
    assert count_functions(y) == 3
    ops.backward(y)
    np.testing.assert_allclose(x.grad, 8 * 0.5 ** 7)  # d(x**8)/dx


def test_binary_mix_keeps_values_at_one_and_the_gradient_of_x_at_one(ops):
    x, c = ops.leaf(2, 1.0), ops.leaf(2, 1.0)
    y = binary_mix(ops, x, c, 8)
    assert count_functions(y) == 8
    np.testing.assert_array_equal(y.data, [1.0, 1.0])
    ops.backward(y)
    np.testing.assert_allclose(x.grad, [1.0, 1.0])


def test_binary_mix_refuses_a_length_that_is_not_whole_patterns(ops):
    with pytest.raises(ValueError, match="multiple of 4"):
        binary_mix(ops, ops.leaf(1, 1.0), ops.leaf(1, 1.0), 6)


@pytest.mark.parametrize("functions", [1, 2, 7, 10, 100])
def test_branching_records_the_count_it_reports_and_sums_every_branch(ops, functions):
    x = ops.leaf(1, 1.0)
    y = branching(ops, x, functions)
    assert count_functions(y) == branching_functions(functions)
    width = (branching_functions(functions) + 1) // 2
    np.testing.assert_allclose(y.data, [width])
    ops.backward(y)
    np.testing.assert_allclose(x.grad, [2.0 * width])


@pytest.mark.parametrize("shape", [(), (1,), (1000,)])
def test_the_minimal_floor_gives_the_variants_gradient_on_every_shape(ops, shape):
    floor = MinimalAdapter()
    grads = []
    for adapter in (ops, floor):
        x = adapter.leaf(shape, 0.5)
        y = square_chain(adapter, x, 3)
        assert y.data.shape == shape and isinstance(y.data, np.ndarray)
        adapter.backward(y)
        grads.append(x.grad)
    np.testing.assert_allclose(grads[1], grads[0])
    assert count_functions(y) == 3


def test_the_minimal_floor_holds_its_outputs_weakly_so_a_dropped_graph_is_freed_at_once():
    floor = MinimalAdapter()
    y = square_chain(floor, floor.leaf((), 1.0), 5)
    probe = __import__("weakref").ref(y.creator)
    del y
    assert probe() is None


def test_the_adapter_names_the_installed_variant_and_refuses_an_unknown_kind(ops):
    assert ops.name == dezero.VARIANT
    assert ops.versions()["numpy"] == np.__version__
    with pytest.raises(UnknownImplementation, match="unknown implementation kind 'nosuchlib'"):
        make_adapter("nosuchlib")


# --- Each measurement group at the smallest sizes ---------------------------------------
def test_per_op_measures_every_expression_size_and_phase_with_no_collection_inside():
    part = bench_measure.measure("ours", "per_op", SMOKE)
    assert part["implementation"] == dezero.VARIANT
    cases = {(r["expression"], r["shape"], r["phase"]) for r in part["rows"]}
    assert cases == {(e, s, p) for e in plan.EXPRESSIONS for s in SMOKE.per_op_functions for p in plan.PHASES}
    assert {r["shape"]: r["elements"] for r in part["rows"]} == {"0-d": 1, "(1,)": 1, "(1000,)": 1000}
    for row in part["rows"]:
        assert len(row["samples_ns"]) == SMOKE.per_op_repeats
        assert row["collections"] == 0
        stats = row["per_function_ns"]
        assert stats["min"] <= stats["q1"] <= stats["median"] <= stats["q3"] <= stats["max"]
    json.dumps(part)  # what the subprocess writes must be JSON
    cost = part["weakref_cost"]  # weakref.ref's own cost, measured beside the per-op rows
    assert cost["objects"] > 0 and cost["create+dereference_ns"]["repeats"] == SMOKE.per_op_repeats
    assert cost["create_ns"]["median"] >= 0 and cost["dereference_ns"]["median"] >= 0


def test_the_floor_runs_the_square_chain_only_and_has_no_weakref_probe():
    part = bench_measure.measure("minimal", "per_op", SMOKE)
    assert part["implementation"] == "minimal"
    assert {r["expression"] for r in part["rows"]} == {"square_chain"}
    assert "weakref_cost" not in part


@pytest.mark.parametrize("kind", ["ours", "minimal"])
def test_the_profile_names_the_autograd_s_functions_not_the_harness(kind):
    rows = bench_measure.measure(kind, "profile", SMOKE)["rows"]
    # The floor has no binary operators: its profile is of the square chain only.
    assert [row["expression"] for row in rows] == (["square_chain", "binary_mix"] if kind == "ours"
                                                   else ["square_chain"])
    for row in rows:
        assert row["profiler"] == "cProfile" and row["shape"] == "0-d"
        names = {entry["function"] for entry in row["functions_profiled"]}
        assert "backward" in names and "__call__" in names
        assert not [e for e in row["functions_profiled"] if e["where"].startswith(("workloads/", "adapters/"))]
        assert row["total_own_ns_per_op"] >= sum(e["own_ns_per_op"] for e in row["functions_profiled"]) * 0.999
    if kind == "ours":
        assert "_sum_to" in {e["function"] for e in rows[1]["functions_profiled"]}  # binary ops' backward


def test_scaling_measures_both_graphs_at_every_size():
    rows = bench_measure.measure("ours", "scaling", SMOKE)["rows"]
    assert {(r["graph"], r["size"]) for r in rows} == {(g, n) for g in ("chain", "branching")
                                                      for n in SMOKE.scaling_repeats}
    for row in rows:
        assert row["backward_ns"]["repeats"] == SMOKE.scaling_repeats[row["size"]]


def test_collection_counts_what_the_policy_leaves_for_the_collector():
    rows = bench_measure.measure("ours", "collection", SMOKE)["rows"]
    assert [r["functions"] for r in rows] == sorted(SMOKE.collection_repeats)
    for row in rows:
        # A chain of n squares is n Functions and n output Variables, each with a __dict__.
        if EXPECTED.freed_on_drop:
            assert row["collected_objects"] == 0
        else:
            assert row["collected_objects"] >= 2 * row["functions"]
            assert row["reclaimed_bytes"] > 0


def test_teardown_frees_on_drop_exactly_when_the_policy_says_so():
    (row,) = bench_measure.measure("ours", "teardown", SMOKE)["rows"]
    assert row["functions"] == SMOKE.teardown_functions
    assert row["freed_by_drop"] is EXPECTED.freed_on_drop


def test_a_group_the_kind_does_not_run_is_refused():
    with pytest.raises(plan.BenchInputError, match="group 'scaling' is not measured for kind 'book'"):
        bench_measure.measure("book", "scaling", SMOKE)
    with pytest.raises(plan.BenchInputError, match="group 'teardown' is not measured for kind 'minimal'"):
        bench_measure.measure("minimal", "teardown", SMOKE)


def test_summarize_gives_quartiles_and_refuses_no_samples():
    stats = plan.summarize([10, 20, 30, 40, 50], per=10)
    assert stats == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 5.0, "repeats": 5}
    with pytest.raises(plan.BenchInputError, match="no samples"):
        plan.summarize([])


# --- The whole run, with one peer missing ----------------------------------------------
def write_records(folder, records):
    folder.mkdir()
    for record in records:
        (folder / f"{record['name']}.json").write_text(json.dumps(record))
    return folder


def test_run_measures_the_variant_in_subprocesses_and_records_a_missing_peer(tmp_path):
    envs = write_records(tmp_path / "envs", [
        {"name": dezero.VARIANT, "kind": "ours", "python": sys.executable},
        {"name": "minimal", "kind": "minimal", "python": sys.executable},
        {"name": "torch", "kind": "torch", "unavailable": "torch==2.13.0 did not install"},
    ])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--out-dir", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert result["implementations"]["torch"] == {"kind": "torch", "note": None, "status": "unavailable",
                                                  "reason": "torch==2.13.0 did not install"}
    assert result["implementations"][dezero.VARIANT]["status"] == "ok"
    assert {r["implementation"] for r in result["per_op"]} == {dezero.VARIANT, "minimal"}
    assert [r["implementation"] for r in result["weakref_cost"]] == [dezero.VARIANT]
    assert {r["implementation"] for r in result["profile"]} == {dezero.VARIANT, "minimal"} & set(plan.PROFILED)
    assert all(set(r["round_medians_ns"]) == {"0"} for r in result["per_op"])
    assert result["environment"]["timer"] == "time.perf_counter_ns"
    assert result["record"] is False and result["environment"]["command"].endswith("--plan smoke --out-dir "
                                                                                   + str(tmp_path / "out"))
    markdown = (tmp_path / "out" / "BENCH.md").read_text()
    assert "not measured (torch==2.13.0 did not install)" in markdown
    assert (tmp_path / "out" / chart.CHART_NAME).stat().st_size > 0
    assert not list((tmp_path / "out").glob(".*tmp*"))


def test_a_variant_whose_interpreter_cannot_start_is_recorded_as_failed(tmp_path):
    envs = write_records(tmp_path / "envs", [
        {"name": dezero.VARIANT, "kind": "ours", "python": str(tmp_path / "no-such-python")},
    ])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--out-dir", str(tmp_path / "out")]) == 1
    entry = json.loads((tmp_path / "out" / "bench.json").read_text())["implementations"][dezero.VARIANT]
    assert entry["status"] == "failed" and "per_op could not run" in entry["reason"]


def test_a_peer_that_crashes_is_reported_by_its_error_on_one_line(tmp_path):
    crashing = tmp_path / "crashing-python"
    crashing.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                        "echo '  File \"x.py\", line 1' >&2\necho \"ModuleNotFoundError: No module named 'numpy'\" >&2\n"
                        "exit 1\n")
    crashing.chmod(0o755)
    envs = write_records(tmp_path / "envs", [
        {"name": dezero.VARIANT, "kind": "ours", "python": sys.executable},
        {"name": "torch", "kind": "torch", "python": str(crashing)},
    ])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--group", "per_op",
                       "--out-dir", str(tmp_path / "out")]) == 0  # a peer's failure is recorded, not fatal
    torch = json.loads((tmp_path / "out" / "bench.json").read_text())["implementations"]["torch"]
    assert torch["status"] == "failed"
    assert torch["reason"] == "per_op exited with code 1: ModuleNotFoundError: No module named 'numpy'"
    markdown = (tmp_path / "out" / "BENCH.md").read_text()
    assert has_row(markdown, "torch", "torch", "**failed**: per_op exited with code 1: ModuleNotFoundError: No module "
                   "named 'numpy'")


# --- Quick is not the record -----------------------------------------------------------
@pytest.fixture
def record_folders(tmp_path, monkeypatch):
    """The record and scratch folders moved into tmp_path, the record holding a full run's files."""
    record, scratch = tmp_path / "reports", tmp_path / "build" / "bench-quick"
    monkeypatch.setattr(plan, "RECORD_DIR", record)
    monkeypatch.setattr(plan, "SCRATCH_DIR", scratch)
    record.mkdir()
    for name in ("BENCH.md", "bench.json", chart.CHART_NAME):
        (record / name).write_text(f"the full run's {name}")
    return record, scratch


@pytest.mark.parametrize("options", [["--plan", "smoke"], ["--plan", "smoke", "--only", "minimal"],
                                     ["--plan", "smoke", "--group", "per_op"]])
def test_a_quick_or_partial_run_leaves_the_record_and_calls_itself_indicative(tmp_path, record_folders, options):
    record, scratch = record_folders
    envs = write_records(tmp_path / "envs", [{"name": dezero.VARIANT, "kind": "ours", "python": sys.executable},
                                             {"name": "minimal", "kind": "minimal", "python": sys.executable}])
    assert bench.main(["run", "--envs", str(envs), *options]) == 0
    for name in ("BENCH.md", "bench.json", chart.CHART_NAME):
        assert (record / name).read_text() == f"the full run's {name}"
    markdown = (scratch / "BENCH.md").read_text()
    assert "**Indicative, not the record**" in markdown and "## Targets (indicative)" in markdown
    assert json.loads((scratch / "bench.json").read_text())["record"] is False


def test_an_indicative_run_says_so_even_where_it_was_asked_to_write(tmp_path, record_folders):
    record, _ = record_folders
    envs = write_records(tmp_path / "envs", [{"name": "minimal", "kind": "minimal", "python": sys.executable}])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--out-dir", str(record)]) == 0
    assert "**Indicative, not the record**" in (record / "BENCH.md").read_text()


def test_only_a_full_run_of_everything_goes_to_the_record(record_folders):
    record, scratch = record_folders
    full, quick = plan.PLANS["full"], plan.PLANS["quick"]
    assert bench.output_folder(None, full, []) == record
    assert bench.output_folder(None, full, ["implementations weakref only"]) == scratch
    assert bench.output_folder(None, quick, []) == scratch
    assert bench.output_folder(tmp := record / "elsewhere", quick, []) == tmp


def test_a_subset_is_described_and_an_unknown_implementation_is_named():
    records = {"weakref": {}, "torch": {}}
    assert bench.select(records, None, None) == (records, bench.GROUPS, [])
    chosen, groups, subset = bench.select(records, ["torch"], ["teardown", "per_op"])
    assert list(chosen) == ["torch"] and groups == ("per_op", "teardown")
    assert subset == ["implementations torch only", "groups per_op, teardown only"]
    with pytest.raises(plan.BenchInputError, match="--only names jax, which have no environment record"):
        bench.select(records, ["jax"], None)


# --- Bad input --------------------------------------------------------------------------
def test_an_unknown_kind_or_group_on_the_command_line_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_measure.main(["--kind", "nosuchlib", "--group", "per_op", "--out", "x.json"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nosuchlib'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_measure.main(["--kind", "ours", "--group", "speed", "--out", "x.json"])
    assert "invalid choice: 'speed'" in capsys.readouterr().err


def test_quick_and_another_plan_together_are_refused(tmp_path, capsys):
    assert bench.main(["run", "--envs", str(tmp_path), "--quick", "--plan", "full"]) == 2
    assert "--quick contradicts --plan full" in capsys.readouterr().err


def test_a_missing_or_empty_records_folder_is_named(tmp_path, capsys):
    assert bench.main(["run", "--envs", str(tmp_path / "absent")]) == 2
    assert f"no environment records folder {tmp_path / 'absent'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert bench.main(["run", "--envs", str(tmp_path / "empty")]) == 2
    assert "no environment records (*.json)" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"name": "x", "kind": "nosuchlib", "python": "p"}), "needs name, kind"),
    (json.dumps({"name": "x", "kind": "ours"}), "and python or unavailable"),
])
def test_a_malformed_record_is_named(tmp_path, capsys, content, message):
    (tmp_path / "x.json").write_text(content)
    assert bench.main(["run", "--envs", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error and str(tmp_path / "x.json") in error


def test_the_report_command_names_a_missing_or_broken_result(tmp_path, capsys):
    assert bench_report.main(["--json", str(tmp_path / "bench.json"), "--out-dir", str(tmp_path)]) == 2
    assert "no bench result at" in capsys.readouterr().err
    (tmp_path / "bench.json").write_text("[1,")
    assert bench_report.main(["--json", str(tmp_path / "bench.json"), "--out-dir", str(tmp_path)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    (tmp_path / "bench.json").write_text("{}")
    assert bench_report.main(["--json", str(tmp_path / "bench.json"), "--out-dir", str(tmp_path)]) == 2
    assert "has no 'implementations' section" in capsys.readouterr().err


# --- Rendering from a fixture -----------------------------------------------------------
def stats(median):
    return {"median": median, "q1": median, "q3": median, "min": median, "max": median, "repeats": 3}


def per_op_rows(name, fwd_bwd_ns, collections=0, shapes=("0-d", "(1,)", "(1000,)"), spread=0.0,
                expressions=plan.EXPRESSIONS):
    """Rows of one implementation: fwd+bwd at fwd_bwd_ns per op, its two rounds `spread` apart."""
    rows = []
    for shape in shapes:
        for expression in expressions:
            for phase in plan.PHASES:
                median = fwd_bwd_ns if phase == "forward+backward" else fwd_bwd_ns / 2
                rows.append({"implementation": name, "expression": expression, "shape": shape,
                             "elements": 1000 if shape == "(1000,)" else 1, "functions": 10, "phase": phase,
                             "samples_ns": [], "collections": collections, "rounds": 2,
                             "round_medians_ns": {"0": median * (1 - spread), "1": median * (1 + spread)},
                             "per_function_ns": stats(median)})
    return rows


def scaling_rows(name, seconds_by_size):
    return [{"implementation": name, "graph": graph, "size": size, "functions": size,
             "backward_ns": stats(seconds * 1e9), "build_ns": stats(seconds * 1e9)}
            for graph in ("chain", "branching") for size, seconds in seconds_by_size.items()]


@pytest.fixture
def small_result():
    """A full run with weakref at 1 µs per op, the book at 5 µs (0.20: met), the floor at 1.25 µs
    (0.80: not met), torch missing, and gc_only with a collection inside its timed region."""
    return {
        "format": "graphmem-bench/2", "quick": False, "record": True, "subset": [],
        "plan": asdict(plan.PLANS["full"]),
        "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:10:00+00:00",
        "environment": {"cpu": "test CPU", "logical_cpus": 2, "platform": "test", "python": "3.11",
                        "load_average_at_start": [1.0, 1.0, 1.0], "load_average_at_end": [2.0, 1.5, 1.0],
                        "git_commit": "abc", "threads": {"OMP_NUM_THREADS": "1"}, "timer": "time.perf_counter_ns",
                        "command": "python3 -m nox -s bench"},
        "implementations": {
            "strong": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {"per_op": 30.0}},
            "weakref": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {}},
            "gc_only": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {}},
            "book": {"kind": "book", "status": "ok", "versions": {"dezero": "0.0.13", "numpy": "1.23.5"},
                     "peak_rss_mib": {}},
            "minimal": {"kind": "minimal", "status": "ok", "versions": {}, "peak_rss_mib": {}},
            "torch": {"kind": "torch", "status": "unavailable", "reason": "no wheel for this platform"},
        },
        "per_op": per_op_rows("weakref", 1000) + per_op_rows("strong", 880, spread=0.02)
        + per_op_rows("gc_only", 900, 2) + per_op_rows("book", 5000)
        + per_op_rows("minimal", 1250, expressions=("square_chain",)),
        "weakref_cost": [{"implementation": "weakref", "round": r, "objects": 10, "create_ns": stats(60),
                          "dereference_ns": stats(10), "create+dereference_ns": stats(70)} for r in (0, 1)],
        "profile": [{"implementation": name, "shape": "0-d", "expression": "square_chain", "functions": 1000,
                     "repeats": 20, "profiler": "cProfile", "total_own_ns_per_op": total,
                     "functions_profiled": entries} for name, total, entries in (
            ("weakref", 4000, [{"function": "__call__", "where": "dezero/core.py:161", "calls_per_op": 1.0,
                                "own_ns_per_op": 3000, "cumulative_ns_per_op": 3500},
                               {"function": "_checked_grad", "where": "dezero/core.py:124", "calls_per_op": 1.0,
                                "own_ns_per_op": 1000, "cumulative_ns_per_op": 1000}]),
            ("minimal", 2500, [{"function": "__call__", "where": "bench/minimal.py:59", "calls_per_op": 1.0,
                                "own_ns_per_op": 2500, "cumulative_ns_per_op": 2500}]))],
        "scaling": scaling_rows("weakref", {10**3: 0.001, 10**4: 0.01, 10**5: 0.105, 10**6: 1.365})
        + scaling_rows("strong", {10**3: 0.002}),
        "collection": [{"implementation": "strong", "functions": 1000, "collect_ns": stats(2e6), "samples_ns": [],
                        "reclaimed_bytes": 2**20, "collected_objects": 4001},
                       {"implementation": "weakref", "functions": 1000, "collect_ns": stats(1e6), "samples_ns": [],
                        "reclaimed_bytes": 512, "collected_objects": 0}],
        "teardown": [{"implementation": name, "functions": 100000, "drop_ns": stats(drop), "collect_after_ns": stats(c),
                      "freed_by_drop": freed}
                     for name, drop, c, freed in (("weakref", 4e7, 1e7, True), ("strong", 1e3, 9e7, False))],
    }


def table_rows(markdown):
    """Every Markdown table line as its list of cells, padding stripped."""
    return [[cell.strip() for cell in line.strip()[1:-1].split(" | ")]
            for line in markdown.splitlines() if line.startswith("| ")]


def has_row(markdown, *cells):
    """Whether some table row holds these cells side by side."""
    n = len(cells)
    return any(row[i:i + n] == list(cells) for row in table_rows(markdown) for i in range(len(row) - n + 1))


def targets_by_name(result):
    return {t["target"]: t for t in targets.evaluate_targets(result)}
def test_targets_are_met_or_not_from_the_ratios(small_result):
    targets = targets_by_name(small_result)
    for shape in ("0-d", "(1,)"):
        book = targets[f"weakref fwd+bwd per op, {shape}, binary_mix: × book's dezero 0.0.13"]
        assert book["value"] == pytest.approx(0.2) and book["met"] is True
        floor = targets[f"weakref fwd+bwd per op, {shape}, square_chain: × the minimal step-17 floor"]
        assert floor["value"] == pytest.approx(0.8) and floor["met"] is False
    assert not [name for name in targets if "binary_mix: × the minimal" in name]  # the floor has square only
    assert not [name for name in targets if "(1000,)" in name and "× " in name]  # numpy's time, no target
    chain = targets["weakref backward t(10n)/t(n), chain, 10^4 → 10^5"]
    assert chain["value"] == pytest.approx(10.5) and chain["met"] is True
    branching = targets["weakref backward t(10n)/t(n), branching, 10^5 → 10^6"]
    assert branching["value"] == pytest.approx(13) and branching["met"] is False
    assert targets["weakref backward t(10n)/t(n), chain, 10^3 → 10^4"]["value"] == pytest.approx(10)


def test_strong_against_weakref_is_reported_with_its_spread_over_rounds(small_result):
    strong = targets_by_name(small_result)["strong/weakref fwd+bwd per op, (1000,), square_chain"]
    assert strong["value"] == pytest.approx(0.88) and strong["met"] == "reported"
    assert strong["spread"] == pytest.approx((0.88 * 0.98, 0.88 * 1.02))


def test_a_missing_peer_is_not_measured_with_its_reason(small_result):
    torch = targets_by_name(small_result)["weakref fwd+bwd per op, 0-d, square_chain: × PyTorch eager CPU"]
    assert torch["value"] is None and torch["met"] is None
    assert torch["why_unmeasured"] == "no wheel for this platform"


def test_a_ratio_is_not_reported_where_collections_ran_in_the_timed_region(small_result):
    gc_only = targets_by_name(small_result)["gc_only/weakref fwd+bwd per op, 0-d, square_chain"]
    assert gc_only["met"] is None and "2 collections ran" in gc_only["why_unmeasured"]


def test_a_ratio_just_past_its_limit_is_not_met(small_result):
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "book"] \
        + per_op_rows("book", 3999)
    target = targets_by_name(small_result)["weakref fwd+bwd per op, (1,), square_chain: × book's dezero 0.0.13"]
    assert target["value"] > 0.25 and target["met"] is False


def test_markdown_shows_figures_ratios_targets_and_method(small_result):
    markdown = bench_report.render_markdown(small_result)
    assert has_row(markdown, "weakref fwd+bwd per op, 0-d, square_chain: × book's dezero 0.0.13", "0.200 [0.200–0.200]",
                   "≤ 0.25", "**met**")
    assert "**not met**" in markdown
    assert "the committed record" in markdown and "Indicative" not in markdown
    assert "Where the targets come from" in markdown
    assert has_row(markdown, "torch", "torch", "**unavailable**: no wheel for this platform")
    assert "### 0-d arrays (`np.array(1.0)`, as every example in the book)" in markdown
    assert has_row(markdown, "chain of `square`", "book", "2.5 µs [2.5 µs–2.5 µs]", "5.00×")
    assert has_row(markdown, "chain", "100,000", "weakref", "105.0 ms [105.0 ms–105.0 ms]", "1.00×", "10.50×")
    assert has_row(markdown, "strong", "1,000", "2.0 ms [2.0 ms–2.0 ms]", "4,001", "1.00", "2.0 ms")
    assert has_row(markdown, "weakref", "1,000", "1.0 ms [1.0 ms–1.0 ms]", "0", "0.00", "–")  # nothing freed: no per-MiB
    assert has_row(markdown, "strong", "100,000", "1 µs [1 µs–1 µs]", "no", "90.0 ms [90.0 ms–90.0 ms]", "90.0 ms", "1.80×")
    assert "numpy 1.23.5 (it needs numpy<1.24" in markdown
    assert "## Method" in markdown and "time.perf_counter_ns" in markdown
    assert "[1.0, 1.0, 1.0] at the start and [2.0, 1.5, 1.0] at the end" in markdown


def test_the_policy_cost_separates_weakref_calls_from_the_rest(small_result):
    markdown = bench_report.render_markdown(small_result)
    assert has_row(markdown, "weakref", "0.06 µs [0.06 µs–0.06 µs]", "0.01 µs [0.01 µs–0.01 µs]",
                   "0.07 µs [0.07 µs–0.07 µs]", "2")
    # weakref 1 µs, strong 880 ns: 120 ns more per op, 70 of them the two weakref calls.
    assert has_row(markdown, "0-d", "chain of `square`", "0.88 µs", "1 µs", "+0.12 µs", "0.880 [0.862–0.898]",
                   "strong lower than weakref", "0.07 µs", "+0.05 µs")


def test_a_target_not_met_brings_the_profile_of_what_remains(small_result):
    markdown = bench_report.render_markdown(small_result)
    section = markdown.split("## Profile of what remains")[1].split("\n## ")[0]
    assert "× the minimal step-17 floor = 0.800 (limit ≤ 0.6)" in section
    assert has_row(section, "`_checked_grad`", "dezero/core.py:124", "1", "1 µs", "25%")
    assert "no namesake in the floor's: `_checked_grad` 1 µs" in section
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "minimal"] \
        + per_op_rows("minimal", 2000, expressions=("square_chain",))
    assert "Every per-operation target this run measured is met" in bench_report.render_markdown(small_result)


def test_a_result_not_marked_as_the_record_is_indicative_throughout(small_result):
    small_result.update(record=False, subset=["implementations weakref only"])
    markdown = bench_report.render_markdown(small_result)
    assert "**Indicative, not the record**: implementations weakref only." in markdown
    assert "## Targets (indicative)" in markdown and "the committed record" not in markdown




def test_chart_has_one_series_per_variant_and_graph_and_is_written(small_result, tmp_path):
    labels = [label for label, _, _ in chart.chart_series(small_result)]
    assert labels == ["strong, chain", "strong, branching", "weakref, chain", "weakref, branching"]
    written = bench_report.write_report(small_result, tmp_path)
    assert [p.name for p in written] == ["BENCH.md", chart.CHART_NAME]
    assert (tmp_path / chart.CHART_NAME).read_bytes()[:4] == b"\x89PNG"


# --- The committed record -----------------------------------------------------------------
def test_the_committed_bench_md_is_a_full_run_rendered_from_the_committed_bench_json():
    result = bench_report.load_result(plan.RECORD_DIR / "bench.json")
    assert result["record"] is True and result["plan"]["name"] == plan.RECORD_PLAN and not result["subset"], \
        "reports/bench.json is not a full run: only `python3 -m nox -s bench` with no options writes the record"
    expected = bench_report.render_markdown(result)
    actual = (plan.RECORD_DIR / "BENCH.md").read_text(encoding="utf-8")
    assert actual == expected, ("reports/BENCH.md has drifted from reports/bench.json; re-render it with "
                                "`PYTHONPATH=shared python -m graphmem.bench.report` (or rerun `python3 -m nox -s "
                                "bench`) and commit the result")
    assert "Indicative" not in actual
    assert (plan.RECORD_DIR / chart.CHART_NAME).read_bytes()[:4] == b"\x89PNG"


def test_a_scaling_step_past_its_limit_shows_its_paired_spread_and_says_when_that_crosses_the_limit(small_result):
    for row in small_result["scaling"]:
        if row["implementation"] == "weakref" and row["graph"] == "branching":
            row["backward_samples_ns"] = {10**5: [100, 110], 10**6: [1050, 1540]}.get(row["size"], [1, 1])
    target = targets_by_name(small_result)["weakref backward t(10n)/t(n), branching, 10^5 → 10^6"]
    assert target["value"] == pytest.approx(13) and target["met"] is False
    assert target["spread"] == pytest.approx((10.5, 14.0))  # 1050/100 and 1540/110, repetition by repetition
    assert target["why_unmeasured"] == "within noise: its min–max range spans the limit"
    markdown = bench_report.render_markdown(small_result)
    assert has_row(markdown, "13.000 [10.500–14.000]", "≤ 11", "**not met** (within noise: its min–max range spans the limit)")
    for row in small_result["scaling"]:
        if row["size"] == 10**6:
            row["backward_samples_ns"] = [1300, 1400]
    target = targets_by_name(small_result)["weakref backward t(10n)/t(n), branching, 10^5 → 10^6"]
    assert target["met"] is False and target["why_unmeasured"] is None  # every repetition is past the limit


# --- Environments: built the way profile builds them, each peer from its adapter's pins ----------
def test_the_floor_s_numpy_pin_is_the_variants_own_requirement():
    requirements = {dep for variant in VARIANTS for dep in tomllib.loads(
        (VARIANTS_DIR / variant / "pyproject.toml").read_text())["project"]["dependencies"] if dep.startswith("numpy")}
    assert [list(step) for step in MinimalAdapter.install_steps] == [sorted(requirements)]


def test_build_records_builds_through_the_shared_environments_and_records_a_peer_that_cannot_install(
        tmp_path, monkeypatch):
    built = []

    def fake_variant(name, env_dir, requirements, **options):
        built.append((name, options["prefix"]))
        return PeerEnvironment(name, tmp_path / name / "python", None, None)

    def fake_peer(name, env_dir, requirements, **options):
        built.append((name, options["prefix"]))
        return PeerEnvironment(name, None, None, "pip install torch==2.13.0 failed") if name == "torch" \
            else PeerEnvironment(name, tmp_path / name / "python", {}, None)

    monkeypatch.setattr(envs, "variant_environment", fake_variant)
    monkeypatch.setattr(envs, "peer_environment", fake_peer)
    records = envs.build_records(tmp_path, say=lambda text: None)
    assert built == [("strong", "bench-"), ("weakref", "bench-"), ("gc_only", "bench-"), ("minimal", "bench-peer-"),
                     ("book", "bench-peer-"), ("torch", "bench-peer-")]
    assert records["torch"] == {"name": "torch", "kind": "torch", "note": "pip install torch==2.13.0 numpy",
                                "unavailable": "pip install torch==2.13.0 failed"}
    assert records["book"]["note"] == "pip install dezero==0.0.13 numpy==1.23.5 matplotlib<3.10"
    assert records["weakref"] == {"name": "weakref", "kind": "ours", "note": None,
                                  "python": str(tmp_path / "weakref" / "python")}
    with pytest.raises(plan.BenchInputError, match="--only names jax, which bench does not run"):
        envs.build_records(tmp_path, ["jax"])
    monkeypatch.setattr(envs, "variant_environment",
                        lambda name, *a, **k: PeerEnvironment(name, None, None, "pip install failed"))
    with pytest.raises(plan.BenchInputError, match="could not build the strong environment: pip install failed"):
        envs.build_records(tmp_path, ["strong"])


def test_a_variant_environment_is_reused_until_its_sources_or_requirements_change(tmp_path):
    folder = tmp_path / "bench-weakref"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").write_text("")
    source = VARIANTS_DIR / "weakref"
    (folder / environments.STAMP).write_text(environments.variant_fingerprint(source, []))
    said = []
    found = environments.variant_environment("weakref", tmp_path, [], say=said.append, prefix="bench-")
    assert found.python == folder / "bin" / "python" and found.unavailable is None and said == []
    assert environments.variant_fingerprint(source, ["x"]) != environments.variant_fingerprint(source, [])
    missing = environments.variant_environment("nosuch", tmp_path, [], say=said.append, prefix="bench-")
    assert missing.python is None and missing.unavailable.startswith("no variant folder")
