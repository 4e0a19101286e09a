"""Interpreters as a dimension of the profile: finding them by name (on a hand-made PATH and pyenv folder)
or by path, listing the missing ones with their reason, the matrix over them, the migration of schema-2
summaries to schema 3, and a real tiny profile on another interpreter where this machine has one."""
import gzip
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import dezero
import pytest

from graphmem import facts, interpreters, store
from graphmem.interpreters import Interpreter
from graphmem.profile import checks, cli, driver, environments, execute, plan
from graphmem.workloads import WORKLOADS

VARIANT = dezero.VARIANT
OTHER_PYTHON = Path("/root/.pyenv/versions/3.13.0/bin/python3")
FIXTURES = Path(__file__).parent / "fixtures"


def fake_python(path, implementation="CPython", version="3.12.9", threshold=(700, 10, 10), works=True):
    """An executable that answers the probe as the named interpreter would (or fails like a pyenv shim
    for a version that is not selected)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    answer = {"implementation": implementation, "version": version, "free_threaded": False,
              "gc_threshold": list(threshold) if threshold else None, "executable": str(path)}
    body = f"echo '{json.dumps(answer)}'" if works else \
        f"echo 'pyenv: {path.name}: command not found' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def machine(tmp_path):
    """A PATH folder and a pyenv root, hand-made: python3.12 on PATH is a shim that fails, pyenv has
    3.12.1 and 3.12.10 (newest wins), 3.1.4 (not a 3.12), and python3.13 and pypy3 are on PATH."""
    bin_dir, root = tmp_path / "bin", tmp_path / "pyenv"
    fake_python(bin_dir / "python3.12", works=False)
    fake_python(bin_dir / "python3.13", version="3.13.0", threshold=(2000, 10, 10))
    fake_python(bin_dir / "pypy3", implementation="PyPy", version="3.9.16", threshold=None)
    fake_python(root / "versions" / "3.12.1" / "bin" / "python3", version="3.12.1")
    fake_python(root / "versions" / "3.12.10" / "bin" / "python3", version="3.12.10")
    fake_python(root / "versions" / "3.1.4" / "bin" / "python3", version="3.1.4")
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, root


def test_a_name_is_found_on_path_or_in_pyenv_versions_and_probed(machine):
    environ, root = machine
    found = {name: interpreters.resolve(name, environ, root, install=False)
             for name in ("3.12", "python3.12", "3.13", "pypy3")}
    assert found["3.12"].path == str(root / "versions" / "3.12.10" / "bin" / "python3")
    assert found["3.12"].label == "cpython-3.12" and found["3.12"].version == "3.12.10"
    assert found["python3.12"].path == found["3.12"].path
    assert found["3.13"].path == str(Path(environ["PATH"]) / "python3.13")
    assert found["3.13"].gc_threshold == (2000, 10, 10)
    pypy = found["pypy3"]
    assert (pypy.label, pypy.implementation, pypy.gc_threshold) == ("pypy-3.9", "PyPy", None)


def test_pyenv_root_is_pyenv_root_or_home(tmp_path):
    assert interpreters.pyenv_root({"PYENV_ROOT": "/opt/pe", "PATH": ""}) == Path("/opt/pe")
    assert interpreters.pyenv_root({"PATH": str(tmp_path), "HOME": str(tmp_path)}) == tmp_path / ".pyenv"


def test_a_name_not_found_is_listed_unavailable_with_its_reason(machine):
    environ, root = machine
    [missing, found] = interpreters.resolve_all(["3.14", "3.13"], environ, root, install=False)
    assert (missing.requested, missing.available, missing.path, missing.label) == ("3.14", False, None, None)
    assert "no 3.14 found on PATH or" in missing.reason and str(root / "versions") in missing.reason
    assert found.available
    listed = interpreters.summary_record([missing, found])
    assert listed["3.14"] == {"requested": "3.14", "path": None, "available": False, "reason": missing.reason,
                              "implementation": None, "version": None}
    assert listed["cpython-3.13"]["available"] is True


def test_a_shim_that_fails_is_named_when_nothing_else_is_found(machine):
    environ, _ = machine
    [missing] = interpreters.resolve_all(["3.12"], environ, Path(environ["HOME"]) / "no-pyenv", install=False)
    assert not missing.available and "python3.12" in missing.reason and "command not found" in missing.reason


def test_pypy_is_not_installed_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(interpreters.shutil, "which", lambda name, path=None: "/usr/bin/apt-get")
    assert interpreters.install_pypy() == "installing it needs root (apt-get install pypy3 pypy3-venv pypy3-dev)"


def test_the_defaults_are_cpython_3_11_to_3_13_and_pypy():
    assert interpreters.DEFAULTS == ("3.11", "3.12", "3.13", "pypy3")
    assert "--python" in cli.argument_parser().format_help()


@pytest.mark.parametrize("make, complaint", [
    (lambda tmp: tmp / "nothing-here", "no executable file there"),
    (lambda tmp: fake_python(tmp / "python", works=False),
     "not a Python interpreter (pyenv: python: command not found)"),
], ids=["missing", "not-a-python"])
def test_a_path_that_is_not_a_python_is_one_error_line(tmp_path, capsys, make, complaint):
    path = make(tmp_path)
    status = driver.main(["--variant", VARIANT, "--python", str(path), "--reports", str(tmp_path / "reports")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"profile: error: --python {path}: {complaint}"]
    assert not (tmp_path / "reports" / "summary.json").exists()


# --- the matrix ----------------------------------------------------------------------------
CPYTHON_313 = Interpreter("3.13", "/x/python3.13", True, None, "CPython", "3.13.0", (2000, 10, 10))
PYPY = Interpreter("pypy3", "/usr/bin/pypy3", True, None, "PyPy", "3.9.16", None)
MISSING = Interpreter("3.14", None, False, "no 3.14 found")


def matrix(*argv, on=None):
    return plan.build_matrix(cli.argument_parser().parse_args(list(argv)), on)


def test_the_matrix_runs_each_variant_on_each_available_interpreter():
    runs = matrix("--variant", "strong,weakref", "--workload", "seed_loop", "--mode", "off", "--no-sweeps",
                  on=[CPYTHON_313, PYPY, MISSING])
    assert sorted(run.id for run in runs) == sorted(
        f"{label}/{variant}/seed_loop/off/iterations=100,size=100000"
        for label in ("cpython-3.13", "pypy-3.9") for variant in ("strong", "weakref"))
    assert {run.where for run in runs} == {(v, l) for v in ("strong", "weakref") for l in ("cpython-3.13", "pypy-3.9")}


def test_start_phases_are_measured_for_strong_and_gc_only_under_auto_on_cpython_only():
    runs = matrix("--workload", "seed_loop", "--peer", "none", "--variant", "strong,weakref,gc_only",
                  on=[CPYTHON_313, PYPY])
    phased = sorted((run.interpreter, run.variant, run.start_phase) for run in runs if run.start_phase is not None)
    assert phased == sorted(("cpython-3.13", variant, phase) for variant in ("strong", "gc_only")
                            for phase in (0, 0.25, 0.5, 0.75))
    assert all(run.mode == "auto" and run.kind == "phase" for run in runs if run.start_phase is not None)
    one = next(run for run in runs if run.start_phase == 0.25 and run.variant == "gc_only")
    assert one.id == "cpython-3.13/gc_only/seed_loop/auto/iterations=100,size=100000/budget=67108864/phase=0.25"
    assert one.file_stem == "seed_loop-auto-phase0.25"
    assert not [run for run in matrix("--workload", "seed_loop", "--no-sweeps", on=[CPYTHON_313])
                if run.start_phase is not None], "--no-sweeps: no phase runs either"


def test_peers_run_on_the_session_interpreter_whatever_our_variants_run_on():
    runs = matrix("--peer", next(iter(plan.PEERS)), "--variant", "strong", "--workload", "seed_loop",
                  "--mode", "off", "--no-sweeps", on=[PYPY])
    assert {run.interpreter for run in runs if run.peer} == {plan.SESSION_LABEL}
    assert {run.interpreter for run in runs if not run.peer} == {"pypy-3.9"}


def test_pypy_environments_get_numpy_as_a_wheel_and_no_memray():
    requirements = ["memray>=1.13", "matplotlib>=3.8", "jsonschema>=4"]
    steps = environments.install_steps("weakref", requirements, PYPY)
    assert steps[0] == ["--only-binary", ":all:", "numpy"]
    assert steps[1][1:] == ["matplotlib>=3.8", "jsonschema>=4"]
    assert environments.install_steps("weakref", requirements, CPYTHON_313) == [
        [str(facts.ROOT / "variants" / "weakref"), *requirements]]
    assert environments.environment_folder("weakref", Path("/e"), PYPY) == Path("/e/profile-weakref-pypy-3.9")
    assert environments.memray_unavailable({"memray": None, "interpreter": {"implementation": "PyPy"}}) \
        .startswith("memray has no PyPy support")


# --- migration -----------------------------------------------------------------------------
PROVENANCE_2 = {"cpu": "c", "cpu_count": 2, "git_commit": "g", "git_dirty": False, "python": "3.11.7 CPython",
                "numpy": "2.4.6", "memray": "1.20.0", "platform": "p", "PYTHONMALLOC": None, "command": "c"}
MEASURED = {"status": "ok", "reason": None, "iterations_completed": 1, "peak_heap_bytes": 100,
            "peak_ratio_to_bound": 12.5, "total_allocations": 3, "total_bytes_allocated": 300, "wall_seconds": 0.1,
            "gc": {"runs": [1, 0, 0], "seconds": [0.0, 0.0, 0.0]}, "held_bytes_at_return": 0,
            "held_bytes_after_collect": 0, "files": {}, "measured_at": "2026-01-01T00:00:00+00:00", "failures": []}


def schema_2_record(run_id, variant, status="ok", implementation=None, python="3.11.7 CPython"):
    record = {"id": run_id, "variant": variant, "workload": "seed_loop", "mode": "auto", "params": {"size": 1},
              "gc_budget": None, "live_set_bound_bytes": 8, "provenance": {**PROVENANCE_2, "python": python},
              **MEASURED, **({"implementation": implementation} if implementation else {})}
    if status == "failed":
        record.update(status="failed", reason="timed out", failures=[{"at": "t", "reason": "timed out", "log": None}])
    return record


def test_a_schema_2_summary_migrates_with_every_record_kept(tmp_path):
    old = {"schema_version": 2, "workloads": {}, "updated_at": "t",
           "runs": {"strong/seed_loop/auto/size=1": schema_2_record("strong/seed_loop/auto/size=1", "strong"),
                    "weakref/seed_loop/auto/size=1": schema_2_record("weakref/seed_loop/auto/size=1", "weakref",
                                                                     status="failed",
                                                                     python="3.11.7 (main) [GCC 12.2.0]")},
           "peer_runs": {"closure/seed_loop/auto/size=1": schema_2_record("closure/seed_loop/auto/size=1",
                                                                           "closure", implementation="closure")}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(old))
    summary = store.load_summary(path)
    assert summary["schema_version"] == 3
    assert sorted(summary["runs"]) == ["cpython-3.11/strong/seed_loop/auto/size=1",
                                       "cpython-3.11/weakref/seed_loop/auto/size=1"]
    assert list(summary["peer_runs"]) == ["cpython-3.11/closure/seed_loop/auto/size=1"]
    for run_id, run in [*summary["runs"].items(), *summary["peer_runs"].items()]:
        assert run["id"] == run_id
        assert run["interpreter"] == {"label": "cpython-3.11", "implementation": "CPython", "version": "3.11.7",
                                      "numpy": "2.4.6", "gc_threshold": None}
    weak = summary["runs"]["cpython-3.11/weakref/seed_loop/auto/size=1"]
    assert weak["status"] == "failed" and weak["failures"] == [{"at": "t", "reason": "timed out", "log": None}]
    assert summary["interpreters"] == {"cpython-3.11": {"requested": None, "path": None, "available": True,
                                                        "reason": None, "implementation": "CPython",
                                                        "version": "3.11.7"}}
    # merging into it writes schema 3, the migrated records beside the new one
    store.merge_runs(path, {"cpython-3.13/strong/seed_loop/auto/size=1": {
        **schema_2_record("cpython-3.13/strong/seed_loop/auto/size=1", "strong"),
        "interpreter": {"label": "cpython-3.13", "implementation": "CPython", "version": "3.13.0",
                        "numpy": "2.4.6", "gc_threshold": [2000, 10, 10]}}})
    written = json.loads(path.read_text())
    assert written["schema_version"] == 3 and len(written["runs"]) == 3 and len(written["peer_runs"]) == 1


def test_the_last_schema_2_summary_committed_loads_with_every_record_kept(tmp_path):
    """reports/summary.json as committed before interpreters became a dimension (167 records, all measured on
    CPython 3.11.7), kept as a fixture: every record migrates, none is lost."""
    raw = json.loads(gzip.decompress((FIXTURES / "summary-schema2-committed.json.gz").read_bytes()))
    assert raw["schema_version"] == 2 and len(raw["runs"]) + len(raw["peer_runs"]) == 167
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(raw))
    summary = store.load_summary(path)
    for table in ("runs", "peer_runs"):
        assert list(summary.get(table, {})) == [f"cpython-3.11/{run_id}" for run_id in raw.get(table, {})]
    assert all(run["interpreter"]["version"] == "3.11.7"
               for table in ("runs", "peer_runs") for run in summary.get(table, {}).values())


# --- a real profile on another interpreter ----------------------------------------------------
@pytest.mark.skipif(not OTHER_PYTHON.is_file(), reason=f"{OTHER_PYTHON} is not on this machine")
def test_a_tiny_profile_on_another_interpreter(tmp_path):
    """The variant in an environment made with CPython 3.13 (kept under build/, reused when unchanged),
    without memray there: the record comes from its first timing process and says why."""
    env_dir = facts.ROOT / "build" / "test-envs"
    status = driver.main(["--variant", VARIANT, "--python", str(OTHER_PYTHON), "--workload", "seed_loop",
                          "--mode", "off", "--params", "size=1000,iterations=3", "--timing-processes", "2",
                          "--no-report", "--no-anatomy", "--env-dir", str(env_dir),
                          "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
                          "--logs", str(tmp_path / "logs")])
    assert status == 0
    summary = store.load_summary(tmp_path / "reports" / "summary.json")
    [(run_id, run)] = summary["runs"].items()
    assert run_id.startswith(f"cpython-3.13/{VARIANT}/seed_loop/off/iterations=3,size=1000")
    asked = subprocess.run([str(OTHER_PYTHON), "-c", "import gc, platform; print(platform.python_version(), "
                            "*gc.get_threshold())"], capture_output=True, text=True, check=True).stdout.split()
    assert run["interpreter"]["version"] == asked[0]
    assert run["interpreter"]["gc_threshold"] == [int(n) for n in asked[1:]]
    assert run["status"] == "ok" and run["iterations_completed"] == 3
    assert "memray is not installed" in run["memray_unavailable"] and run["files"] == {}
    assert "peak_heap_bytes" not in run and run["timing"]["processes"] == 2
    if run.get("array_bytes") is not None:  # a harness that counts array bytes (NEP 49 hook)
        assert 0 <= run["array_bytes"]["at_return"] <= run["array_bytes"]["peak"]
    assert summary["interpreters"]["cpython-3.13"]["available"] is True
    python = environments.environment_folder(VARIANT, env_dir, interpreters.resolve(str(OTHER_PYTHON))) / "bin/python"
    stamp = python.parent.parent / ".graphmem-profile-stamp"
    before = stamp.stat().st_mtime_ns
    found = interpreters.resolve(str(OTHER_PYTHON))
    assert environments.variant_environment(VARIANT, env_dir, [], found) == python
    assert stamp.stat().st_mtime_ns == before, "an unchanged environment is reused, not rebuilt"


# --- what a run's processes report ---------------------------------------------------------------
SAMPLE = {"status": "ok", "reason": None, "iterations_completed": 100, "wall_seconds": 0.1,
          "gc": {"runs": [1, 0, 0], "seconds": [0.001, 0.0, 0.0], "variant_collections": None, "variant_seconds": None}}


def phase_run(phase):
    spec = WORKLOADS["seed_loop"]
    return plan.Run("strong", "seed_loop", "auto", tuple(sorted(spec.params().items())), None, "phase",
                    interpreter="cpython-3.12", start_phase=phase)


def base_of(run, **extra):
    return {"id": run.id, "interpreter": {"label": "cpython-3.12", "implementation": "CPython", "version": "3.12.1",
                                          "numpy": "2", "gc_threshold": [700, 10, 10]},
            "variant": run.variant, "workload": run.workload, "mode": run.mode, "params": run.params_dict,
            "gc_budget": None, "live_set_bound_bytes": 6_400_000, "ceiling_bytes": None,
            "provenance": {**PROVENANCE_2, "memray": None}, **extra}


def test_a_phase_run_needs_a_harness_that_sets_the_phase():
    run = phase_run(0.25)
    without = "memray is not installed in this environment"
    with pytest.raises(checks.RunFailed, match="does not say the start phase it set .*asked 0.25"):
        checks.checked_record(run, dict(SAMPLE), base_of(run, memray_unavailable=without), {})
    record = checks.checked_record(run, {**SAMPLE, "start_phase": 0.25}, base_of(run, memray_unavailable=without), {})
    assert record["start_phase"] == 0.25 and record["id"].endswith("/phase=0.25")
    assert "peak_heap_bytes" not in record and record["memray_unavailable"] == without


@pytest.mark.parametrize("change, reason", [
    (lambda s: s.update(collection_iterations=[[53, 3]]), "a collection of generation 3"),
    (lambda s: s.update(collection_iterations=[[53]]), "not [iteration, generation] pairs"),
    (lambda s: s.update(array_bytes={"peak": -1, "at_return": 0}), "array_bytes peak = -1"),
])
def test_a_sample_with_impossible_new_figures_fails(change, reason):
    sample = json.loads(json.dumps(SAMPLE))
    change(sample)
    with pytest.raises(checks.RunFailed, match=re.escape(reason)):
        checks.checked_sample(sample, "timing process 1")


def test_timing_keeps_the_first_process_collections_and_whether_memray_moved_them():
    first = {**SAMPLE, "collection_iterations": [[53, 0]]}
    second = {**SAMPLE, "collection_iterations": [[53, 0]]}
    assert checks.timing_statistics([first, second])["collection_iterations"] == [[53, 0]]
    assert execute.memray_moved_collections({"collection_iterations": [[6, 0], [62, 0]]}, first) is True
    assert execute.memray_moved_collections({"collection_iterations": [[53, 0]]}, first) is False
    assert execute.memray_moved_collections({}, first) is None
    # a process whose iterations were not all placed keeps only the harness's [generation, arrays, iteration]
    # list: it is read in the same [iteration, generation] shape before the two are compared
    assert execute.memray_moved_collections({"gc": {"collections": [[0, 812, 53]]}}, first) is False
    assert execute.memray_moved_collections({"gc": {"collections": [[0, 812, 52]]}}, first) is True
    # where the collector cannot be watched (no gc.callbacks on PyPy), there are no collector times
    assert checks.timing_statistics([checks.checked_sample({**SAMPLE, "gc": None}, "t")])["collector_seconds"] is None


def test_a_variant_given_a_python_runs_there_and_on_the_named_interpreters_only_when_named(tmp_path):
    other = fake_python(tmp_path / "py313" / "python3", version="3.13.0", threshold=(2000, 10, 10))
    args = cli.argument_parser().parse_args([])
    on, requested, own = driver.chosen_interpreters(args, ["strong"], {"strong": sys.executable})
    assert [i.label for i in on["strong"]] == [plan.SESSION_LABEL] and requested == [own["strong"]]
    args = cli.argument_parser().parse_args(["--python", str(other)])
    on, requested, own = driver.chosen_interpreters(args, ["strong", "weakref"], {"strong": sys.executable})
    assert [i.label for i in on["strong"]] == [plan.SESSION_LABEL, "cpython-3.13"]
    assert [i.label for i in on["weakref"]] == ["cpython-3.13"]
