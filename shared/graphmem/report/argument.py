"""Section 4 of COMPARISON.md: the book's argument (step 17), its four steps checked against the runs.

Every sentence is generated from the summary. A step is called supported only when its condition on the
numbers holds; otherwise the text says the data do not show it, or that it was not measured. What the
book gets wrong or leaves out follows in graphmem.report.beyond.
"""
from graphmem.facts import MODES
from graphmem.report.beyond import budget_trade, step_collection_cost, step_count_trigger
from graphmem.report.cells import (
    fmt_bytes, fmt_params, fmt_ratio, fmt_time, iterations_done, peak, ratio, time_spread,
)
from graphmem.report.claims import (
    CLEAR_FACTOR, NOT_MEASURED_VERDICT, NOT_SUPPORTED, SUPPORTED, chart_link, describe_runs, first_workload,
    ok_run, row_link, step, times,
)
from graphmem.report.selection import collector_owner, matching_run, runs_sorted, sweep
from graphmem.spread import SPREAD_NAME, compare

# A fall of this share of the run's peak between two snapshots is a collection freeing graphs, not noise.
DROP_SHARE = 0.25


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


# --- the book's four steps ---------------------------------------------------------------------

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
        f"With {collector_owner(summary)} collector on its defaults, strong's {workload} peaked at {fmt_bytes(top)}"
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
    text = (f"Wall time ({SPREAD_NAME} over processes without memray): weakref {fmt_time(weak, 'wall_seconds')}, "
            f"strong {fmt_time(strong, 'wall_seconds')}")
    verdict = compare(weak_time, strong_time)
    if verdict is None:
        return text + "; without repeated timings for both, this run cannot compare their speed."
    if verdict == "within noise":
        return text + ": the ranges overlap, so the difference is within noise."
    return text + (f": the ranges do not overlap, so weakref was really "
                   f"{'faster' if verdict == 'lower' else 'slower'} here.")


def section_argument(summary):
    return [
        "## 4. The argument, step by step",
        "The book argues in four steps (see [where the question comes from](#where-the-question-comes-from)). Each is checked below against the runs: the sentences are generated "
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


