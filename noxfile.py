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


@nox.session(reuse_venv=True)
def profile(session):
    """Profile every variant and peer library (memory under memray, times without), one process per run, into reports/."""
    requirements = nox.project.dependency_groups(PYPROJECT, "profile")
    session.install(*requirements)
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
    """Render reports/COMPARISON.md and its charts from reports/summary.json alone (no profiling)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "report"))
    session.run("python", "-m", "graphmem.report", *session.posargs, env={"PYTHONPATH": str(ROOT / "shared")})


# --- bench: speed against the peers ------------------------------------------------------
@nox.session(reuse_venv=True)
def bench(session):
    """Per-op speed, backward scaling, collection and teardown vs PyTorch, the book's dezero and a floor (-- --quick)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "bench"))
    # The run builds one environment per variant and per peer, .nox/bench-<variant> and
    # .nox/bench-peer-<name>, through graphmem.adapters.environments as the profile does (each peer
    # from its adapter's pins), rebuilt only when they change; a peer that cannot install is recorded.
    # No --out-dir: a full run writes reports/, a quick or partial one build/bench-quick/ (see graphmem.bench.run).
    session.run("python", "-m", "graphmem.bench", "run", "--env-dir", str(ROOT / ".nox"),
                *session.posargs, env={"PYTHONPATH": str(ROOT / "shared")})
