"""Where and how each run was measured: its commit, its machine, and the reruns that failed after it.

Read from each run's `provenance` block of summary.json, for the notes under each table and section 6.
"""
from collections import Counter

from graphmem.report.cells import shown_id
from graphmem.report.selection import runs_sorted

MACHINE_KEYS = ("platform", "cpu", "cpu_count", "python", "numpy", "memray", "PYTHONMALLOC")


def checkout_of(run):
    provenance = run.get("provenance") or {}
    return provenance.get("git_commit", "unknown"), bool(provenance.get("git_dirty"))


def machine_of(run):
    provenance = run.get("provenance") or {}
    return tuple((key, provenance.get(key)) for key in MACHINE_KEYS)


def fmt_checkout(checkout):
    commit, dirty = checkout
    return f"`{commit[:12]}`" + (" with uncommitted changes" if dirty else "")


def fmt_machine(machine):
    values = dict(machine)
    return (f"{values['platform']}, {values['cpu']} ({values['cpu_count'] or '?'} CPUs), Python {values['python']}, "
            f"numpy {values['numpy']}, memray {values['memray']}"
            + (f", PYTHONMALLOC={values['PYTHONMALLOC']}" if values.get("PYTHONMALLOC") else ""))


def mixed_provenance(runs):
    """A sentence saying that `runs` (one table) come from several commits or machines, or None."""
    runs = [run for run in runs if run is not None and run["status"] != "failed"]
    checkouts = Counter(checkout_of(run) for run in runs)
    machines = Counter(machine_of(run) for run in runs)
    problems = []
    if len(checkouts) > 1:
        problems.append(f"{len(checkouts)} checkouts (" + "; ".join(
            f"{count} at {fmt_checkout(checkout)}" for checkout, count in checkouts.most_common()) + ")")
    if len(machines) > 1:
        problems.append(f"{len(machines)} machines or interpreter versions (" + "; ".join(
            f"{count} on {fmt_machine(machine)}" for machine, count in machines.most_common()) + ")")
    if not problems:
        return None
    return ("**Mixed provenance:** the runs in this table were measured at " + " and on ".join(problems)
            + "; compare them with care, or rerun them together.")


def provenance_groups(summary):
    """[(command, checkout, machine, [run ids])] for every run with a measurement, largest group first."""
    groups = {}
    for run in runs_sorted(summary):
        if run["status"] == "failed":
            continue
        key = ((run.get("provenance") or {}).get("command", "unknown"), checkout_of(run), machine_of(run))
        groups.setdefault(key, []).append(shown_id(run))
    return sorted(((command, checkout, machine, ids) for (command, checkout, machine), ids in groups.items()),
                  key=lambda group: (-len(group[3]), group[0], group[1]))


def later_failures(run):
    """Failed attempts of this run id made after its measurement (kept beside it, never over it)."""
    if run is None or run["status"] == "failed":
        return []
    return [failure for failure in run.get("failures", []) if failure["at"] > run["measured_at"]]


