"""What a harness process left, checked before it counts: a bad result is a failed run, never a crash.

A result must be a JSON object that matches the summary schema and could be true of a measurement;
the timing processes' samples are summarised into a record's `timing` block. A phase run's result must
say the start phase the harness set; the keys a newer harness adds (array_bytes, collection_iterations)
are checked where they are present.
"""
import json
import math
from pathlib import Path

from jsonschema.exceptions import best_match

from graphmem.checkout import now
from graphmem.profile.capture import RENDERED
from graphmem.spread import quartiles
from graphmem.store import run_validator
from graphmem.workloads import WORKLOADS
# --- running -----------------------------------------------------------------------
MEMRAY_FIGURES = ("peak_heap_bytes", "peak_ratio_to_bound", "total_allocations", "total_bytes_allocated", "snapshots")
# --- checking what a run left -------------------------------------------------------
class RunFailed(Exception):
    """One attempt of one run failed; its message is the reason recorded for it."""


def reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_result(path, what):
    """The JSON object a harness process wrote to `path`, or RunFailed saying what is wrong with it."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RunFailed(f"{what} exited normally but wrote no result") from None
    try:
        result = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except UnicodeDecodeError:
        raise RunFailed(f"{what} wrote a result that is not UTF-8 text") from None
    except ValueError as error:
        raise RunFailed(f"{what} wrote a result that is not JSON ({str(error)[:200]})") from None
    if not isinstance(result, dict):
        raise RunFailed(f"{what} wrote a JSON {type(result).__name__} where an object was expected")
    return result


def run_schema_problem(record):
    """The schema's complaint about one run record, or None."""
    error = best_match(run_validator().iter_errors(record))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {error.message}"


def impossible(record, run):
    """What the schema cannot see but cannot be true of a measurement, or None."""
    peak = record.get("peak_heap_bytes")
    total = WORKLOADS[run.workload].total_iterations(run.params_dict)
    completed = record.get("iterations_completed")
    if record["status"] == "failed":
        return "a harness does not report its own run as failed; it exits non-zero"
    if completed is not None and completed > total:
        return f"iterations_completed {completed} is more than the run's {total}"
    if record["status"] == "ok" and completed is not None and completed != total:
        return f"status ok but only {completed} of {total} iterations completed"
    if peak is not None and any(point["heap"] > peak for point in record.get("snapshots") or []):
        return "a memory snapshot is above the recorded peak"
    if peak is not None and record.get("total_bytes_allocated") is not None \
            and peak > record["total_bytes_allocated"]:
        return "the peak is more than all the bytes allocated"
    if record.get("held_bytes_after_collect") is not None and record.get("held_bytes_at_return") is not None \
            and record["held_bytes_after_collect"] > record["held_bytes_at_return"]:
        return "a collection cannot increase the bytes held"
    arrays = record.get("array_bytes")
    if arrays and arrays["at_return"] > arrays["peak"]:
        return "the array bytes held at return are more than their peak"
    if any(iteration > total for iteration, _ in record.get("collection_iterations") or []):
        return f"a collection is placed after the run's last iteration ({total})"
    ratio = record.get("peak_ratio_to_bound")
    bound = record["live_set_bound_bytes"]
    if ratio is not None and peak is not None and bound and abs(ratio - peak / bound) > 1e-3 * max(1, ratio):
        return f"peak_ratio_to_bound {ratio} is not the peak over the bound ({peak / bound:.4f})"
    return None


def checked_record(run, result, base, spec):
    """The run's summary record from the memray process's result, or RunFailed naming the problem."""
    for key, expected in (("variant", run.variant), ("workload", run.workload), ("mode", run.mode),
                          ("params", run.params_dict), ("gc_budget", run.gc_budget)):
        if key in result and result[key] != expected:
            raise RunFailed(f"its result is for another run: {key} {result[key]!r}, expected {expected!r}")
    files = result.get("files", {})
    if not isinstance(files, dict):
        raise RunFailed(f"its result's files is a {type(files).__name__}, not an object")
    for key, path in files.items():
        if key not in RENDERED or path != spec.get(key) or not Path(path).is_file():
            raise RunFailed(f"its result names a file it was not asked for or did not write: {key}={path!r}")
    if run.start_phase is not None and result.get("start_phase") is None:
        raise RunFailed(f"its result does not say the start phase it set (spec key start_phase, asked "
                        f"{run.start_phase:g}): this harness cannot set it")
    if base.get("memray_unavailable"):
        for key in MEMRAY_FIGURES:
            result.pop(key, None)  # a timing process's result as the record: no memray figures to keep
    reported = result.get("interpreter")
    if isinstance(reported, dict) and base.get("interpreter") and reported.get("version") not in (
            None, base["interpreter"]["version"]):
        raise RunFailed(f"its result is from Python {reported['version']}, not the environment's "
                        f"{base['interpreter']['version']}")
    # The harness may say more of its interpreter (its executable, PyPy's own version); the label is ours.
    interpreter = {**(reported if isinstance(reported, dict) else {}), **(base.get("interpreter") or {})}
    record = {**base, **result, "id": run.id, "files": files, "measured_at": now(),
              **({"interpreter": interpreter} if interpreter else {})}
    problem = run_schema_problem(record)
    if problem:
        raise RunFailed(f"its result does not match summary.schema.json {problem}")
    problem = impossible(record, run)
    if problem:
        raise RunFailed(f"its result is impossible: {problem}")
    return record


def checked_sample(result, what):
    """One timing process's numbers: finite, non-negative, whole; or RunFailed."""
    def number(value, name, whole=False):
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < 0:
            raise RunFailed(f"{what} reported {name} = {value!r}, not a non-negative {'count' if whole else 'number'}")
        return value

    if result.get("status") not in ("ok", "ceiling"):
        raise RunFailed(f"{what} reported status {result.get('status')!r}")
    number(result.get("wall_seconds"), "wall_seconds")
    gc_stats = result.get("gc")
    # null where the collector cannot be watched (PyPy has no gc.callbacks); else runs and seconds per generation
    if gc_stats is not None:
        if not isinstance(gc_stats, dict) or not all(isinstance(gc_stats.get(key), list) and len(gc_stats[key]) == 3
                                                     for key in ("runs", "seconds")):
            raise RunFailed(f"{what} reported no collector runs and seconds per generation")
        for generation in range(3):
            number(gc_stats["runs"][generation], "a collector run count", whole=True)
            number(gc_stats["seconds"][generation], "a collector time")
        for key, whole in (("variant_collections", True), ("variant_seconds", False)):
            if gc_stats.get(key) is not None:
                number(gc_stats[key], key, whole)
    elif "gc" not in result:
        raise RunFailed(f"{what} reported no collector runs and seconds per generation")
    iterations = result.get("collection_iterations")
    if iterations is not None:
        if not isinstance(iterations, list) \
                or not all(isinstance(pair, list) and len(pair) == 2 for pair in iterations):
            raise RunFailed(f"{what} reported collection_iterations that are not [iteration, generation] pairs")
        for iteration, generation in iterations:
            number(iteration, "a collection's iteration", whole=True)
            if number(generation, "a collection's generation", whole=True) > 2:
                raise RunFailed(f"{what} reported a collection of generation {generation}")
    arrays = result.get("array_bytes")
    if arrays is not None:
        if not isinstance(arrays, dict):
            raise RunFailed(f"{what} reported array_bytes that is not an object")
        for key in ("peak", "at_return"):
            number(arrays.get(key), f"array_bytes {key}", whole=True)
    return result


def spread(values):
    """Median, quartiles, range and the samples themselves, of one time over the timing processes."""
    summary = quartiles(values)
    return {**{key: round(summary[key], 6) for key in ("median", "q1", "q3")},
            "min": summary["min"], "max": summary["max"], "samples": sorted(values)}


def timing_statistics(samples):
    """The `timing` block of a record from its timing processes (see summary.schema.json)."""
    def per_process(pick):
        values = [value for value in map(pick, samples) if value is not None]
        return spread(values) if values else None

    def full_pause(sample):
        gc_stats = sample["gc"]
        return gc_stats["seconds"][2] / gc_stats["runs"][2] if gc_stats and gc_stats["runs"][2] else None

    def own_collection(sample):
        gc_stats = sample["gc"] or {}
        if gc_stats.get("variant_collections") and gc_stats.get("variant_seconds") is not None:
            return gc_stats["variant_seconds"] / gc_stats["variant_collections"]
        return None

    def rounded(pick):
        return lambda sample: None if pick(sample) is None else round(pick(sample), 6)

    first = samples[0].get("collection_iterations")
    return {
        "processes": len(samples),
        "memray": False,
        **({"collection_iterations": first} if first is not None else {}),
        "wall_seconds": per_process(rounded(lambda sample: sample["wall_seconds"])),
        "collector_seconds": per_process(rounded(
            lambda sample: sum(sample["gc"]["seconds"]) if sample["gc"] else None)),
        "full_collection_seconds": per_process(rounded(full_pause)),
        "variant_collection_seconds": per_process(rounded(own_collection)),
        "variant_seconds": per_process(rounded(lambda sample: (sample["gc"] or {}).get("variant_seconds"))),
    }
