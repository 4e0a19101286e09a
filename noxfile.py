"""Sessions: the contract per variant (test), memray profiles (profile), the written comparison
(report) and speed against peers (bench). `nox -l` lists them."""
from pathlib import Path

import sys

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "shared"))
from graphmem.facts import VARIANTS  # noqa: E402  (names only: importing it needs no numpy)

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
VARIANTS = list(VARIANTS)

nox.options.sessions = ["test"]
nox.options.default_venv_backend = "venv"


def install_variant(session, variant, *groups):
    """One variant's dezero, built from its folder, and the named dependency groups."""
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    session.install(str(ROOT / "variants" / variant), *requirements)


@nox.session
@nox.parametrize("variant", VARIANTS, ids=VARIANTS)
def test(session, variant):
    """Run the shared contract against one variant, in its own environment."""
    install_variant(session, variant, "test")
    session.run("pytest", "--memray", *session.posargs)


@nox.session(reuse_venv=True, venv_backend="uv|venv")
def profile(session):
    """Profile every variant and peer library (memory under memray, times without), one process per run, into reports/."""
    requirements = nox.project.dependency_groups(PYPROJECT, "profile")
    # uv builds the driver's environments several times faster than venv and pip (graphmem.installer);
    # torch alone still goes through pip, whose configuration finds the machine's local CPU build.
    session.install("uv", *requirements)
    # The driver builds one environment per variant, .nox/profile-<variant>, rebuilt only
    # when that variant's sources or these requirements change; see shared/graphmem/profile/driver.py.
    # Each peer library gets .nox/profile-peer-<name> from its adapter's pins (shared/graphmem/adapters/),
    # rebuilt only when they change; one that cannot install is recorded, not fatal.
    # It renders COMPARISON.md and the charts itself from what it merged, also after Ctrl-C; nox
    # must then wait for it (interrupt_timeout=None) instead of killing it 0.5 s into that.
    session.run("python", "-m", "graphmem.profile", "--env-dir", str(ROOT / ".nox"),
                *[f"--requirement={r}" for r in requirements], *session.posargs,
                env={"PYTHONPATH": str(ROOT / "shared")}, interrupt_timeout=None)


@nox.session
def report(session):
    """Render reports/COMPARISON.md and its charts from reports/summary.json alone (-- --merge A.json B.json: join machines' first).

    `-- --merge a.json b.json ...` first merges several machines' summaries into reports/summary.json
    (python -m graphmem.merge), then renders it."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "report"))
    env = {"PYTHONPATH": str(ROOT / "shared")}
    args = list(session.posargs)
    if "--merge" in args:  # the files after --merge, up to the next option, are the summaries to merge
        at = args.index("--merge")
        files = []
        for arg in args[at + 1:]:
            if arg.startswith("-"):
                break
            files.append(arg)
        if not files:
            session.error("--merge needs the summary.json files to merge, e.g. --merge a.json b.json")
        session.run("python", "-m", "graphmem.merge", *files, env=env)
        args = args[:at] + args[at + 1 + len(files):]
    session.run("python", "-m", "graphmem.report", *args, env=env)


# --- bench: speed against the peers (issue 5) ------------------------------------------
BENCH_PEERS = {
    # The book's package uses np.int, gone in numpy 1.24; numpy 1.23.5 has wheels for Python 3.11.
    # It imports matplotlib at import time without declaring it.
    "book": {"kind": "book", "module": "dezero", "install": ["dezero==0.0.13", "numpy==1.23.5", "matplotlib<3.10"],
             "note": "dezero==0.0.13 from PyPI with numpy 1.23.5 (it needs numpy<1.24: it uses np.int)"},
    # This pin takes the CPU build from the machine's disk; never ask pip for plain `torch`.
    # numpy too: the bench harness imports graphmem.workloads, whose package imports numpy.
    "torch": {"kind": "torch", "module": "torch", "install": ["torch==2.13.0", "numpy>=1.22"],
              "note": "torch==2.13.0 CPU build, one thread"},
    # The bench's own floor (shared/graphmem/bench/minimal.py) needs only numpy: the same requirement
    # as the variants' own, so that it gets the numpy they get.
    "minimal": {"kind": "minimal", "module": "numpy", "install": ["numpy>=1.22"],
                "note": "the smallest step-17 autograd, graphmem.bench.minimal; numpy as the variants get it"},
}
BENCH_IMPLEMENTATIONS = VARIANTS + list(BENCH_PEERS)
BENCH_ENVS = ROOT / ".nox" / "bench-envs"


def _write_bench_env_record(record):
    import json
    BENCH_ENVS.mkdir(parents=True, exist_ok=True)
    path = BENCH_ENVS / f"{record['name']}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    temporary.replace(path)


@nox.session(default=False)
@nox.parametrize("implementation", BENCH_IMPLEMENTATIONS, ids=BENCH_IMPLEMENTATIONS)
def bench_env(session, implementation):
    """Build one implementation's environment for bench; a peer that cannot install is recorded, not fatal."""
    peer = BENCH_PEERS.get(implementation)
    record = {"name": implementation, "kind": peer["kind"] if peer else "ours", "note": peer and peer["note"]}
    try:
        if peer:
            session.install(*peer["install"])
        else:
            install_variant(session, implementation)
        session.run("python", "-c", f"import {peer['module'] if peer else 'dezero'}", silent=True)
        record["python"] = str(Path(session.bin) / "python")
    except nox.command.CommandFailed as error:
        if not peer:
            raise
        record["unavailable"] = (f"installing or importing {' '.join(peer['install'])} failed ({error}); "
                                 f"see the bench_env({implementation}) log")
    _write_bench_env_record(record)


@nox.session(requires=[f"bench_env({name})" for name in BENCH_IMPLEMENTATIONS])
def bench(session):
    """Per-op speed, backward scaling, collection and teardown vs PyTorch, the book's dezero and a floor (-- --quick)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "bench"))
    # No --out-dir: a full run writes reports/, a quick or partial one build/bench-quick/ (see graphmem.bench.run).
    session.run("python", "-m", "graphmem.bench", "run", "--envs", str(BENCH_ENVS),
                *session.posargs, env={"PYTHONPATH": str(ROOT / "shared")})
