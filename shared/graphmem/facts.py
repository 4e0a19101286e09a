"""The project's facts, each defined once: the variants, the collector modes, gc_only's default budget.

Importable without numpy (the noxfile reads it), so it holds names and numbers only. gc_only's
default budget is defined in that variant's own core, which installs alone as `dezero`; this
module reads it from the source so that nothing else repeats the number.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIANTS_DIR = ROOT / "variants"
VARIANTS = ("strong", "weakref", "gc_only")  # strong first: the canonical text the others are read against
CANONICAL = "strong"
MODES = ("auto", "off")  # auto: the interpreter's own collector schedule; off: gc.disable() for the workload
BUDGETED_VARIANT = "gc_only"  # the one variant whose collector takes a byte budget


def _default_gc_budget(core=VARIANTS_DIR / BUDGETED_VARIANT / "dezero" / "core.py"):
    """The default of `_budget_from_environment(default=<constant expression>)` in gc_only's core."""
    for node in ast.parse(core.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == "_budget_from_environment" and node.args.defaults:
            expression = ast.Expression(node.args.defaults[-1])
            return int(eval(compile(expression, str(core), "eval"), {"__builtins__": {}}))
    raise LookupError(f"{core} defines no _budget_from_environment(default=...)")


DEFAULT_GC_BUDGET = _default_gc_budget()
