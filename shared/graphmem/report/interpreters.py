"""The answer on every interpreter (issue 18): which runs compare the interpreters, the verdict per interpreter
family for the answer's first screen, and README's result line naming the interpreters.

Read from a schema-3 summary: each run's `interpreter` (label, implementation, version, gc_threshold), its
`array_bytes.peak` (live NumPy array data, the one figure every interpreter has), `collection_iterations`
and `start_phase`; every sentence stating a measured fact is computed from these and absent when they do not
show it. Text only. The section "On your interpreter" and the claims per interpreter (interpreter_section.py)
and the chart (interpreter_chart.py) build on the reading of the records defined here.
"""
import json
import re
from collections import Counter

from graphmem.facts import BUDGETED_VARIANT, DEFAULT_GC_BUDGET, MODES, VARIANTS
from graphmem.report.cells import fmt_bytes, fmt_ratio, words
from graphmem.report.claims import AT_BOUND, CLEAR_FACTOR

WORKLOAD = "seed_loop"  # the book's loop (step 17): the workload every interpreter is compared on
SAME_SHARE = 0.03  # two peaks are "the same" within 3% of the larger (the issue's test for 3.13's auto = off)
SECTION_TITLE = "On your interpreter"
CHART_NAME = "chart-interpreters.png"
CHART_TITLE = "Peak array memory by interpreter and variant, seed_loop"
README_LINK = "[reports/COMPARISON.md](reports/COMPARISON.md)"


class InterpreterDataError(ValueError):
    """A run or summary["interpreters"] entry lacks what this module reads."""


# --- reading the records -----------------------------------------------------------------------

def info(run):
    """The run's interpreter record; InterpreterDataError where a run lacks its label or implementation."""
    found = run.get("interpreter")
    if not isinstance(found, dict) or not isinstance(found.get("label"), str) or not found.get("implementation"):
        raise InterpreterDataError(f"run {run.get('id')!r} has no interpreter label and implementation "
                                   "(schema 3 records carry record['interpreter'])")
    return found


def _version(text):
    return tuple(int(part) for part in re.findall(r"\d+", str(text or ""))[:3])


def interpreters(summary):
    """{label: interpreter record} of every interpreter with a run: CPython by version first, then the others."""
    found = {}
    for run in summary["runs"].values():
        found.setdefault(info(run)["label"], info(run))
    return dict(sorted(found.items(), key=lambda item: (item[1]["implementation"] != "CPython",
                                                        item[1]["implementation"], _version(item[1]["version"]))))


def short_name(record):
    """'CPython 3.11', 'CPython 3.13t', 'PyPy 3.9': the implementation and the major.minor of its label."""
    tail = record["label"].split("-", 1)[-1]
    version = tail if re.fullmatch(r"\d+\.\d+t?", tail) else ".".join(map(str, _version(record["version"])[:2]))
    return f"{record['implementation']} {version}"


def family(summary, implementation):
    return [label for label, record in interpreters(summary).items() if record["implementation"] == implementation]


def headline_params(summary):
    runs = [run for run in summary["runs"].values() if run["workload"] == WORKLOAD]
    default = (summary.get("workloads") or {}).get(WORKLOAD, {}).get("default_params")
    if default is not None and any(run["params"] == default for run in runs) or not runs:
        return default
    counts = Counter(json.dumps(run["params"], sort_keys=True) for run in runs)
    return json.loads(min(counts, key=lambda key: (-counts[key], key)))


def _budget(summary):
    budgets = Counter(run["gc_budget"] for run in summary["runs"].values() if run["variant"] == BUDGETED_VARIANT)
    if not budgets or DEFAULT_GC_BUDGET in budgets:
        return DEFAULT_GC_BUDGET
    return min(budgets, key=lambda budget: (-budgets[budget], budget or 0))


def matching_runs(summary, label, variant, mode):
    params, budget = headline_params(summary), _budget(summary)
    return [run for run in summary["runs"].values()
            if info(run)["label"] == label
            and (run["workload"], run["variant"], run["mode"]) == (WORKLOAD, variant, mode)
            and run["params"] == params and (variant != BUDGETED_VARIANT or run["gc_budget"] == budget)]


def run_of(summary, label, variant, mode):
    """The seed_loop run at the headline params and default budget without a start phase, or None."""
    return next((run for run in matching_runs(summary, label, variant, mode) if run.get("start_phase") is None), None)


def phase_runs(summary, label, variant):
    """[(start phase, run)] of the completed collector-on phase runs, by phase."""
    return sorted(((run["start_phase"], run) for run in matching_runs(summary, label, variant, "auto")
                   if run.get("start_phase") is not None and ok(run) and array_peak(run) is not None),
                  key=lambda item: item[0])


def ok(run):
    return run is not None and run["status"] == "ok"


def array_peak(run):
    return None if run is None or run["status"] == "failed" else (run.get("array_bytes") or {}).get("peak")


def collection_count(run):
    """How many cyclic collections ran in the loop (PyPy: major collections), or None if not recorded."""
    found = run.get("collection_iterations") if run else None
    return None if found is None else len(found)


def collection_iterations(run):
    """The loop iterations at which they ran, in order (those with no iteration recorded left out), or None:
    from the processes without memray where they recorded them (memray's own objects can move a collection)."""
    found = ((run.get("timing") or {}).get("collection_iterations") or run.get("collection_iterations")) if run else None
    return None if found is None else sorted(iteration for iteration, _ in found if iteration is not None)


def peaks(summary, label):
    """{(variant, mode): (array-data peak, bound)} of the completed plain runs with a peak."""
    found = {}
    for variant in VARIANTS:
        for mode in MODES:
            run = run_of(summary, label, variant, mode)
            if ok(run) and array_peak(run) is not None:
                found[variant, mode] = array_peak(run), run["live_set_bound_bytes"]
    return found


def measured(summary):
    """Whether any interpreter has a completed seed_loop run with a peak of array data (records migrated from
    schema 2 have none: until a profile measures them, the report keeps its single-interpreter answer)."""
    return any(peaks(summary, label) for label in interpreters(summary))


def same(first, second):
    return abs(first - second) <= SAME_SHARE * max(first, second)


# --- words -------------------------------------------------------------------------------------

def fmt_range(values, spell=None):
    """'161.7–183.1 MiB' (or '23.56–26.67×' with spell=fmt_ratio): min–max, or one figure if the same."""
    spell = spell or fmt_bytes
    low, high = spell(min(values)), spell(max(values))
    if same(min(values), max(values)):
        return high
    for unit in (" B", " KiB", " MiB", " GiB", "×"):
        if low.endswith(unit) and high.endswith(unit):
            return f"{low[:-len(unit)]}–{high}"
    return f"{low}–{high}"


def plural(count, noun):
    return f"{count} {noun}{'s' * (count != 1)}"


def span(summary, labels):
    """'CPython 3.11–3.13' for three or more consecutive ones of a family, else 'CPython 3.11 and 3.13'."""
    records = [interpreters(summary)[label] for label in labels]
    versions = [short_name(record).split(" ", 1)[1] for record in records]
    head, members = records[0]["implementation"], family(summary, records[0]["implementation"])
    first = members.index(labels[0])
    if len(labels) > 2 and members[first:first + len(labels)] == list(labels):
        return f"{head} {versions[0]}–{versions[-1]}"
    return f"{head} {words(versions)}"


def phase_text(summary, label, variant):
    """'161.7–183.1 MiB over 4 start phases', '51.1 MiB at all 4 start phases', or None without phase runs."""
    found = [array_peak(run) for _, run in phase_runs(summary, label, variant)]
    if not found:
        return None
    if same(min(found), max(found)):
        return f"{fmt_range(found)} at all {len(found)} start phases"
    return f"{fmt_range(found)} over {len(found)} start phases"


# --- 1. the verdict per family -------------------------------------------------------------------

def weakref_wins(summary, label):
    p = peaks(summary, label)
    if not all(key in p for key in (("weakref", "auto"), ("weakref", "off"), ("strong", "auto"))):
        return None
    return (all(p["weakref", mode][0] <= AT_BOUND * p["weakref", mode][1] for mode in MODES)
            and p["strong", "auto"][0] > CLEAR_FACTOR * p["weakref", "auto"][0])


def never_collects(summary, label):
    """strong's collector-on peak equals its collector-off one and no collection ran in the loop."""
    p, run = peaks(summary, label), run_of(summary, label, "strong", "auto")
    if ("strong", "auto") not in p or ("strong", "off") not in p or collection_count(run) is None:
        return False
    return same(p["strong", "auto"][0], p["strong", "off"][0]) and collection_count(run) == 0


def collections_text(counts):
    counts = sorted(set(counts))
    if not counts:
        return None
    if counts == [0]:
        return "no collection"
    return f"{counts[0]}–{counts[-1]} collections" if len(counts) > 1 else plural(counts[0], "collection")


def _strong_on(summary, label, notes=True):
    """'161.7–183.1 MiB on 3.11 (over 4 start phases and the unset one; 1–2 collections)' where phase runs exist
    (one figure only where they agree), else '167.8 MiB on 3.12 (1 collection)'; without the brackets if not
    `notes`."""
    version = short_name(interpreters(summary)[label]).split()[1]
    phased = [run for _, run in phase_runs(summary, label, "strong")]
    runs = [run_of(summary, label, "strong", "auto"), *phased]
    text = f"{fmt_range([array_peak(run) for run in runs])} on {version}"
    found = [f"over {len(phased)} start phases and the unset one"] if phased else []
    found.append(collections_text(collection_count(run) for run in runs if collection_count(run) is not None))
    found = [note for note in found if note]
    return text + (f" ({'; '.join(found)})" if found and notes else "")


def _figures(summary, label):
    p = peaks(summary, label)
    parts = [f"{variant} {' / '.join(fmt_bytes(p.get((variant, mode), (None,))[0]) for mode in MODES)}"
             for variant in VARIANTS]
    return f"on `{WORKLOAD}` (peak of array data, collector on / off): " + ", ".join(parts)


def never_comes_sentence(summary, labels):
    """On the interpreters where strong's collector-on peak is its collector-off one with no collection, or None."""
    never = [label for label in labels if never_collects(summary, label)]
    if not never:
        return None
    thresholds = {tuple(interpreters(summary)[label].get("gc_threshold") or ()) for label in never}
    threshold = thresholds.pop() if len(thresholds) == 1 else ()
    text = (f"On {span(summary, never)} strong's collection never comes in the book's loop: its peak with the "
            f"collector on equals its peak with it off "
            f"({words(fmt_bytes(peaks(summary, label)['strong', 'off'][0]) for label in never)}), and no collection "
            f"ran in its {(headline_params(summary) or {}).get('iterations')} iterations"
            + (f" (generation-0 threshold {threshold[0]})" if threshold else ""))
    # That is the loop started from a fresh count; a start phase that brings a collection is named beside it.
    collected = [(label, phase, run) for label in never for phase, run in phase_runs(summary, label, "strong")
                 if collection_count(run)]
    if not collected:
        return text + "."
    phases = sorted({phase for _, phase, _ in collected})
    lowest = min(array_peak(run) for _, _, run in collected)
    return (text + f", from a fresh count; with generation 0's count already at {words(f'{p:g}' for p in phases)} of "
            f"its threshold when the loop began, a collection did come, and strong peaked at {fmt_bytes(lowest)} "
            "at the lowest.")


def cpython_line(summary):
    labels = [label for label in family(summary, "CPython") if weakref_wins(summary, label) is not None]
    wins = [label for label in labels if weakref_wins(summary, label)]
    lines = []
    if wins:
        weak = [peaks(summary, label)["weakref", mode] for label in wins for mode in MODES]
        text = (f"- **{span(summary, wins)}: use `weakref`.** Reference counting frees each graph the loop drops at "
                f"once: on `{WORKLOAD}` weakref peaked at {fmt_range([value for value, _ in weak])} in both "
                f"collector modes (at most {fmt_ratio(max(value / bound for value, bound in weak))} the live-set "
                f"bound), strong, with the collector on, at {words(_strong_on(summary, label) for label in wins)}.")
        never = never_comes_sentence(summary, wins)
        lines.append(text + (f" {never}" if never else ""))
    lines += [f"- **{short_name(interpreters(summary)[label])}:** {_figures(summary, label)}; this run does not show "
              f"weakref at the live-set bound and clearly ({CLEAR_FACTOR:g}×) below strong there."
              for label in labels if label not in wins]
    return lines


def pypy_findings(summary, label):
    p = peaks(summary, label)
    need = [(variant, mode) for variant in VARIANTS for mode in MODES]
    if not all(key in p for key in need):
        return None
    (weak_off, bound), strong_off, gc_off = p["weakref", "off"], p["strong", "off"][0], p["gc_only", "off"][0]
    return {
        "no_drop": same(weak_off, strong_off) and weak_off > CLEAR_FACTOR * bound
        and same(p["weakref", "auto"][0], p["strong", "auto"][0]),
        "gc_only_bounded": CLEAR_FACTOR * gc_off < min(weak_off, strong_off)
        and min(weak_off, strong_off) > CLEAR_FACTOR * bound,
    }


def pypy_line(summary, label):
    found, p = pypy_findings(summary, label), peaks(summary, label)
    name = short_name(interpreters(summary)[label])
    if found is None or not any(found.values()):
        return f"- **{name}:** {_figures(summary, label)}." if p else None
    text = f"- **{name}: collect explicitly, as `gc_only` does.**" if found["gc_only_bounded"] else f"- **{name}:**"
    if found["no_drop"]:
        text += (" No policy frees a graph at the drop (PyPy has no reference counting; a dropped graph waits for "
                 f"the next collection): weakref peaked as strong did, {fmt_bytes(p['weakref', 'auto'][0])} with the "
                 f"collector on and {fmt_bytes(p['weakref', 'off'][0])} with it off "
                 f"({fmt_ratio(p['weakref', 'off'][0] / p['weakref', 'off'][1])} the live-set bound).")
    if found["gc_only_bounded"]:
        text += (f" With the collector off only gc_only's explicit, byte-budgeted collection kept the peak bounded: "
                 f"{fmt_bytes(p['gc_only', 'off'][0])} against strong's {fmt_bytes(p['strong', 'off'][0])} and "
                 f"weakref's {fmt_bytes(p['weakref', 'off'][0])} (collector on: {fmt_bytes(p['gc_only', 'auto'][0])}).")
    return text


def verdict_lines(summary):
    """The answer's first screen, one bullet per interpreter family (and per interpreter it does not cover)."""
    lines = cpython_line(summary) + [pypy_line(summary, label) for label in family(summary, "PyPy")]
    others = [label for label, record in interpreters(summary).items()
              if record["implementation"] not in ("CPython", "PyPy")]
    lines += [f"- **{short_name(interpreters(summary)[label])}:** {_figures(summary, label)}." for label in others
              if peaks(summary, label)]
    return [line for line in lines if line]


def result_line(summary):
    """README's one-line result, naming the interpreters, from the same data as verdict_lines."""
    cpython = [label for label in family(summary, "CPython") if weakref_wins(summary, label)]
    pypy = [label for label in family(summary, "PyPy")
            if (pypy_findings(summary, label) or {}).get("gc_only_bounded")]
    measured = [short_name(interpreters(summary)[label]) for label in interpreters(summary) if peaks(summary, label)]
    where = f"the loop of step 17 of *Deep Learning from Scratch 3* (`{WORKLOAD}`)"
    if not cpython and not pypy:
        return (f"**Result:** the committed runs ({words(measured) or 'none'} measured on {where}) "
                f"support no recommendation yet; see {README_LINK}.")
    heads, figures = [], []
    if cpython:
        heads.append(f"on {span(summary, cpython)} hold a Function's outputs by `weakref.ref`")
        weak = max(peaks(summary, label)["weakref", "auto"][0] for label in cpython)
        figures.append(f"on {span(summary, cpython)} weakref peaked at {fmt_bytes(weak)} of arrays with the collector "
                       f"on, strong at {words(_strong_on(summary, label, notes=False) for label in cpython)}")
    if pypy:
        heads.append(f"on {span(summary, pypy)} collect explicitly, as `gc_only` does")
        off = {variant: words(fmt_bytes(peaks(summary, label)[variant, "off"][0]) for label in pypy)
               for variant in VARIANTS}
        figures.append(f"on {span(summary, pypy)}, collector off, gc_only peaked at {off['gc_only']}, strong at "
                       f"{off['strong']} and weakref at {off['weakref']}")
    head = "; ".join(heads)
    return (f"**Result: {head[0].upper() + head[1:]}.** Measured on {where}: {'; '.join(figures)}. The answer per "
            f"interpreter, its costs and its evidence open {README_LINK}.")
