"""Section 2 of COMPARISON.md: every workload's headline table, both collector modes, with its notes.

One row per process (variant × mode) at the workload's default parameters; the notes under a table say
which runs did not finish, which reruns failed later, and when its runs come from several checkouts.
"""
from graphmem.facts import MODES, VARIANTS
from graphmem.markdown import md_table
from graphmem.report.cells import (
    collector_cell, fmt_bytes, fmt_count, fmt_params, fmt_ratio, fmt_time, peak, peak_cell, peak_to_bound, ratio,
    sentence, shown_id, spread_header, status_cell,
)
from graphmem.report.provenance import later_failures, mixed_provenance
from graphmem.report.selection import (REFERENCE_VARIANT, headline_params, headline_run, matching_run, reported_runs,
                                       workload_names)

PROFILE_COMMAND = "python3 -m nox -s profile"


def headline_row(summary, run, mode, variant):
    if run is None or run["status"] == "failed":
        return [f"`{mode}`", variant, status_cell(run)] + ["—"] * 9
    reference = matching_run(summary, run, REFERENCE_VARIANT)
    at_least = "≥ " if run["status"] == "ceiling" else ""
    return [
        f"`{mode}`", variant, run["status"], peak_cell(run), at_least + fmt_ratio(peak_to_bound(run)),
        at_least + fmt_ratio(ratio(peak(run), peak(reference))), fmt_time(run, "wall_seconds"),
        fmt_count(run.get("total_allocations")), collector_cell(run), fmt_time(run, "collector_seconds"),
        fmt_bytes(run.get("held_bytes_at_return")), fmt_bytes(run.get("held_bytes_after_collect")),
    ]


def status_notes(runs):
    notes = [f"- `{shown_id(run)}`: **{run['status']}**: {run.get('reason') or 'no reason recorded'}"
             for run in runs if run is not None and run["status"] != "ok"]
    return notes + failure_notes(runs)


def failure_notes(runs):
    """Failed reruns of runs whose last good measurement the table shows."""
    notes = []
    for run in runs:
        for failure in later_failures(run):
            log = f" (output: `{failure['log']}`)" if failure.get("log") else ""
            notes.append(f"- `{shown_id(run)}`: a rerun at {failure['at']} failed: {failure['reason']}{log}; "
                         f"the row shows the measurement of {run['measured_at']}")
    return notes


TIME_COLUMNS = (
    "**Times** (wall time, collector pause, time collecting) are the median and, in brackets, the range over "
    "{processes} processes that ran the workload without memray (its hooks slow every allocation); a time "
    "difference counts only where the ranges do not overlap. Memory figures (peak, allocations, held) come "
    "from the one process under memray: the workloads are seeded and allocate the same arrays on every run, "
    "so they are not repeated. Runs that stopped at the ceiling are not timed (their times would be of "
    "truncated work)."
)


def time_columns_note(summary):
    counts = sorted({run["timing"]["processes"] for run in reported_runs(summary)
                     if run["status"] != "failed" and run.get("timing")})
    note = TIME_COLUMNS.format(processes=" or ".join(map(str, counts)) if counts else "repeated")
    if not counts:
        note += (f" No run in this summary has such timings, so every time reads `not timed`; `{PROFILE_COMMAND}` "
                 "measures them.")
    return note


def provenance_notes(runs):
    note = mixed_provenance(runs)
    return [note] if note else []


def section_headline(summary):
    parts = [
        "## 2. Headline: every workload, both collector modes",
        "Each row is one process. **peak heap**: the most memory the process held at once while the workload "
        "ran (memray). **× bound**: peak over the workload's live-set bound, the arrays it needs at one time. "
        "**× weakref**: peak over weakref's on the same workload and mode. **allocations**: every allocation "
        "memray saw. **collector runs**: cyclic collections of generations 0/1/2 (from `gc.callbacks`), with "
        "those gc_only triggered itself in brackets; **collector pause**: their total time. **held**: array "
        "bytes still referenced by dezero Variables when the workload returned, and after one `gc.collect()`. "
        "Runs that hit the memory ceiling show the peak they had reached when stopped; failed runs show why.",
        time_columns_note(summary),
    ]
    headers = ["mode", "variant", "status", "peak heap", "× bound", "× weakref", spread_header("wall time"),
               "allocations", "collector runs", spread_header("collector pause"), "held at return",
               "held after collect"]
    for workload in workload_names(summary):
        info = summary["workloads"].get(workload, {})
        params = headline_params(summary, workload)
        runs = [(mode, variant, headline_run(summary, workload, mode, variant))
                for mode in MODES for variant in VARIANTS]
        bound = next((run["live_set_bound_bytes"] for _, _, run in runs if run is not None), None)
        parts.append(f"### {workload}")
        if bound is None:
            parts.append(f"{sentence(info.get('description', 'No description in the summary'))} Not measured: "
                         "this summary has no run of it at its default parameters.")
            continue
        parts.append(
            f"{sentence(info.get('description', 'No description in the summary'))} "
            f"Parameters: `{fmt_params(params)}`. Live-set bound: {fmt_bytes(bound)} "
            f"({info.get('live_set_bound', 'no formula in the summary')})."
        )
        parts.append(md_table(headers, [headline_row(summary, run, mode, variant) for mode, variant, run in runs],
                              right=set(range(3, len(headers)))))
        parts += provenance_notes([run for _, _, run in runs])
        notes = status_notes([run for _, _, run in runs])
        if notes:
            parts.append("\n".join(notes))
    return parts
