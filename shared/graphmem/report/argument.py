"""Section 4 and the closing note of COMPARISON.md: the seed's argument, checked step by step against the runs.

Every sentence is generated from the summary. A step is called supported only when its condition on the
numbers holds; otherwise the text says the data do not show it, or that it was not measured.
"""
import re

from graphmem.report.data import (
    MODES, NOT_MEASURED, TIMELINE_WORKLOADS, budget_sweeps, chart_plan, collector_runs,
    default_budget, fmt_bytes, fmt_params, fmt_ratio, fmt_spread, fmt_time, headline_run, iterations_done,
    matching_run, peak, ratio, runs_sorted, sweep, time_difference, time_spread, workload_names,
)

# A difference counts as clear only beyond this factor: smaller ones are within what a rerun on a shared,
# noisy machine can move (allocator reuse, the collector's thresholds falling a few objects earlier).
CLEAR_FACTOR = 1.5
# A fall of this share of the run's peak between two snapshots is a collection freeing graphs, not noise.
DROP_SHARE = 0.25

SUPPORTED = "**Supported.**"
NOT_SUPPORTED = "**Not supported by this run.**"
NOT_MEASURED_VERDICT = "**Not measured.**"


def anchor(heading):
    """GitHub's anchor for a heading's text."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def row_link(workload):
    return f"[{workload}](#{anchor(workload)})"


def chart_link(summary, kind, mode=None, key=None):
    for chart in chart_plan(summary):
        if chart.kind == kind and chart.mode == mode and chart.key == key and not chart.missing:
            return f"[{chart.name}]({chart.name})"
    return None


def ok_run(summary, workload, mode, variant):
    run = headline_run(summary, workload, mode, variant)
    return run if run is not None and run["status"] == "ok" else None


def preferred_workloads(summary):
    names = workload_names(summary)
    return [name for name in TIMELINE_WORKLOADS if name in names] + \
        [name for name in names if name not in TIMELINE_WORKLOADS]


def first_workload(summary, needs):
    """The first workload, seed workloads first, whose headline runs satisfy `needs(workload)`."""
    return next((workload for workload in preferred_workloads(summary) if needs(workload)), None)


def sawtooth_drops(run):
    """Sharp falls of the heap while the workload ran (not the final collection after it returned)."""
    snapshots = run.get("snapshots") or []
    if len(snapshots) < 2 or run.get("wall_seconds") is None:
        return None
    top = max(snapshot["heap"] for snapshot in snapshots)
    heaps = [snapshot["heap"] for snapshot in snapshots if snapshot["t"] <= run["wall_seconds"]]
    falls, descent = 0, 0
    for before, after in zip(heaps, heaps[1:] + [None]):  # a fall spanning several snapshots counts once
        if after is not None and after < before:
            descent += before - after
            continue
        falls += descent >= DROP_SHARE * top > 0
        descent = 0
    return falls


def times(count):
    return {0: "no times", 1: "once", 2: "twice"}.get(count, f"{count} times")


def describe_runs(run):
    runs = collector_runs(run)
    if runs is None:
        return f"collector runs {NOT_MEASURED}"
    return (f"the collector ran {runs[0]}, {runs[1]} and {runs[2]} times in generations 0, 1 and 2"
            + (f", for {fmt_time(run, 'collector_seconds')} in all (median [range] without memray)"
               if time_spread(run, "collector_seconds") else " (their time was not measured without memray)"))


def step(title, verdict, sentences, evidence):
    return [f"### {title}", f"{verdict} {' '.join(sentences)}", f"*Where to look:* {evidence}"]


# --- the seed's four steps ---------------------------------------------------------------------

def step_reference_counting(summary):
    title = "Step 1: reference counting frees what nobody references"
    workload = first_workload(summary, lambda w: (run := ok_run(summary, w, "off", "weakref")) is not None
                              and run.get("held_bytes_at_return") is not None and peak(run) is not None)
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "The summary has no completed weakref run with the collector off, which is where reference "
            "counting works alone."], "section 2, mode `off`.")
    weak = ok_run(summary, workload, "off", "weakref")
    held, bound = weak["held_bytes_at_return"], weak["live_set_bound_bytes"]
    sentences = [
        f"With the cyclic collector off, only reference counting frees memory. weakref ran {workload} "
        f"(`{fmt_params(weak['params'])}`) with a peak heap of {fmt_bytes(peak(weak))}, "
        f"{fmt_ratio(ratio(peak(weak), bound))} its live-set bound of {fmt_bytes(bound)}, and held "
        f"{fmt_bytes(held)} of arrays when the workload returned."
    ]
    supported = held <= bound
    sentences.append(
        "Reference counting freed each graph the loop dropped, the moment it was dropped." if supported else
        "That is more than the live-set bound, so the data do not show reference counting freeing every "
        "dropped graph.")
    evidence = f"section 2, {row_link(workload)}, mode `off`, row weakref"
    no_grad = ok_run(summary, "no_grad_loop", "off", "strong")
    if no_grad is not None and no_grad.get("held_bytes_at_return") is not None:
        sentences.append(
            f"Without a graph there is no cycle, whatever the policy: under `no_grad()` with the collector off, "
            f"strong held {fmt_bytes(no_grad['held_bytes_at_return'])} when no_grad_loop returned and peaked at "
            f"{fmt_bytes(peak(no_grad))}, {fmt_ratio(ratio(peak(no_grad), no_grad['live_set_bound_bytes']))} "
            f"its bound.")
        evidence += f"; {row_link('no_grad_loop')}, mode `off`, row strong"
    return step(title, SUPPORTED if supported else NOT_SUPPORTED, sentences, evidence + ".")


def step_cycle(summary):
    title = "Step 2: a reference cycle defeats it"
    workload = first_workload(summary, lambda w: (run := ok_run(summary, w, "off", "strong")) is not None
                              and run.get("held_bytes_at_return") is not None)
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "The summary has no completed strong run with the collector off that recorded what it held."],
            "section 2, mode `off`.")
    strong = ok_run(summary, workload, "off", "strong")
    weak = ok_run(summary, workload, "off", "weakref")
    held, bound = strong["held_bytes_at_return"], strong["live_set_bound_bytes"]
    weak_held = weak.get("held_bytes_at_return") if weak else None
    sentences = [
        f"Under reference counting alone the strong variant still held {fmt_bytes(held)} after "
        f"{iterations_done(strong)} iterations of {workload}, {fmt_ratio(ratio(held, bound))} the live-set "
        f"bound" + (f"; weakref held {fmt_bytes(weak_held)}." if weak_held is not None else ".")
    ]
    after = strong.get("held_bytes_after_collect")
    if after is not None:
        sentences.append(
            f"One `gc.collect()` brought strong's down to {fmt_bytes(after)}: what it held was unreachable "
            "cycles, which only the cyclic collector can free." if after < held else
            f"One `gc.collect()` left {fmt_bytes(after)}, so what it held was not only unreachable cycles.")
    evidence = f"section 2, {row_link(workload)}, mode `off`, rows strong and weakref"
    points = sweep(summary, workload, "off", "iterations").get("strong", [])
    grown = [(value, run) for value, run in points if peak(run) is not None and run["status"] != "failed"]
    if len(grown) >= 2:
        sentences.append("Its peak grows with the work: " + ", ".join(
            f"{fmt_bytes(peak(run))} after {value} iterations" if run["status"] == "ok" else
            f"at least {fmt_bytes(peak(run))} when it hit the ceiling after {iterations_done(run)} of {value}"
            for value, run in grown) + ".")
        link = chart_link(summary, "sweep", key="iterations")
        evidence += f"; {link}, panel `off`" if link else ""
    told = {run["id"] for _, run in grown}
    for run in runs_sorted(summary):
        if run["variant"] == "strong" and run["mode"] == "off" and run["status"] == "ceiling":
            other = matching_run(summary, run, "weakref")
            finished = other is not None and other["status"] == "ok" and peak(other) is not None
            if run["id"] not in told:
                sentences.append(f"On {run['workload']} (`{fmt_params(run['params'])}`) strong hit the memory "
                                 f"ceiling: {(run.get('reason') or 'no reason recorded').rstrip('.')}.")
                evidence += f"; the notes under {row_link(run['workload'])}"
            if finished:
                sentences.append(f"weakref, on the same parameters (`{fmt_params(run['params'])}`), finished "
                                 f"with a peak of {fmt_bytes(peak(other))}.")
    supported = held > bound and (weak_held is None or held > weak_held)
    if not supported:
        sentences.append("strong held no more than the live set here, so the data do not show the cycle "
                         "keeping dropped graphs alive.")
    return step(title, SUPPORTED if supported else NOT_SUPPORTED, sentences, evidence + ".")


def step_late_collector(summary):
    title = "Step 3: the cyclic collector frees cycles, but late, so memory grows"
    workload = first_workload(summary, lambda w: (run := ok_run(summary, w, "auto", "strong")) is not None
                              and peak(run) is not None)
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "The summary has no completed strong run with the collector on."], "section 2, mode `auto`.")
    strong = ok_run(summary, workload, "auto", "strong")
    strong_off = ok_run(summary, workload, "off", "strong")
    weak = ok_run(summary, workload, "auto", "weakref")
    top, weak_top, off_top = peak(strong), peak(weak), peak(strong_off)
    sentences = [
        f"With CPython's collector on its defaults, strong's {workload} peaked at {fmt_bytes(top)}"
        + (f", {fmt_ratio(ratio(top, weak_top))} weakref's {fmt_bytes(weak_top)}" if weak_top else "")
        + (f", against {fmt_bytes(off_top)} with the collector off" if off_top else "")
        + f"; {describe_runs(strong)}."
    ]
    drops = sawtooth_drops(strong)
    link = chart_link(summary, "timeline", mode="auto")
    if drops is not None and link:
        sentences.append(f"In {link}, while the workload ran, its heap fell {times(drops)} by {DROP_SHARE:.0%} "
                         "of its peak or more.")
    if strong.get("held_bytes_at_return") is not None:
        sentences.append(f"When the workload returned, {fmt_bytes(strong['held_bytes_at_return'])} of arrays "
                         "were still waiting for the collector's next run.")
    frees = off_top is not None and top < off_top
    late = weak_top is not None and top > CLEAR_FACTOR * weak_top
    if frees and late:
        verdict = SUPPORTED
        sentences.append("The collector does free the cycles, but only after they have piled up, so memory "
                         "grows well past what the program uses before a collection comes.")
    elif off_top is None or weak_top is None:
        verdict = NOT_MEASURED_VERDICT
        sentences.append("Without both strong with the collector off and weakref with it on, the comparison "
                         "cannot be made.")
    elif not frees:
        verdict = NOT_SUPPORTED
        sentences.append("strong peaked no lower with the collector on than with it off, so the data do not "
                         "show the collector freeing cycles before the peak.")
    else:
        verdict = NOT_SUPPORTED
        sentences.append("strong's peak stayed close to weakref's, so in this run the collector was not late "
                         "enough to matter.")
    evidence = f"section 2, {row_link(workload)}, modes `auto` and `off`, rows strong and weakref"
    return step(title, verdict, sentences, evidence + (f"; {link}." if link else "."))


def step_weak_references(summary):
    title = "Step 4: weak references avoid the cycle"
    workload = first_workload(summary, lambda w: all(
        (run := ok_run(summary, w, mode, "weakref")) is not None and peak(run) is not None for mode in MODES))
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "The summary has no workload with completed weakref runs in both collector modes."], "section 2.")
    on, off = (ok_run(summary, workload, mode, "weakref") for mode in MODES)
    strong = ok_run(summary, workload, "auto", "strong")
    sentences = [
        f"weakref's {workload} peaked at {fmt_bytes(peak(on))} with the collector on and {fmt_bytes(peak(off))} "
        f"with it off, and held {fmt_bytes(off.get('held_bytes_at_return'))} at return with it off; with it on, "
        f"{describe_runs(on)}."
    ]
    if strong is not None and peak(strong) is not None:
        sentences.append(f"strong, on the same work with the collector on, peaked at {fmt_bytes(peak(strong))}: "
                         f"{fmt_ratio(ratio(peak(strong), peak(on)))} as much. {wall_time_comparison(on, strong)}")
    unaffected = max(peak(on), peak(off)) <= CLEAR_FACTOR * min(peak(on), peak(off))
    below_strong = strong is None or peak(strong) is None or peak(on) < peak(strong)
    if unaffected and below_strong:
        verdict = SUPPORTED
        sentences.append("A Function that holds its outputs by weak reference leaves no cycle, so its graphs go "
                         "with their last reference whether the collector runs or not.")
    else:
        verdict = NOT_SUPPORTED
        sentences.append(
            "weakref's memory depended on the collector here, so the data do not show it free of cycles."
            if not unaffected else "weakref did not stay below strong here.")
    link = chart_link(summary, "timeline", mode="off")
    evidence = f"section 2, {row_link(workload)}, rows weakref and strong" + (f"; {link}" if link else "")
    return step(title, verdict, sentences, evidence + ".")


def wall_time_comparison(weak, strong):
    """weakref's and strong's wall times, and whether they differ beyond the noise of repeated processes."""
    weak_time, strong_time = time_spread(weak, "wall_seconds"), time_spread(strong, "wall_seconds")
    text = (f"Wall time (median [range] over processes without memray): weakref {fmt_time(weak, 'wall_seconds')}, "
            f"strong {fmt_time(strong, 'wall_seconds')}")
    verdict = time_difference(weak_time, strong_time)
    if verdict is None:
        return text + "; without repeated timings for both, this run cannot compare their speed."
    if verdict == "within noise":
        return text + ": the ranges overlap, so the difference is within noise."
    return text + f": the ranges do not overlap, so weakref was really {verdict} here."


# --- what the seed gets wrong or leaves out ----------------------------------------------------

def step_count_trigger(summary):
    title = "What the seed gets wrong: the collector counts objects, not bytes"
    workload = first_workload(summary, lambda w: len(_gc_points(summary, w, "size")) >= 2)
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "It takes strong runs with the collector on at two array sizes or more, and this summary has none."],
            "section 3, peak against array size.")
    (small, first), (large, last) = _gc_points(summary, workload, "size")[0], _gc_points(summary, workload, "size")[-1]
    runs_small, runs_large = sum(collector_runs(first)), sum(collector_runs(last))
    peak_growth = ratio(peak(last), peak(first))
    sentences = [
        "The seed says the collector steps in when memory runs short. CPython's runs when the number of "
        "container objects allocated since its last run passes a threshold (`gc.get_threshold()`), whatever "
        f"they hold. With the collector on, strong's {workload} ran {runs_small} collections at size {small:,} "
        f"and {runs_large} at size {large:,}, arrays {fmt_ratio(ratio(large, small))} larger, while its peak went "
        f"from {fmt_bytes(peak(first))} to {fmt_bytes(peak(last))} ({fmt_ratio(peak_growth)})."
    ]
    same_count = max(runs_small, runs_large) <= CLEAR_FACTOR * max(1, min(runs_small, runs_large))
    if same_count and peak_growth is not None and peak_growth > CLEAR_FACTOR:
        verdict = SUPPORTED
        sentences.append("The same objects trigger the same collections however many bytes they hold, so the "
                         "memory waiting for a collection grows with the arrays.")
    else:
        verdict = NOT_SUPPORTED
        sentences.append("The number of collections changed with the array size, or the peak did not grow, so "
                         "this run does not show the count-based trigger by itself.")
    link = chart_link(summary, "sweep", key="size")
    return step(title, verdict, sentences, (f"{link}, panel `auto`, and the table under it" if link else
                                            "section 3") + ".")


def _gc_points(summary, workload, key):
    return [(value, run) for value, run in sweep(summary, workload, "auto", key).get("strong", [])
            if run["status"] == "ok" and collector_runs(run) is not None and peak(run) is not None]


def _own_collection(run):
    """The spread of one of gc_only's own collections over the timing processes, or None."""
    return time_spread(run, "variant_collection_seconds")


def step_collection_cost(summary):
    title = "What the seed leaves out: a full collection's time follows everything the process tracks"
    for workload, mode, params, runs in budget_sweeps(summary):
        timed = [run for run in runs if run["status"] == "ok" and _own_collection(run) is not None]
        if len({run["gc_budget"] for run in timed}) >= 2:
            break
    else:
        return step(title, NOT_MEASURED_VERDICT, [
            "It takes gc_only runs that collected at two budgets or more, and this summary has none."],
            "section 3, gc_only's budget.")
    first, last = timed[0], timed[-1]
    small, large = _own_collection(first), _own_collection(last)
    budget_growth = ratio(last["gc_budget"], first["gc_budget"])
    time_growth = ratio(large["median"], small["median"])
    # The growth the noise allows at most: the slowest process at the large budget over the fastest at the small.
    time_growth_at_most = ratio(large["max"], small["min"])
    sentences = [
        f"Each of gc_only's own full collections on {workload} (collector `{mode}`) took "
        f"{fmt_spread(small)} at a budget of {fmt_bytes(first['gc_budget'])} "
        f"and {fmt_spread(large)} at {fmt_bytes(last['gc_budget'])} (median [range] of the mean per process, "
        f"without memray): the graph bytes freed per collection grew {fmt_ratio(budget_growth)}, the time per "
        f"collection {fmt_ratio(time_growth)} (at most {fmt_ratio(time_growth_at_most)} within the ranges)."
    ]
    if time_growth_at_most is not None and budget_growth is not None \
            and time_growth_at_most * CLEAR_FACTOR < budget_growth:
        verdict = SUPPORTED
        sentences.append("A full collection walks every container object the process tracks (the graph's "
                         "Variables and Functions, but also every module, class and function loaded) and never "
                         "looks inside array buffers, so its time follows that object count, not the graph's "
                         "bytes; a small budget pays that fixed walk over and over.")
    else:
        verdict = NOT_SUPPORTED
        sentences.append("Within the noise of the repeated timings, the time per collection may have grown about "
                         "as fast as the budget here, so this run does not separate the graph from everything else "
                         "the process tracks.")
    link = chart_link(summary, "budget")
    return step(title, verdict, sentences, (f"{link} and the table under it" if link else "section 3") + ".")


def budget_trade(summary):
    """What gc_only's byte budget buys and costs, in numbers; no verdict, as the seed makes no claim."""
    parts = ["### What a byte budget buys (gc_only)"]
    sweeps = budget_sweeps(summary)
    if not sweeps:
        return parts + ["Not measured: gc_only was not run at two budgets or more."]
    for workload, mode, params, runs in sweeps:
        done = [run for run in runs if run["status"] != "failed"]
        text = "; ".join(
            f"at a budget of {fmt_bytes(run['gc_budget'])} it collected "
            f"{(run.get('gc') or {}).get('variant_collections', NOT_MEASURED)} times itself, spent "
            f"{fmt_time(run, 'collector_seconds')} collecting and peaked at {fmt_bytes(peak(run))}"
            for run in done)
        references = [(variant, matching_run(summary, runs[0], variant)) for variant in ("strong", "weakref")]
        reference_text = "; ".join(
            f"{variant} spent {fmt_time(run, 'collector_seconds')} collecting and peaked at {fmt_bytes(peak(run))}"
            for variant, run in references if run is not None and peak(run) is not None)
        parts.append(f"On {workload} (collector `{mode}`, `{fmt_params(params)}`), {text}."
                     + (f" On the same work {reference_text}." if reference_text else ""))
    return parts


def section_argument(summary):
    return [
        "## 4. The argument, step by step",
        "The seed argues in four steps. Each is checked below against the runs: the sentences are generated "
        "from the numbers, each points to the row or chart it comes from, and a step the data do not support "
        "is marked so.",
        *step_reference_counting(summary),
        *step_cycle(summary),
        *step_late_collector(summary),
        *step_weak_references(summary),
        *step_count_trigger(summary),
        *step_collection_cost(summary),
        *budget_trade(summary),
    ]


# --- closing note ------------------------------------------------------------------------------

def closing_note(summary):
    charts = chart_plan(summary)
    drawn = [f"`{chart.name}`" for chart in charts if not chart.missing]
    skipped = [f"`{chart.name}`" for chart in charts if chart.missing]
    listing = ("Charts: " + ", ".join(drawn) + "." if drawn else "No chart could be drawn from this summary.") \
        + (" Not drawn, for want of runs: " + ", ".join(skipped) + "." if skipped else "")
    return ["## Closing note", listing, f"{_memory_sentence(summary)} {_budget_sentence(summary)}"]


def _memory_sentence(summary):
    workload = first_workload(summary, lambda w: all(
        ok_run(summary, w, mode, variant) is not None for mode in MODES for variant in ("strong", "weakref")))
    if workload is None:
        return ("This run does not hold strong and weakref on one workload in both collector modes, so it cannot "
                "show the two policies side by side.")
    strong_on, weak_on = ok_run(summary, workload, "auto", "strong"), ok_run(summary, workload, "auto", "weakref")
    strong_off, weak_off = ok_run(summary, workload, "off", "strong"), ok_run(summary, workload, "off", "weakref")
    return (f"In this run, on {workload} with CPython's collector on, strong peaked at {fmt_bytes(peak(strong_on))} "
            f"against weakref's {fmt_bytes(peak(weak_on))} ({fmt_ratio(ratio(peak(strong_on), peak(weak_on)))}), "
            f"and with the collector off strong still held {fmt_bytes(strong_off.get('held_bytes_at_return'))} "
            f"when the workload returned, where weakref held {fmt_bytes(weak_off.get('held_bytes_at_return'))}.")


def _budget_sentence(summary):
    sweeps = [(workload, mode, [run for run in runs if run["status"] == "ok" and peak(run) is not None])
              for workload, mode, _, runs in budget_sweeps(summary)]
    sweeps = [entry for entry in sweeps if len(entry[2]) >= 2]
    budget = default_budget(summary)
    if not sweeps:
        return (f"gc_only's budget sweep was {NOT_MEASURED}, so this run does not show what its byte budget "
                f"trades (default budget: {fmt_bytes(budget)}).")
    workload, mode, runs = sweeps[0]
    small, large = runs[0], runs[-1]
    return (f"gc_only's budget traded collecting time for memory on {workload} (collector `{mode}`): at "
            f"{fmt_bytes(small['gc_budget'])} it spent {fmt_time(small, 'collector_seconds')} collecting for a "
            f"peak of {fmt_bytes(peak(small))}, and at {fmt_bytes(large['gc_budget'])} it spent "
            f"{fmt_time(large, 'collector_seconds')} for a peak of {fmt_bytes(peak(large))} (times: median [range] "
            "without memray).")
