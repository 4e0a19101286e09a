"""What the weakref variant's features cost per operation: the same source with each switched off.

The bench's floor (graphmem.minimal) shows how far the variants are from the simplest step-17
autograd; this shows why. Each ablation is the installed weakref core with the lines of one feature
replaced (a check becomes `if False:`), compiled from source like the unmodified core beside it,
and timed in the same process, interleaved with it, with the floor and with the lean design
(graphmem.bench.lean: the variants' fast paths, one input and one output, none of the features).
The ablations are measurements only: a version without its checks would fail the contract.

Each replacement must match the installed source exactly; one that no longer does makes that
ablation a failure the report names, and a test fails at once (test_bench_features.py).
"""
import gc
import time
import types
from dataclasses import dataclass

import numpy as np

from graphmem import minimal
from graphmem.bench import lean
from graphmem.bench.plan import EXPRESSIONS, SHAPES as PER_OP_SHAPES
from graphmem.collector import collector_disabled
from graphmem.spread import quartiles
from graphmem.workloads.bench import build_expression, expression_leaves

SHAPES = {label: PER_OP_SHAPES[label] for label in ("0-d", "(1,)")}  # the shapes the per-op targets are on


@dataclass(frozen=True)
class Ablation:
    """One feature of the core, switched off by exact source replacements."""

    name: str
    feature: str  # what a user loses without it
    replacements: tuple  # (exact source text, its replacement)


ABLATIONS = (
    Ablation("data checks", "Variable rejects non-ndarray data and bool, complex, string and object arrays",
             (("        if data is not None:\n            if not isinstance(data, np.ndarray):",
               "        if False:\n            if not isinstance(data, np.ndarray):"),)),
    Ablation("input checks", "a Function checks how many inputs it got and converts ndarrays and scalars",
             (("        if self.arity is not None and len(inputs) != self.arity:", "        if False:"),
              ("            if type(x) is not Variable or x.data is None:", "            if False:"))),
    Ablation("grad mode and reuse", "no_grad (a ContextVar read per op) and the error for a reused Function",
             (("        if _enable_backprop.get():\n            if self.inputs is not None:",
               "        if True:\n            if False:"),)),
    Ablation("gradient checks", "backward checks each gradient's type, shape and dtype against its input",
             (("if not isinstance(gx, _ARRAY_TYPES) or gx.dtype is not data.dtype or gx.shape != data.shape:",
               "if False:"),
              ("if len(gxs) != len(inputs):", "if False:"))),
)
EVERY_CHECK = "every check above"
LEAN, FLOOR = "lean", "minimal"


class AblationError(ValueError):
    """An ablation's source text is not in the installed core: the core changed under it."""


def ablated_source(source, replacements):
    """The core's source with each replacement made once; AblationError names a missing one."""
    for old, new in replacements:
        if source.count(old) != 1:
            first_line = old.strip().splitlines()[0]
            raise AblationError(f"{source.count(old)} matches (need 1) in the core for: {first_line!r}")
        source = source.replace(old, new)
    return source


def compiled_core(source, label):
    """A module from core source text, compiled the same way for the unmodified core and each ablation."""
    module = types.ModuleType(f"graphmem_features_{label.replace(' ', '_')}")
    exec(compile(source, f"<weakref core: {label}>", "exec"), module.__dict__)
    return module


def contenders(core_source, variant):
    """(label, module or None, what is off, error or None) for the variant's core as installed,
    each ablation, all of them at once, the lean design and the floor."""
    found = [(variant, compiled_core(core_source, variant), "nothing", None)]
    every = []
    for ablation in ABLATIONS:
        try:
            source = ablated_source(core_source, ablation.replacements)
        except AblationError as error:
            found.append((ablation.name, None, ablation.feature, str(error)))
            continue
        every += ablation.replacements
        found.append((ablation.name, compiled_core(source, ablation.name), ablation.feature, None))
    if every:
        found.append((EVERY_CHECK, compiled_core(ablated_source(core_source, every), EVERY_CHECK),
                      "all the checks and grad mode above", None))
    found.append((LEAN, lean, "every feature, and Functions of more than one input or output", None))
    found.append((FLOOR, minimal, "the floor itself", None))
    return found


def _time_once(module, expression, shape, functions):
    """Forward+backward of the bench's expression on fresh leaves, in ns."""
    ops = types.SimpleNamespace(leaf=lambda leaf_shape, fill: module.Variable(np.full(leaf_shape, fill)),
                                **{name: getattr(module, name) for name in ("square", "add", "mul", "sub", "div")
                                   if hasattr(module, name)})
    leaves = expression_leaves(ops, expression, shape)
    t0 = time.perf_counter_ns()
    build_expression(ops, expression, leaves, functions).backward()
    return time.perf_counter_ns() - t0


def measure_features(core_source, variant, functions, repeats, warmup):
    """Per contender, expression and shape: fwd+bwd per op over `repeats` interleaved repetitions,
    and its ratios to the variant and to the floor taken repetition by repetition (neighbours in
    time, so that the machine's drift falls on both sides of each ratio alike)."""
    found = contenders(core_source, variant)
    runnable = [(label, module) for label, module, _, error in found if error is None]
    cases = [(label, module, expression, shape) for expression in EXPRESSIONS for shape in SHAPES
             for label, module in runnable if expression == "square_chain" or hasattr(module, "add")]
    samples = {(label, expression, shape): [] for label, _, expression, shape in cases}
    with collector_disabled():
        for rep in range(warmup + repeats):
            shift = rep % len(cases)  # each case takes every place in the order in turn
            for label, module, expression, shape in cases[shift:] + cases[:shift]:
                elapsed = _time_once(module, expression, SHAPES[shape], functions)
                gc.collect()
                if rep >= warmup:
                    samples[(label, expression, shape)].append(elapsed / functions)
    rows = []
    for label, _, off, error in found:
        row = {"version": label, "off": off, "functions": functions, "repeats": repeats}
        if error is not None:
            rows.append({**row, "error": error})
            continue
        row["cases"] = []
        for expression in EXPRESSIONS:
            for shape in SHAPES:
                own = samples.get((label, expression, shape))
                if own is None:
                    continue
                case = {"expression": expression, "shape": shape, "per_op_ns": quartiles(own)}
                for key, reference in (("to_variant", variant), ("to_floor", FLOOR)):
                    theirs = samples.get((reference, expression, shape))
                    if theirs is not None:
                        case[key] = quartiles(a / b for a, b in zip(own, theirs))
                row["cases"].append(case)
        rows.append(row)
    return rows
