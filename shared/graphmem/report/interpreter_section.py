"""The section "On your interpreter" of COMPARISON.md and the book's four claims checked per interpreter.

A table of interpreter × variant × mode on the book's loop (peak of array data, memray's peak heap where memray
ran, × the live-set bound, collections, time collecting), the chart interpreter_chart.py draws from
`chart_series` with the caption `chart_caption`, and paragraphs computed from the runs: how the collector
thresholds explain the difference, the start phases, the interpreters that could not run, and why PyPy has
no flamegraphs. Every figure comes from graphmem.report.interpreters' reading of the summary.
"""
import statistics

from graphmem.facts import BUDGETED_VARIANT, MODES, VARIANTS
from graphmem.markdown import md_table
from graphmem.report.cells import NOT_MEASURED, NOT_TIMED, fmt_bytes, fmt_ratio, fmt_spread, words
from graphmem.report.claims import AT_BOUND, CLEAR_FACTOR
from graphmem.report.interpreters import (
    CHART_NAME, CHART_TITLE, SAME_SHARE, SECTION_TITLE, WORKLOAD,
    InterpreterDataError, array_peak, collection_count, collection_iterations, family, fmt_range,
    headline_params, info, interpreters, matching_runs, measured, ok, peaks, phase_runs,
    phase_text, run_of, same, short_name, span,
)
from graphmem.spread import SPREAD_NAME

PHASED = "†"  # marks a row whose figures span the start phases


def _row(summary, label, variant, mode, memray):
    """One row; where start-phase runs exist (collector on), its figures span them and the run without a set
    phase, one figure only where they agree; its time is the run without a set phase's."""
    run = run_of(summary, label, variant, mode)
    name = short_name(interpreters(summary)[label])
    if run is None or run["status"] == "failed" or array_peak(run) is None:
        cell = NOT_MEASURED if run is None or run["status"] != "failed" else "failed"
        return [name, variant, mode, cell, *[""] * (3 + memray)]
    runs = [run] + ([phased for _, phased in phase_runs(summary, label, variant)] if mode == "auto" else [])
    mark = f" {PHASED}" if len(runs) > 1 else ""
    peak = fmt_range([array_peak(each) for each in runs], fmt_bytes)
    peak = (peak if run["status"] == "ok" else f"≥ {peak} (ceiling)") + mark
    bound = run["live_set_bound_bytes"]
    counts = [collection_count(each) for each in runs if collection_count(each) is not None]
    moved = " (moved by memray)" if (run.get("timing") or {}).get("memray_moved_collections") else ""
    row = [name, variant, mode, peak]
    if memray:
        heaps = [each["peak_heap_bytes"] for each in runs if each.get("peak_heap_bytes") is not None]
        row.append(fmt_range(heaps, fmt_bytes) if heaps else "–")
    return row + [fmt_range([array_peak(each) / bound for each in runs], fmt_ratio) if bound else NOT_MEASURED,
                  (f"{min(counts)}–{max(counts)}" if counts and min(counts) != max(counts) else
                   str(counts[0]) if counts else "–") + moved,
                  (fmt_spread(collecting) if (collecting := (run.get("timing") or {}).get("collector_seconds")) else NOT_TIMED)]


def table(summary):
    """The table of interpreter × variant × mode, and under it what † means where a row carries it."""
    memray = any(run.get("peak_heap_bytes") is not None for run in summary["runs"].values())
    headers = ["interpreter", "variant", "mode", "peak of array data", *(["memray peak heap"] * memray),
               "× bound", "collections", f"time collecting, {SPREAD_NAME}"]
    rows = [_row(summary, label, variant, mode, memray)
            for label in interpreters(summary) for variant in VARIANTS for mode in MODES
            if matching_runs(summary, label, variant, mode)]
    note = (f"\n\n{PHASED} min–max over the start phases and the run without a set phase (one figure where they "
            f"agree within {SAME_SHARE:.0%}); its time collecting is the run without a set phase's."
            if any(row[3].endswith(PHASED) for row in rows) else "")
    return md_table(headers, rows, right=tuple(range(3, len(headers)))) + note


def tracked_per_iteration(summary, label):
    """What strong's loop adds to generation 0's count per iteration, from the iterations of its collections:
    threshold × (1 − start phase) / the first one's iteration, and threshold / the iterations between two."""
    threshold = (interpreters(summary)[label].get("gc_threshold") or [None])[0]
    runs = [(None, run_of(summary, label, "strong", "auto"))] + phase_runs(summary, label, "strong")
    estimates = []
    for phase, run in runs:
        found = collection_iterations(run) if ok(run) and threshold else None
        if not found:
            continue
        if phase is not None and found[0] > 0:
            estimates.append(threshold * (1 - phase) / found[0])
        estimates += [threshold / (later - earlier) for earlier, later in zip(found, found[1:]) if later > earlier]
    return statistics.median(estimates) if estimates else None


def thresholds_paragraph(summary):
    records = interpreters(summary)
    counted = {label: tuple(record["gc_threshold"]) for label, record in records.items() if record.get("gc_threshold")}
    if not counted:
        return None
    groups = {}
    for label, threshold in counted.items():
        groups.setdefault(threshold, []).append(label)
    text = ("**How the thresholds explain the difference.** CPython's cyclic collector runs when its generation-0 "
            "count (container objects allocated less those freed since its last run) passes the first of "
            "`gc.get_threshold()`: " + words(f"({', '.join(map(str, threshold))}) on {span(summary, labels)}"
                                              for threshold, labels in groups.items()) + ".")
    estimates = {label: tracked_per_iteration(summary, label) for label in counted}
    sources = [label for label, value in estimates.items() if value]
    if sources:
        per = statistics.median(estimates[label] for label in sources)
        iterations = (headline_params(summary) or {}).get("iterations")
        text += (f" strong's `{WORKLOAD}` adds about {per:.0f} to that count per iteration (estimated on "
                 f"{span(summary, sources)} from the iterations its collections came at: threshold × (1 − start "
                 "phase) ÷ the first one's iteration, threshold ÷ the iterations between two), so its first "
                 "collection comes near iteration " + words(f"{threshold[0] / per:.0f} at a threshold of {threshold[0]}"
                                                            for threshold in groups)
                 + (f"; the loop runs {iterations} iterations." if iterations else "."))
    first = {label: run_of(summary, label, "strong", "auto") for label in counted}
    first = {label: run for label, run in first.items() if ok(run)}
    came = [(label, collection_iterations(run)[0]) for label, run in first.items() if collection_iterations(run)]
    none = [label for label, run in first.items() if collection_count(run) == 0]
    if came or none:
        version = {label: short_name(records[label]).split()[1] for label in first}
        text += (" Measured with the collector on, " + (
            "strong's first collection came at " + words(f"iteration {iteration} on {version[label]}"
                                                         for label, iteration in came) if came else "")
                 + ("; " if came and none else "") + (f"none came on {words(version[label] for label in none)}"
                                                      if none else "") + ".")
    bare = [label for label in records if label not in counted]
    if bare:
        text += (f" {span(summary, bare)} records no thresholds: its collector is not scheduled by a count of "
                 "objects.")
    return text


def phases_paragraph(summary):
    parts = []
    for label in interpreters(summary):
        found = [(variant, phase_text(summary, label, variant)) for variant in ("strong", BUDGETED_VARIANT)]
        found = [(variant, text) for variant, text in found if text]
        phases = sorted({phase for variant in ("strong", BUDGETED_VARIANT)
                         for phase, _ in phase_runs(summary, label, variant)})
        if found:
            listed = words(f"{phase:g}" for phase in phases)
            parts.append(f"on {short_name(interpreters(summary)[label])} (phases {listed}) "
                         + ", ".join(f"{variant} {text}" for variant, text in found))
    if not parts:
        return None
    return ("**Start phase.** strong's and gc_only's peaks with the collector on, measured with generation 0's count "
            "set to a share of its threshold when the loop began (min–max over the phases; one figure where they "
            f"agree within {SAME_SHARE:.0%}): " + "; ".join(parts) + ". The table's rows are the runs without a set "
            "start phase.")


def unavailable_line(summary):
    listed = summary.get("interpreters") or {}
    for name, entry in listed.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("available"), bool):
            raise InterpreterDataError(f"summary['interpreters'][{name!r}] has no boolean 'available'")
    missing = [(name, entry) for name, entry in listed.items() if not entry["available"]]
    if not missing:
        return None
    return "**Not measured here:** " + "; ".join(
        f"{name} ({entry.get('reason') or 'no reason recorded'})" for name, entry in missing) + "."


def flamegraph_line(summary):
    labels = [label for label in family(summary, "PyPy")
              if not any((run.get("files") or {}).get("flamegraph") for run in summary["runs"].values()
                         if info(run)["label"] == label)]
    if not labels:
        return None
    return (f"**No flamegraphs on {span(summary, labels)}:** memray does not support PyPy (nor is there tracemalloc), "
            "so these runs have no flamegraph and no memray peak; their measurement is the peak of live array data "
            "counted by the project's NumPy allocator hook (NEP 49).")


# --- the chart's data and caption ------------------------------------------------------------------

def chart_series(summary):
    """{mode: {variant: [(short name, array-data peak or None), ...]}} over the interpreters, for the chart;
    {} when no plain seed_loop run has a peak."""
    labels = list(interpreters(summary))
    series = {mode: {variant: [(short_name(interpreters(summary)[label]),
                                peaks(summary, label).get((variant, mode), (None,))[0]) for label in labels]
                     for variant in VARIANTS} for mode in MODES}
    return series if any(value for mode in series.values() for bars in mode.values() for _, value in bars) else {}


def chart_bound(summary):
    bounds = {bound for label in interpreters(summary) for _, bound in peaks(summary, label).values()}
    return bounds.pop() if len(bounds) == 1 else None


def drawn_variants(summary):
    series = chart_series(summary)
    return [variant for variant in VARIANTS if any(value for mode in series.values() for _, value in mode[variant])]


def chart_phase_ranges(summary):
    """{(mode, variant, short name): (lowest, highest)} over the start phases and the unset run, where they
    disagree: the chart draws each as a whisker over its bar."""
    found = {}
    for label in interpreters(summary):
        for variant in ("strong", BUDGETED_VARIANT):
            runs = [run_of(summary, label, variant, "auto"), *(run for _, run in phase_runs(summary, label, variant))]
            values = [array_peak(run) for run in runs if ok(run) and array_peak(run) is not None]
            if len(values) > 1 and not same(min(values), max(values)):
                found["auto", variant, short_name(interpreters(summary)[label])] = min(values), max(values)
    return found


LOG_SPAN = 20  # the chart's axis is logarithmic where its largest figure exceeds its smallest this many times


def chart_values(summary):
    """Every figure the chart draws, in bytes: the bars and the bound."""
    series = chart_series(summary)
    values = [value for bars in series.values() for points in bars.values() for _, value in points if value]
    return values + ([chart_bound(summary)] if values and chart_bound(summary) else [])


def chart_log(summary):
    values = chart_values(summary)
    return bool(values) and max(values) > LOG_SPAN * min(values)


def chart_caption(summary):
    series = chart_series(summary)
    if not series:
        return None
    params = ", ".join(f"{key}={value}" for key, value in sorted((headline_params(summary) or {}).items()))
    drawn = drawn_variants(summary)
    missing = sorted({f"{variant} on {name} ({mode})" for mode, bars in series.items() for variant in drawn
                      for name, value in bars[variant] if value is None})
    missing += [f"{variant} (no run)" for variant in VARIANTS if variant not in drawn]
    bound, ranges = chart_bound(summary), chart_phase_ranges(summary)
    whiskers = words(f"{variant} on {name}" for _, variant, name in ranges)
    return (f"*{CHART_TITLE} (`{params}`): the peak of live NumPy array data of {words(drawn)} on each "
            f"interpreter, collector on (left) and off (right){', log scale' if chart_log(summary) else ''}"
            + (f"; dashed: the live-set bound, {fmt_bytes(bound)}" if bound else "")
            + (f"; a black whisker: the min–max over the start phases ({whiskers}), the bar the run without a set "
               "phase" if ranges else "") + "."
            + (f" Not measured: {'; '.join(missing)}." if missing else "") + "*")


# --- 3. the book's four claims per interpreter -------------------------------------------------------

# Each test takes {(variant, mode): (peak, bound)} and says whether the claim clearly holds and whether it
# clearly fails; `figure` spells the figures it read through `text(variant, mode)`.

def test_refcount(p):
    peak, bound = p["weakref", "off"]
    return peak <= AT_BOUND * bound, peak > CLEAR_FACTOR * bound


def test_cycle(p):
    (strong, bound), weak = p["strong", "off"], p["weakref", "off"][0]
    return strong > CLEAR_FACTOR * max(weak, bound), strong <= AT_BOUND * weak


def test_late(p):
    on, off, weak = p["strong", "auto"][0], p["strong", "off"][0], p["weakref", "auto"][0]
    return on < (1 - SAME_SHARE) * off and on > CLEAR_FACTOR * weak, same(on, off) or on <= AT_BOUND * weak


def test_weak(p):
    on, off, strong = p["weakref", "auto"][0], p["weakref", "off"][0], p["strong", "auto"][0]
    spread = max(on, off) / min(on, off)
    return spread <= AT_BOUND and strong > CLEAR_FACTOR * on, spread > CLEAR_FACTOR or strong <= AT_BOUND * on


CLAIMS = (  # the book's steps (COMPARISON.md section 4): the runs each needs, its test, the figures it shows
    ("1. Reference counting frees a graph at once (CPython's claim)", (("weakref", "off"),), test_refcount,
     lambda text, ratio: f"weakref, collector off, {text('weakref', 'off')} ({ratio('weakref', 'off')} bound)"),
    ("2. A reference cycle defeats it", (("strong", "off"), ("weakref", "off")), test_cycle,
     lambda text, ratio: f"collector off, strong {text('strong', 'off')}, weakref {text('weakref', 'off')}"),
    ("3. The collector frees cycles, but late, so memory grows",
     (("strong", "auto"), ("strong", "off"), ("weakref", "auto")), test_late,
     lambda text, ratio: f"strong {text('strong', 'auto')} on, {text('strong', 'off')} off; "
                         f"weakref {text('weakref', 'auto')} on"),
    ("4. Weak references avoid the cycle", (("weakref", "auto"), ("weakref", "off"), ("strong", "auto")), test_weak,
     lambda text, ratio: f"weakref {text('weakref', 'auto')} on, {text('weakref', 'off')} off; "
                         f"strong {text('strong', 'auto')} on"),
)


def alternatives(summary, label):
    """The peaks as measured, then once per strong start-phase run with that run's collector-on peak in place."""
    p = peaks(summary, label)
    return [p] + [{**p, ("strong", "auto"): (array_peak(run), run["live_set_bound_bytes"])}
                  for _, run in phase_runs(summary, label, "strong") if ("strong", "auto") in p]


def claim_cell(summary, label, needs, test, figure):
    """Supported / Not supported where every start phase agrees, Undecided where they split or the figure
    falls between the tests; the figure spans the phases."""
    cases = alternatives(summary, label)
    if not all(key in cases[0] for key in needs):
        return "Not measured"
    results = [test(p) for p in cases]
    verdict = ("Supported" if all(held for held, _ in results) else
               "Not supported" if all(failed for _, failed in results) else "Undecided")
    values = lambda key: [p[key][0] for p in cases]  # noqa: E731
    return f"{verdict}: " + figure(lambda *key: fmt_range(values(key)),
                                   lambda *key: fmt_range([p[key][0] / p[key][1] for p in cases], fmt_ratio))


def claims(summary):
    """### The book's four claims × interpreter → Supported / Not supported / Undecided, with the figure."""
    labels = [label for label in interpreters(summary) if peaks(summary, label)]
    if not labels:
        return []
    rows = []
    for title, needs, test, figure in CLAIMS:
        rows.append([title, *(claim_cell(summary, label, needs, test, figure) for label in labels)])
    blocks = ["### The book's four claims on each interpreter",
              f"On `{WORKLOAD}`, from the peaks of array data above. Supported where the figure clears the claim's "
              f"test (a clear difference: {CLEAR_FACTOR:g}×; at the bound: within {AT_BOUND:g}×; the same: within "
              f"{SAME_SHARE:.0%}), not supported where it clearly fails it, undecided in between or where the start "
              "phases (strong, collector on) disagree; a figure spans those phases where they were measured.",
              md_table(["claim", *(short_name(interpreters(summary)[label]) for label in labels)], rows)]
    pypy = [label for label in family(summary, "PyPy") if label in labels]
    if pypy:
        note = ("Claim 1 is CPython's: it describes reference counting, which PyPy does not have. On "
                f"{span(summary, pypy)} its cell reads what frees a graph without it")
        weak_off = {label: peaks(summary, label).get(("weakref", "off")) for label in pypy}
        held = [label for label, found in weak_off.items() if found and found[0] > CLEAR_FACTOR * found[1]]
        blocks.append(note + (": nothing did at the drop; with the collector off weakref's live arrays reached "
                              + words(fmt_bytes(weak_off[label][0]) for label in held)
                              + "." if held else "."))
    return blocks


def section(summary):
    """## On your interpreter: the table, the chart, the paragraphs, then the claims per interpreter."""
    if not measured(summary):
        return [f"## {SECTION_TITLE}", f"Not measured: no interpreter has a completed `{WORKLOAD}` run with a peak "
                "of array data; `python3 -m nox -s profile` measures them.", *filter(None, [unavailable_line(summary)])]
    params = ", ".join(f"{key}={value}" for key, value in sorted((headline_params(summary) or {}).items()))
    intro = (f"`{WORKLOAD}` (`{params}`) on each interpreter measured. The peak of array data is the live NumPy "
             "array bytes counted by the project's allocator hook, the one figure every interpreter has; memray's "
             "peak heap stands beside it where memray ran. Collections: the cyclic collector's runs in the loop "
             f"(PyPy: its major collections). Times come from the processes without memray, {SPREAD_NAME}.")
    chart = [f"![{CHART_TITLE}]({CHART_NAME})", chart_caption(summary)] if chart_series(summary) else []
    paragraphs = [thresholds_paragraph(summary), phases_paragraph(summary), unavailable_line(summary),
                  flamegraph_line(summary)]
    return [f"## {SECTION_TITLE}", intro, table(summary), *chart, *filter(None, paragraphs), *claims(summary)]
