"""The interpreters the project measures on: the defaults, defined once, and how a name or path becomes one.

A name (`3.12`, `python3.12`, `pypy3`) is looked up on PATH and in pyenv's versions folder
(`$(pyenv root)/versions/<version>/bin/python3`: pyenv's shims do not expose every installed version
by name); a path is taken as it is. Each candidate is probed (implementation, version, the collector's
thresholds where they exist) and kept only if it is what was asked for. PyPy comes from Debian and is
installed with apt-get when it is missing and this process runs as root. An interpreter that cannot be
found is returned unavailable with the reason, never dropped; a path that is not a Python interpreter
is an InterpreterError (the caller's one-line error).

No numpy here: the noxfile reads this module too.
"""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

# CPython 3.11 (what the committed report and the peers' pins were measured on), 3.12, 3.13, and PyPy.
DEFAULTS = ("3.11", "3.12", "3.13", "pypy3")
# The report's one interpreter until it shows them side by side: the committed runs' and the peers' pins'.
REFERENCE_LABEL = "cpython-3.11"
PYPY_PACKAGES = ("pypy3", "pypy3-venv", "pypy3-dev")  # Debian's PyPy, its venv module and its headers
PROBE_TIMEOUT = 60  # seconds; a first start of PyPy compiles its stdlib's bytecode

# What a candidate says of itself; runs on every interpreter we measure (Python 3.9 and later, PyPy).
PROBE = """
import gc, json, platform, sys, sysconfig
implementation = platform.python_implementation()
print(json.dumps({
    "implementation": implementation,
    "version": platform.python_version(),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gc_threshold": list(gc.get_threshold()) if hasattr(gc, "get_threshold") else None,
    "executable": sys.executable,
}))
"""


class InterpreterError(ValueError):
    """A path given as an interpreter that is not one (or two requests that are one label): stop before anything."""


@dataclass(frozen=True)
class Interpreter:
    """One requested interpreter: where it is and what it is, or why it is not available."""

    requested: str
    path: Optional[str]
    available: bool
    reason: Optional[str]
    implementation: Optional[str] = None  # "CPython", "PyPy"
    version: Optional[str] = None  # "3.13.0"
    gc_threshold: Optional[tuple] = None  # gc.get_threshold() where it exists
    free_threaded: bool = False

    @property
    def label(self):
        """`cpython-3.13`, `pypy-3.9` (`t` for a free-threaded build): the first part of every run id."""
        if not self.available:
            return None
        return label_for(self.implementation, self.version, self.free_threaded)

    def record(self):
        """What summary.json's `interpreters` says of it."""
        return {"requested": self.requested, "path": self.path, "available": self.available, "reason": self.reason,
                "implementation": self.implementation, "version": self.version}

    def as_dict(self):
        return {**asdict(self), "label": self.label}


def label_for(implementation, version, free_threaded=False):
    """`<implementation lower>-<major.minor>`, e.g. cpython-3.11, pypy-3.9."""
    major_minor = ".".join(str(version).split(".")[:2])
    return f"{implementation.lower()}-{major_minor}{'t' * bool(free_threaded)}"


def running_label():
    """The label of the interpreter running this code (the session's, which the peers' pins are for)."""
    return label_for(platform.python_implementation(), platform.python_version(),
                     bool(sysconfig.get_config_var("Py_GIL_DISABLED")))


# --- finding ---------------------------------------------------------------------------
def pyenv_root(environ=None):
    """pyenv's root folder: $PYENV_ROOT, else what `pyenv root` prints, else ~/.pyenv (which may not exist)."""
    environ = os.environ if environ is None else environ
    if environ.get("PYENV_ROOT"):
        return Path(environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv", path=environ.get("PATH"))
    if pyenv:
        try:
            done = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10)
            if done.returncode == 0 and done.stdout.strip():
                return Path(done.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    return Path(environ.get("HOME") or Path.home()) / ".pyenv"


NAME = re.compile(r"(?P<kind>python|pypy)?(?P<version>\d+(?:\.\d+)*)?(?P<threaded>t)?")


def wanted(name):
    """(implementation, version prefix, free-threaded) a name asks for, or None for a name we cannot read."""
    match = NAME.fullmatch(name.lower())
    if not match or not (match.group("kind") or match.group("version")):
        return None
    implementation = "PyPy" if match.group("kind") == "pypy" else "CPython"
    return implementation, match.group("version") or "", bool(match.group("threaded"))


def version_key(text):
    return tuple(int(part) for part in re.findall(r"\d+", text))


def candidates(name, environ=None, root=None):
    """Paths that may be the interpreter `name`, best first: PATH, then pyenv's versions (newest first)."""
    environ = os.environ if environ is None else environ
    asked = wanted(name)
    found = []
    if asked is None:
        commands = [name]
    else:
        implementation, version, threaded = asked
        stem = "pypy" if implementation == "PyPy" else "python"
        commands = [f"{stem}{version}{'t' * threaded}"]
    for command in commands:
        where = shutil.which(command, path=environ.get("PATH", ""))
        if where:
            found.append(where)
    versions = Path(root if root is not None else pyenv_root(environ)) / "versions"
    if asked is not None and versions.is_dir():
        implementation, version, threaded = asked
        if implementation == "PyPy":
            pattern = re.compile(rf"pypy{re.escape(version)}.*")
            binaries = ("pypy3", "pypy", "python3")
        else:
            pattern = re.compile(rf"{re.escape(version)}(\.\d+)*{'t' * threaded}" if version else r"\d+(\.\d+)*")
            binaries = (f"python3{'t' * threaded}", "python")
        folders = sorted((entry for entry in versions.iterdir() if pattern.fullmatch(entry.name)),
                         key=lambda entry: version_key(entry.name), reverse=True)
        for folder in folders:
            binary = next((folder / "bin" / b for b in binaries if (folder / "bin" / b).is_file()), None)
            if binary is not None:
                found.append(str(binary))
    return list(dict.fromkeys(found))


def probe(path, timeout=PROBE_TIMEOUT):
    """What the python at `path` says of itself ({implementation, version, ...}), or (None, why not)."""
    try:
        done = subprocess.run([str(path), "-I", "-c", PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"it did not answer within {timeout} s"
    except OSError as error:
        return None, error.strerror or str(error)
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
        if not isinstance(found, dict) or not {"implementation", "version"} <= set(found):
            raise ValueError
    except (ValueError, IndexError):
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}, no output"]
        return None, lines[-1][:200]
    return found, None


def matches(found, asked):
    """Whether a probed interpreter is the one a name asked for."""
    if asked is None:
        return True
    implementation, version, threaded = asked
    return (found["implementation"] == implementation and bool(found.get("free_threaded")) == threaded
            and (not version or found["version"] == version or found["version"].startswith(version + ".")))


def described(requested, path, found):
    threshold = found.get("gc_threshold")
    # PyPy has no gc.get_threshold; where one exists on a tracing-only collector it would mean nothing.
    if found["implementation"] != "CPython":
        threshold = None
    return Interpreter(requested, found.get("executable") or str(path), True, None, found["implementation"],
                       found["version"], tuple(threshold) if threshold else None, bool(found.get("free_threaded")))


def install_pypy(run=subprocess.run):
    """None once Debian's PyPy is installed with apt-get, else why it could not be."""
    if not shutil.which("apt-get"):
        return "apt-get is not on PATH"
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return f"installing it needs root (apt-get install {' '.join(PYPY_PACKAGES)})"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PYPY_PACKAGES]):
        done = run(command, capture_output=True, text=True, env=environment)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            return f"`{' '.join(command)}` failed: {lines[-1][:200]}"
    return None


def is_path(name):
    return os.sep in name or name.startswith(("~", "."))


def resolve(name, environ=None, root=None, install=True, say=print):
    """The Interpreter `name` stands for: found and probed, or unavailable with the reason.

    A path that is not an executable Python interpreter raises InterpreterError."""
    if is_path(name):
        path = Path(name).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise InterpreterError(f"--python {name}: no executable file there")
        found, problem = probe(path)
        if found is None:
            raise InterpreterError(f"--python {name}: not a Python interpreter ({problem})")
        return described(name, path, found)
    asked = wanted(name)
    tried = []
    for path in candidates(name, environ, root):
        found, problem = probe(path)
        if found is not None and matches(found, asked):
            return described(name, path, found)
        tried.append(f"{path}: {problem or 'it is ' + found['implementation'] + ' ' + found['version']}")
    where = f"PATH or {Path(root if root is not None else pyenv_root(environ)) / 'versions'}"
    reason = f"no {name} found on {where}" + (f" (tried {'; '.join(tried)})" if tried else "")
    if asked is not None and asked[0] == "PyPy" and install and (environ is None or environ is os.environ):
        say(f"interpreters: {reason}; installing Debian's PyPy ({', '.join(PYPY_PACKAGES)}) with apt-get")
        problem = install_pypy()
        if problem is None:
            return resolve(name, environ, root, install=False, say=say)
        reason += f"; {problem}"
    return Interpreter(name, None, False, reason)


def resolve_all(names=None, environ=None, root=None, install=True, say=print):
    """The Interpreters for `names` (default: DEFAULTS), in order, one per label; unavailable ones kept.

    Two requests that find the same label keep the first when it is the same interpreter; two different
    interpreters of one label are an InterpreterError (a run id names one interpreter per label)."""
    chosen, by_label = [], {}
    for name in dict.fromkeys(names or DEFAULTS):
        interpreter = resolve(name, environ, root, install, say)
        if interpreter.available:
            earlier = by_label.get(interpreter.label)
            if earlier is not None:
                if os.path.realpath(earlier.path) != os.path.realpath(interpreter.path) \
                        and earlier.version != interpreter.version:
                    raise InterpreterError(f"--python {earlier.requested} and {name} are two interpreters of one "
                                           f"label, {interpreter.label} ({earlier.version} and "
                                           f"{interpreter.version}); name one of them")
                continue
            by_label[interpreter.label] = interpreter
        chosen.append(interpreter)
    return chosen


def summary_record(interpreters):
    """summary.json's `interpreters`: {label, or the requested name of an unavailable one: record}."""
    return {(interpreter.label or interpreter.requested): interpreter.record() for interpreter in interpreters}


def main(argv):
    """python -m graphmem.interpreters [NAME_OR_PATH ...]: what each finds here, one JSON line each (no install)."""
    try:
        found = resolve_all(argv or None, install=False)
    except InterpreterError as error:
        print(f"interpreters: error: {error}", file=sys.stderr)
        return 2
    for each in found:
        print(json.dumps(each.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
