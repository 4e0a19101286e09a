"""The first screen of COMPARISON.md: which policy to use and when, what it costs, and where the question comes from.

Every claim carries one measured figure and a link to its evidence further down, and is generated from
summary.json (and reports/bench.json for time per operation and teardown): when the data do not support
a claim, the text says so instead of making it.
"""
from graphmem.facts import MODES, VARIANTS
from graphmem.report import interpreters, peers
from graphmem.report.cells import fmt_bytes, fmt_ratio, peak, peak_to_bound, ratio
from graphmem.report.claims import AT_BOUND, CLEAR_FACTOR, anchor, compared_workload, four_runs, ok_run
from graphmem.report.costs import CAVEATS, cost_pauses, cost_per_op
from graphmem.report.costs import load_bench  # noqa: F401 (re-exported: test_profile_faults reads bench.json so)
from graphmem.report.selection import budget_sweeps, collector_owner, workload_names
from graphmem.report.times import compare_times, fmt_time_figure
from graphmem.spread import SPREAD_NAME

# A policy "stays at the live set" on a workload when its peak is within this factor of the bound.
# gc_only "peaked above strong" on a workload when its peak is more than this share above strong's.
ABOVE_SHARE = 0.05

STEP_TITLES = {  # section 4's headings, for links
    1: "Step 1: reference counting frees what nobody references",
    2: "Step 2: a reference cycle defeats it",
    3: "Step 3: the cyclic collector frees cycles, but late, so memory grows",
    4: "Step 4: weak references avoid the cycle",
    "count": "What the book gets wrong: the collector counts objects, not bytes",
}
BUDGET_CHART_TITLE = "gc_only's budget: peak memory against time spent collecting"
SOURCE_TITLE = "Where the question comes from"


def link(text, heading):
    return f"[{text}](#{anchor(heading)})"


def recommendation(summary):
    workload = compared_workload(summary)
    if workload is None:
        return ("**Not measured.** This summary does not hold strong and weakref on one workload in both collector "
                "modes, so it supports no recommendation; `python3 -m nox -s profile` measures them.")
    strong_on, weak_on, strong_off, weak_off = four_runs(summary, workload)
    bound = weak_off["live_set_bound_bytes"]
    held, weak_held = strong_off.get("held_bytes_at_return"), weak_off.get("held_bytes_at_return")
    figures = (f"On {workload} with {collector_owner(summary)} collector on, weakref peaked at {fmt_bytes(peak(weak_on))} "
               f"({fmt_ratio(peak_to_bound(weak_on))} the live-set bound) and strong at {fmt_bytes(peak(strong_on))} "
               f"({fmt_ratio(ratio(peak(strong_on), peak(weak_on)))} weakref's); with the collector off, strong still "
               f"held {fmt_bytes(held)} of arrays when the loop ended, weakref {fmt_bytes(weak_held)}.")
    evidence = f"Evidence: {link(f'{workload} table', workload)}, {link('step 4', STEP_TITLES[4])}."
    wins = (peak(strong_on) > CLEAR_FACTOR * peak(weak_on) and held is not None and weak_held is not None
            and weak_held <= bound < held)
    if wins:
        return ("**Use `weakref`: let a Function hold its outputs through `weakref.ref`.** Reference counting then "
                f"frees every graph the program drops, at once, with or without the cyclic collector. {figures} "
                f"{evidence}")
    return ("**This run does not support choosing weakref over strong.** A recommendation needs weakref's peak "
            f"clearly ({CLEAR_FACTOR:g}×) below strong's and strong holding dropped graphs that weakref frees. "
            f"{figures} {evidence}")


def result_line(summary):
    """README's one-line result, with its figure, from the same data as the recommendation."""
    workload = compared_workload(summary)
    if workload is None:
        return ("**Result:** the committed runs do not measure strong and weakref on one workload in both collector "
                "modes, so they support no recommendation yet; see [reports/COMPARISON.md](reports/COMPARISON.md).")
    strong_on, weak_on, _, _ = four_runs(summary, workload)
    where = ("the loop of step 17 of *Deep Learning from Scratch 3* (`seed_loop`)" if workload == "seed_loop"
             else f"`{workload}`")
    head = (f"on {where}, weakref peaked at {fmt_bytes(peak(weak_on))} "
            f"({fmt_ratio(peak_to_bound(weak_on))} the arrays the loop needs), strong at {fmt_bytes(peak(strong_on))} "
            f"({fmt_ratio(ratio(peak(strong_on), peak(weak_on)))} weakref's) with {collector_owner(summary)} collector on")
    if recommendation(summary).startswith("**Use `weakref`"):
        return (f"**Result: hold a Function's outputs by `weakref.ref`.** Measured {head}; the answer, its costs and "
                "its evidence open [reports/COMPARISON.md](reports/COMPARISON.md).")
    return (f"**Result: the committed runs do not support choosing weakref over strong** ({head}); see "
            "[reports/COMPARISON.md](reports/COMPARISON.md).")


README_START = "<!-- result: written by `python3 -m nox -s report` from reports/summary.json; do not edit -->"
README_END = "<!-- /result -->"


def with_result_line(readme, summary):
    """README's text with the block between README_START and README_END replaced by `result_line`; None when
    the README has no such block."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start == -1 or end < start:
        return None
    line = interpreters.result_line(summary) if interpreters.measured(summary) else result_line(summary)
    return readme[:start] + README_START + "\n" + line + "\n" + readme[end:]


def _workload_claims(summary):
    """Per workload: does weakref stay at the bound, and how far above it strong goes."""
    claims = []
    for workload in workload_names(summary):
        runs = {(mode, variant): ok_run(summary, workload, mode, variant)
                for mode in MODES for variant in ("strong", "weakref")}
        if any(run is None or peak(run) is None or peak_to_bound(run) is None for run in runs.values()):
            continue
        at_bound = all(peak_to_bound(runs[mode, "weakref"]) <= AT_BOUND for mode in MODES)
        excess, mode = max((ratio(peak(runs[mode, "strong"]), peak(runs[mode, "weakref"])), mode) for mode in MODES)
        claims.append((workload, at_bound, excess, mode))
    return claims


def breadth(summary):
    claims = _workload_claims(summary)
    if not claims:
        return None
    at_bound = [workload for workload, at, _, _ in claims if at]
    worse = [(workload, excess, mode) for workload, _, excess, mode in claims if excess > CLEAR_FACTOR]
    text = (f"**Across workloads:** weakref stayed within {AT_BOUND:g}× of the live-set bound in both collector modes "
            f"on {len(at_bound)} of {len(claims)} workloads")
    missed = [workload for workload, at, _, _ in claims if not at]
    text += f" (not on {', '.join(missed)})" if missed else ""
    if worse:
        workload, excess, mode = max(worse, key=lambda item: item[1])
        text += (f"; strong peaked more than {CLEAR_FACTOR:g}× above weakref on {len(worse)} of them, up to "
                 f"{fmt_ratio(excess)} on {link(workload, workload)} (collector `{mode}`).")
    else:
        text += f"; strong never peaked more than {CLEAR_FACTOR:g}× above weakref."
    return "- " + text


def no_difference(summary):
    """Workloads on which all three policies peaked within CLEAR_FACTOR of each other, collector on."""
    alike = []
    for workload in workload_names(summary):
        runs = [ok_run(summary, workload, "auto", variant) for variant in VARIANTS]
        peaks = [peak(run) for run in runs if run is not None]
        if len(peaks) == len(VARIANTS) and None not in peaks and max(peaks) <= CLEAR_FACTOR * min(peaks):
            alike.append((workload, peaks))
    if not alike:
        return (f"- **When the policy matters:** on every workload measured here the policies' peaks differed by more "
                f"than {CLEAR_FACTOR:g}× with the collector on.")
    listing = "; ".join(f"{link(workload, workload)} " + " / ".join(fmt_bytes(value) for value in peaks)
                        for workload, peaks in alike)
    return (f"- **When it does not matter:** where the program itself holds every graph until it is done with it, "
            f"or builds none, the policies have nothing to free early. With the collector on, the three peaked "
            f"within {CLEAR_FACTOR:g}× of each other ({' / '.join(VARIANTS)}) on {listing}.")


def fallback(summary):
    for workload, mode, _, runs in budget_sweeps(summary):
        done = [run for run in runs if run["status"] == "ok" and peak(run) is not None]
        strong = ok_run(summary, workload, mode, "strong")
        if len(done) >= 2 and strong is not None and peak(strong) is not None:
            break
    else:
        return ("- **If outputs must stay strong:** gc_only's byte budget was not measured at two budgets or more, "
                "so this run says nothing about it.")
    small, large = done[0], done[-1]
    figures = (f"on {workload} (collector `{mode}`) a budget of {fmt_bytes(small['gc_budget'])} kept the peak at "
               f"{fmt_bytes(peak(small))} (time collecting: {fmt_time_figure(small, 'collector')}), "
               f"{fmt_bytes(large['gc_budget'])} let it reach {fmt_bytes(peak(large))} (time collecting: "
               f"{fmt_time_figure(large, 'collector')}){_collecting_noise(small, large)}; strong peaked at "
               f"{fmt_bytes(peak(strong))}")
    evidence = link("budget chart", BUDGET_CHART_TITLE) + _above_strong(summary)
    if peak(small) * CLEAR_FACTOR < peak(strong):
        return ("- **If outputs must stay strong** (code that walks a Function's outputs and expects them alive), "
                f"collect by bytes as `gc_only` does, not by CPython's object count: {figures}. {evidence}")
    return (f"- **If outputs must stay strong:** in this run gc_only's smallest budget did not bring the peak clearly "
            f"below strong's: {figures}. {evidence}")


def gc_only_above_strong(summary):
    """[(workload, mode, gc_only run, strong run)] where gc_only, at its default budget, peaked more than
    ABOVE_SHARE above strong on the same work."""
    found = []
    for workload in workload_names(summary):
        for mode in MODES:
            gc_only, strong = (ok_run(summary, workload, mode, variant) for variant in ("gc_only", "strong"))
            if gc_only is not None and strong is not None and None not in (peak(gc_only), peak(strong)) \
                    and peak(gc_only) > (1 + ABOVE_SHARE) * peak(strong):
                found.append((workload, mode, gc_only, strong))
    return found


def _above_strong(summary):
    """The advice's limit: where gc_only's default budget peaked above strong, when the data show any."""
    found = gc_only_above_strong(summary)
    if not found:
        return "."
    return (". It does not always help: at its default budget gc_only peaked above strong on " + "; ".join(
        f"{link(workload, workload)} with the collector `{mode}` ({fmt_bytes(peak(gc_only))} against "
        f"{fmt_bytes(peak(strong))})" for workload, mode, gc_only, strong in found) + ".")


def _collecting_noise(small, large):
    """Whether the small budget's collecting time really differs from the large one's, by the ranges' rule."""
    found = compare_times(small, large, "collector")
    if found is None:
        return ""
    if found == "within noise":
        return f", {SPREAD_NAME} without memray: the ranges overlap, so the difference is within noise"
    return (f", {SPREAD_NAME} without memray: the ranges do not overlap, so the smaller budget really "
            f"collected {'longer' if found == 'higher' else 'for less time'}")


def section_verdict(summary, bench=None, bench_note="reports/bench.json was not read"):
    """## The answer: the first screen of COMPARISON.md."""
    lines = [line for line in (breadth(summary), peers.verdict_line(summary), no_difference(summary),
                               fallback(summary)) if line]
    per_interpreter = interpreters.verdict_lines(summary) if interpreters.measured(summary) else []
    return [
        "## The answer",
        *(["\n".join(per_interpreter)] if per_interpreter else []),
        recommendation(summary),
        "\n".join(lines),
        "### What it costs",
        "\n".join([cost_per_op(bench, bench_note), cost_pauses(summary, bench), CAVEATS]),
    ]


# --- the source --------------------------------------------------------------------------------

BOOK_CLAIMS = (
    (1, "Reference counting frees an object the moment nothing refers to it any more.",
     "weakref and `no_grad()` runs with the collector off"),
    (2, "Objects that refer to one another in a cycle never reach a count of zero, and DeZero's Variable and "
        "Function form such a cycle: the output points to its creator, the creator to its outputs.",
     "strong with the collector off"),
    (3, "CPython's generational collector does free cycles and runs by itself when memory runs short, but relying "
        "on it lets memory use grow, so it is better not to create cycles.",
     "strong with the collector on; the book's \"when memory runs short\" is checked in "
     + link("what the book gets wrong", STEP_TITLES["count"])),
    (4, "Holding a Function's outputs through `weakref.ref` breaks the cycle, so each pass of the loop frees the "
        "previous graph as soon as `x` and `y` are rebound.",
     "weakref in both collector modes, against strong"),
)


def section_source(summary):
    """The book, its four claims in our words, and which measured section tests each."""
    loop = "seed_loop" if "seed_loop" in workload_names(summary) else None
    items = [f"{number}. {claim} Tested in {link(f'step {number}', STEP_TITLES[number])}: {where}."
             for number, claim, where in BOOK_CLAIMS]
    return [
        f"## {SOURCE_TITLE}",
        "The question and the design come from step 17, \"memory management and circular references\", of Koki "
        "Saitoh's *Deep Learning from Scratch 3* (ゼロから作るDeep Learning ❸; Korean edition 밑바닥부터 시작하는 "
        "딥러닝 3), the book that builds the define-by-run framework DeZero. Its test loop, `x = Variable(np.random."
        "randn(10000)); y = square(square(square(x)))` ten times, is the workload "
        + (f"`{loop}` here, at larger sizes" if loop else "`seed_loop` (not in this summary)")
        + "; the workload names and descriptions call that step \"the seed\". The step makes four claims, each "
        "checked against the runs in section 4:",
        "\n".join(items),
    ]


def first_screen(summary, bench=None, bench_note="reports/bench.json was not read"):
    return [*section_verdict(summary, bench, bench_note), *section_source(summary)]

