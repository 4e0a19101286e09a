"""Nothing lost: two profiles at once in one checkout, a summary of the wrong shape, bad options.

Each test drives the fault for real (two driver processes, a corrupt file on disk, the real command
line) and asserts what survived: every run measured is in summary.json, every page has a record,
and a bad option stops everything before a run starts.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import dezero
import pytest

from graphmem.profile import driver, plan
from graphmem.store import load_summary

VARIANT = dezero.VARIANT
LABEL = plan.SESSION_LABEL
SHARED = Path(driver.__file__).resolve().parents[2]
TINY = "size=1000,iterations=3"


@pytest.fixture(params=[1, 2], ids=["jobs1", "jobs2"])
def jobs(request):
    """Each fault once with runs one at a time and once with two memray measurements side by side."""
    return request.param


def profile_command(tmp_path, jobs, *args):
    return [sys.executable, "-m", "graphmem.profile", "--variant", VARIANT, "--jobs", str(jobs),
            "--interpreter", f"{VARIANT}={sys.executable}", "--no-report", "--timing-processes", "1",
            "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
            "--logs", str(tmp_path / "logs"), "--params", TINY, *args]


def start(tmp_path, jobs, *args):
    env = {**os.environ, "PYTHONPATH": str(SHARED)}
    return subprocess.Popen(profile_command(tmp_path, jobs, *args), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def pages_and_records(reports):
    """(every page under reports/<interpreter>/<variant>/, every file a record names), as paths relative to reports/.."""
    pages = {str(p.relative_to(reports.parent)) for p in (reports / LABEL / VARIANT).iterdir()}
    summary = load_summary(reports / "summary.json")
    named = {path for run in summary["runs"].values() for path in run["files"].values()}
    return pages, named


@pytest.mark.parametrize("first, second", [
    (["--workload", "seed_loop", "--mode", "auto,off"], ["--workload", "no_grad_loop", "--mode", "auto,off"]),
    (["--workload", "seed_loop,no_grad_loop", "--mode", "off"], ["--workload", "seed_loop,no_grad_loop", "--mode", "off"]),
], ids=["different-subsets", "the-same-subset"])
def test_two_profiles_at_once_keep_every_run_and_every_page_has_its_record(tmp_path, first, second, jobs):
    processes = [start(tmp_path, jobs, *first), start(tmp_path, jobs, *second)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    summary = load_summary(tmp_path / "reports" / "summary.json")
    expected = {f"{LABEL}/{VARIANT}/{w}/{m}/iterations=3,size=1000" + ("/budget=67108864" if VARIANT == "gc_only" else "")
                for argv in (first, second) for w in argv[1].split(",") for m in argv[3].split(",")}
    assert set(summary["runs"]) == expected, "a run one of the profiles measured is missing"
    for run in summary["runs"].values():
        assert run["status"] == "ok", run["reason"]
        assert sorted(run["files"]) == ["flamegraph", "stats", "temporal_flamegraph"], run["id"]
        for relative in run["files"].values():
            assert (tmp_path / relative).stat().st_size > 0
    pages, named = pages_and_records(tmp_path / "reports")
    assert pages == named, f"pages without a record: {sorted(pages - named)}; records without a page: {sorted(named - pages)}"
    assert not [p for p in (tmp_path / "reports").rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("content, problem", [
    ({"schema_version": 2, "workloads": {}, "runs": []}, "at runs: [] is not of type 'object'"),
    ("negative-peak", "is less than the minimum of 0"),
    ({"schema_version": 7, "workloads": {}, "runs": {}}, "at schema_version"),
], ids=["runs-a-list", "negative-peak", "unknown-schema"])
def test_a_summary_of_the_wrong_shape_is_set_aside_before_anything_is_measured(tmp_path, content, problem, jobs):
    reports = tmp_path / "reports"
    if content == "negative-peak":  # a real summary, then one of its peaks made impossible
        process = start(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off")
        assert process.wait(timeout=600) == 0
        content = json.loads((reports / "summary.json").read_text())
        next(iter(content["runs"].values()))["peak_heap_bytes"] = -1
    reports.mkdir(exist_ok=True)
    bad = json.dumps(content)
    (reports / "summary.json").write_text(bad)
    process = start(tmp_path, jobs, "--workload", "no_grad_loop", "--mode", "off")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "Traceback" not in out + err
    # Set aside, whole, before the first run started, and the reason printed.
    [aside] = [p for p in reports.iterdir() if p.name.startswith("summary.json.unreadable-")]
    assert aside.read_text() == bad
    [said] = [line for line in out.splitlines() if "kept it as" in line]
    assert problem in said and out.index(said) < out.index("[1/1]")
    summary = load_summary(reports / "summary.json")
    assert [run["workload"] for run in summary["runs"].values()] == ["no_grad_loop"]
    pages, named = pages_and_records(reports)
    assert named <= pages, "the new run's pages are all there"


@pytest.mark.parametrize("argv, says", [
    (["--params", "size=-3"], "--params: workload 'seed_loop': size must be a positive integer, got -3"),
    (["--params", "iterations=1.5"], "--params: workload 'seed_loop': iterations must be a positive integer, got 1.5"),
    (["--timeout", "0"], "--timeout '0': expected a positive, finite number"),
    (["--timeout", "-3"], "--timeout '-3': expected a positive, finite number"),
    (["--timeout", "nan"], "--timeout 'nan': expected a positive, finite number"),
    (["--timeout", "inf"], "--timeout 'inf': expected a positive, finite number"),
    (["--memory-interval-ms", "-5"], "--memory-interval-ms '-5': expected a positive whole number"),
    (["--memory-interval-ms", "1.5"], "--memory-interval-ms '1.5': expected a positive whole number"),
    (["--timing-processes", "-1"], "--timing-processes '-1': expected a whole number of at least 0"),
    (["--jobs", "0"], "--jobs '0': expected a positive whole number"),
    (["--jobs", "two"], "--jobs 'two': expected a positive whole number"),
    (["--shard", "3/2"], "--shard '3/2': expected K/N with 1 <= K <= N"),
    (["--shard", "0/2"], "--shard '0/2': expected K/N with 1 <= K <= N"),
    (["--shard", "half"], "--shard 'half': expected K/N with 1 <= K <= N"),
    (["--interpreter", "weakref=/nonexistent/python"], "--interpreter weakref=/nonexistent/python: "
                                                       "'/nonexistent/python' is not an executable file"),
    (["--adapter", "BROKEN_SYNTAX:X"], "cannot import the adapter module"),
    (["--adapter", "RAISES:X"], "cannot import the adapter module"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value))
def test_a_bad_option_is_one_error_line_and_nothing_starts(tmp_path, argv, says, capsys):
    files = {"BROKEN_SYNTAX": "def broken(:\n", "RAISES": "raise RuntimeError('the adapter file breaks at import')\n"}
    for name in files:
        argv = [argument.replace(name, str(tmp_path / f"{name.lower()}.py")) for argument in argv]
    for name, text in files.items():
        (tmp_path / f"{name.lower()}.py").write_text(text)
    reports = tmp_path / "reports"
    status = driver.main(["--variant", VARIANT, "--interpreter", f"{VARIANT}={sys.executable}",
                          "--reports", str(reports), "--captures", str(tmp_path / "captures"), *argv])
    out, err = capsys.readouterr()
    assert status == 2
    [line] = err.strip().splitlines()
    assert line.startswith("profile: error: ") and says in line, line
    assert "[1/" not in out and not reports.exists(), "nothing was started or written"


MERGER = """
import json, sys
from graphmem import store
path, template, writer, count = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()  # every writer starts at once
for number in range(count):
    run_id = f"cpython-3.11/strong/w{writer}/auto/size={number + 1}"
    store.merge_runs(path, {run_id: {**template, "id": run_id, "workload": f"w{writer}", "params": {"size": number + 1}}})
"""


def test_merges_from_four_processes_at_once_keep_every_record(tmp_path):
    """The store's lock, without the profiles around it: four processes each merge 25 records into one summary,
    released together. Without the lock their read-change-write cycles overwrite each other's records."""
    first = profile_command(tmp_path, 1, "--workload", "seed_loop", "--mode", "off")
    assert subprocess.run(first, env={**os.environ, "PYTHONPATH": str(SHARED)}, capture_output=True).returncode == 0
    summary_path = tmp_path / "reports" / "summary.json"
    template = next(iter(load_summary(summary_path)["runs"].values()))
    template = {**template, "files": {}}
    writers = [subprocess.Popen([sys.executable, "-c", MERGER, str(summary_path), json.dumps(template), str(writer), "25"],
                                env={**os.environ, "PYTHONPATH": str(SHARED)}, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for writer in range(4)]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0, 0]
    runs = load_summary(summary_path)["runs"]
    assert len(runs) == 1 + 4 * 25, f"{1 + 4 * 25 - len(runs)} merged records were lost"
