"""Section 6's "What measuring it cost": the last profile's totals (summary["last_profile"]) and where its
runs' time went, from each record's phase_seconds, by interpreter and implementation.

The memory processes of different runs ran up to `jobs` at a time, and the timing processes one after
another with nothing beside them, so the runs cannot take less than the timing processes' seconds plus the
memory processes' seconds shared among the jobs; the text sets that floor beside the measured time.
Nothing appears without a last_profile; the table only for its runs that have phase_seconds, and the
floor only when every run it measured has them.
"""
from graphmem.markdown import format_duration, md_table

OURS = "our variants"


def cost_groups(summary, last):
    """[(interpreter label, implementation group, [phase_seconds, ...])] of the runs the last profile
    measured (measured_at between its start and end), in summary order."""
    groups = {}
    for table in ("runs", "peer_runs"):
        for record in (summary.get(table) or {}).values():
            phases, when = record.get("phase_seconds"), record.get("measured_at") or ""
            if not phases or not last["started"] <= when <= last["finished"]:
                continue
            who = record.get("implementation") or OURS
            label = (record.get("interpreter") or {}).get("label", "?")
            groups.setdefault((label, who), []).append(phases)
    return [(label, who, phases) for (label, who), phases in groups.items()]


def totals(phases):
    return (len(phases), sum(p["memory"] for p in phases), sum(p["timing_processes"] for p in phases),
            sum(p["timing"] for p in phases))


def profile_totals(last):
    """One sentence of what the last profile took, or None without one."""
    if not last or last.get("wall_seconds") is None:
        return None
    parts = [f"The last profile (`{last['command']}`) measured {last['runs']} runs in "
             f"{format_duration(last['wall_seconds'])} with `--jobs {last['jobs']}`"
             + (f", shard {last['shard']}" if last.get("shard") else "")]
    if last.get("setup_seconds") is not None:
        parts.append(f"after {format_duration(last['setup_seconds'])} preparing environments and the cycle anatomy")
    if last.get("runs_per_minute") is not None:
        parts.append(f"{last['runs_per_minute']:g} runs per minute")
    if last.get("parallel_share") is not None:
        parts.append(f"two or more runs' processes at once {last['parallel_share']:.0%} of the time")
    return ", ".join(parts) + "."


def section_profile_cost(summary):
    """The subsection's lines, or [] when the summary has no last_profile."""
    last = summary.get("last_profile")
    sentence = profile_totals(last)
    if not sentence:
        return []
    parts = ["### What measuring it cost", sentence]
    groups = cost_groups(summary, last)
    if not groups:
        return parts
    rows = [[label, who, str(runs), format_duration(memory), str(processes), format_duration(timing)]
            for label, who, phases in groups for runs, memory, processes, timing in [totals(phases)]]
    runs, memory, processes, timing = totals([p for _, _, phases in groups for p in phases])
    rows.append(["all", "", str(runs), format_duration(memory), str(processes), format_duration(timing)])
    parts.append(f"Where its runs' time went, from each run's `phase_seconds` ({runs} of its {last['runs']} runs "
                 "have them): the wall time of each run's memory process and of its timing processes.")
    parts.append(md_table(["interpreter", "implementation", "runs", "memory processes", "timing processes",
                           "timing processes' time"], rows))
    if runs == last["runs"] and last["jobs"] == 1:
        parts.append(f"With `--jobs 1` every process ran alone: {format_duration(memory + timing)} of processes, "
                     f"in {format_duration(last['wall_seconds'])}.")
    elif runs == last["runs"]:
        floor = timing + memory / last["jobs"]
        parts.append(f"Each run's memory process (memray's, or where memray is absent one without it) ran beside "
                     f"at most {last['jobs'] - 1} other{'s' * (last['jobs'] > 2)}; its timing processes ran with "
                     f"nothing beside them. So the runs could not take less than "
                     f"{format_duration(timing)} of timing processes plus {format_duration(memory)} of memory "
                     f"processes shared among {last['jobs']} jobs, {format_duration(floor)}; they took "
                     f"{format_duration(last['wall_seconds'])}.")
    return parts
