"""The interpreters runs use: one virtual environment per (variant, interpreter), the peers' own, and what
each runs with.

`<env-dir>/profile-<variant>-<label>` (label as in graphmem.interpreters, e.g. cpython-3.13) holds that
variant and the profile requirements, made with that interpreter; it is rebuilt only when the variant's
sources, the requirements or the interpreter change. On PyPy numpy comes as a binary wheel only
(`--only-binary :all:`: 2.0.2 for PyPy 7.3.11) and memray is left out: it has no PyPy support, so runs
there have no memray process. Each environment's python is probed for its versions, which go into
every run's provenance and interpreter; the peers' environments come from their adapters' pins, on
the session's interpreter.
"""
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from graphmem import anatomy, installer
from graphmem.adapters.environments import PeerEnvironment, peer_environment
from graphmem.adapters.environments import check as check_adapter
from graphmem.checkout import cpu_name, git, now
from graphmem.facts import ROOT
from graphmem.interpreters import label_for
from graphmem.profile.parsing import SelectionError
# What profiling itself writes: not a change to the code that was measured.
OWN_OUTPUT = ("reports", "build")
# --- environments ------------------------------------------------------------------
CPYTHON_ONLY = ("memray",)  # profile requirements that have no PyPy support: left out of PyPy's environments
BINARY_ONLY_ON_PYPY = "numpy"  # built from source it would take long; a wheel exists for PyPy's Python
# The NumPy array-bytes counter (a C extension, NEP 49), where the checkout has it: built in each
# environment against the numpy installed there; without it a run records why it has no array bytes.
COUNTER_PACKAGE = ROOT / "shared" / "numpy_bytes"


def requirement_name(requirement):
    return re.split(r"[\s<>=!~;\[@(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def environment_requirements(requirements, interpreter=None):
    """The requirements an environment on `interpreter` gets: all of them on CPython, less CPYTHON_ONLY on PyPy."""
    if interpreter is None or interpreter.implementation == "CPython":
        return list(requirements)
    return [r for r in requirements if requirement_name(r) not in CPYTHON_ONLY]


def install_steps(variant, requirements, interpreter=None):
    """The pip install arguments, step by step, of one variant's environment on `interpreter`."""
    steps = []
    if interpreter is not None and interpreter.implementation == "PyPy":
        steps.append(["--only-binary", ":all:", BINARY_ONLY_ON_PYPY])
    steps.append([str(ROOT / "variants" / variant), *environment_requirements(requirements, interpreter)])
    return steps


def counter_steps():
    """pip steps that build the array-bytes counter against the environment's numpy, if the checkout has it."""
    if not (COUNTER_PACKAGE / "pyproject.toml").is_file():
        return []
    return [["setuptools>=61", "wheel"], ["--no-build-isolation", str(COUNTER_PACKAGE)]]  # wheel: older setuptools


def environment_fingerprint(variant, requirements, interpreter=None):
    digest = hashlib.sha256()
    made_with = (f"{interpreter.path} {interpreter.implementation} {interpreter.version}"
                 if interpreter is not None else sys.version)
    steps = [*install_steps(variant, requirements, interpreter), *counter_steps()]  # how it is built, too
    digest.update(f"{made_with}\n{sorted(requirements)}\n{steps}\n".encode())
    for folder in (ROOT / "variants" / variant, COUNTER_PACKAGE):
        if not folder.is_dir():
            continue
        for path in installer.source_files(folder):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def environment_folder(variant, env_dir, interpreter=None):
    label = interpreter.label if interpreter is not None else label_for(platform.python_implementation(),
                                                                         platform.python_version())
    return Path(env_dir) / f"profile-{variant}-{label}"


def variant_environment(variant, env_dir, requirements, interpreter=None):
    """The python of `<env_dir>/profile-<variant>-<label>`, made with `interpreter` (an available
    graphmem.interpreters.Interpreter; default: this one) and created or updated when its inputs changed."""
    folder = environment_folder(variant, env_dir, interpreter)
    python = folder / "bin" / "python"
    stamp = folder / ".graphmem-profile-stamp"
    fingerprint = environment_fingerprint(variant, requirements, interpreter)
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return python
    print(f"profile: preparing the {variant} environment in {folder}", flush=True)
    stamp.unlink(missing_ok=True)
    made = installer.create(folder, interpreter.path if interpreter is not None else sys.executable)
    if made != 0:
        hint = " (Debian's PyPy needs pypy3-venv)" if interpreter is not None and interpreter.implementation == "PyPy" \
            else ""
        raise SelectionError(f"could not create the environment {folder} (exit status {made}){hint}")
    for step in install_steps(variant, requirements, interpreter):
        command = installer.install_command(python, step, quiet=True)
        installed = subprocess.run(command)
        if installed.returncode != 0:
            raise SelectionError(f"could not install {' '.join(step)} into {folder} ({Path(command[0]).name} "
                                 f"{command[1]} exited with {installed.returncode}; its output is above)")
    for step in counter_steps():
        built = subprocess.run(installer.install_command(python, step, quiet=True))
        if built.returncode != 0:  # its runs say why they have no array bytes; memray's figures still come
            print(f"profile: the array-bytes counter did not build in {folder} (exit status "
                  f"{built.returncode}; its output is above)", flush=True)
            break
    stamp.write_text(fingerprint)
    return python


PROBE = """
import gc, json, os, platform, sys
from importlib.metadata import PackageNotFoundError, version
try:
    import dezero
except ImportError:
    dezero = None
try:
    memray = version("memray")
except PackageNotFoundError:
    memray = None
implementation = platform.python_implementation()
print(json.dumps({"variant": getattr(dezero, "VARIANT", None),
                  "python": platform.python_version() + " " + implementation,
                  "implementation": implementation, "version": platform.python_version(),
                  "gc_threshold": list(gc.get_threshold())
                  if implementation == "CPython" and hasattr(gc, "get_threshold") else None,
                  "numpy": version("numpy"), "memray": memray, "platform": platform.platform(),
                  "PYTHONMALLOC": os.environ.get("PYTHONMALLOC")}))
"""


def probe_interpreter(variant, python, peer=False):
    """The versions a variant's (or a peer's) python runs with: its provenance, plus `interpreter` (the
    record's interpreter block); fails clearly unless it has that variant and numpy. memray is null where
    it is not installed (PyPy): its runs then have no memray process."""
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True)
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = result.stderr.strip().splitlines() or ["no output"]
        raise SelectionError(f"{python} cannot profile variant {variant!r}: {lines[-1]}") from None
    if found.pop("variant") != variant and not peer:
        raise SelectionError(f"{python} has another variant of dezero installed, not {variant!r}")
    implementation, version, threshold = found.pop("implementation"), found.pop("version"), found.pop("gc_threshold")
    found["interpreter"] = {"label": label_for(implementation, version), "implementation": implementation,
                            "version": version, "numpy": found["numpy"], "gc_threshold": threshold}
    return found


def memray_unavailable(environment):
    """Why runs in this environment (a probe_interpreter result) have no memray process, or None."""
    if environment.get("memray"):
        return None
    if environment["interpreter"]["implementation"] == "PyPy":
        return "memray has no PyPy support: no memray figures, snapshots or flamegraphs on PyPy"
    return "memray is not installed in this environment: no memray figures, snapshots or flamegraphs"


def host_environment():
    """What the driver knows about the machine and the checkout; each variant's probe adds its versions.

    The dirty flag ignores what profiling itself writes (reports/, build/), so that a second run
    is not called dirty because of the first one's output.
    """
    status = git("status", "--porcelain", "--", ".", *(f":(exclude){folder}" for folder in OWN_OUTPUT))
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(status) if status is not None else True,
    }


def prepare_peers(peers, args, given, pythons, environments):
    """Builds or reuses each peer's environment (on the session's interpreter, which its pins are for,
    unless --interpreter NAME=PATH gives one); {name: implementation record}. `pythons` and
    `environments` gain {(name, label): ...}. An unavailable peer is recorded with its reason and left
    out of the runs; it never stops the profile."""
    implementations = {}
    for name, target in peers.items():
        if name in given:  # --interpreter NAME=PATH: a python that has the library already
            description, problem = check_adapter(given[name], target)
            found = PeerEnvironment(name, None if problem else Path(given[name]), description, problem)
        else:
            found = peer_environment(target, args.env_dir, args.requirement, say=lambda text: print(text, flush=True))
        implementations[name] = {"kind": "peer", **found.record(), "checked_at": now()}
        implementations[name].pop("python", None)
        if found.unavailable:
            print(f"profile: peer {name} is unavailable and will not run: {found.unavailable}", flush=True)
            continue
        environment = probe_interpreter(name, found.python, peer=True)
        where = (name, environment["interpreter"]["label"])
        pythons[where], environments[where] = found.python, environment
    return implementations


def describe_implementations(implementations, variants, peers, interpreters, args):
    """Adds our variants' descriptions to the peers' and measures every available implementation's
    cycle anatomy (`interpreters`: {name: the one python to describe it with}):
    {"implementations": ..., "anatomy": ...} for merge_extras."""
    for variant in variants:
        description, problem = check_adapter(interpreters[variant], "ours")
        implementations[variant] = {"kind": "ours", "available": problem is None, "reason": problem,
                                    "checked_at": now(), **({"description": description} if description else {})}
    found = {}
    if not args.no_anatomy:
        for name, record in implementations.items():
            if record["available"]:
                print(f"profile: cycle anatomy of {name} ... ", end="", flush=True)
                found[name] = anatomy.measure_in(interpreters[name], peers.get(name, "ours"))
                print(found[name].get("failed") or f"{found[name]['forward']['objects']} objects left for "
                      "the collector per dropped graph", flush=True)
    return {"implementations": implementations, "anatomy": found}
