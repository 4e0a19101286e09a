"""The answer's "What it costs": time per operation and teardown from reports/bench.json, collector pauses
from summary.json.

bench.json's per-op figures are compared the way BENCH.md compares them: each of bench's rounds ran
every implementation in its own process, so a round's median is one between-process observation, and
two implementations differ only where their round medians' min–max ranges do not overlap
(graphmem.spread.compare).
"""
import json
from pathlib import Path

from graphmem.facts import ROOT, VARIANTS
from graphmem.report.cells import collector_runs, fmt_ratio, fmt_spread, ratio
from graphmem.report.claims import compared_workload, ok_run
from graphmem.report.times import compare_times, fmt_time_figure, time_figure
from graphmem.spread import SPREAD_NAME, compare, quartiles

BENCH_PATH = ROOT / "reports" / "bench.json"
BENCH_COMMAND = "python3 -m nox -s bench"
# bench.json's per-op rows the cost line quotes: the book's own graph shape, forward and backward together.
PER_OP_EXPRESSION, PER_OP_PHASE = "square_chain", "forward+backward"
NS = 1e-9


def load_bench(path=BENCH_PATH):
    """(bench.json's content, None) or (None, why it is not used)."""
    path = Path(path)
    try:
        bench = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"there is no reports/bench.json; `{BENCH_COMMAND}` writes it"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"reports/bench.json could not be read ({exc}); `{BENCH_COMMAND}` rewrites it"
    if not isinstance(bench, dict):
        return None, f"reports/bench.json is not a JSON object; `{BENCH_COMMAND}` rewrites it"
    return bench, None


def _bench_rows(bench, table, **match):
    rows = bench.get(table) if isinstance(bench, dict) else None
    if not isinstance(rows, list):
        return []
    return [row for row in rows if isinstance(row, dict) and all(row.get(key) == value for key, value in match.items())]


def _size_key(row):
    """A per-op row's array size: its shape label when bench.json has one ("0-d", "(1,)"), else its element
    count."""
    return row.get("shape") if isinstance(row.get("shape"), str) else row.get("elements")


def _per_op_rows(bench, implementation):
    return [row for row in _bench_rows(bench, "per_op", implementation=implementation, expression=PER_OP_EXPRESSION,
                                       phase=PER_OP_PHASE)
            if isinstance(row.get("elements"), int) and _size_key(row) is not None]


def per_op_row(bench, implementation, size):
    rows = [row for row in _per_op_rows(bench, implementation) if _size_key(row) == size]
    return rows[0] if rows else None


def per_op_seconds(bench, implementation, size):
    return time_figure(per_op_row(bench, implementation, size), "per_function_ns")


def per_op_sizes(bench):
    """Array sizes at which both strong and weakref have a per-op time, smallest first."""
    found = {}
    for variant in ("strong", "weakref"):
        for row in _per_op_rows(bench, variant):
            found.setdefault(_size_key(row), set()).add(variant)
            found.setdefault(("elements", _size_key(row)), row["elements"])
    sizes = [key for key, variants in found.items()
             if not isinstance(key, tuple) and variants == {"strong", "weakref"}
             and per_op_seconds(bench, "strong", key) and per_op_seconds(bench, "weakref", key)]
    return sorted(sizes, key=lambda key: (found[("elements", key)], str(key)))


def size_words(size):
    return f"{size} arrays" if isinstance(size, str) else f"{size:,}-element arrays"


# --- the recommendation ------------------------------------------------------------------------


# --- what it costs -----------------------------------------------------------------------------

def round_medians(row):
    """A per-op row's median per round, in seconds (bench.json's `round_medians_ns`), or None."""
    medians = (row or {}).get("round_medians_ns")
    if not isinstance(medians, dict) or not medians:
        return None
    values = [value * NS for value in medians.values() if isinstance(value, (int, float))]
    return values or None


def round_spread(row):
    """{median, min, max, ...} over the rounds' medians, or None when bench.json has no rounds."""
    values = round_medians(row)
    return quartiles(values) if values else None


NOISE_WORDS = {"lower": "really faster", "higher": "really slower", "within noise": "within noise",
               None: "rounds not recorded"}


def cost_per_op(bench, why_not):
    if bench is None:
        return f"- **Time per operation:** not measured here: {why_not}."
    sizes = per_op_sizes(bench)
    if not sizes:
        return (f"- **Time per operation:** reports/bench.json has no {PER_OP_PHASE} time of `{PER_OP_EXPRESSION}` "
                f"for both strong and weakref; `{BENCH_COMMAND}` measures it.")
    shown = [sizes[0]] + ([sizes[-1]] if sizes[-1] != sizes[0] else [])
    cells, differences, ratios, rounds = [], [], [], set()
    for size in shown:
        weak, strong = (round_spread(per_op_row(bench, variant, size)) for variant in ("weakref", "strong"))
        if weak is None or strong is None:
            weak = weak or time_statistics_ns(per_op_row(bench, "weakref", size))
            strong = strong or time_statistics_ns(per_op_row(bench, "strong", size))
            differences.append(None)
        else:
            differences.append(compare(weak, strong))
            rounds.add(len(round_medians(per_op_row(bench, "weakref", size))))
        ratios.append(ratio(weak["median"], strong["median"]))
        cells.append(f"{size_words(size)}, weakref {fmt_spread(weak)} against strong's {fmt_spread(strong)} "
                     f"({fmt_ratio(ratios[-1])} strong's, {NOISE_WORDS[differences[-1]]})")
    over = f"{' or '.join(map(str, sorted(rounds)))} rounds' medians" if rounds else "bench's repeats"
    shrinks = len(ratios) == 2 and ratios[0] > ratios[1] and differences[0] == "higher"
    return (f"- **Time per operation** (forward and backward of one `square`, {SPREAD_NAME} over {over}, each "
            "round one process per implementation; a difference is real only where the ranges do not overlap, as "
            "in [BENCH.md](BENCH.md)): " + "; ".join(cells) + "."
            + (" Creating and dereferencing the weak references is a cost per Function, so it shows on tiny "
               "arrays and fades as numpy's work grows." if shrinks else ""))


def time_statistics_ns(row):
    """A bench row's pooled per-function statistics in seconds, for a bench.json without rounds."""
    statistics = (row or {}).get("per_function_ns") or {}
    median = statistics["median"] * NS
    return {"median": median, "min": statistics.get("min", statistics["median"]) * NS,
            "max": statistics.get("max", statistics["median"]) * NS}


def cost_pauses(summary, bench):
    workload = compared_workload(summary)
    if workload is None:
        return "- **Collector pauses:** not measured (no strong and weakref runs on one workload)."
    parts = []
    for variant in VARIANTS:
        run = ok_run(summary, workload, "auto", variant)
        if run is None or collector_runs(run) is None:
            continue
        own = (run.get("gc") or {}).get("variant_collections")
        runs = own or sum(collector_runs(run))
        count = f"{runs} {'full ' if own else ''}collection{'s' * (runs != 1)}{' of its own' if own else ''}"
        parts.append(f"{variant} {count}, {fmt_time_figure(run, 'collector')}")
    text = (f"- **Collector pauses** on {workload} with the collector on (time collecting: {SPREAD_NAME} over "
            "processes without memray): " + "; ".join(parts) + "." + _pause_noise(summary, workload))
    teardown = {row.get("implementation"): row for row in _bench_rows(bench, "teardown")} if bench else {}
    weak, strong = teardown.get("weakref"), teardown.get("strong")
    if weak and strong and weak.get("functions") == strong.get("functions") and weak.get("freed_by_drop") \
            and not strong.get("freed_by_drop") and time_figure(weak, "drop_ns") is not None \
            and time_figure(strong, "collect_after_ns") is not None:
        repeats = sorted({row.get(key, {}).get("repeats") for row, key in ((weak, "drop_ns"),
                                                                          (strong, "collect_after_ns"))} - {None})
        over = f" over {' or '.join(map(str, repeats))} repeats" if repeats else ""
        text += (f" Dropping a {weak['functions']:,}-Function graph ([BENCH.md](BENCH.md); {SPREAD_NAME}{over}): "
                 f"weakref frees it at the drop, in {fmt_time_figure(weak, 'drop_ns')}; strong's drop frees nothing "
                 f"and the collection that does takes {fmt_time_figure(strong, 'collect_after_ns')}, whenever it "
                 "comes.")
    return text


def _pause_noise(summary, workload):
    """weakref's time collecting against strong's, real only where the ranges do not overlap."""
    weak, strong = (ok_run(summary, workload, "auto", variant) for variant in ("weakref", "strong"))
    found = compare_times(weak, strong, "collector")
    if found is None:
        return " Without repeated timings for both, this run cannot say whether weakref collects for less time."
    if found == "within noise":
        return " weakref's and strong's ranges overlap: their difference in time collecting is within noise."
    return (f" The ranges do not overlap: weakref really spent {'less' if found == 'lower' else 'more'} time "
            "collecting than strong.")


CAVEATS = (
    "- **weakref's caveats** (behaviour, tested in "
    "[shared/contract/test_api.py](../shared/contract/test_api.py)): a Function no longer keeps its outputs alive, "
    "so an output the program dropped before `backward()` is gone; backward treats it as unused and gives it a zero "
    "gradient (`test_output_dropped_before_backward_counts_as_zero_gradient`), and code that walks `func.outputs` "
    "must call each reference and expect `None`. `backward(retain_grad=True)` keeps intermediate gradients on "
    "Variables, so they last as long as the program holds those Variables, in every policy "
    "([test_book_values.py](../shared/contract/test_book_values.py))."
)

