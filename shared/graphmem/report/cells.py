"""How a run's numbers read in COMPARISON.md: units, spreads, and the table cells every section shares.

Text only, and below every section module: the headline, the charts' tables, the flamegraph section, the
peers and the verdict all spell a peak, a time or a ratio through here, so a figure reads the same
wherever it appears. Durations go through graphmem.markdown.format_duration, the project's one duration
formatter; spreads follow graphmem.spread (median [min–max]).
"""
from graphmem.markdown import format_duration
from graphmem.spread import SPREAD_NAME

NOT_MEASURED = "not measured"
NOT_TIMED = "not timed"


# --- human units -------------------------------------------------------------------------------

def fmt_bytes(nbytes):
    if nbytes is None:
        return NOT_MEASURED
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def fmt_seconds(seconds):
    """A duration as graphmem.markdown writes every duration; 'not measured' for None."""
    return format_duration(seconds, missing=NOT_MEASURED)


def fmt_ratio(ratio):
    if ratio is None:
        return NOT_MEASURED
    return f"{ratio:.0f}×" if ratio >= 100 else f"{ratio:.2f}×"


def fmt_count(count):
    return NOT_MEASURED if count is None else f"{count:,}"


def fmt_params(params):
    return ", ".join(f"{key}={params[key]}" for key in sorted(params)) or "no parameters"


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def sentence(text):
    """`text` as a sentence: capitalised, with one full stop."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


# --- what a run measured -----------------------------------------------------------------------

def peak(run):
    return None if run is None or run["status"] == "failed" else run.get("peak_heap_bytes")


def peak_to_bound(run):
    if run is None or run["status"] == "failed":
        return None
    if run.get("peak_ratio_to_bound") is not None:
        return run["peak_ratio_to_bound"]
    return ratio(run.get("peak_heap_bytes"), run["live_set_bound_bytes"])


def collector_runs(run):
    """Runs per generation (0, 1, 2), or None when the collector was not observed."""
    gc_stats = run.get("gc") if run else None
    return None if gc_stats is None else tuple(gc_stats["runs"])


def iterations_done(run):
    if run.get("iterations_completed") is not None:
        return run["iterations_completed"]
    return run["params"].get("iterations")


# --- times: statistics over processes without memray --------------------------------------------

def time_spread(run, key):
    """{median, q1, q3, min, max, samples} of one time (`wall_seconds`, `collector_seconds`,
    `full_collection_seconds`, `variant_collection_seconds`) over the run's timing processes, or None.

    Times come only from these processes, which ran without memray: a memray process's own times are
    slowed by its hooks and are never compared."""
    if run is None or run["status"] == "failed":
        return None
    return (run.get("timing") or {}).get(key)


def fmt_spread(spread, fmt=None):
    """'213.0 ms [205.1 ms–230.4 ms]': graphmem.spread's median [min–max] (`fmt` formats each number,
    fmt_seconds unless given)."""
    fmt = fmt or fmt_seconds
    if spread is None:
        return NOT_MEASURED
    if spread["min"] == spread["max"]:
        return fmt(spread["median"])
    return f"{fmt(spread['median'])} [{fmt(spread['min'])}–{fmt(spread['max'])}]"


def fmt_time(run, key):
    """A run's time as median [min–max], 'not timed' when the run has no timing processes."""
    if run is None or run["status"] == "failed":
        return NOT_MEASURED
    if not run.get("timing"):
        return NOT_TIMED
    return fmt_spread(time_spread(run, key))


# --- table cells -------------------------------------------------------------------------------

def status_cell(run):
    return NOT_MEASURED if run is None else run["status"]


def peak_cell(run):
    """A run's peak heap: '≥ ' before a run stopped at the ceiling, '—' for a failed or missing run."""
    value = peak(run)
    if run is not None and run["status"] == "ceiling" and value is not None:
        return f"≥ {fmt_bytes(value)}"  # stopped at the ceiling: it would have used more
    return fmt_bytes(value) if run is not None and run["status"] != "failed" else "—"


def collector_cell(run):
    runs = collector_runs(run)
    if runs is None:
        return NOT_MEASURED
    text = "/".join(str(count) for count in runs)
    own = run["gc"].get("variant_collections")
    return f"{text} ({own} its own)" if own is not None else text


def spread_header(name):
    """A table header for a column of median [min–max] cells: the convention named in the header."""
    return f"{name}, {SPREAD_NAME}"


def shown_id(run):
    """A run's id as the report prints it: without the interpreter label, which is the report's one."""
    return run["id"].split("/", 1)[1] if run["id"].startswith(run["interpreter"]["label"] + "/") else run["id"]


def words(items):
    """'a', 'a and b', 'a, b and c'; '' for none."""
    items = list(items)
    return "" if not items else items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
