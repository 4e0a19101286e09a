"""Sessions: the contract per interpreter and variant, and the pipeline's tests once (test), memray
profiles (profile), the written comparison (report) and speed against peers (bench). `nox -l` lists them."""
import os
import re
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "shared"))
from graphmem import interpreters  # noqa: E402  (the standard library only)
from graphmem.facts import CANONICAL, VARIANTS  # noqa: E402  (names only: importing it needs no numpy)

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
VARIANTS = list(VARIANTS)

nox.options.sessions = ["test"]
nox.options.default_venv_backend = "venv"


def install_variant(session, variant, *groups):
    """One variant's dezero, built from its folder, and the named dependency groups."""
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    session.install(str(ROOT / "variants" / variant), *requirements)


# --- test: the contract per interpreter and variant, the pipeline's own tests once ----------------
# The interpreters the contract runs on are the profile's defaults, looked up the same way (PATH, then
# pyenv's versions folder): graphmem.interpreters, which imports nothing beyond the standard library.
TEST_INTERPRETERS = interpreters.DEFAULTS
PIPELINE_INTERPRETER = "3.11"  # shared/tests run once, here, with the canonical variant installed
SELECTION_RECORD = ROOT / ".nox" / "test-selection.txt"


def find_interpreter(name):
    """The path of interpreter `name` ("3.12", "pypy3" or a path), or None (never installs anything)."""
    found = interpreters.resolve(name, install=False, say=lambda text: None)
    return str(found.path) if found.available else None


def pyenv_versions():
    return Path(interpreters.pyenv_root()) / "versions"


def test_runs():
    """(id, python, suite, variant) of each test session: the contract's matrix, then the pipeline, which
    also drives the NumPy-bytes counter's tests through each interpreter's canonical environment.
    A missing interpreter keeps its name, so that nox reports it by name and runs the others."""
    runs = [("interpreters", False, "interpreters", None)]
    for name in TEST_INTERPRETERS:
        # pypy3 is looked up when its session starts: test(interpreters) may have just installed it.
        python = name if name.startswith("pypy") else (find_interpreter(name) or name)
        runs += [(f"python='{name}', variant='{variant}'", python, "contract", variant) for variant in VARIANTS]
    runs.append(("pipeline", find_interpreter(PIPELINE_INTERPRETER) or PIPELINE_INTERPRETER, "pipeline", CANONICAL))
    return runs


def contract_environments():
    """The pythons of the contract sessions' canonical-variant environments that exist (one per interpreter)."""
    found = []
    for name in TEST_INTERPRETERS:
        folder = ROOT / ".nox" / re.sub(r"[^\w]+", "-", f"test-python-{name}-variant-{CANONICAL}").strip("-")
        python = folder / "bin" / "python"
        if python.exists():
            found.append(str(python))
    return found


def selection_matches_nothing(session):
    """Whether test(pipeline) found that this run's -k/-m selection matches no test anywhere."""
    return (session.posargs and SELECTION_RECORD.exists()
            and SELECTION_RECORD.read_text() == f"{os.getpid()} {session.posargs!r} empty")


# uv builds a test environment in seconds where venv + pip take half a minute; without uv, venv.
# uv does not read pip's configuration (the machine's local torch build), so it serves the test
# sessions only, which never ask for torch. It never downloads an interpreter either.
@nox.session(venv_backend="uv|venv", reuse_venv=True, download_python="never")
@nox.parametrize(["python", "suite", "variant"], [run[1:] for run in test_runs()], ids=[run[0] for run in test_runs()])
def test(session, suite, variant):
    """The contract (shared/contract) per interpreter and variant; the pipeline's tests (shared/tests) once."""
    if suite == "interpreters":
        return report_interpreters(session)
    if selection_matches_nothing(session):
        session.skip("nothing selected, see test(pipeline)")
    implementation = session.run("python", "-c", "import sys; print(sys.implementation.name)", silent=True).strip()
    # PyPy 7.3.11: numpy 2.0.2 is the newest release with a wheel; never build numpy from source.
    numpy = ["--only-binary", "numpy"] if implementation == "pypy" else []
    groups = ["contract"] if suite == "contract" else ["test"]
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    folder = str(ROOT / "variants" / variant)
    # The variant itself is always rebuilt: an installer that sees the same version keeps stale sources.
    if session.venv_backend == "uv":
        session.install(*numpy, f"--reinstall-package=dezero-{variant}", folder, *requirements, "setuptools>=70", "wheel")
    else:
        session.install(*numpy, folder, *requirements, "setuptools>=70", "wheel")
        session.install("--force-reinstall", "--no-deps", folder)
    # The NumPy-bytes counter (a C extension) is built against the numpy just installed, never a source numpy;
    # the pipeline's counter tests run it in each interpreter's canonical environment.
    if variant == CANONICAL:
        session.install("--no-build-isolation", str(ROOT / "shared" / "numpy_bytes"))
    if suite == "pipeline":
        check_selection(session)
        others = os.pathsep.join(contract_environments())
        session.run("pytest", "shared/tests", *session.posargs, success_codes=[0, 5],
                    env={"GRAPHMEM_INTERPRETERS": others})
        return
    memray = ["--memray"] if implementation == "cpython" else []  # pytest-memray exists on CPython only
    session.run("pytest", "shared/contract", *memray, *session.posargs, success_codes=[0, 5])


def report_interpreters(session):
    """Name each interpreter the contract runs on and where it was found; install PyPy when it is
    missing and this runs as root (Debian's pypy3); a missing one is named, and nox skips its sessions."""
    pypy_headers = list(Path("/usr/include").glob("pypy3*/Python.h"))
    if (not find_interpreter("pypy3") or not pypy_headers) and hasattr(os, "geteuid") and os.geteuid() == 0 \
            and shutil.which("apt-get"):
        # pypy3-dev: the headers the NumPy-bytes counter (a C extension) is built with.
        session.log(f"pypy3 or its headers are missing: installing Debian's {', '.join(interpreters.PYPY_PACKAGES)}")
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", *interpreters.PYPY_PACKAGES, external=True)
    for name in TEST_INTERPRETERS:
        found = find_interpreter(name)
        session.log(f"{name}: {found}" if found else
                    f"{name}: NOT FOUND (looked on PATH and in {pyenv_versions()}); nox skips its sessions "
                    f"(under CI=true, fails them)")


def check_selection(session):
    """With a -k/-m selection, ask pytest once whether it matches any test of any row (variant ×
    interpreter) or of the pipeline; if none, say so here, fail, and let the other sessions skip."""
    SELECTION_RECORD.unlink(missing_ok=True)
    if not session.posargs:
        return
    listing = session.run("pytest", "--collect-only", "-q", "shared/contract", "shared/tests", *session.posargs,
                       env={"GRAPHMEM_CONTRACT_EVERY_ROW": "1"}, success_codes=[0, 5], silent=True)
    if "no tests collected" in listing or "no tests ran" in listing:
        SELECTION_RECORD.parent.mkdir(parents=True, exist_ok=True)
        SELECTION_RECORD.write_text(f"{os.getpid()} {session.posargs!r} empty")
        session.error(f"pytest {' '.join(session.posargs)} matches no test of the contract or the pipeline, "
                      f"on any variant or interpreter: nothing to run")


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
