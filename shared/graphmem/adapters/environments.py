"""One virtual environment per peer library, built from its adapter's pins like the variants' own.

`peer_environment(adapter, env_dir, requirements)` keeps `<env_dir>/profile-peer-<name>` with the
adapter's `install_steps` (one install each, by uv or, for torch, pip: graphmem.installer; the
profile's requirements joining the first so that one resolver sees every pin) and rebuilds it only when those pins, the requirements or
the Python change. A binary the library needs (`system_commands`, e.g. tinygrad's `clang`) is
installed with apt-get when it is missing and we may (root, Debian), else the peer is recorded
unavailable with the reason. Last, `python -m graphmem.adapters NAME` checks the adapter in that
environment. Nothing here raises for a peer that cannot install or import: the reason is returned
and the profile goes on with the others.

`variant_environment(variant, env_dir, requirements)` does the same for one of our variants (its
folder installed with pip), rebuilt when its sources change. bench builds its environments with
these two functions under its own prefix (`bench-`), since its requirements differ from profile's.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from graphmem import installer
from graphmem.adapters import adapter_class

SHARED = Path(__file__).resolve().parents[2]
STAMP = ".graphmem-peer-stamp"
LOG = "install.log"
CHECK_TIMEOUT = 600  # seconds: importing torch or jax the first time, and compiling for tinygrad


@dataclass(frozen=True)
class PeerEnvironment:
    """A peer's interpreter and description, or why it has none."""

    name: str
    python: Path | None
    description: dict | None
    unavailable: str | None

    def record(self):
        """What the summary keeps about this peer's environment."""
        return {"available": self.unavailable is None, "reason": self.unavailable, "python": str(self.python)
                if self.python else None, **({"description": self.description} if self.description else {})}


def fingerprint(adapter, requirements):
    digest = hashlib.sha256()
    digest.update(json.dumps([sys.version, [list(step) for step in adapter.install_steps], sorted(requirements),
                              sorted(adapter.system_commands.items())]).encode())
    return digest.hexdigest()


def last_error(text, limit=400):
    """The line of a tool's output that says what went wrong (pip's ERROR:, else the last line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR:", "error:", "E:"))
              or line.split(":")[0].endswith(("Error", "Exception"))]
    chosen = errors[-1] if errors else lines[-1] if lines else "no output"
    return chosen[:limit]


def ensure_command(binary, package, log):
    """None when `binary` is on PATH (installing Debian's `package` if we may), else why not."""
    if shutil.which(binary):
        return None
    if not (shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0):
        return f"needs the `{binary}` binary (Debian package `{package}`), which is not on PATH; " \
               f"install it (apt-get install {package}) and rerun"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        log.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            return f"needs `{binary}`; `{' '.join(command)}` failed: {last_error(done.stdout + done.stderr)}"
    return None if shutil.which(binary) else f"apt-get installed {package} but `{binary}` is still not on PATH"


def build(folder, install_steps, requirements, log):
    """Creates the environment and runs each install step (`requirements` joining the first); None, or why it failed."""
    installer.create(folder)
    python = folder / "bin" / "python"
    for index, step in enumerate(install_steps):
        arguments = [*step, *(requirements if index == 0 else [])]
        command = installer.install_command(python, arguments)
        tool = "uv pip" if command[1] == "pip" else "pip"
        done = subprocess.run(command, capture_output=True, text=True)
        log.append(f"$ {tool} install {' '.join(arguments)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            return f"{tool} install {' '.join(arguments)} failed: {last_error(done.stdout + done.stderr)}"
    return None


def check(python, name):
    """The adapter's description from its own environment, or why it could not be checked."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SHARED),
                                                                             os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([str(python), "-m", "graphmem.adapters", name], capture_output=True, text=True,
                              env=environment, timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"checking the adapter took over {CHECK_TIMEOUT} s"
    if done.returncode != 0:
        return None, f"the adapter check failed: {last_error(done.stderr or done.stdout)}"
    return json.loads(done.stdout), None


def peer_environment(name, env_dir, requirements, *, say=print, prefix="profile-peer-", tool="profile"):
    """The peer's environment `<env_dir>/<prefix><name>`, built or reused; never raises for a peer that cannot install."""
    adapter = adapter_class(name)
    folder = Path(env_dir) / f"{prefix}{adapter.name}"
    python, stamp = folder / "bin" / "python", folder / STAMP
    expected = fingerprint(adapter, requirements)
    log = []
    problem = None
    for binary, package in adapter.system_commands.items():
        problem = problem or ensure_command(binary, package, log)
    if not problem and not (python.exists() and stamp.exists() and stamp.read_text() == expected):
        say(f"{tool}: preparing the {adapter.name} environment in {folder}")
        if stamp.exists():
            stamp.unlink()
        problem = build(folder, adapter.install_steps, requirements, log)
        if not problem:
            stamp.write_text(expected)
    if log:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LOG).write_text("\n".join(log))
    if problem:
        return PeerEnvironment(adapter.name, None, None, problem + (f" (log: {folder / LOG})" if log else ""))
    description, problem = check(python, name)
    return PeerEnvironment(adapter.name, python if not problem else None, description, problem)


def variant_fingerprint(folder, requirements):
    """The Python, the requirements and every source file of a variant's folder."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\n{sorted(requirements)}\n".encode())
    for path in installer.source_files(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def variant_environment(variant, env_dir, requirements, *, say=print, prefix="profile-", tool="profile"):
    """One of our variants installed from its folder (and `requirements`) in `<env_dir>/<prefix><variant>`,
    built or reused like a peer's; the reason instead of an interpreter when it cannot be built."""
    source = SHARED.parent / "variants" / variant
    folder = Path(env_dir) / f"{prefix}{variant}"
    if not source.is_dir():
        return PeerEnvironment(variant, None, None, f"no variant folder {source}")
    python, stamp = folder / "bin" / "python", folder / STAMP
    expected = variant_fingerprint(source, requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == expected:
        return PeerEnvironment(variant, python, None, None)
    say(f"{tool}: preparing the {variant} environment in {folder}")
    stamp.unlink(missing_ok=True)
    log = []
    problem = build(folder, ((str(source),),), list(requirements), log)
    (folder / LOG).write_text("\n".join(log))
    if problem:
        return PeerEnvironment(variant, None, None, f"{problem} (log: {folder / LOG})")
    stamp.write_text(expected)
    return PeerEnvironment(variant, python, None, None)
