"""The one place the verdict, the captions and the charts read a time figure.

Today a run's times are the single memray-traced process's (`wall_seconds`, `gc.seconds`) and a bench row's
are its median. When per-run timing statistics measured without memray exist, point `time_figure` at
them and every sentence and chart that quotes a time follows.
"""
from graphmem.report.data import collecting_seconds

NS = 1e-9


def time_figure(record, what):
    """Seconds, or None when not measured.

    record: a run of summary.json, or one row of bench.json. what: "wall" (the workload's wall time),
    "collector" (time in the cyclic collector, all generations, gc_only's own collections included),
    "own_collections" (gc_only's own gc.collect() calls), or a bench row's statistics field
    ("per_function_ns", "drop_ns", "collect_after_ns", ...), read as its median.
    """
    if record is None:
        return None
    if what == "wall":
        return record.get("wall_seconds")
    if what == "collector":
        return collecting_seconds(record)
    if what == "own_collections":
        return (record.get("gc") or {}).get("variant_seconds")
    statistics = record.get(what)
    if not isinstance(statistics, dict) or not isinstance(statistics.get("median"), (int, float)):
        return None
    return statistics["median"] * NS
