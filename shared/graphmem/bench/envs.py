"""The environments a bench run measures in, as one record per implementation.

A record is {"name", "kind", "note", and "python" or "unavailable" (why not)}. `build_records`
makes them the way profile makes its environments (graphmem.adapters.environments): each variant
installed from its folder, each peer from its adapter's `install_steps` (the one place its pins
live), under `<env_dir>/bench-<name>`, rebuilt only when their inputs change; a peer that cannot
install is recorded, not fatal. `read_records` takes records from a folder of JSON files instead,
for an interpreter prepared by hand (or by a test).
"""
import json
from pathlib import Path

from graphmem.adapters import KINDS, adapter_class
from graphmem.adapters.environments import peer_environment, variant_environment
from graphmem.bench.plan import PEERS, BenchInputError
from graphmem.facts import VARIANTS

PREFIX = "bench-"  # bench's own environments beside profile's: its requirements are not profile's


def pins(name):
    """The peer's pins as its adapter states them, for the report's note."""
    steps = adapter_class(name).install_steps
    return "pip install " + "; pip install ".join(" ".join(step) for step in steps) if steps else None


def build_records(env_dir, names=None, say=print):
    """A record per variant and peer (or per name in `names`), their environments built or reused under env_dir."""
    known = (*VARIANTS, *PEERS)
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise BenchInputError(f"--only names {', '.join(unknown)}, which bench does not run; known: {', '.join(known)}")
    records = {}
    for name in names or known:
        if name in VARIANTS:
            found = variant_environment(name, env_dir, [], say=say, prefix=PREFIX, tool="bench")
            if found.unavailable:
                raise BenchInputError(f"could not build the {name} environment: {found.unavailable}")
            records[name] = {"name": name, "kind": "ours", "note": None, "python": str(found.python)}
            continue
        found = peer_environment(name, env_dir, [], say=say, prefix=f"{PREFIX}peer-", tool="bench")
        record = {"name": name, "kind": name, "note": pins(name)}
        if found.unavailable:
            say(f"bench: {name} is unavailable and will not run: {found.unavailable}")
            record["unavailable"] = found.unavailable
        else:
            record["python"] = str(found.python)
        records[name] = record
    return records


def read_records(envs_dir):
    """The per-implementation environment records in a folder (one JSON file each)."""
    folder = Path(envs_dir)
    if not folder.is_dir():
        raise BenchInputError(f"no environment records folder {folder}")
    records = {}
    for file in sorted(folder.glob("*.json")):
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise BenchInputError(f"environment record {file} is not valid JSON: {error}") from None
        missing = {"name", "kind"} - set(record)
        if missing or record.get("kind") not in KINDS or not ("python" in record or "unavailable" in record):
            raise BenchInputError(f"environment record {file} needs name, kind (one of {', '.join(KINDS)}) "
                                  f"and python or unavailable; got keys {sorted(record)}")
        records[record["name"]] = record
    if not records:
        raise BenchInputError(f"no environment records (*.json) in {folder}")
    return records
