"""Section 1 of COMPARISON.md, "What was compared": the three policies, in their own words and their own diffs.

Each policy sentence is the variant's `POLICY`, read from its source; the diffs are extracted from the
sources by graphmem.variant_sources; which workloads ran in which modes is read from the summary.
"""
import ast

from graphmem.facts import CANONICAL, MODES, VARIANTS, VARIANTS_DIR
from graphmem.markdown import md_table
from graphmem.report.cells import NOT_MEASURED, fmt_bytes
from graphmem.report.provenance import checkout_of, fmt_checkout
from graphmem.report.selection import MODE_MEANING, complete_matrix, default_budget, reported_runs
from graphmem.variant_sources import differing_lines, hunks, variant_files


def matrix_sentence(summary):
    """Whether every workload ran in every variant and collector mode, as this summary shows."""
    if complete_matrix(summary):
        return "Every workload ran once per variant and per collector mode, each in its own process:"
    return ("Not every workload ran in every variant and collector mode in this summary (section 2 marks what was "
            "not measured); each run is its own process, in one of these modes:")


def policy_statement(variant, variants_root=VARIANTS_DIR):
    """The variant's own `POLICY = "..."` sentence, read from its source rather than retyped here."""
    for path in variant_files(variant, variants_root):
        if path.endswith(".py"):
            tree = ast.parse((variants_root / variant / path).read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(
                        isinstance(target, ast.Name) and target.id == "POLICY" for target in node.targets):
                    return ast.literal_eval(node.value)
    return "(no POLICY statement in its source)"


def unified_hunks(variant, variants_root):
    """One ```diff block per file that differs from strong, one `@@` per run of differing lines."""
    blocks = []
    paths = sorted(set(variant_files(CANONICAL, variants_root)) | set(variant_files(variant, variants_root)))
    for path in paths:
        found = hunks(variant, path, variants_root)
        if not found:
            continue
        lines = [f"--- variants/{CANONICAL}/{path}", f"+++ variants/{variant}/{path}"]
        for hunk in found:
            # No line numbers: an edit elsewhere in a variant moves them without changing the policy.
            lines.append("@@")
            lines += [f"-{text}" for text in hunk.strong_lines] + [f"+{text}" for text in hunk.other_lines]
        blocks.append("```diff\n" + "\n".join(lines) + "\n```")
    return blocks


def section_compared(summary, variants_root):
    budget = default_budget(summary)
    rows = []
    for variant in VARIANTS:
        if variant == CANONICAL:
            differing = "canonical text"
        else:
            lines = differing_lines(variant, variants_root)
            differing = (f"{sum(line.variant == variant for line in lines)} lines replace "
                         f"{sum(line.variant == CANONICAL for line in lines)}")
        rows.append([f"`{variant}`", policy_statement(variant, variants_root), differing,
                     f"[core.py](../variants/{variant}/dezero/core.py)"])
    parts = [
        "## 1. What was compared",
        "One DeZero-style define-by-run autograd, built three times. The builds are identical except for the "
        "lines that decide who frees a computation graph the program has dropped; each policy below is the "
        "variant's own `dezero.POLICY` sentence, read from its source.",
        md_table(["variant", "policy (`dezero.POLICY`)", "lines that differ from strong", "source"], rows),
        "gc_only's budget outside the budget sweep: "
        + (f"{fmt_bytes(budget)} ({budget:,} bytes) of graph arrays between its own collections."
           if budget is not None else f"{NOT_MEASURED} (no gc_only run in this summary)."),
        matrix_sentence(summary),
        md_table(["mode", "meaning"], [[f"`{mode}`", MODE_MEANING[mode]] for mode in MODES]),
        "### The code that differs",
        "These are all the lines in which a variant differs from strong, extracted from the sources by "
        "`shared/graphmem/variant_sources.py`; everything else is the same text, and "
        "`shared/contract/test_drift.py` fails on any difference that is not marked `# policy: <variant>`. "
        f"They are read from the `variants/` this report was rendered beside; {measured_at(summary)}",
    ]
    for variant in VARIANTS:
        if variant != CANONICAL:
            parts.append(f"#### {variant} against strong")
            parts += unified_hunks(variant, variants_root)
    return parts


def measured_at(summary):
    """Which commit(s) the runs were measured at, for the sentence under the code that differs."""
    checkouts = sorted({checkout_of(run) for run in reported_runs(summary) if run["status"] != "failed"})
    if not checkouts:
        return "no run in this summary has a measurement."
    if len(checkouts) == 1:
        return f"the runs were measured at commit {fmt_checkout(checkouts[0])}."
    return ("the runs were measured at several commits, " + ", ".join(map(fmt_checkout, checkouts))
            + " (section 6 says which runs at which).")
