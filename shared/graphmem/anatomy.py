"""Cycle anatomy: what a dropped graph leaves for CPython's cyclic collector, in one implementation.

    python -m graphmem.anatomy IMPLEMENTATION OUT.json [--size N]

Run in the implementation's own environment (IMPLEMENTATION: an adapter name, or module:Class).
With the collector off it builds the seed's graph (x, then three squares) once, drops it, and
records what one gc.collect() finds: the objects by type, the array bytes only those objects held,
the bytes the collection freed (tracemalloc: numpy reports its arrays to it; torch's and
tinygrad's buffers it does not see) and the shortest chain of references that closes a cycle,
edge by edge (e.g. Value -._backward-> function -__closure__-> tuple -[0]-> cell -> Value). Twice:
the graph as built, and the graph after backward (whose own machinery may add cycles).
"""
import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
import types
from pathlib import Path

import numpy as np

from graphmem.adapters import make_adapter
from graphmem.atomic_files import write_json_atomically
from graphmem.collector import collector_disabled
from graphmem.workloads import SEED, SEED_SQUARES
from graphmem.workloads.bench import square_chain

DEFAULT_SIZE = 100_000  # the workloads' default: 10^5 float64 elements (micrograd: 100 Values, as in issue 12)
MAX_STARTS = 300  # cycle searches: enough to find the shortest among a graph's repeated shapes
PHASES = ("forward", "backward")


def build_graph(ops, size, with_backward):
    """One seed graph, dropped on return: whatever it leaves is garbage for the collector."""
    rng = np.random.default_rng(SEED)
    x = ops.variable(rng.standard_normal(size))
    y = ops.graph(lambda x: square_chain(ops, x, SEED_SQUARES), x)
    if with_backward:
        ops.backward(y)


def type_name(obj):
    kind = type(obj)
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return f"function {getattr(obj, '__name__', '?')}"
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"


def edges(obj):
    """(label, target) for each reference obj holds; an instance's __dict__ is looked through."""
    own_dict = getattr(obj, "__dict__", None) if not isinstance(obj, type) else None
    for target in gc.get_referents(obj):
        if own_dict is not None and target is own_dict and type(own_dict) is dict:
            for key, value in own_dict.items():
                yield f".{key}", value
        else:
            yield edge_label(obj, target), target


def edge_label(obj, target):
    """How obj refers to target, in the words of Python source."""
    if isinstance(obj, dict):
        return next((f"[{key!r}]" for key, value in obj.items() if value is target), "[key]")
    if isinstance(obj, (list, tuple)):
        return next((f"[{i}]" for i, value in enumerate(obj) if value is target), "[?]")
    if isinstance(obj, (set, frozenset)):
        return "member"
    if isinstance(obj, types.CellType):
        return "cell_contents"
    for name in ("__closure__", "__self__", "__func__", "__defaults__", "__globals__", "__dict__"):
        if getattr(obj, name, None) is target:
            return name
    attributes = getattr(obj, "__dict__", None) or {}
    attributes = attributes if isinstance(attributes, dict) else {}
    for slot in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, slot):
            attributes = {**attributes, slot: getattr(obj, slot)}
    return next((f".{key}" for key, value in attributes.items() if value is target), "")


def shortest_cycle(garbage, preferred_types=()):
    """The shortest reference cycle among the garbage, as [{"node", "edge"}], starting at a
    preferred-type object when one lies on a cycle of the same length; None if there is none."""
    members = {id(obj): obj for obj in garbage}
    candidates = on_cycles(garbage, members)
    starts = sorted(candidates, key=lambda o: (not isinstance(o, preferred_types), type_name(o)))[:MAX_STARTS]
    best = None
    for start in starts:
        path = _cycle_through(start, members, limit=len(best) if best else None)
        if path and (best is None or len(path) < len(best)):
            best = path
    return best


def on_cycles(garbage, members):
    """The garbage left after peeling, again and again, every object that nothing in the garbage refers
    to or that refers to nothing in it: what is left lies on a cycle or between two."""
    targets = {id(obj): {id(t) for _, t in edges(obj) if id(t) in members} for obj in garbage}
    alive = set(targets)
    changed = True
    while changed:
        referred = {t for key in alive for t in targets[key] if t in alive}
        keep = {key for key in alive if key in referred and targets[key] & alive}
        changed, alive = keep != alive, keep
    return [members[key] for key in alive]


def _cycle_through(start, members, limit=None):
    """Breadth-first from start back to start, only through garbage; [(node, label to next)]."""
    parents = {id(start): None}
    frontier = [start]
    depth = 0
    while frontier and (limit is None or depth < limit):
        depth += 1
        following = []
        for obj in frontier:
            for label, target in edges(obj):
                if target is start:
                    chain, node, step = [], obj, label
                    while node is not None:
                        chain.append({"node": type_name(node), "edge": step})
                        parent = parents[id(node)]
                        node, step = (parent if parent else (None, None))
                    return list(reversed(chain))
                if id(target) in members and id(target) not in parents:
                    parents[id(target)] = (obj, label)
                    following.append(target)
        frontier = following
    return None


def held_array_bytes(garbage, ops):
    """Bytes of the ndarrays (and the library's buffers) that the garbage objects refer to, each once."""
    seen = {}
    for obj in garbage:
        if isinstance(obj, ops.tensor_types):
            seen.update(ops.buffers(obj))
        for target in gc.get_referents(obj):
            if isinstance(target, np.ndarray):
                seen[id(target)] = target.nbytes
    return sum(seen.values())


def dissect(ops, size, with_backward):
    """Build and drop one graph with the collector off; what one gc.collect() then finds."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection finds, to look at it
    try:
        build_graph(ops, size, with_backward)
        unreachable = gc.collect()
        garbage = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
    by_type = collections.Counter(type_name(obj) for obj in garbage)
    record = {
        "objects": unreachable,
        "by_type": dict(by_type.most_common()),
        "array_bytes": held_array_bytes(garbage, ops),
        "cycle": shortest_cycle(garbage, ops.tensor_types) if garbage else None,
    }
    del garbage
    gc.collect()
    # A second graph, the same, to see the bytes the collection frees without keeping them.
    tracemalloc.start()
    try:
        build_graph(ops, size, with_backward)
        before = tracemalloc.get_traced_memory()[0]
        gc.collect()
        record["bytes_freed_by_collect"] = max(0, before - tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    return record


def anatomy(implementation, size=DEFAULT_SIZE):
    """The cycle anatomy of one implementation, as a JSON-ready dict."""
    ops = make_adapter(implementation)
    scaled = ops.scaled_params({"size": size})["size"]
    with collector_disabled():
        for with_backward in (False, True):  # warm-up: imports, caches and compilations are not the graph's
            build_graph(ops, scaled, with_backward)
        gc.collect()
        phases = {phase: dissect(ops, scaled, phase == "backward") for phase in PHASES}
    return {"implementation": ops.name, "version": ops.version(), "size": size, "elements": scaled,
            "graph": f"x, then {SEED_SQUARES} squares, on {scaled} "
                     + ("scalar Values" if ops.scalar_scale else "float64 elements"),
            "python": sys.version.split()[0], **phases}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m graphmem.anatomy", description=__doc__.split("\n\n")[0])
    parser.add_argument("implementation", help="an adapter name (ours, torch, micrograd, ...) or module:Class")
    parser.add_argument("out", help="where the JSON record goes")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="array elements (default %(default)s)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be a positive integer, got {args.size}")
    write_json_atomically(args.out, anatomy(args.implementation, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def measure_in(python, implementation, timeout=600):
    """The anatomy record of `implementation`, measured by `python` in a process of its own,
    or {"failed": why}: one implementation that cannot be dissected does not stop the others."""
    shared = str(Path(__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [shared, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="graphmem-anatomy-") as scratch:
        out = Path(scratch) / "anatomy.json"
        try:
            done = subprocess.run([str(python), "-m", "graphmem.anatomy", implementation, str(out)],
                                  capture_output=True, text=True, env=environment, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"failed": f"the anatomy of {implementation} took over {timeout} s"}
        if done.returncode != 0 or not out.exists():
            lines = [line for line in (done.stderr or "").splitlines() if line.strip()] or ["no output"]
            return {"failed": f"python -m graphmem.anatomy {implementation} exited with {done.returncode}: "
                              f"{lines[-1].strip()[:300]}"}
        return json.loads(out.read_text())
