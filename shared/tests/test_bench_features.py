"""The features group: the installed core with each feature switched off, the lean design, and the
explanation BENCH.md derives from them. No timing is asserted, only what runs and what is derived."""
from pathlib import Path

import dezero
import dezero.core
import numpy as np
import pytest

from graphmem.bench import features, lean, plan
from graphmem.bench import measure as bench_measure
from graphmem.bench import report as bench_report
from test_bench import SMOKE, has_row, per_op_rows, small_result, table_rows  # noqa: F401 (small_result is a fixture)

CORE_SOURCE = Path(dezero.core.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize("ablation", features.ABLATIONS, ids=lambda a: a.name)
def test_every_ablation_finds_its_lines_in_the_installed_core_and_keeps_the_gradient(ablation):
    """A core edit that moves a check's line must fail here, not silently measure nothing."""
    module = features.compiled_core(features.ablated_source(CORE_SOURCE, ablation.replacements), ablation.name)
    x = module.Variable(np.array(0.5))
    y = module.square(module.square(x)) * module.Variable(np.array(3.0))  # Variables only: conversion may be off
    y.backward()
    assert x.grad == pytest.approx(12 * 0.5 ** 3)  # d(3 x**4)/dx


def test_a_check_switched_off_is_really_off():
    source = features.ablated_source(CORE_SOURCE, features.ABLATIONS[0].replacements)
    assert features.ABLATIONS[0].name == "data checks"
    features.compiled_core(source, "data checks").Variable([1.0, 2.0])  # a list: the installed core raises
    with pytest.raises(TypeError, match="numpy.ndarray or None, got list"):
        dezero.Variable([1.0, 2.0])


def test_text_that_is_not_in_the_core_exactly_once_is_an_error_naming_it():
    with pytest.raises(features.AblationError, match=r"0 matches \(need 1\) in the core for: 'if gone:'"):
        features.ablated_source(CORE_SOURCE, (("        if gone:\n", "        if False:\n"),))


def test_the_lean_design_gives_the_variants_gradient_and_frees_a_dropped_graph():
    for shape in ((), (1,), (3,)):
        x, ours = lean.Variable(np.full(shape, 0.5)), dezero.Variable(np.full(shape, 0.5))
        lean.square(lean.square(x)).backward()
        dezero.square(dezero.square(ours)).backward()
        np.testing.assert_array_equal(x.grad, ours.grad)
    y = lean.square(lean.Variable(np.ones(2)))
    probe = y.creator.output
    del y
    assert probe() is None  # held weakly: reference counting freed it


def test_measure_features_times_every_version_and_only_binary_mix_where_it_exists():
    rows = {row["version"]: row for row in features.measure_features(CORE_SOURCE, dezero.VARIANT, 8, 2, 1)}
    labels = [dezero.VARIANT] + [a.name for a in features.ABLATIONS] + [features.EVERY_CHECK, "lean", "minimal"]
    assert list(rows) == labels
    for label, row in rows.items():
        cases = {(c["expression"], c["shape"]) for c in row["cases"]}
        expressions = ("square_chain",) if label in ("lean", "minimal") else features.EXPRESSIONS
        assert cases == {(e, s) for e in expressions for s in features.SHAPES}
        for case in row["cases"]:
            assert case["per_op_ns"]["median"] > 0 and case["to_variant"]["median"] > 0
    assert all("to_floor" not in c for c in rows[dezero.VARIANT]["cases"] if c["expression"] == "binary_mix")


# Hand-made times per op (ns) by contender, and a load factor per repetition that changes from one
# repetition to the next: a ratio is right only if it pairs the two contenders' same repetition.
FAKE_NS_PER_OP = {"variant": 1000.0, "data checks": 900.0, features.EVERY_CHECK: 850.0, "lean": 500.0,
                  "minimal": 1250.0}
LOAD = (1.0, 3.0, 1.5, 2.0)  # repetition 0 is the warm-up


def test_ratios_divide_each_repetition_by_the_same_repetition_of_the_reference(monkeypatch):
    """Each ratio from hand-made times: data checks off at 0.9 of the variant and 0.72 of the floor,
    the variant at 0.8 of the floor, lean at 0.4. A ratio upside down, to the wrong reference, over
    pooled rather than paired samples, or with the warm-up kept, gives other numbers."""
    only = features.ABLATIONS[:1]  # data checks
    monkeypatch.setattr(features, "ABLATIONS", only)
    calls = {}

    def fake_time_once(module, expression, shape, functions):
        name = module.__name__
        label = ("lean" if name.endswith(".lean") else "minimal" if name.endswith(".minimal")
                 else "data checks" if name.endswith("data_checks")
                 else features.EVERY_CHECK if name.endswith(features.EVERY_CHECK.replace(" ", "_")) else "variant")
        key = (label, expression, shape)
        rep = calls[key] = calls.get(key, -1) + 1
        return FAKE_NS_PER_OP[label] * LOAD[rep] * functions

    monkeypatch.setattr(features, "_time_once", fake_time_once)
    rows = {row["version"]: row for row in features.measure_features(CORE_SOURCE, "weakref", 10, 3, 1)}
    assert list(rows) == ["weakref", "data checks", features.EVERY_CHECK, "lean", "minimal"]

    def case(label, expression="square_chain", shape="0-d"):
        return next(c for c in rows[label]["cases"] if (c["expression"], c["shape"]) == (expression, shape))

    expected = {"data checks": (0.9, 0.72), features.EVERY_CHECK: (0.85, 0.68), "lean": (0.5, 0.4),
                "weakref": (1.0, 0.8), "minimal": (1.25, 1.0)}
    for label, (to_variant, to_floor) in expected.items():
        for shape in features.SHAPES:
            got = case(label, shape=shape)
            for key, value in (("to_variant", to_variant), ("to_floor", to_floor)):
                assert (got[key]["min"], got[key]["max"]) == pytest.approx((value, value)), (label, key)
            # time per op over the measured repetitions (loads 3, 1.5, 2: median 2), the warm-up dropped
            assert got["per_op_ns"]["median"] == pytest.approx(FAKE_NS_PER_OP[label if label != "weakref"
                                                                              else "variant"] * 2.0)
    assert case("data checks", "binary_mix")["to_variant"]["median"] == pytest.approx(0.9)


def test_an_ablation_whose_lines_are_gone_is_a_row_with_its_error_and_the_rest_still_run(monkeypatch):
    gone = features.Ablation("gone", "a feature the core no longer has", (("        if gone:\n", "        if False:\n"),))
    monkeypatch.setattr(features, "ABLATIONS", features.ABLATIONS + (gone,))
    rows = {row["version"]: row for row in features.measure_features(CORE_SOURCE, dezero.VARIANT, 8, 1, 0)}
    assert "0 matches (need 1)" in rows["gone"]["error"] and "cases" not in rows["gone"]
    assert rows[features.EVERY_CHECK]["cases"]  # built from the ablations that were found


def test_the_features_group_runs_through_measure_for_ours_only():
    part = bench_measure.measure("ours", "features", SMOKE)
    assert {row["version"] for row in part["rows"]} >= {dezero.VARIANT, "lean", "minimal"}
    with pytest.raises(plan.BenchInputError, match="group 'features' is not measured for kind 'minimal'"):
        bench_measure.measure("minimal", "features", SMOKE)


# --- What BENCH.md derives ------------------------------------------------------------------
def features_rows(floor_ratios, every_check, lean_ratio, binary_every_check=0.9):
    """Feature rows as the bench writes them: weakref at floor_ratios[shape] of the floor, every check off
    at every_check of weakref, lean at lean_ratio of the floor."""
    def case(expression, shape, to_variant, to_floor=None):
        entry = {"expression": expression, "shape": shape, "per_op_ns": stats(1000 * to_variant),
                 "to_variant": stats(to_variant)}
        if to_floor is not None:
            entry["to_floor"] = stats(to_floor)
        return entry

    def stats(value):
        return {"median": value, "q1": value, "q3": value, "min": value, "max": value}

    def row(label, off, chain_to_variant, with_binary=True):
        cases = [case("square_chain", s, chain_to_variant[s], chain_to_variant[s] * floor_ratios[s])
                 for s in features.SHAPES]
        if with_binary:
            cases += [case("binary_mix", s, binary_every_check if label == features.EVERY_CHECK else
                           (1.0 if label == "weakref" else 0.97)) for s in features.SHAPES]
        return {"implementation": "weakref", "version": label, "off": off, "functions": 1000, "repeats": 100,
                "cases": cases}

    ones = {s: 1.0 for s in features.SHAPES}
    return [row("weakref", "nothing", ones),
            row("gradient checks", "backward's checks", {s: 0.94 for s in features.SHAPES}),
            row("data checks", "Variable's checks", {s: 0.97 for s in features.SHAPES}),
            row(features.EVERY_CHECK, "all", {s: every_check for s in features.SHAPES}),
            row("lean", "every feature", {s: lean_ratio / floor_ratios[s] for s in features.SHAPES}, False),
            row("minimal", "the floor", {s: 1 / floor_ratios[s] for s in features.SHAPES}, False)]


def section(result):
    return bench_report.render_markdown(result).split("## What the features cost")[1].split("\n## ")[0]


def test_when_even_the_unchecked_core_misses_the_floor_target_the_general_function_is_named(small_result):
    small_result["features"] = features_rows({"0-d": 0.8, "(1,)": 0.8}, every_check=0.85, lean_ratio=0.44)
    text = section(small_result)
    assert "weakref runs at 0.800× on 0-d and 0.800× on (1,) the floor, against a limit of 0.6" in text
    assert "costliest single check on 0-d is gradient checks (backward's checks): 6% of its time" in text
    assert "Even with every check and grad mode off it runs at 0.680× on 0-d and 0.680× on (1,)" in text
    assert "The lean design, which drops that generality as well as the checks, runs at 0.440× on 0-d" in text
    assert "under the limit: the target is within reach of a Function that takes one input" in text
    assert has_row(text, "weakref", "nothing", "1 µs [1 µs–1 µs]", "1.000 [1.000–1.000]", "0.800 [0.800–0.800]")


def test_when_the_checks_explain_the_gap_the_report_says_so_per_shape(small_result):
    small_result["features"] = features_rows({"0-d": 0.8, "(1,)": 0.68}, every_check=0.85, lean_ratio=0.44)
    text = section(small_result)
    assert "every check and grad mode switched off at once it runs at 0.578× on (1,), within the limit" in text
    assert "Even with every check and grad mode off it runs at 0.680× on 0-d," in text


def test_when_lean_misses_too_no_version_of_the_design_meets_it(small_result):
    small_result["features"] = features_rows({"0-d": 0.9, "(1,)": 0.9}, every_check=0.9, lean_ratio=0.7)
    assert "itself above the limit: on this machine no version of this design meets it" in section(small_result)


def test_the_peer_targets_not_met_get_an_estimate_without_checks(small_result):
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "book"] \
        + per_op_rows("book", 2500)  # weakref 1 µs / 2.5 µs: 0.400 against a limit of 0.25
    small_result["features"] = features_rows({"0-d": 0.8, "(1,)": 0.8}, every_check=0.85, lean_ratio=0.44,
                                             binary_every_check=0.5)
    text = section(small_result)
    # 0.85 × 0.400 = 0.340 and lean 0.55 × 0.400 = 0.220 on the chain; the binary mix 0.5 × 0.400 = 0.200
    assert ("- × book's dezero 0.0.13, 0-d, chain of `square`: 0.400 (limit ≤ 0.25); with every check off "
            "≈ 0.340, the lean design ≈ 0.220: the general Function") in text
    assert ("- × book's dezero 0.0.13, (1,), chain of `+ * - /` with a shared leaf: 0.400 (limit ≤ 0.25); with "
            "every check off ≈ 0.200: the checks are what this target costs.") in text


def test_a_run_without_the_features_group_says_so(small_result):
    small_result.pop("features", None)
    assert "(no features measurement in this run: `--group features`)" in section(small_result)


def test_a_binary_mix_target_the_checks_do_not_explain_cites_weakref_s_profile_of_that_expression(small_result):
    small_result["per_op"] = [r for r in small_result["per_op"] if r["implementation"] != "book"] \
        + per_op_rows("book", 2500)
    small_result["features"] = features_rows({"0-d": 0.8, "(1,)": 0.8}, every_check=0.85, lean_ratio=0.44,
                                             binary_every_check=0.9)
    small_result["profile"].append({
        "implementation": "weakref", "shape": "0-d", "expression": "binary_mix", "functions": 1000, "repeats": 20,
        "profiler": "cProfile", "total_own_ns_per_op": 5000, "functions_profiled": [
            {"function": "__call__", "where": "dezero/core.py:261", "calls_per_op": 1.0, "own_ns_per_op": 2000,
             "cumulative_ns_per_op": 4000},
            {"function": "_sum_to", "where": "dezero/core.py:313", "calls_per_op": 2.0, "own_ns_per_op": 500,
             "cumulative_ns_per_op": 500}]})
    text = section(small_result)
    assert ("- × book's dezero 0.0.13, 0-d, chain of `+ * - /` with a shared leaf: 0.400 (limit ≤ 0.25); with "
            "every check off ≈ 0.360: the checks do not explain it; the rest is the general two-input Function, "
            "the operators and NumPy's arithmetic, whose profile above has as its largest own-time entries "
            "`__call__` (dezero/core.py:261) 40%, `_sum_to` (dezero/core.py:313) 10%.") in text
    profile = bench_report.render_markdown(small_result).split("## Profile of what remains")[1]
    assert "**weakref, chain of `+ * - /` with a shared leaf** (total own time 5 µs per op" in profile


def test_an_ablation_that_was_not_measured_is_a_full_width_row_naming_its_error(small_result):
    gone = {"implementation": "weakref", "version": "gone", "off": "a feature the core lost", "functions": 1000,
            "repeats": 100, "error": "0 matches (need 1) in the core for: 'if gone:'"}
    small_result["features"] = features_rows({"0-d": 0.8, "(1,)": 0.8}, every_check=0.85, lean_ratio=0.44) + [gone]
    text = section(small_result)
    # Eight columns in the square chain's table (three per shape), six in the binary mix's.
    gone_rows = [row for row in table_rows(text) if row[0] == "gone"]
    assert gone_rows == [["gone", "a feature the core lost", "not measured: 0 matches (need 1) in the core for: 'if gone:'"]
                         + [""] * 5, ["gone", "a feature the core lost",
                                      "not measured: 0 matches (need 1) in the core for: 'if gone:'"] + [""] * 3]
