"""Virtual environments for the profile (ours and the peers'): created and filled with uv where it is
installed, else with venv and pip.

uv creates an environment in well under a second and installs from its cache several times faster
than pip (measured for one variant's environment: 14.4 s with venv and pip, about 3 s with uv). It
does not read pip's configuration, which on this machine is what makes `torch==2.13.0` the local CPU
build instead of gigabytes from the index: any step that names torch therefore goes through the
environment's own pip (`uv venv --seed` gives it one), never through uv.
"""
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

# Requirements uv must never resolve: torch, and any package named after it (torchvision,
# pytorch-lightning, ...), which would pull it in. A peer needing torch by another name must pin torch too.
PIP_ONLY = re.compile(r"torch", re.IGNORECASE)


def source_files(folder):
    """The files of a source tree an environment is built from, in a stable order: what its fingerprint
    hashes (no caches, egg-info or build output)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and ".egg-info" not in str(p) and "build" not in p.relative_to(folder).parts)


def uv_binary():
    """The uv executable: on PATH (nox's profile session installs it), or the uv package's own; else None."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


def create(folder, python=sys.executable):
    """A fresh environment at `folder` for `python` (anything there is replaced), with pip in it either way;
    the exit status of the last command tried (0: made)."""
    uv = uv_binary()
    if uv:
        shutil.rmtree(folder, ignore_errors=True)
        done = subprocess.run([uv, "venv", "--quiet", "--seed", "--python", str(python), str(folder)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return 0
    if str(python) == sys.executable:
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        return 0
    return subprocess.run([str(python), "-m", "venv", "--clear", str(folder)]).returncode


def install_command(python, arguments, quiet=False):
    """The command that installs `arguments` (requirements and pip-style options) into `python`'s environment:
    `uv pip install --python ...`, or that environment's pip when uv is missing or a requirement is torch."""
    uv = uv_binary()
    if uv and not any(PIP_ONLY.search(argument) for argument in arguments):
        return [uv, "pip", "install", *(["--quiet"] if quiet else []), "--python", str(python), *arguments]
    return [str(python), "-m", "pip", "install", *(["--quiet"] if quiet else []), "--disable-pip-version-check",
            *arguments]
