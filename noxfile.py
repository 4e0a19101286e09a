"""Sessions: the contract per variant (test), memray profiles (profile), the written comparison
(report) and speed against peers (bench). `nox -l` lists them."""
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
VARIANTS = ["strong", "weakref", "gc_only"]

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
    """Profile every variant under memray, one process per run, into reports/ (args: --full, --variant, ...)."""
    requirements = nox.project.dependency_groups(PYPROJECT, "profile")
    session.install(*requirements)
    # The driver builds one environment per variant, .nox/profile-<variant>, rebuilt only
    # when that variant's sources or these requirements change; see shared/graphmem/profile.py.
    session.run("python", "-m", "graphmem.profile", "--env-dir", str(ROOT / ".nox"),
                *[f"--requirement={r}" for r in requirements], *session.posargs,
                env={"PYTHONPATH": str(ROOT / "shared")})
    # The written comparison is rendered from the summary just written, by its own session.
    session.notify("report")


@nox.session
def report(session):
    """Render reports/COMPARISON.md and its charts from reports/summary.json alone (no profiling)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "report"))
    session.run("python", "-m", "graphmem.report", *session.posargs, env={"PYTHONPATH": str(ROOT / "shared")})
