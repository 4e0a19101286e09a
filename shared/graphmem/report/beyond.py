"""Section 4's last part: what the book gets wrong (the collector counts objects, not bytes) and leaves out
(a collection's time, and what gc_only's byte budget buys), each checked against the runs.
"""
from graphmem.report.cells import (
    NOT_MEASURED, collector_runs, fmt_bytes, fmt_params, fmt_ratio, fmt_spread, fmt_time, peak, ratio, time_spread,
)
from graphmem.report.claims import (
    CLEAR_FACTOR, NOT_MEASURED_VERDICT, NOT_SUPPORTED, SUPPORTED, UNDECIDED, chart_link, first_workload, step,
)
from graphmem.report.selection import budget_sweeps, matching_run, sweep
from graphmem.spread import SPREAD_NAME, compare

def step_count_trigger(summary):
    title = "What the book gets wrong: the collector counts objects, not bytes"
    workload = first_workload(summary, lambda w: len(_gc_points(summary, w, "size")) >= 2)
    if workload is None:
        return step(title, NOT_MEASURED_VERDICT, [
            "It takes strong runs with the collector on at two array sizes or more, and this summary has none."],
            "section 3, peak against array size.")
    (small, first), (large, last) = _gc_points(summary, workload, "size")[0], _gc_points(summary, workload, "size")[-1]
    runs_small, runs_large = sum(collector_runs(first)), sum(collector_runs(last))
    peak_growth = ratio(peak(last), peak(first))
    sentences = [
        "The book says the collector steps in when memory runs short. CPython's runs when the number of "
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
    title = "What the book leaves out: a full collection's time follows everything the process tracks"
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
    # The growth the ranges allow, at least and at most: the fastest process at the large budget over the
    # slowest at the small one, and the slowest at the large over the fastest at the small.
    least, most = ratio(large["min"], small["max"]), ratio(large["max"], small["min"])
    changed = compare(large, small)
    sentences = [
        f"Each of gc_only's own full collections on {workload} (collector `{mode}`) took "
        f"{fmt_spread(small)} at a budget of {fmt_bytes(first['gc_budget'])} "
        f"and {fmt_spread(large)} at {fmt_bytes(last['gc_budget'])} ({SPREAD_NAME} of the mean per process, "
        f"without memray): the graph bytes freed per collection grew {fmt_ratio(budget_growth)}, the time per "
        f"collection {fmt_ratio(time_growth)} ({fmt_ratio(least)} to {fmt_ratio(most)} within the ranges"
        + ("; the two ranges overlap, so the time per collection did not measurably change)."
           if changed == "within noise" else
           f"; the two ranges do not overlap, so the time per collection really "
           f"{'grew' if changed == 'higher' else 'fell'})."),
    ]
    verdict = collection_cost_verdict(least, most, budget_growth)
    if verdict == SUPPORTED:
        sentences.append("Even at the end of its range the time grew less than the bytes did. A full collection "
                         "walks every container object the process tracks (the graph's Variables and Functions, "
                         "but also every module, class and function loaded) and never looks inside array "
                         "buffers, so its time follows that object count, not the graph's bytes; a small budget "
                         "pays that fixed walk over and over.")
    elif verdict == UNDECIDED:
        sentences.append("The range of the time's growth takes in the bytes' growth, so this run cannot tell "
                         "whether the time per collection follows the graph's bytes or the objects the process "
                         "tracks.")
    else:
        sentences.append("Even at the start of its range the time grew more than the bytes did, so this run "
                         "does not show a collection's time set by anything but the graph.")
    link = chart_link(summary, "budget")
    return step(title, verdict, sentences, (f"{link} and the table under it" if link else "section 3") + ".")


def collection_cost_verdict(least, most, budget_growth):
    """SUPPORTED when the time per collection grew less than the budget even at the top of its range, NOT_SUPPORTED
    when it grew more even at the bottom, UNDECIDED when the budget's growth lies within the time's range (a
    rerun that reproduces every peak could land on either side)."""
    if most is not None and most < budget_growth:
        return SUPPORTED
    if least is not None and least > budget_growth:
        return NOT_SUPPORTED
    return UNDECIDED


def budget_trade(summary):
    """What gc_only's byte budget buys and costs, in numbers; no verdict, as the book makes no claim."""
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


