"""Peers in the profile: an adapter of our own passed on the command line (README, "Profile your own
library"), peer selection, and peer environments that fail, without stopping the profile.

The library profiled here is a micrograd-shaped one written by test_adapters.py, so that no peer
has to be installed: its environment is this interpreter, given with --interpreter NAME=PATH.
"""
import json
import os
import sys
from pathlib import Path

import dezero
import pytest

from graphmem.profile import cli, driver, parsing, plan
from graphmem import adapters, facts
from graphmem.adapters import environments
from graphmem.report.data import schema_validator
from graphmem.workloads import WORKLOADS
from test_adapters import CLOSURE_ADAPTER, CLOSURE_LIBRARY

VARIANT = dezero.VARIANT
LABEL = plan.SESSION_LABEL  # peers run on the session's interpreter


@pytest.fixture
def own_adapter(tmp_path, monkeypatch):
    """An adapter file for a library on PYTHONPATH, as the harness's subprocesses will see it."""
    library = tmp_path / "lib"
    library.mkdir()
    (library / "closurelib.py").write_text(CLOSURE_LIBRARY)
    (library / "closure_adapter.py").write_text(CLOSURE_ADAPTER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(library), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(library))
    return f"{library / 'closure_adapter.py'}:ClosureAdapter"


def matrix(*args):
    return plan.build_matrix(cli.argument_parser().parse_args(list(args)))


def test_by_default_every_peer_runs_every_workload_it_supports_at_its_defaults_without_sweeps():
    runs = [run for run in matrix() if run.peer]
    by_peer = {}
    for run in runs:
        by_peer.setdefault(run.variant, set()).add((run.workload, run.mode))
        assert run.kind == "default" and run.gc_budget is None
        assert run.params_dict == WORKLOADS[run.workload].params()
    assert set(by_peer) == set(adapters.PEERS)
    assert ("no_grad_loop", "auto") not in by_peer["micrograd"]  # it has no no-grad mode
    assert len(by_peer["torch"]) == len(WORKLOADS) * len(facts.MODES)


def test_naming_implementations_runs_only_those():
    assert not [run for run in matrix("--variant", "strong") if run.peer]
    assert {run.variant for run in matrix("--peer", "torch")} == {"torch"}
    assert {run.variant for run in matrix("--variant", "weakref", "--peer", "book,jax")} == {"weakref", "book", "jax"}
    assert {run.variant for run in matrix("--peer", "none", "--variant", "strong")} == {"strong"}
    assert {run.variant for run in matrix("--peer", "all")} == set(adapters.PEERS)


@pytest.mark.parametrize("args, message", [
    (["--peer", "tensorflow"], "unknown peer 'tensorflow'; valid peers: book, torch"),
    (["--adapter", "no_such_module:Adapter"], "cannot import the adapter module 'no_such_module'"),
    (["--peer", "torch", "--adapter", "graphmem.adapters.torch:TorchAdapter"], "its name 'torch' is taken"),
    (["--peer", "none"], "nothing to run"),
])
def test_a_bad_peer_selection_is_named(args, message):
    with pytest.raises(parsing.SelectionError, match=message):
        matrix(*args)


def test_your_own_library_is_profiled_from_an_adapter_file_on_the_command_line(tmp_path, own_adapter):
    status = driver.main([
        "--adapter", own_adapter, "--interpreter", f"closure={sys.executable}",
        "--workload", "seed_loop,no_grad_loop", "--mode", "off", "--params", "size=200,iterations=3",
        "--timing-processes", "1", "--no-flamegraphs", "--no-report",
        "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
        "--logs", str(tmp_path / "logs")])
    assert status == 0
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    schema_validator().validate(summary)
    assert summary["runs"] == {}
    [(run_id, run)] = summary["peer_runs"].items()  # no_grad_loop: the adapter says it has no no-grad mode
    assert run_id == f"{LABEL}/closure/seed_loop/off/iterations=3,size=200"
    assert run["implementation"] == "closure" and run["status"] == "ok"
    assert run["ran_params"] == {"size": 20, "iterations": 3}  # its scalar_scale of 10
    assert run["peak_heap_bytes"] > 0 and run["timing"]["processes"] == 1
    implementation = summary["implementations"]["closure"]
    assert implementation["available"] and implementation["description"]["source"]["file"] == "closurelib.py"
    cycle = summary["anatomy"]["closure"]["forward"]
    assert cycle["objects"] > 0 and [step["edge"] for step in cycle["cycle"]][0] == "._backward"


def test_a_peer_whose_adapter_check_fails_is_recorded_and_the_others_still_run(tmp_path, own_adapter):
    status = driver.main([
        "--variant", VARIANT, "--interpreter", f"{VARIANT}={sys.executable}",
        "--peer", "jax", "--interpreter", f"jax={sys.executable}",  # this python has no jax
        "--workload", "seed_loop", "--mode", "off", "--params", "size=100,iterations=2", "--no-anatomy",
        "--timing-processes", "0", "--no-flamegraphs", "--no-report",
        "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
        "--logs", str(tmp_path / "logs")])
    assert status == 0
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    jax = summary["implementations"]["jax"]
    assert jax["available"] is False and "the jax adapter cannot import its library here" in jax["reason"]
    assert summary["implementations"][VARIANT]["available"] is True
    [run_id] = summary["runs"]  # gc_only's id also names its budget
    assert run_id.startswith(f"{LABEL}/{VARIANT}/seed_loop/off/iterations=2,size=100")
    assert not summary.get("peer_runs")


# --- peer environments -------------------------------------------------------------------------
def test_a_peer_that_cannot_install_is_recorded_with_pip_s_error_and_nothing_raises(tmp_path, own_adapter):
    (tmp_path / "broken.py").write_text(
        "from graphmem.adapters import Adapter\n"
        "class Broken(Adapter):\n"
        "    name = 'broken'\n"
        "    install_steps = (('graphmem-no-such-distribution==0.0.1',),)\n")
    found = environments.peer_environment(f"{tmp_path / 'broken.py'}:Broken", tmp_path / "envs", [], say=print)
    assert found.python is None and found.description is None
    # uv installs where it is found (graphmem.installer), pip where it is not
    assert found.unavailable.startswith(("pip install graphmem-no-such-distribution==0.0.1 failed: ",
                                         "uv pip install graphmem-no-such-distribution==0.0.1 failed: "))
    assert (tmp_path / "envs" / "profile-peer-broken" / environments.LOG).is_file()
    assert not (tmp_path / "envs" / "profile-peer-broken" / environments.STAMP).exists()  # retried next time


def test_a_missing_binary_is_named_when_it_cannot_be_installed(monkeypatch):
    monkeypatch.setattr(environments.shutil, "which", lambda name: None)
    reason = environments.ensure_command("clang", "clang", [])
    assert "needs the `clang` binary (Debian package `clang`), which is not on PATH" in reason


def test_an_environment_is_reused_until_its_pins_change(tmp_path, own_adapter):
    adapter = environments.adapter_class(own_adapter)
    folder = tmp_path / "envs" / "profile-peer-closure"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    (folder / environments.STAMP).write_text(environments.fingerprint(adapter, ["memray>=1.13"]))
    said = []
    found = environments.peer_environment(own_adapter, tmp_path / "envs", ["memray>=1.13"], say=said.append)
    assert found.unavailable is None and said == []  # reused: no build
    assert found.description["name"] == "closure"
    assert environments.fingerprint(adapter, ["memray>=1.14"]) != environments.fingerprint(adapter, ["memray>=1.13"])


def test_pip_s_error_line_is_the_reason():
    output = "Collecting x\n  Downloading...\nERROR: No matching distribution found for x==9\nnotice: upgrade pip\n"
    assert environments.last_error(output) == "ERROR: No matching distribution found for x==9"
    assert environments.last_error("") == "no output"


# --- the README's example -------------------------------------------------------------------------
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example():
    """The adapter file and the command of README's "Profile your own library"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Profile your own library"):]
    section = section[:section.index("\n## ", 4)]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    return code, command


def test_the_readme_example_profiles_a_micrograd_shaped_library(tmp_path, monkeypatch):
    code, command = readme_example()
    assert command.startswith("python3 -m nox -s profile -- --adapter my_micrograd.py:MyMicrograd")
    library = tmp_path / "lib"
    (library / "micrograd").mkdir(parents=True)
    (library / "micrograd" / "__init__.py").write_text("")
    # micrograd's shape (scalar Values whose op closures capture their output), at its import path
    (library / "micrograd" / "engine.py").write_text(CLOSURE_LIBRARY.replace("  # MARKER: the closure refers to out", ""))
    (tmp_path / "my_micrograd.py").write_text(code)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(library), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(library))
    monkeypatch.chdir(tmp_path)
    user_args = command.split(" -- ", 1)[1].split()
    status = driver.main([*user_args, "--interpreter", f"my_micrograd={sys.executable}", "--mode", "off",
                           "--params", "size=300,iterations=2,depth=5", "--timing-processes", "0",
                           "--no-flamegraphs", "--no-report", "--reports", str(tmp_path / "reports"),
                           "--captures", str(tmp_path / "captures"), "--logs", str(tmp_path / "logs")])
    assert status == 0
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert sorted(summary["peer_runs"]) == [f"{LABEL}/my_micrograd/deep_chain/off/depth=5,size=300",
                                            f"{LABEL}/my_micrograd/seed_loop/off/iterations=2,size=300"]
    assert all(run["status"] == "ok" and run["ran_params"]["size"] == 3 for run in summary["peer_runs"].values())
    described = summary["implementations"]["my_micrograd"]["description"]
    assert described["source"]["file"] == "micrograd/engine.py"
    assert described["source"]["text"].startswith("out._backward = _backward")
    assert summary["anatomy"]["my_micrograd"]["forward"]["objects"] > 0


def test_a_peer_is_timed_on_the_seed_loop_only():
    timed = {run.workload for run in matrix("--peer", "torch") if run.timed}
    assert timed == {plan.PEER_TIMED_WORKLOAD}


def test_when_no_peer_is_available_the_summary_still_says_why(tmp_path):
    status = driver.main([
        "--peer", "jax", "--interpreter", f"jax={sys.executable}", "--no-report",  # this python has no jax
        "--reports", str(tmp_path / "reports"), "--captures", str(tmp_path / "captures"),
        "--logs", str(tmp_path / "logs")])
    assert status == 0
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    schema_validator().validate(summary)
    assert summary["implementations"]["jax"]["available"] is False and summary["runs"] == {}
