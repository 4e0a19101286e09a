"""The interpreters runs use: one virtual environment per variant, the peers' own, and what each runs with.

`<env-dir>/profile-<variant>` holds that variant and the profile requirements; it is rebuilt only when
the variant's sources or the requirements change. Each interpreter is probed for its versions, which
go into every run's provenance; the peers' environments come from their adapters' pins.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from graphmem import anatomy, installer
from graphmem.adapters.environments import PeerEnvironment, peer_environment
from graphmem.adapters.environments import check as check_adapter
from graphmem.checkout import cpu_name, git, now
from graphmem.facts import ROOT
from graphmem.profile.parsing import SelectionError
# What profiling itself writes: not a change to the code that was measured.
OWN_OUTPUT = ("reports", "build")
# --- environments ------------------------------------------------------------------
def environment_fingerprint(variant, requirements):
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\n{sorted(requirements)}\n".encode())
    folder = ROOT / "variants" / variant
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and ".egg-info" not in str(p) and "build" not in p.relative_to(folder).parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def variant_environment(variant, env_dir, requirements):
    """The python of `<env_dir>/profile-<variant>`, created or updated when its inputs changed."""
    folder = env_dir / f"profile-{variant}"
    python = folder / "bin" / "python"
    stamp = folder / ".graphmem-profile-stamp"
    fingerprint = environment_fingerprint(variant, requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return python
    print(f"profile: preparing the {variant} environment in {folder}", flush=True)
    stamp.unlink(missing_ok=True)
    installer.create(folder)
    command = installer.install_command(python, [str(ROOT / "variants" / variant), *requirements], quiet=True)
    installed = subprocess.run(command)
    if installed.returncode != 0:
        raise SelectionError(f"could not install variant {variant!r} and {', '.join(requirements) or 'nothing else'} "
                             f"into {folder} ({Path(command[0]).name} {command[1]} exited with {installed.returncode}; "
                             "its output is above)")
    stamp.write_text(fingerprint)
    return python


PROBE = """
import json, os, platform, sys
from importlib.metadata import version
try:
    import dezero
except ImportError:
    dezero = None
print(json.dumps({"variant": getattr(dezero, "VARIANT", None),
                  "python": platform.python_version() + " " + platform.python_implementation(),
                  "numpy": version("numpy"), "memray": version("memray"), "platform": platform.platform(),
                  "PYTHONMALLOC": os.environ.get("PYTHONMALLOC")}))
"""


def probe_interpreter(variant, python, peer=False):
    """The versions a variant's (or a peer's) python runs with; fails clearly unless it has that variant and memray."""
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True)
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = result.stderr.strip().splitlines() or ["no output"]
        raise SelectionError(f"{python} cannot profile variant {variant!r}: {lines[-1]}") from None
    if found.pop("variant") != variant and not peer:
        raise SelectionError(f"{python} has another variant of dezero installed, not {variant!r}")
    return found


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


def prepare_peers(peers, args, interpreters, environments):
    """Builds or reuses each peer's environment; {name: implementation record}. An unavailable peer
    is recorded with its reason and left out of the runs; it never stops the profile."""
    implementations = {}
    for name, target in peers.items():
        if name in interpreters:  # --interpreter NAME=PATH: a python that has the library already
            description, problem = check_adapter(interpreters[name], target)
            found = PeerEnvironment(name, None if problem else Path(interpreters[name]), description, problem)
        else:
            found = peer_environment(target, args.env_dir, args.requirement, say=lambda text: print(text, flush=True))
        implementations[name] = {"kind": "peer", **found.record(), "checked_at": now()}
        implementations[name].pop("python", None)
        if found.unavailable:
            print(f"profile: peer {name} is unavailable and will not run: {found.unavailable}", flush=True)
            continue
        interpreters[name] = found.python
        environments[name] = probe_interpreter(name, found.python, peer=True)
    return implementations


def describe_implementations(implementations, variants, peers, interpreters, args):
    """Adds our variants' descriptions to the peers' and measures every available implementation's
    cycle anatomy: {"implementations": ..., "anatomy": ...} for merge_extras."""
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
