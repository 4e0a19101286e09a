"""What a memray capture holds, read in the harness's own process with memray's Python API: the peak,
the allocation totals, memory over time, and the flamegraph, temporal flamegraph and stats files.

The files are the ones `memray flamegraph --no-web`, `memray flamegraph --temporal --no-web` and
`memray stats --json` write: the same reporters, called with the arguments those commands pass by
default. Made here rather than by those three commands, since each command is a process that imports
memray again (half a second of its textual UI) and reads the capture again. The allocation totals are
memray's own statistics (compute_statistics, what `memray stats` counts), read in C++ rather than by
iterating every record in Python: several seconds on a capture of millions of allocations.
memray itself is imported only to read a capture, so the driver's checks (and PyPy's harness) can
name the files without it.
"""
from pathlib import Path

RENDERED = ("flamegraph", "temporal_flamegraph", "stats")  # the files a rendered run has, in this order
SUFFIXES = {"flamegraph": ".flamegraph.html", "temporal_flamegraph": ".temporal.html", "stats": ".stats.json"}
MAX_SNAPSHOTS = 200  # memory-over-time points kept per run; the peak one is always among them
LARGEST = 5  # `memray stats`'s default --num-largest
FLAMEGRAPH_OPTIONS = {"merge_threads": True, "inverted": False}  # `memray flamegraph`'s defaults


def thin_snapshots(snapshots, start_ms, limit=MAX_SNAPSHOTS):
    """Memory over time as {t (s), heap, rss}, at most `limit` evenly spaced points plus the peak."""
    points = [{"t": round((s.time - start_ms) / 1000, 4), "heap": int(s.heap), "rss": int(s.rss)}
              for s in snapshots]
    if len(points) <= limit:
        return points
    step = len(points) / limit
    keep = {int(i * step) for i in range(limit)} | {len(points) - 1}
    keep.add(max(range(len(points)), key=lambda i: points[i]["heap"]))
    return [points[i] for i in sorted(keep)]


def flamegraph(reader, memory_records, temporal):
    """The reporter `memray flamegraph [--temporal]` renders: peak-time allocations, or their history."""
    from memray.reporters.flamegraph import FlameGraphReporter

    native = reader.metadata.has_native_traces
    if temporal:
        records, high_water_marks = reader.get_temporal_high_water_mark_allocation_records(merge_threads=True)
        return FlameGraphReporter.from_temporal_snapshot(records, memory_records=memory_records, native_traces=native,
                                                         high_water_mark_by_snapshot=high_water_marks,
                                                         inverted=False)
    return FlameGraphReporter.from_snapshot(reader.get_high_watermark_allocation_records(merge_threads=True),
                                            memory_records=memory_records, native_traces=native,
                                            **FLAMEGRAPH_OPTIONS)


def write_page(reporter, path, metadata):
    with open(path, "w", encoding="utf-8") as page:
        reporter.render(outfile=page, metadata=metadata, show_memory_leaks=False, no_web=True, **FLAMEGRAPH_OPTIONS)


def read_capture(capture, outputs):
    """(the capture's numbers, the files written, problems): `outputs` maps each of RENDERED to the path
    it goes to (or None: not written). A file that cannot be written is a problem named in the run's
    reason; the numbers still come."""
    from memray import FileReader
    from memray._memray import compute_statistics
    from memray.reporters.stats import StatsReporter

    capture = str(capture)
    statistics = compute_statistics(capture, report_progress=False, num_largest=LARGEST)
    written, problems = {}, []
    with FileReader(capture) as reader:
        metadata = reader.metadata
        memory_records = tuple(reader.get_memory_snapshots())
        pages = {"flamegraph": lambda path: write_page(flamegraph(reader, memory_records, False), path, metadata),
                 "temporal_flamegraph": lambda path: write_page(flamegraph(reader, memory_records, True), path,
                                                                metadata),
                 "stats": lambda path: StatsReporter(statistics, LARGEST).render(json_output_file=Path(path))}
        for key, write in pages.items():
            path = outputs.get(key)
            if not path:
                continue
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                write(path)
            except Exception as error:  # noqa: BLE001  memray's reporters raise whatever their input makes them
                problems.append(f"memray's {key} reporter failed: {type(error).__name__}: {str(error)[-300:]}")
            else:
                written[key] = path
    numbers = {"peak_heap_bytes": metadata.peak_memory, "total_allocations": statistics.total_num_allocations,
               "total_bytes_allocated": statistics.total_memory_allocated,
               "snapshots": thin_snapshots(memory_records, metadata.start_time.timestamp() * 1000)}
    return numbers, written, problems
