"""Section 5 of COMPARISON.md: every run's memray reports, each beside the figures in which the policies differ.

A flamegraph shows what was alive at the peak, and two of them look alike in shape however different their
widths: so each link sits next to the run's peak, what it still held when the workload returned and what
dezero allocated (from the run's `memray stats --json`), and a table compares the top allocation sites of
the variants on the same work.
"""
import json
import posixpath
import re

from graphmem.facts import MODES, ROOT, VARIANTS
from graphmem.markdown import md_table
from graphmem.report.cells import fmt_bytes, fmt_ratio, peak, peak_cell, ratio, shown_id
from graphmem.report.selection import headline_run, runs_sorted, workload_names

PROFILE_COMMAND = "python3 -m nox -s profile"
REPORT_DIR = "reports"
FILES = (("flamegraph", "flamegraph"), ("temporal_flamegraph", "temporal"), ("stats", "stats"))
# Allocation totals this close are "the same allocations"; peaks further apart than CLEAR differ.
SAME_SHARE = 0.05
CLEAR = 1.5


def report_link(path):
    """A repository-relative path as a link target from COMPARISON.md's folder."""
    return posixpath.relpath(path, REPORT_DIR)


def read_stats(run, root=ROOT):
    """The run's `memray stats --json` content, or None when it is not on disk or not readable."""
    path = (run.get("files") or {}).get("stats")
    if not path:
        return None
    try:
        stats = json.loads((root / path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return stats if isinstance(stats, dict) else None


def dezero_bytes(stats):
    """Bytes the dezero package allocated over the run (memray's per-module total), or None."""
    for module in (stats or {}).get("top_modules_by_allocation_size") or []:
        if isinstance(module, dict) and module.get("module") == "dezero":
            return module.get("total_bytes")
    return None


SITE = re.compile(r"^(?P<function>[^:]+):(?P<path>.+):(?P<line>\d+)$")


def site(location):
    """(function, short file, line) of a memray location 'function:/long/path/to/dezero/core.py:206'."""
    match = SITE.match(location or "")
    if not match:
        return (location, "", "")
    path = match["path"]
    for marker in ("site-packages/", "/shared/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = posixpath.basename(path)
    return (match["function"], path, match["line"])


def top_sites(stats):
    """{(function, file): (line, bytes)} of memray's top allocation sites by size."""
    sites = {}
    for entry in (stats or {}).get("top_allocations_by_size") or []:
        if isinstance(entry, dict) and isinstance(entry.get("size"), int):
            function, path, line = site(entry.get("location"))
            sites[(function, path)] = (line, entry["size"])
    return sites


def _headline_pairs(summary):
    """[(workload, mode, {variant: run})] of the headline runs, where strong and weakref both have one."""
    pairs = []
    for workload in workload_names(summary):
        for mode in MODES:
            runs = {variant: headline_run(summary, workload, mode, variant) for variant in VARIANTS}
            runs = {variant: run for variant, run in runs.items() if run is not None and run["status"] != "failed"}
            if "strong" in runs and "weakref" in runs:
                pairs.append((workload, mode, runs))
    return pairs


def difference_table(summary, root=ROOT):
    """The top allocation sites of strong, weakref and gc_only on the book's loop: same lines, same bytes,
    different lifetimes."""
    for workload, mode, runs in _headline_pairs(summary):
        stats = {variant: read_stats(run, root) for variant, run in runs.items()}
        if stats.get("strong") and stats.get("weakref"):
            break
    else:
        return [f"Not measured: no strong and weakref run at default parameters has its memray stats on disk; "
                f"`{PROFILE_COMMAND}` writes them."]
    variants = [variant for variant in VARIANTS if stats.get(variant)]
    sites = {variant: top_sites(stats[variant]) for variant in variants}
    keys = sorted({key for found in sites.values() for key in found},
                  key=lambda key: -max(found.get(key, ("", 0))[1] for found in sites.values()))
    rows = [["peak heap (at the flamegraph's moment)", *(fmt_bytes(peak(runs[v])) for v in variants)],
            ["arrays still held when the workload returned",
             *(fmt_bytes(runs[v].get("held_bytes_at_return")) for v in variants)],
            ["allocated over the whole run", *(fmt_bytes(stats[v].get("total_bytes_allocated")) for v in variants)],
            ["of which by dezero", *(fmt_bytes(dezero_bytes(stats[v])) for v in variants)]]
    for function, path in keys:
        lines = [(v, sites[v][(function, path)][0]) for v in variants if (function, path) in sites[v]]
        where = " / ".join(line for _, line in lines) if len(lines) == len(variants) else \
            ", ".join(f"{line} ({v})" for v, line in lines)
        rows.append([f"allocated at `{function}` in {path}, line {where}",
                     *(fmt_bytes(sites[v][(function, path)][1]) if (function, path) in sites[v] else "—"
                       for v in variants)])
    rows.append(["memray reports", *(" · ".join(f"[{label}]({report_link(runs[v]['files'][kind])})"
                                                for kind, label in FILES[:2] if kind in (runs[v].get("files") or {}))
                                     or "—" for v in variants)])
    totals = [stats[v].get("total_bytes_allocated") for v in variants]
    peaks = [peak(runs[v]) for v in variants]
    same_allocations = None not in totals and max(totals) <= (1 + SAME_SHARE) * min(totals)
    strong_peak, weak_peak = peak(runs["strong"]), peak(runs["weakref"])
    different_peaks = None not in peaks and weak_peak and strong_peak > CLEAR * weak_peak
    if same_allocations and different_peaks:
        reading = (f"The same lines allocated the same bytes in every policy (totals within {SAME_SHARE:.0%}); what "
                   f"differs is how long those arrays lived: strong's peak is {fmt_ratio(ratio(strong_peak, weak_peak))} "
                   "weakref's. That is why their flamegraphs have the same shape: the same call stacks hold the "
                   "bytes alive at the peak, so read the figures here, not the shapes.")
    else:
        reading = ("In this run the allocation totals or the peaks do not separate the policies as clearly "
                   f"(totals within {SAME_SHARE:.0%}: {'yes' if same_allocations else 'no'}; strong's peak over "
                   f"{CLEAR:g}× weakref's: {'yes' if different_peaks else 'no'}).")
    header = ["", *variants]
    return [
        f"### What differs between the flamegraphs: {workload}, collector `{mode}`",
        f"From each run's `memray stats --json` (top allocation sites by size) and summary.json. {reading}",
        md_table(header, rows, right=set(range(1, len(header)))),
    ]


def _figures_cell(run, root):
    stats = read_stats(run, root)
    return [fmt_bytes(run.get("held_bytes_at_return")) if run["status"] != "failed" else "—",
            fmt_bytes(dezero_bytes(stats)) if stats else "—"]


def section_flamegraphs(summary, committed, root=ROOT):
    with_files, without = [], []
    for run in runs_sorted(summary):
        files = run.get("files") or {}
        written = [(kind, label) for kind, label in FILES if kind in files]
        if not written:
            without.append([f"`{shown_id(run)}`", run["status"], peak_cell(run)])
            continue
        links = " · ".join(f"[{label}]({report_link(files[kind])})" for kind, label in written)
        where = "yes" if all(files[kind] in committed for kind, _ in written) else \
            f"no: `{PROFILE_COMMAND}` creates them"
        with_files.append([f"`{shown_id(run)}`", run["status"], peak_cell(run), *_figures_cell(run, root), links, where])
    parts = [
        "## 5. Flamegraphs of every run",
        "**How to read a memray flamegraph.** It shows the memory that was allocated and not yet freed at one "
        "moment, normally the peak. Each box is a function; the boxes beyond it are the functions it called, and "
        "the box furthest from the root in a column is the one that allocated. **Width is memory, not time**: a "
        "box is as wide as the bytes allocated by that call and its callees that were still alive, and "
        "left-to-right order means nothing. Two runs with the same call stacks therefore look alike whatever "
        "their sizes: read the figures beside each link, and the table below. The temporal flamegraph adds a "
        "memory-over-time strip above it (heap on the vertical axis, time on the horizontal; memray does not "
        "label them): select a time range there to see what was alive during it; section 3's memory-over-time "
        "charts are the labelled version of that strip for the book's loops. Both are HTML files; GitHub shows "
        "them as source, so open them in a browser from a clone; `stats` is memray's summary of the same capture. "
        f"Where the last column says they are not in the repository, `{PROFILE_COMMAND}` writes them to the "
        "linked paths.",
        *difference_table(summary, root),
        "### Every run",
        "**held at return**: array bytes still referenced when the workload returned; **by dezero**: bytes the "
        "dezero package allocated over the whole run (memray stats).",
    ]
    if with_files:
        parts.append(md_table(["run", "status", "peak heap", "held at return", "by dezero", "memray reports",
                               "in the repository"], with_files, right={2, 3, 4}))
    else:
        parts.append(f"Not measured: no run in this summary wrote memray reports; `{PROFILE_COMMAND}` writes them.")
    if without:
        parts.append(f"<details><summary>{len(without)} runs wrote no memray reports; their numbers are in "
                     "sections 2 and 3</summary>")
        parts.append(md_table(["run", "status", "peak heap"], without, right={2}))
        parts.append("</details>")
    return parts

