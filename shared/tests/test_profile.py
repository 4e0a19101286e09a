"""The profile driver and harness: a tiny end-to-end profile, the ceiling, selection errors,
and the summary's atomic merge. Runs against whichever variant this environment has.
Fault injection (bad results, killed children, interrupts, read-only reports/) is in
test_profile_faults.py."""
import json
import os
import sys
from pathlib import Path

import dezero
import jsonschema
import pytest

from graphmem.profile import cli, driver, execute, parsing, plan
from graphmem.profile import pages as offline_pages
from graphmem import facts, store
from graphmem import atomic_files
from graphmem.report.data import SCHEMA_PATH
from graphmem.workloads import WORKLOADS

SCHEMA = json.loads(SCHEMA_PATH.read_text())
VARIANT = dezero.VARIANT
LABEL = plan.SESSION_LABEL  # the interpreter these tests run on: the first part of every id they measure


def run_profile(tmp_path, *args, interpreter=sys.executable):
    """The driver on this interpreter's variant, writing under tmp_path; returns (exit status, summary).

    Without a report (--no-report) and with 2 timing processes unless the test says otherwise: quick."""
    defaults = [] if "--timing-processes" in args else ["--timing-processes", "2"]
    status = driver.main([
        "--variant", VARIANT, "--interpreter", f"{VARIANT}={interpreter}", "--no-report", *defaults,
        "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
        "--logs", str(tmp_path / "logs"), *args])
    summary_path = tmp_path / "reports" / "summary.json"
    return status, json.loads(summary_path.read_text()) if summary_path.exists() else None


def test_smoke_profile_of_one_tiny_workload(tmp_path):
    status, summary = run_profile(tmp_path, "--workload", "seed_loop", "--mode", "off",
                                  "--params", "size=1000,iterations=3")
    assert status == 0
    jsonschema.validate(summary, SCHEMA)
    [(run_id, run)] = summary["runs"].items()
    assert run_id.startswith(f"{LABEL}/{VARIANT}/seed_loop/off/iterations=3,size=1000")
    assert run["interpreter"]["label"] == LABEL and run["interpreter"]["numpy"] == run["provenance"]["numpy"]
    assert run["status"] == "ok" and run["reason"] is None
    assert run["iterations_completed"] == 3
    assert run["live_set_bound_bytes"] == 8 * 1000 * 8
    assert run["peak_heap_bytes"] >= run["live_set_bound_bytes"]
    assert run["held_bytes_after_collect"] == 0
    assert run["snapshots"] and run["total_allocations"] > 0
    assert sorted(run["files"]) == ["flamegraph", "stats", "temporal_flamegraph"]
    for relative in run["files"].values():
        path = tmp_path / relative
        assert path.is_file() and path.stat().st_size > 0
        if path.suffix == ".html":
            assert offline_pages.remote_references(path) == []
    # not the default parameters, so not the default run's file names
    assert (tmp_path / "reports" / LABEL / VARIANT / "seed_loop-off-iterations3-size1000.flamegraph.html").is_file()
    assert not (tmp_path / "reports" / LABEL / VARIANT / "seed_loop-off.flamegraph.html").exists()
    # the memory-over-time line ends after the final collection, past the workload's own end
    assert run["snapshots"][-1]["t"] >= run["wall_seconds"]
    timing = run["timing"]
    assert timing["processes"] == 2 and timing["memray"] is False
    assert len(timing["wall_seconds"]["samples"]) == 2
    assert timing["wall_seconds"]["min"] <= timing["wall_seconds"]["median"] <= timing["wall_seconds"]["max"]
    assert list((tmp_path / "captures").rglob("*.bin")), "the raw capture stays out of reports/"
    assert not list((tmp_path / "reports").rglob("*.bin"))
    provenance = run["provenance"]
    assert provenance["numpy"] and provenance["memray"] and provenance["git_commit"]
    assert sys.executable not in provenance["command"], "--interpreter paths are not part of the command"
    assert run["failures"] == []


def test_a_run_past_its_ceiling_is_recorded_not_crashed(tmp_path):
    # deep_chain keeps its whole chain alive in every policy: 1000 links of 800 kB pass 64 MiB.
    status, summary = run_profile(tmp_path, "--workload", "deep_chain", "--mode", "auto", "--no-sweeps",
                                  "--params", "size=100000,depth=1000", "--ceiling", "64MiB",
                                  "--no-flamegraphs")
    assert status == 0
    jsonschema.validate(summary, SCHEMA)
    [run] = summary["runs"].values()
    assert run["status"] == "ceiling"
    assert run["ceiling_bytes"] == 64 * 2**20
    assert 0 < run["iterations_completed"] < 1000
    assert run["reason"].startswith(f"stopped at the ceiling of 64 MiB after {run['iterations_completed']} depth")
    assert run["held_bytes_after_collect"] == 0


def test_a_failed_run_is_recorded_and_earlier_runs_stay(tmp_path):
    status, _ = run_profile(tmp_path, "--workload", "no_grad_loop", "--mode", "auto",
                            "--params", "size=100,iterations=2", "--no-flamegraphs")
    assert status == 0
    status, summary = run_profile(tmp_path, "--workload", "seed_loop", "--mode", "auto",
                                  "--params", "size=100,iterations=2", "--timeout", "0.01")
    assert status == 1
    jsonschema.validate(summary, SCHEMA)
    runs = {run["workload"]: run for run in summary["runs"].values()}
    assert runs["seed_loop"]["status"] == "failed"
    assert "timed out" in runs["seed_loop"]["reason"]
    [failure] = runs["seed_loop"]["failures"]
    assert "timed out" in failure["reason"] and failure["log"]
    assert runs["no_grad_loop"]["status"] == "ok"


# --- selection -----------------------------------------------------------------------
def matrix(*argv):
    return plan.build_matrix(cli.argument_parser().parse_args(list(argv)))


@pytest.mark.parametrize("argv, names", [
    (["--variant", "stong"], ["'stong'", "strong, weakref, gc_only"]),
    (["--workload", "seed_loop,seedloop"], ["'seedloop'", ", ".join(WORKLOADS)]),
    (["--mode", "on"], ["'on'", "auto, off"]),
    (["--variant", "strong", "--gc-budget", "8MiB"], ["--gc-budget applies only to gc_only"]),
    (["--gc-budget", "8 megs"], ["'8 megs' is not a size"]),
    (["--params", "sizes=3"], ["sizes"]),
    (["--params", "size=0"], ["size must be a positive integer"]),
    (["--params", "size"], ["name=value"]),
])
def test_bad_selection_is_a_clear_error(argv, names):
    with pytest.raises(ValueError) as error:
        matrix(*argv)
    for name in names:
        assert name in str(error.value)


def test_bad_selection_exits_before_running_anything(tmp_path, capsys):
    assert driver.main(["--variant", "nope", "--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown variant 'nope'; valid variants: strong, weakref, gc_only" in err
    assert not list(tmp_path.iterdir())


def test_default_matrix_has_every_variant_workload_and_mode_and_the_sweeps():
    runs = matrix()
    base = {(r.variant, r.workload, r.mode) for r in runs if r.kind == "default" and not r.peer}
    assert base == {(v, w, m) for v in facts.VARIANTS for w in WORKLOADS for m in facts.MODES}
    assert len({r.id for r in runs}) == len(runs)
    sizes = {r.params_dict["size"] for r in runs if r.workload == "seed_loop" and r.mode == "auto"}
    assert len(sizes) >= 3
    budgets = {r.gc_budget for r in runs if r.variant == "gc_only"}
    assert budgets == set(plan.DEFAULT_BUDGET_SWEEP)
    assert all(r.gc_budget is None for r in runs if r.variant != "gc_only")


def test_selection_narrows_the_matrix():
    runs = matrix("--variant", "gc_only", "--workload", "seed_loop", "--mode", "off", "--gc-budget", "1MiB,2MiB",
                  "--no-sweeps")
    assert sorted(r.id for r in runs) == [
        f"{LABEL}/gc_only/seed_loop/off/iterations=100,size=100000/budget=1048576",
        f"{LABEL}/gc_only/seed_loop/off/iterations=100,size=100000/budget=2097152",
    ]
    assert {r.params_dict["size"] for r in matrix("--workload", "seed_loop", "--full", "--no-sweeps")} == {
        100_000, 1_000_000}


def test_recorded_command_leaves_out_what_the_session_adds():
    argv = ["--env-dir", "/x/.nox", "--requirement=memray>=1.13", "--requirement", "jsonschema", "--variant", "strong",
            "--interpreter", "strong=/home/me/venv/bin/python", "--interpreter=weakref=/opt/py"]
    assert cli.user_command(argv) == "python3 -m nox -s profile -- --variant strong"
    assert cli.user_command([]) == "python3 -m nox -s profile"


@pytest.mark.parametrize("text, size", [("8MiB", 8 * 2**20), ("512 mib", 512 * 2**20), ("1GiB", 2**30),
                                        ("1000", 1000), ("2MB", 2_000_000)])
def test_sizes_parse(text, size):
    assert parsing.parse_size(text) == size


# --- the summary -------------------------------------------------------------------
PROVENANCE = {"python": "3.11.7 CPython", "numpy": "2", "memray": "1", "platform": "p", "cpu": "c", "git_commit": "g",
              "git_dirty": False, "PYTHONMALLOC": None, "command": "first"}
GOOD_FIELDS = {"peak_ratio_to_bound": 1.25, "total_allocations": 3, "total_bytes_allocated": 100, "wall_seconds": 0.1,
               "gc": {"runs": [0, 0, 0], "seconds": [0.0, 0.0, 0.0]}, "held_bytes_at_return": 0,
               "held_bytes_after_collect": 0, "iterations_completed": 1}


INTERPRETER = {"label": "cpython-3.11", "implementation": "CPython", "version": "3.11.7", "numpy": "2",
               "gc_threshold": [700, 10, 10]}


def record(run_id, peak, command="first", commit="g", measured_at="2026-01-01T00:00:00+00:00"):
    variant, workload, mode = run_id.split("/")[1:4]
    return {"id": run_id, "interpreter": INTERPRETER, "variant": variant, "workload": workload, "mode": mode, "params": {"size": 1},
            "gc_budget": None, "status": "ok", "reason": None, "live_set_bound_bytes": 8,
            "peak_heap_bytes": peak, **GOOD_FIELDS, "files": {}, "measured_at": measured_at,
            "provenance": {**PROVENANCE, "command": command, "git_commit": commit}}


def failed(run_id, reason, at="2026-01-02T00:00:00+00:00"):
    variant, workload, mode = run_id.split("/")[1:4]
    base = {"id": run_id, "interpreter": INTERPRETER, "variant": variant, "workload": workload, "mode": mode, "params": {"size": 1},
            "gc_budget": None, "live_set_bound_bytes": 8, "provenance": PROVENANCE}
    record = execute.failed_record(base, reason, "build/profile-logs/x.log")
    record["measured_at"] = record["failure"]["at"] = at
    return record


def test_rerun_of_a_subset_replaces_only_its_runs_and_keeps_each_runs_provenance(tmp_path):
    path = tmp_path / "summary.json"
    store.merge_runs(path, {"cpython-3.11/strong/a/auto/size=1": record("cpython-3.11/strong/a/auto/size=1", 10),
                              "cpython-3.11/weakref/a/auto/size=1": record("cpython-3.11/weakref/a/auto/size=1", 20)})
    store.merge_runs(path, {"cpython-3.11/strong/a/auto/size=1": record("cpython-3.11/strong/a/auto/size=1", 11, "second", "h")})
    summary = json.loads(path.read_text())
    jsonschema.validate(summary, SCHEMA)
    assert "command" not in summary and "environment" not in summary
    assert summary["runs"]["cpython-3.11/strong/a/auto/size=1"]["peak_heap_bytes"] == 11
    assert summary["runs"]["cpython-3.11/strong/a/auto/size=1"]["provenance"]["command"] == "second"
    assert summary["runs"]["cpython-3.11/weakref/a/auto/size=1"]["peak_heap_bytes"] == 20
    assert summary["runs"]["cpython-3.11/weakref/a/auto/size=1"]["provenance"] == PROVENANCE, "not relabelled by the rerun"


def test_a_failed_attempt_is_kept_beside_the_good_record_never_over_it(tmp_path):
    path = tmp_path / "summary.json"
    run_id = "cpython-3.11/strong/a/auto/size=1"
    store.merge_runs(path, {run_id: record(run_id, 10)})
    store.merge_runs(path, {run_id: failed(run_id, "timed out after 0.5 s")})
    store.merge_runs(path, {run_id: failed(run_id, "exited with status 1", at="2026-01-03T00:00:00+00:00")})
    kept = json.loads(path.read_text())["runs"][run_id]
    assert kept["status"] == "ok" and kept["peak_heap_bytes"] == 10
    assert kept["measured_at"] == "2026-01-01T00:00:00+00:00"
    assert [f["reason"] for f in kept["failures"]] == ["timed out after 0.5 s", "exited with status 1"]
    assert kept["failures"][0]["log"] == "build/profile-logs/x.log"
    # a later good measurement replaces the record; the failures stay listed
    store.merge_runs(path, {run_id: record(run_id, 12, measured_at="2026-01-04T00:00:00+00:00")})
    kept = json.loads(path.read_text())["runs"][run_id]
    assert kept["peak_heap_bytes"] == 12 and len(kept["failures"]) == 2


def test_a_run_that_never_succeeded_keeps_a_failed_record(tmp_path):
    path = tmp_path / "summary.json"
    run_id = "cpython-3.11/strong/a/auto/size=1"
    store.merge_runs(path, {run_id: failed(run_id, "first")})
    store.merge_runs(path, {run_id: failed(run_id, "second")})
    kept = json.loads(path.read_text())["runs"][run_id]
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    assert kept["status"] == "failed" and kept["reason"] == "second"
    assert [f["reason"] for f in kept["failures"]] == ["first", "second"]


def test_a_schema_1_summary_is_migrated_with_its_environment_on_every_run(tmp_path):
    path = tmp_path / "summary.json"
    old = record("cpython-3.11/strong/a/auto/size=1", 10)
    old.pop("provenance")
    old.pop("interpreter")
    old["id"] = "strong/a/auto/size=1"  # schema 1 and 2 ids do not name the interpreter
    environment = {key: value for key, value in PROVENANCE.items() if key != "command"}
    path.write_text(json.dumps({"schema_version": 1, "command": "old command", "environment": environment,
                                "workloads": {}, "runs": {old["id"]: old}}))
    store.merge_runs(path, {"cpython-3.11/weakref/a/auto/size=1": record("cpython-3.11/weakref/a/auto/size=1", 20, "new")})
    summary = json.loads(path.read_text())
    assert summary["schema_version"] == store.SCHEMA_VERSION == 3
    assert summary["runs"]["cpython-3.11/strong/a/auto/size=1"]["provenance"] == {**environment, "command": "old command"}
    assert summary["runs"]["cpython-3.11/weakref/a/auto/size=1"]["provenance"]["command"] == "new"


def test_an_interrupted_write_leaves_the_old_summary_whole(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    store.merge_runs(path, {"cpython-3.11/strong/a/auto/size=1": record("cpython-3.11/strong/a/auto/size=1", 10)})
    before = path.read_bytes()

    class DiskFullOs:
        """os for the atomic writer alone, whose os.replace fails as on a full disk."""

        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, *args):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files, "os", DiskFullOs())
    with pytest.raises(OSError):
        store.merge_runs(path, {"cpython-3.11/strong/b/auto/size=1": record("cpython-3.11/strong/b/auto/size=1", 5)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json", "summary.json.lock"], \
        "no temporary file is left behind (the lock file stays: flock needs a file, and it holds nothing)"


def test_an_invalid_summary_is_not_written(tmp_path):
    path = tmp_path / "summary.json"
    bad = record("cpython-3.11/strong/a/auto/size=1", 10)
    bad["status"] = "fine"
    with pytest.raises(store.SummaryError, match="does not match"):
        store.merge_runs(path, {bad["id"]: bad})
    assert not path.exists()


def test_an_unreadable_summary_is_kept_aside(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("{ half a file")
    store.merge_runs(path, {"cpython-3.11/strong/a/auto/size=1": record("cpython-3.11/strong/a/auto/size=1", 10)})
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("summary.json.unreadable-")]
    assert len(kept) == 1 and kept[0].read_text() == "{ half a file"
    assert json.loads(path.read_text())["runs"]


# --- offline pages -----------------------------------------------------------------
def test_inline_libraries_move_to_shared_assets_and_data_stays(tmp_path):
    library = "var lib = 1;" + " " * offline_pages.SHARED_MINIMUM
    data = "\n const packed_data = {" + "1," * offline_pages.SHARED_MINIMUM + "};"
    style = "body{}" + " " * offline_pages.SHARED_MINIMUM
    page = (f'<html><head><style>{style}</style></head><body><script type="text/javascript">{library}</script>'
            f'<script type="text/javascript">{data}</script><script>small()</script></body></html>')
    pages = tmp_path / "reports" / "strong"  # any folder of pages
    pages.mkdir(parents=True)
    for name in ("a.html", "b.html"):
        (pages / name).write_text(page)
        offline_pages.share_inline_assets(pages / name, tmp_path / "reports" / "assets")
    assets = sorted(p.name for p in (tmp_path / "reports" / "assets").iterdir())
    assert len(assets) == 2 and {Path(a).suffix for a in assets} == {".js", ".css"}
    rewritten = (pages / "a.html").read_text()
    assert data in rewritten and "small()" in rewritten and library not in rewritten
    assert f'src="../assets/{[a for a in assets if a.endswith(".js")][0]}"' in rewritten
    assert offline_pages.remote_references(pages / "a.html") == []
    (pages / "b.html").unlink()
    (pages / "a.html").write_text("<html></html>")
    offline_pages.prune_assets(tmp_path / "reports")
    assert not list((tmp_path / "reports" / "assets").iterdir())


def test_remote_scripts_are_detected(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<script src="https://cdn.example/d3.js"></script><link href="//cdn.example/x.css">')
    assert len(offline_pages.remote_references(page)) == 2


def test_summary_files_are_readable_by_everyone(tmp_path):
    path = tmp_path / "summary.json"
    store.merge_runs(path, {"cpython-3.11/strong/a/auto/size=1": record("cpython-3.11/strong/a/auto/size=1", 10)})
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic_files.UMASK


def test_a_rerun_keeps_one_capture_per_run_the_one_of_the_record_kept(tmp_path):
    from memray import FileReader

    matrix = ["--workload", "seed_loop", "--mode", "auto,off", "--params", "size=1000,iterations=3",
              "--no-flamegraphs", "--timing-processes", "0"]
    for _ in range(2):
        status, summary = run_profile(tmp_path, *matrix)
        assert status == 0
    captures = sorted((tmp_path / "captures").rglob("*.bin"))
    assert len(captures) == len(summary["runs"]) == 2, [path.name for path in captures]
    assert not [path for path in captures if path.stem.endswith(f"-{os.getpid()}")], "the in-progress name stayed"
    peaks = set()
    for path in captures:
        with FileReader(path) as reader:
            peaks.add(reader.metadata.peak_memory)
    assert peaks == {run["peak_heap_bytes"] for run in summary["runs"].values()}, "the capture of the record kept"
