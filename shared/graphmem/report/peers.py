"""COMPARISON.md's section "Where real libraries stand", and its cycle diagram, from summary.json alone.

The peers (real autograd libraries) ran the same workloads through their adapters, each in its
own environment (`peer_runs`); `implementations` says which were available and how each graph
holds an op's outputs, cited from the installed source; `anatomy` says what one dropped seed
graph leaves for the cyclic collector. Text only: graphmem.report.charts draws the diagram from
`diagram_cycles`.
"""
from graphmem.facts import MODES, VARIANTS
from graphmem.markdown import md_table
from graphmem.report.cells import NOT_MEASURED, fmt_bytes, fmt_ratio, fmt_seconds
from graphmem.report.layout import names
from graphmem.report.selection import headline_run

DIAGRAM_NAME = "cycles.png"
SEED_WORKLOAD = "seed_loop"
TOP_TYPES = 4  # object types named per dropped graph


def has_peers(summary):
    """Whether the summary was written by a profile that knows about implementations (else no section)."""
    return bool(summary.get("implementations"))


def implementation_names(summary):
    """Our variants first, in their order, then the peers in the order they were recorded."""
    known = summary.get("implementations", {})
    return [v for v in VARIANTS if v in known] + [name for name in known if name not in VARIANTS]


def peer_run(summary, workload, mode, name):
    """The peer's run of `workload` at its default parameters in `mode`, or None."""
    default = summary["workloads"].get(workload, {}).get("default_params")
    for run in summary.get("peer_runs", {}).values():
        if (run["variant"], run["workload"], run["mode"]) == (name, workload, mode) and run["params"] == default:
            return run
    return None


def run_for(summary, workload, mode, name):
    if name in VARIANTS:
        return headline_run(summary, workload, mode, name)
    return peer_run(summary, workload, mode, name)


def label(summary, name):
    description = summary["implementations"][name].get("description") or {}
    version = description.get("version")
    if name in VARIANTS:
        return f"ours: {name}"
    return f"{name} {version}" if version else name


def cited(description):
    source = (description or {}).get("source")
    return f"`{source['file']}:{source['line']}`" if source else "no line found"


def cycle_words(record):
    """'**yes**: 2,400 objects (cell 900, Value 400, ...), 0 B of arrays' or 'no'; from the forward phase."""
    if record is None:
        return NOT_MEASURED
    if "failed" in record:
        return f"not measured ({record['failed']})"
    found = record["forward"]
    if not found["objects"]:
        return "no: reference counting frees it"
    kinds = ", ".join(f"{kind.split('.')[-1]} {count:,}" for kind, count in list(found["by_type"].items())[:TOP_TYPES])
    after = record["backward"]
    backward = (f"; after backward {after['objects']:,} objects, {fmt_bytes(after['array_bytes'])} of arrays"
                if after["objects"] != found["objects"] or after["array_bytes"] != found["array_bytes"] else "")
    return f"**yes**: {found['objects']:,} objects ({kinds}), {fmt_bytes(found['array_bytes'])} of arrays{backward}"


def chain_words(record):
    """The shortest chain that closes the cycle, e.g. `Value -._backward-> function _backward -> ... -> Value`."""
    if not record or "failed" in record or not record["forward"]["cycle"]:
        return None
    steps = record["forward"]["cycle"]
    return " ".join(f"{step['node'].split('.')[-1]} -{step['edge']}->" for step in steps) + \
        f" {steps[0]['node'].split('.')[-1]}"


def verdict_line(summary):
    """The answer's line on the peer libraries: which leave each dropped graph to the collector, with the
    seed loop's peak under `off` against its bound; None when no peer was profiled."""
    if not has_peers(summary):
        return None
    anatomy = summary.get("anatomy", {})
    peers = [name for name in implementation_names(summary)
             if name not in VARIANTS and summary["implementations"][name]["available"]]
    measured = [name for name in peers if anatomy.get(name) and "failed" not in anatomy[name]]
    if not measured:
        return None
    cyclic = [name for name in measured if anatomy[name]["forward"]["objects"]]
    freed = [label(summary, name) for name in measured if name not in cyclic]
    link = "[section 7](#7-where-real-libraries-stand)"
    if not cyclic:
        return (f"- **Real libraries:** none of the {len(measured)} measured ({', '.join(freed)}) leaves a dropped "
                f"graph to the cyclic collector; {link}.")
    described = []
    for name in cyclic:
        run = run_for(summary, SEED_WORKLOAD, "off", name)
        peak = (f"; seed loop with the collector off: peak {fmt_bytes(run['peak_heap_bytes'])}, "
                f"{fmt_ratio(run.get('peak_ratio_to_bound'))} its bound" if run and run["status"] != "failed" else "")
        described.append(f"{label(summary, name)} ({anatomy[name]['forward']['objects']:,} objects per dropped "
                         f"graph{peak})")
    return (f"- **Real libraries:** of {len(measured)} measured, {len(cyclic)} leave{'s' * (len(cyclic) == 1)} every "
            f"dropped graph as a cycle, as strong does: {'; '.join(described)}. The others ({', '.join(freed)}) "
            f"free a dropped graph by reference counting. {link}.")


def ratio_cell(run, unsupported):
    if unsupported:
        return "–"
    if run is None:
        return NOT_MEASURED
    if run["status"] == "failed":
        return "failed"
    text = fmt_ratio(run.get("peak_ratio_to_bound"))
    return text + (" (ceiling)" if run["status"] == "ceiling" else "")


def seed_peak_cell(summary, name):
    """'auto / off (bound)' for the seed loop at its default parameters."""
    runs = [run_for(summary, SEED_WORKLOAD, mode, name) for mode in MODES]
    peaks = [fmt_bytes(run.get("peak_heap_bytes")) if run and run["status"] != "failed" else NOT_MEASURED
             for run in runs]
    bound = next((run["live_set_bound_bytes"] for run in runs if run), None)
    return " / ".join(peaks) + (f" ({fmt_bytes(bound)})" if bound else "")


def collector_cell(summary, name):
    """Time in the collector against the whole loop, seed loop under `auto`, timed without memray."""
    run = run_for(summary, SEED_WORKLOAD, "auto", name)
    timing = (run or {}).get("timing") or {}
    collector, wall = timing.get("collector_seconds"), timing.get("wall_seconds")
    if not collector or not wall:
        return NOT_MEASURED
    return f"{fmt_seconds(collector['median'])} of {fmt_seconds(wall['median'])}"


def scalar_bound_note(summary, available):
    """How to read a scalar library's ratios (its adapter records a `scalar_scale`: it runs one Python Value per
    scalar), only for such a library that has a run in this summary."""
    scalar = [name for name in available
              if (summary["implementations"][name].get("description") or {}).get("scalar_scale")
              and any(run["variant"] == name and run["status"] != "failed"
                      for run in summary.get("peer_runs", {}).values())]
    if not scalar:
        return ""
    return (f" {names([label(summary, name) for name in scalar])}: the bound counts one leaf Value per "
            "scalar, so these ratios weigh the graph's Python objects.")


def diagram_cycles(summary):
    """[(label, cycle steps)] that charts.render_diagram draws, one per implementation whose dropped graph is a cycle."""
    anatomy = summary.get("anatomy", {})
    if not has_peers(summary):
        return []
    return [(label(summary, name), anatomy[name]["forward"]["cycle"]) for name in implementation_names(summary)
            if name in anatomy and "failed" not in anatomy[name] and anatomy[name]["forward"]["cycle"]]


def section_peers(summary):
    """The section's markdown parts; none for a summary from before the peers were profiled."""
    if not has_peers(summary):
        return []
    names = implementation_names(summary)
    available = [name for name in names if summary["implementations"][name]["available"]]
    missing = [name for name in names if name not in available]
    anatomy = summary.get("anatomy", {})
    workloads = list(summary["workloads"])
    parts = [
        "## 7. Where real libraries stand",
        "The same workloads ran through one adapter per library (`shared/graphmem/adapters/`), each library in "
        "its own environment built from its adapter's pins, under memray with the collector `auto` and `off`, "
        "one process per run. *Dropped graph* is the cycle anatomy (`python -m graphmem.anatomy`): with the "
        "collector off, one seed graph (x, then three squares) is built and dropped, and what `gc.collect()` then "
        "finds is counted. The peak column is the seed loop at its default parameters; the collector column is "
        "the same loop under `auto`, timed without memray (median over the timing processes).",
        md_table(["implementation", "how an op's outputs are held (installed source)", "dropped graph a cycle?",
                  "seed loop peak, auto / off (bound)", "time in the collector / whole loop"],
                 [[label(summary, name),
                   f"{(summary['implementations'][name].get('description') or {}).get('holds_outputs', '')} "
                   f"({cited(summary['implementations'][name].get('description'))})",
                   cycle_words(anatomy.get(name)), seed_peak_cell(summary, name), collector_cell(summary, name)]
                  for name in available]),
        "Peak over the live-set bound, per workload at its default parameters, `auto` / `off` (– : the library "
        "does not run it). The bound is what a dezero-style graph must hold, which keeps every op's output; a "
        "library that keeps only what its backward needs (neg's backward needs no array at all) can stay below 1×."
        + scalar_bound_note(summary, available),
        md_table(["implementation", *workloads],
                 [[label(summary, name), *(
                     " / ".join(ratio_cell(run_for(summary, workload, mode, name),
                                           workload in ((summary['implementations'][name].get('description') or {})
                                                        .get('unsupported') or {})) for mode in MODES)
                     for workload in workloads)] for name in available]),
    ]
    chains = [(name, chain_words(anatomy.get(name))) for name in available]
    parts.append("The shortest chain of references that closes each cycle, measured on the dropped graph:\n\n"
                 + "\n".join(f"- **{label(summary, name)}**: `{chain}`" for name, chain in chains if chain)
                 + f"\n\n![The reference cycle a dropped graph leaves, per implementation]({DIAGRAM_NAME})"
                 if any(chain for _, chain in chains) else "No implementation left a cycle behind a dropped graph.")
    parts.append("The line of the installed source each adapter cites (found at run time by a marker):\n\n" + "\n".join(
        f"- **{label(summary, name)}**: {cited(description)}: `{description['source']['text']}`"
        for name in available
        for description in [summary["implementations"][name].get("description") or {}] if description.get("source")))
    parts.append("What its users should do:\n\n" + "\n".join(
        f"- **{label(summary, name)}**: {(summary['implementations'][name].get('description') or {}).get('advice')}."
        for name in available if (summary["implementations"][name].get("description") or {}).get("advice")))
    notes = [f"- **{label(summary, name)}**: {description['notes']}." for name in available
             for description in [summary["implementations"][name].get("description") or {}] if description.get("notes")]
    if notes:
        parts.append("How each adapter runs its library:\n\n" + "\n".join(notes))
    if missing:
        parts.append("Not measured here:\n\n" + "\n".join(
            f"- **{name}**: {summary['implementations'][name]['reason']}" for name in missing))
    return parts
