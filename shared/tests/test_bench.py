"""The bench harness on the installed variant at its smallest sizes, and BENCH.md from a fixture.

No timing is asserted: these prove the code runs and that the report's arithmetic is right.
"""
import json
import sys

import dezero
import numpy as np
import pytest

from expectations import EXPECTED
from graphmem.bench import report as bench_report
from graphmem.bench import run as bench
from graphmem.adapters import OursAdapter, UnknownImplementation, make_adapter
from graphmem.workloads.bench import binary_mix, branching, branching_functions, square_chain

SMOKE = bench.PLANS["smoke"]


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


def test_the_adapter_names_the_installed_variant_and_refuses_an_unknown_kind(ops):
    assert ops.name == dezero.VARIANT
    assert ops.versions()["numpy"] == np.__version__
    with pytest.raises(UnknownImplementation, match="unknown implementation kind 'nosuchlib'"):
        make_adapter("nosuchlib")


# --- Each measurement group at the smallest sizes ---------------------------------------
def test_per_op_measures_every_expression_size_and_phase_with_no_collection_inside():
    part = bench.measure("ours", "per_op", SMOKE)
    assert part["implementation"] == dezero.VARIANT
    cases = {(r["expression"], r["elements"], r["phase"]) for r in part["rows"]}
    assert cases == {(e, n, p) for e in bench.EXPRESSIONS for n in SMOKE.per_op_functions for p in bench.PHASES}
    for row in part["rows"]:
        assert len(row["samples_ns"]) == SMOKE.per_op_repeats
        assert row["collections"] == 0
        stats = row["per_function_ns"]
        assert stats["min"] <= stats["q1"] <= stats["median"] <= stats["q3"] <= stats["max"]
    json.dumps(part)  # what the subprocess writes must be JSON


def test_scaling_measures_both_graphs_at_every_size():
    rows = bench.measure("ours", "scaling", SMOKE)["rows"]
    assert {(r["graph"], r["size"]) for r in rows} == {(g, n) for g in ("chain", "branching")
                                                      for n in SMOKE.scaling_repeats}
    for row in rows:
        assert row["backward_ns"]["repeats"] == SMOKE.scaling_repeats[row["size"]]


def test_collection_counts_what_the_policy_leaves_for_the_collector():
    rows = bench.measure("ours", "collection", SMOKE)["rows"]
    assert [r["functions"] for r in rows] == sorted(SMOKE.collection_repeats)
    for row in rows:
        # A chain of n squares is n Functions and n output Variables, each with a __dict__.
        if EXPECTED.freed_on_drop:
            assert row["collected_objects"] == 0
        else:
            assert row["collected_objects"] >= 2 * row["functions"]
            assert row["reclaimed_bytes"] > 0


def test_teardown_frees_on_drop_exactly_when_the_policy_says_so():
    (row,) = bench.measure("ours", "teardown", SMOKE)["rows"]
    assert row["functions"] == SMOKE.teardown_functions
    assert row["freed_by_drop"] is EXPECTED.freed_on_drop


def test_a_group_the_kind_does_not_run_is_refused():
    with pytest.raises(bench.BenchInputError, match="group 'scaling' is not measured for kind 'book'"):
        bench.measure("book", "scaling", SMOKE)


def test_summarize_gives_quartiles_and_refuses_no_samples():
    stats = bench.summarize([10, 20, 30, 40, 50], per=10)
    assert stats == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 5.0, "repeats": 5}
    with pytest.raises(bench.BenchInputError, match="no samples"):
        bench.summarize([])


# --- The whole run, with one peer missing ----------------------------------------------
def write_records(folder, records):
    folder.mkdir()
    for record in records:
        (folder / f"{record['name']}.json").write_text(json.dumps(record))
    return folder


def test_run_measures_the_variant_in_subprocesses_and_records_a_missing_peer(tmp_path):
    envs = write_records(tmp_path / "envs", [
        {"name": dezero.VARIANT, "kind": "ours", "python": sys.executable},
        {"name": "torch", "kind": "torch", "unavailable": "torch==2.13.0 did not install"},
    ])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--out-dir", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert result["implementations"]["torch"] == {"kind": "torch", "note": None, "status": "unavailable",
                                                  "reason": "torch==2.13.0 did not install"}
    assert result["implementations"][dezero.VARIANT]["status"] == "ok"
    assert {r["implementation"] for r in result["per_op"]} == {dezero.VARIANT}
    assert result["environment"]["timer"] == "time.perf_counter_ns"
    markdown = (tmp_path / "out" / "BENCH.md").read_text()
    assert "not measured (torch==2.13.0 did not install)" in markdown
    assert (tmp_path / "out" / bench_report.CHART_NAME).stat().st_size > 0
    assert not list((tmp_path / "out").glob(".*tmp*"))


def test_a_variant_whose_interpreter_cannot_start_is_recorded_as_failed(tmp_path):
    envs = write_records(tmp_path / "envs", [
        {"name": dezero.VARIANT, "kind": "ours", "python": str(tmp_path / "no-such-python")},
    ])
    assert bench.main(["run", "--envs", str(envs), "--plan", "smoke", "--out-dir", str(tmp_path / "out")]) == 1
    entry = json.loads((tmp_path / "out" / "bench.json").read_text())["implementations"][dezero.VARIANT]
    assert entry["status"] == "failed" and "per_op could not run" in entry["reason"]


# --- Bad input --------------------------------------------------------------------------
def test_an_unknown_kind_or_group_on_the_command_line_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["measure", "--kind", "nosuchlib", "--group", "per_op", "--out", "x.json"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nosuchlib'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["measure", "--kind", "ours", "--group", "speed", "--out", "x.json"])
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


def per_op_rows(name, fwd_bwd_ns, collections=0, elements=1):
    return [{"implementation": name, "expression": expression, "elements": elements, "functions": 10,
             "phase": phase, "samples_ns": [], "collections": collections, "rounds": 1,
             "per_function_ns": stats(fwd_bwd_ns if phase == "forward+backward" else fwd_bwd_ns / 2)}
            for expression in bench.EXPRESSIONS for phase in bench.PHASES]


def scaling_rows(name, seconds_by_size):
    return [{"implementation": name, "graph": graph, "size": size, "functions": size,
             "backward_ns": stats(seconds * 1e9), "build_ns": stats(seconds * 1e9)}
            for graph in ("chain", "branching") for size, seconds in seconds_by_size.items()]


@pytest.fixture
def small_result():
    """A run with weakref at 1 µs per op, the book at 5 µs (0.20: met), torch missing, and
    gc_only with a collection inside its timed region."""
    return {
        "format": "graphmem-bench/1", "quick": False, "plan": bench.asdict(bench.PLANS["full"]),
        "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:10:00+00:00",
        "environment": {"cpu": "test CPU", "logical_cpus": 2, "platform": "test", "python": "3.11",
                        "load_average_at_start": [1.0, 1.0, 1.0], "load_average_at_end": [2.0, 1.5, 1.0],
                        "git_commit": "abc", "threads": {"OMP_NUM_THREADS": "1"}, "timer": "time.perf_counter_ns",
                        "command": "python3 -m nox -s bench"},
        "implementations": {
            "strong": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {"per_op": 30.0}},
            "weakref": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {}},
            "gc_only": {"kind": "ours", "status": "ok", "versions": {}, "peak_rss_mib": {}},
            "book": {"kind": "book", "status": "ok", "versions": {"numpy": "1.23.5"}, "peak_rss_mib": {}},
            "torch": {"kind": "torch", "status": "unavailable", "reason": "no wheel for this platform"},
        },
        "per_op": per_op_rows("weakref", 1000) + per_op_rows("strong", 1040) + per_op_rows("gc_only", 900, 2)
        + per_op_rows("book", 5000),
        "scaling": scaling_rows("weakref", {10**3: 0.001, 10**4: 0.01, 10**5: 0.11, 10**6: 1.43})
        + scaling_rows("strong", {10**3: 0.002}),
        "collection": [{"implementation": "strong", "functions": 1000, "collect_ns": stats(2e6), "samples_ns": [],
                        "reclaimed_bytes": 2**20, "collected_objects": 4001},
                       {"implementation": "weakref", "functions": 1000, "collect_ns": stats(1e6), "samples_ns": [],
                        "reclaimed_bytes": 512, "collected_objects": 0}],
        "teardown": [{"implementation": name, "functions": 100000, "drop_ns": stats(drop), "collect_after_ns": stats(c),
                      "freed_by_drop": freed}
                     for name, drop, c, freed in (("weakref", 4e7, 1e7, True), ("strong", 1e3, 9e7, False))],
    }


def targets_by_name(result):
    return {t["target"]: t for t in bench_report.evaluate_targets(result)}


def test_targets_are_met_or_not_from_the_ratios(small_result):
    targets = targets_by_name(small_result)
    book = targets["weakref fwd+bwd per op, 1 element, square_chain: × book's dezero 0.0.13"]
    assert book["value"] == pytest.approx(0.2) and book["met"] is True
    assert targets["weakref backward t(10n)/t(n), chain, 10^4 → 10^5"]["value"] == pytest.approx(11)
    assert targets["weakref backward t(10n)/t(n), chain, 10^4 → 10^5"]["met"] is True
    assert targets["weakref backward t(10n)/t(n), branching, 10^5 → 10^6"]["value"] == pytest.approx(13)
    assert targets["weakref backward t(10n)/t(n), branching, 10^5 → 10^6"]["met"] is False
    strong = targets["strong fwd+bwd per op, 1 element, binary_mix: × weakref"]
    assert strong["value"] == pytest.approx(1.04) and strong["met"] is True


def test_a_missing_peer_is_not_measured_with_its_reason(small_result):
    torch = targets_by_name(small_result)["weakref fwd+bwd per op, 1 element, square_chain: × PyTorch eager CPU"]
    assert torch["value"] is None and torch["met"] is None
    assert torch["why_unmeasured"] == "no wheel for this platform"


def test_parity_is_not_evaluated_where_collections_ran_in_the_timed_region(small_result):
    gc_only = targets_by_name(small_result)["gc_only fwd+bwd per op, 1 element, square_chain: × weakref"]
    assert gc_only["met"] is None and "2 collections ran" in gc_only["why_unmeasured"]


def test_a_ratio_just_past_its_limit_is_not_met(small_result):
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "strong"] \
        + per_op_rows("strong", 1051)
    assert targets_by_name(small_result)["strong fwd+bwd per op, 1 element, square_chain: × weakref"]["met"] is False


def test_markdown_shows_figures_ratios_targets_and_method(small_result):
    markdown = bench_report.render_markdown(small_result)
    assert "| weakref fwd+bwd per op, 1 element, square_chain: × book's dezero 0.0.13 | 0.200 | ≤ 0.25 | **met** |" \
        in markdown
    assert "**not met**" in markdown
    assert "| torch | torch | **unavailable**: no wheel for this platform |" in markdown
    assert "| chain of `square` | book | 2.5 µs [2.5 µs–2.5 µs] | 5.00× |" in markdown
    assert "| chain | 100,000 | weakref | 110 ms [110 ms–110 ms] | 1.00× | 11.00× |" in markdown
    assert "| strong | 1,000 | 2 ms [2 ms–2 ms] | 4,001 | 1.00 | 2 ms |" in markdown
    assert "| weakref | 1,000 | 1 ms [1 ms–1 ms] | 0 | 0.00 | – |" in markdown  # nothing freed: no per-MiB figure
    assert "| strong | 100,000 | 1 µs [1 µs–1 µs] | no | 90 ms [90 ms–90 ms] | 90 ms | 1.80× |" in markdown
    assert "numpy 1.23.5 (it needs numpy<1.24" in markdown
    assert "## Method" in markdown and "time.perf_counter_ns" in markdown
    assert "[1.0, 1.0, 1.0] at the start and [2.0, 1.5, 1.0] at the end" in markdown


def test_chart_has_one_series_per_variant_and_graph_and_is_written(small_result, tmp_path):
    labels = [label for label, _, _ in bench_report.chart_series(small_result)]
    assert labels == ["strong, chain", "strong, branching", "weakref, chain", "weakref, branching"]
    written = bench_report.write_report(small_result, tmp_path)
    assert [p.name for p in written] == ["BENCH.md", bench_report.CHART_NAME]
    assert (tmp_path / bench_report.CHART_NAME).read_bytes()[:4] == b"\x89PNG"
