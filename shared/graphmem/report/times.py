"""The one place the verdict, the captions and the charts read a time figure.

A run's times are the statistics of its `timing` block: processes that ran the workload without memray
(whose hooks slow every allocation), median [min–max]; a memray process's own times are never quoted.
A bench row's times are its statistics in nanoseconds. Whether two times differ is decided by the
project's one rule, graphmem.spread.compare: only where their min–max ranges do not overlap.
"""
from graphmem.report.cells import fmt_seconds, fmt_spread, fmt_time, time_spread
from graphmem.spread import compare

NS = 1e-9
SPREAD_KEYS = ("median", "q1", "q3", "min", "max")

# What a run's time figures are called here, and where each sits in its `timing` block.
RUN_TIMES = {
    "wall": "wall_seconds",  # the workload's wall time
    "collector": "collector_seconds",  # time in the cyclic collector, all generations, gc_only's own included
    "own_collections": "variant_seconds",  # gc_only's own gc.collect() calls, in all
    "own_collection": "variant_collection_seconds",  # one of gc_only's own collections, on average
    "full_collection": "full_collection_seconds",  # one full (generation 2) collection, on average
}


def time_statistics(record, what):
    """{median, q1, q3, min, max} in seconds (a bench row may lack all but the median), or None when not
    measured.

    record: a run of summary.json (what: a key of RUN_TIMES), or one row of bench.json (what: its statistics
    field, "per_function_ns", "drop_ns", "collect_after_ns", ...)."""
    if record is None:
        return None
    if what in RUN_TIMES:
        return time_spread(record, RUN_TIMES[what])
    statistics = record.get(what)
    if not isinstance(statistics, dict) or not isinstance(statistics.get("median"), (int, float)):
        return None
    return {key: statistics[key] * NS for key in SPREAD_KEYS if isinstance(statistics.get(key), (int, float))}


def time_figure(record, what):
    """The median in seconds, or None when not measured."""
    statistics = time_statistics(record, what)
    return None if statistics is None else statistics["median"]


def fmt_time_figure(record, what, fmt=None):
    """'213.0 ms [205.1 ms–230.4 ms]' (median [min–max]); 'not timed' for a run without timing processes."""
    if what in RUN_TIMES:
        return fmt_time(record, RUN_TIMES[what])
    statistics = time_statistics(record, what)
    if statistics is not None and not _has_range(statistics):
        return (fmt or fmt_seconds)(statistics["median"])
    return fmt_spread(statistics, fmt)


def _has_range(statistics):
    return statistics is not None and "min" in statistics and "max" in statistics


def compare_times(first, second, what):
    """graphmem.spread.compare of the two times: 'lower', 'higher' (first against second), 'within noise' where
    the ranges overlap, None when either time or its range is missing."""
    first, second = time_statistics(first, what), time_statistics(second, what)
    return compare(first, second) if _has_range(first) and _has_range(second) else None
