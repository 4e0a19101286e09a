"""Fault injection into the profile driver, for real: harness interpreters that misbehave, killed
children, SIGINT to a running profile, read-only reports/, a fake clock. What must survive is asserted."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import dezero
import jsonschema
import pytest

from folders import read_only
from graphmem.profile import checks, driver, environments, plan
from graphmem import facts, store
from graphmem.profile import harness
from graphmem.report import interpreter_section
from graphmem.report import render as report
from graphmem.report import verdict
from graphmem.report.data import SCHEMA_PATH, chart_plan, load_summary
from graphmem.workloads import WORKLOADS

SCHEMA = json.loads(SCHEMA_PATH.read_text())
VARIANT = dezero.VARIANT
LABEL = plan.SESSION_LABEL
TINY = "size=1000,iterations=3"
SHARED = Path(driver.__file__).resolve().parents[2]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The driver's scratch folders under tmp_path, so that any process of a run names tmp_path."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(params=[1, 2], ids=["jobs1", "jobs2"])
def jobs(request):
    """Each fault once with runs one at a time and once with two memray measurements side by side."""
    return request.param


def run_profile(tmp_path, jobs, *args, interpreter=sys.executable):
    status = driver.main([
        "--variant", VARIANT, "--interpreter", f"{VARIANT}={interpreter}", "--no-report", "--timing-processes", "1",
        "--jobs", str(jobs),
        "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
        "--logs", str(tmp_path / "logs"), *args])
    path = tmp_path / "reports" / "summary.json"
    return status, json.loads(path.read_text()) if path.exists() else None


def processes_naming(text):
    """PIDs of live (not zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append(int(entry.name))
    return found


def assert_none_alive_within(text, seconds=10.0):
    """Waits for each process naming `text` to exit (a pidfd becomes readable when it does), then asserts none is left."""
    for pid in processes_naming(text):
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([pidfd], [], [], seconds)
        finally:
            os.close(pidfd)
    assert processes_naming(text) == [], f"processes of the run outlived the driver: {processes_naming(text)}"


def wait_for_output(process, marker):
    """What `process` printed up to and including `marker`, read as it comes (no sleeping, no clock)."""
    seen = ""
    while marker not in seen:
        character = process.stdout.read(1)
        assert character, f"the process ended before printing {marker!r}: {seen[-500:]}"
        seen += character
    return seen


def fake_interpreter(tmp_path, body):
    """A 'python' that runs the probe and the timing processes for real, and `body` for the memray harness.

    In `body`: SPEC (the spec), RESULT (where the result goes), REAL (the real python), real_result()
    (runs the real harness and returns what it wrote, as a dict)."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent('''
        import json, os, subprocess, sys
        REAL = sys.executable
        if sys.argv[1:3] != ["-m", "graphmem.profile.harness"]:
            os.execv(REAL, [REAL, *sys.argv[1:]])
        SPEC = json.load(open(sys.argv[3]))
        RESULT = sys.argv[4]
        if SPEC.get("memray") is False or SPEC["workload"] != "seed_loop":
            os.execv(REAL, [REAL, *sys.argv[1:]])

        def real_result():
            subprocess.run([REAL, *sys.argv[1:]], check=True)
            with open(RESULT) as text:
                return json.load(text)

        def write(data):
            with open(RESULT, "wb" if isinstance(data, bytes) else "w") as out:
                out.write(data if isinstance(data, (str, bytes)) else json.dumps(data))
        ''') + textwrap.dedent(body))
    script.chmod(0o755)
    return script


# Each: what the fake harness does for seed_loop, and what the failed record's reason must say.
BAD_RESULTS = {
    "nothing": ("sys.exit(0)", "exited normally but wrote no result"),
    "not-utf8": ("write(b'\\xff\\xfe\\x00garbage')", "not UTF-8 text"),
    "not-json": ("write('{ half a result')", "not JSON"),
    "empty": ("write('')", "not JSON"),
    "empty-object": ("write({})", "does not match summary.schema.json"),
    "a-list": ("write([1, 2])", "a JSON list where an object was expected"),
    "wrong-status": ("write({**real_result(), 'status': 'fine'})", "at status: 'fine' is not one of"),
    "negative-peak": ("write({**real_result(), 'peak_heap_bytes': -5})", "at peak_heap_bytes: -5 is less than"),
    "negative-wall": ("write({**real_result(), 'wall_seconds': -3})", "at wall_seconds: -3 is less than"),
    "nan-peak": ("write(json.dumps({**real_result(), 'peak_heap_bytes': float('nan')}))", "NaN is not a number"),
    "string-allocations": ("write({**real_result(), 'total_allocations': 'many'})",
                           "at total_allocations: 'many' is not of type"),
    "no-files-object": ("write({**real_result(), 'files': []})", "files is a list, not an object"),
    "more-iterations-than-asked": ("write({**real_result(), 'iterations_completed': 4})",
                                   "impossible: iterations_completed 4 is more than the run's 3"),
    "another-run": ("write({**real_result(), 'mode': 'auto'})", "for another run: mode 'auto', expected 'off'"),
    "killed": ("os.kill(os.getpid(), 9)", "was killed by signal 9"),
    "exits-1": ("print('something broke', file=sys.stderr); sys.exit(1)", "exited with status 1: something broke"),
}


@pytest.mark.parametrize("case", BAD_RESULTS)
def test_bad_harness_output_is_a_failed_run_naming_it_and_later_runs_go_on(tmp_path, scratch, case, jobs):
    body, reason = BAD_RESULTS[case]
    status, summary = run_profile(tmp_path, jobs, "--workload", "seed_loop,no_grad_loop", "--mode", "off", "--params", TINY,
                                  "--no-flamegraphs", interpreter=fake_interpreter(tmp_path, body))
    assert status == 1
    jsonschema.validate(summary, SCHEMA)
    runs = {run["workload"]: run for run in summary["runs"].values()}
    assert runs["seed_loop"]["status"] == "failed"
    assert reason in runs["seed_loop"]["reason"]
    [failure] = runs["seed_loop"]["failures"]
    assert (Path(facts.ROOT) / failure["log"]).is_file() or Path(failure["log"]).is_file()
    assert runs["no_grad_loop"]["status"] == "ok", "the run after the bad one still ran"


def test_a_failed_rerun_leaves_the_good_record_its_files_and_peak(tmp_path, scratch, jobs):
    status, first = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "auto", "--params", TINY)
    assert status == 0
    [good] = first["runs"].values()
    files = {key: (tmp_path / path).read_bytes() for key, path in good["files"].items()}
    assert len(files) == 3

    status, second = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "auto", "--params", TINY,
                                 "--timeout", "0.05")
    assert status == 1
    assert_none_alive_within(str(tmp_path))
    [kept] = second["runs"].values()
    assert {key: value for key, value in kept.items() if key != "failures"} == \
        {key: value for key, value in good.items() if key != "failures"}
    assert {key: (tmp_path / path).read_bytes() for key, path in kept["files"].items()} == files
    [failure] = kept["failures"]
    assert "timed out after 0.05 s" in failure["reason"]
    assert not list((tmp_path / "reports").rglob("*.tmp")), "no partial file"


def test_a_killed_run_takes_everything_it_started_with_it(tmp_path, scratch, jobs):
    # The harness starts a renderer-like child in its group, then dies; the child must not live on.
    body = f'''
        subprocess.Popen([REAL, "-c", "import time; time.sleep(60)", "{tmp_path}"])
        os.kill(os.getpid(), 9)
    '''
    status, summary = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off", "--params", TINY,
                                  interpreter=fake_interpreter(tmp_path, body))
    assert status == 1
    [run] = summary["runs"].values()
    assert "killed by signal 9" in run["reason"]
    assert_none_alive_within(str(tmp_path))


def test_a_timed_out_harness_and_its_renderers_are_ended(tmp_path, scratch, jobs):
    body = f'''
        subprocess.Popen([REAL, "-c", "import time; time.sleep(60)", "{tmp_path}"])
        import time; time.sleep(60)
    '''
    status, summary = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off", "--params", TINY,
                                  "--timeout", "2", interpreter=fake_interpreter(tmp_path, body))
    assert status == 1
    [run] = summary["runs"].values()
    assert "timed out after 2 s" in run["reason"]
    assert_none_alive_within(str(tmp_path))


def test_files_of_a_good_run_are_written_whole_and_from_the_run(tmp_path, scratch, jobs):
    status, summary = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off", "--params", TINY)
    assert status == 0
    [run] = summary["runs"].values()
    for path in run["files"].values():
        assert (tmp_path / path).parent == tmp_path / "reports" / LABEL / VARIANT
    assert not list(scratch.iterdir()), "the scratch folder where memray rendered is gone"
    page = (tmp_path / run["files"]["flamegraph"]).read_text()
    assert "../assets/" in page and len(page) < 2_000_000, "the libraries are shared, not inlined"


# --- interrupts --------------------------------------------------------------------------------

@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_profile_leaves_summary_report_and_charts_in_agreement(tmp_path, signal_number, jobs):
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": str(SHARED), "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "graphmem.profile", "--variant", VARIANT, "--workload", "seed_loop,no_grad_loop",
               "--mode", "auto,off", "--params", TINY, "--timing-processes", "2",
               "--interpreter", f"{VARIANT}={sys.executable}", "--reports", str(reports),
               "--captures", str(tmp_path / "captures"), "--logs", str(tmp_path / "logs"), "--jobs", str(jobs)]
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = wait_for_output(driver, "[2/4]")  # two runs are merged and the others started (or queued)
    driver.send_signal(signal_number)
    rest, err = driver.communicate(timeout=120)
    out += rest
    assert driver.returncode == 130, err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "interrupted" in line]
    assert "kept the" in line and "rerun `python3 -m nox -s profile" in line
    assert str(sys.executable) not in line
    assert_none_alive_within(str(tmp_path))

    summary = load_summary(reports / "summary.json")
    assert 1 <= len(summary["runs"]) < 4
    bench, bench_note = verdict.load_bench(reports / "bench.json")  # as the driver renders: bench.json beside it
    expected = report.render_markdown(summary, report.committed_paths(), bench=bench, bench_note=bench_note)
    assert (reports / "COMPARISON.md").read_text(encoding="utf-8") == expected
    drawn = [chart.name for chart in chart_plan(summary) if not chart.missing]
    # and "On your interpreter"'s chart, which the report links where it has one to draw
    drawn = sorted(drawn + re.findall(r"\((chart-[^)]+\.png)\)", "\n".join(interpreter_section.section(summary))))
    assert drawn and sorted(p.name for p in reports.glob("chart-*.png")) == drawn
    assert all((reports / name).stat().st_mtime >= (reports / "summary.json").stat().st_mtime - 1 for name in drawn)
    assert not [p for p in reports.rglob("*") if p.name.endswith(".tmp")], "no partial file"


def test_an_interrupt_while_environments_are_built_changes_nothing(tmp_path, monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(driver, "variant_environment", interrupted)
    status = driver.main(["--variant", VARIANT, "--workload", "seed_loop", "--reports", str(tmp_path / "reports")])
    assert status == 130
    assert "interrupted before the first run; reports/ is unchanged" in capsys.readouterr().err
    assert not (tmp_path / "reports" / "summary.json").exists()


def test_interrupts_wait_for_a_commit_to_finish(tmp_path):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with driver.interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # delivered to this thread before os.kill returns
            done.append("the block ran to its end")
    assert done == ["the block ran to its end"]


# --- reports/ that cannot be written -----------------------------------------------------------

@pytest.fixture
def read_only_folder(tmp_path):
    """reports/ with a summary in it, that nobody can write to."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    with read_only(folder):
        yield folder


def test_read_only_reports_is_a_clear_error_before_any_run(tmp_path, read_only_folder, capsys):
    status = driver.main(["--variant", VARIANT, "--interpreter", f"{VARIANT}={sys.executable}", "--workload",
                           "seed_loop", "--mode", "off", "--params", TINY, "--reports", str(read_only_folder),
                           "--captures", str(tmp_path / "captures")])
    captured = capsys.readouterr()
    assert status == 2
    assert f"profile: error: cannot write to {read_only_folder}" in captured.err
    assert "Traceback" not in captured.err and "ok" not in captured.out
    assert not (tmp_path / "captures").exists(), "nothing was measured"
    assert (read_only_folder / "summary.json").read_text() == "{}"


def test_a_write_that_fails_mid_profile_stops_with_an_error_not_ok(tmp_path, scratch, monkeypatch, capsys, jobs):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "reports" / "summary.json"))

    monkeypatch.setattr(store, "update", full_disk)
    status, _ = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off", "--params", TINY,
                            "--no-flamegraphs")
    captured = capsys.readouterr()
    assert status == 1
    assert "NOT SAVED" in captured.out and ", peak" not in captured.out
    assert "No space left on device" in captured.err


# --- a fake clock ------------------------------------------------------------------------------

class FakeClock:
    """perf_counter() that advances by the given steps, one per call."""

    def __init__(self, *steps):
        self.now, self.steps = 100.0, list(steps)

    def __call__(self):
        self.now += self.steps.pop(0) if self.steps else 0.0
        return self.now


def test_the_harness_times_one_call_of_the_workload_with_its_clock(monkeypatch):
    workload = WORKLOADS["no_grad_loop"]
    monkeypatch.setattr(harness.time, "perf_counter", FakeClock(0.0, 0.25))
    outcome = harness.run_workload(workload, workload.params({"size": 10, "iterations": 2}), ceiling=None)
    assert outcome.status == "ok" and outcome.wall_seconds == pytest.approx(0.25)


def test_timing_statistics_are_median_quartiles_and_range():
    samples = [{"wall_seconds": wall, "gc": {"runs": [1, 0, gen2], "seconds": [0.001, 0.0, 0.002 * gen2],
                                            "variant_collections": None, "variant_seconds": None}}
               for wall, gen2 in ((0.5, 1), (0.1, 0), (0.3, 2), (0.2, 1), (0.4, 1))]
    timing = checks.timing_statistics(samples)
    assert timing["processes"] == 5 and timing["memray"] is False
    wall = timing["wall_seconds"]
    assert (wall["median"], wall["q1"], wall["q3"], wall["min"], wall["max"]) == (0.3, 0.2, 0.4, 0.1, 0.5)
    assert timing["full_collection_seconds"]["samples"] == [0.002] * 4, "only the processes that had one"
    assert timing["variant_collection_seconds"] is None
    jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/timing"}).validate(timing)


def test_the_eta_is_printed_before_the_first_run(tmp_path, scratch, capsys, jobs):
    status, _ = run_profile(tmp_path, jobs, "--workload", "seed_loop", "--mode", "off", "--params", TINY,
                            "--no-flamegraphs")
    first = capsys.readouterr().out.splitlines()[0]
    assert status == 0 and first.startswith("profile: 1 runs over") and "; about " in first


# --- provenance ---------------------------------------------------------------------------------

def test_the_dirty_flag_ignores_what_profiling_writes(tmp_path, monkeypatch):
    from graphmem import checkout

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    monkeypatch.setattr(checkout, "ROOT", tmp_path)
    for folder in environments.OWN_OUTPUT:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "output.json").write_text("{}")
    assert environments.host_environment()["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert environments.host_environment()["git_dirty"] is True


@pytest.mark.parametrize("params, stem", [
    ({}, "seed_loop-off"),
    ({"size": 1000, "iterations": 3}, "seed_loop-off-iterations3-size1000"),
    ({"size": 1_000_000}, "seed_loop-off-full"),
])
def test_output_stems_name_parameters_that_are_not_the_defaults(params, stem):
    spec = WORKLOADS["seed_loop"]
    run = plan.Run("weakref", "seed_loop", "off", tuple(sorted(spec.params(params).items())), None, "default")
    assert run.file_stem == stem


GOOD_SAMPLE = {"status": "ok", "wall_seconds": 0.1, "gc": {"runs": [1, 0, 0], "seconds": [0.001, 0.0, 0.0],
                                                           "variant_collections": None, "variant_seconds": None}}


@pytest.mark.parametrize("change, reason", [
    (lambda s: s.update(wall_seconds=-3), "wall_seconds = -3, not a non-negative number"),
    (lambda s: s.update(wall_seconds="fast"), "wall_seconds = 'fast'"),
    (lambda s: s.update(status="failed"), "reported status 'failed'"),
    (lambda s: s.pop("gc"), "no collector runs and seconds per generation"),
    (lambda s: s["gc"].update(runs=[1, 0]), "no collector runs and seconds per generation"),
    (lambda s: s["gc"].update(runs=[1.5, 0, 0]), "a collector run count = 1.5, not a non-negative count"),
    (lambda s: s["gc"].update(variant_seconds=float("inf")), "variant_seconds = inf"),
], ids=["negative-wall", "string-wall", "failed-status", "no-gc", "two-generations", "fractional-count", "infinite"])
def test_a_bad_timing_sample_fails_the_attempt_naming_the_process(change, reason):
    sample = json.loads(json.dumps(GOOD_SAMPLE))
    assert checks.checked_sample(json.loads(json.dumps(GOOD_SAMPLE)), "timing process 3") == GOOD_SAMPLE
    change(sample)
    with pytest.raises(checks.RunFailed, match="timing process 3 reported") as failure:
        checks.checked_sample(sample, "timing process 3")
    assert reason in str(failure.value)
