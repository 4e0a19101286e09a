"""reports/summary.json, the one store of measurements: loaded, validated, migrated and merged, atomically.

Both profile (which merges runs into it) and report (which reads it) use this module. Every merge
holds an exclusive lock on `summary.json.lock` beside the file while it reads, changes and rewrites
the summary, so two profiles in one checkout both keep every run they measured.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from graphmem.atomic_files import json_text, write_atomically
from graphmem.checkout import display_path, now
from graphmem.interpreters import label_for

SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")
SCHEMA_VERSION = 3
FAILURES_KEPT = 10  # failed attempts kept beside a record, newest last
RUN_TABLES = ("runs", "peer_runs")
# Validating every record takes about half a second for a full profile's summary: once per run, twice
# per merge, it came to minutes. A file whose text is byte for byte one this process already validated,
# reading or writing it (path -> SHA-256), is valid without checking it again; any other text is checked in full.
_VALIDATED = {}


class SummaryError(ValueError):
    """The summary file is missing, unreadable, or does not match summary.schema.json."""


@lru_cache(maxsize=1)
def schema_validator():
    """The summary schema's validator, read once per process."""
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def run_validator():
    """A validator for one run record, against the summary schema's `$defs/run`."""
    schema = schema_validator().schema
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/run"})


def migrate_1_to_2(summary):
    """Schema 1 (one environment and command for all runs) as schema 2, in place.

    Schema 1 said where the newest runs were measured; each run gets that as its provenance, the best
    that file knows. Its failed runs become failed records with their one failure listed.
    """
    environment = summary.pop("environment", None) or {}
    command = summary.pop("command", None) or "unknown"
    for run in (summary.get("runs") or {}).values():
        if isinstance(run, dict):
            run.setdefault("provenance", {"git_dirty": True, **environment, "command": command})
            if run.get("status") == "failed":
                run.setdefault("failures", [{"at": run.get("measured_at", "unknown"),
                                             "reason": run.get("reason") or "no reason recorded", "log": None}])
    summary["schema_version"] = 2


def interpreter_from_provenance(provenance):
    """A schema 2 record's interpreter, from its provenance's `python` ("3.11.7 CPython", or sys.version's
    "3.11.7 (main) [GCC 12.2.0]" in older files) and `numpy`.

    Every schema 1 and 2 run was measured under memray, which runs on CPython only: CPython unless the
    text names PyPy. Schema 2 did not record the collector's thresholds: gc_threshold stays null rather
    than guessed."""
    text = str((provenance or {}).get("python") or "")
    version = re.match(r"\s*(\d+\.\d+(?:\.\d+)?)", text)
    if version is None:
        implementation, label = "unknown", "unknown"
    else:
        implementation = "PyPy" if "pypy" in text.lower() else "CPython"
        label = label_for(implementation, version.group(1))
    return {"label": label, "implementation": implementation, "version": version.group(1) if version else "unknown",
            "numpy": (provenance or {}).get("numpy"), "gc_threshold": None}


def migrate_2_to_3(summary):
    """Schema 2 (one interpreter, never named) as schema 3, in place: every record, ours and the peers',
    gets its interpreter from its provenance and its id that interpreter's label in front
    (`strong/...` -> `cpython-3.11/strong/...`); summary["interpreters"] lists the labels found."""
    found = {}
    for table in ("runs", "peer_runs"):
        records = summary.get(table)
        if not isinstance(records, dict):
            continue
        migrated = {}
        for run_id, run in records.items():
            if not isinstance(run, dict):
                migrated[run_id] = run  # not a record: left for validation to name
                continue
            interpreter = run.setdefault("interpreter", interpreter_from_provenance(run.get("provenance")))
            label = interpreter["label"]
            new_id = run_id if run_id.startswith(label + "/") else f"{label}/{run_id}"
            run["id"] = new_id
            migrated[new_id] = run
            found.setdefault(label, {"requested": None, "path": None, "available": True, "reason": None,
                                     "implementation": interpreter["implementation"],
                                     "version": interpreter["version"]})
        summary[table] = migrated
    summary["interpreters"] = {**found, **(summary.get("interpreters") or {})}
    summary["schema_version"] = 3


def migrate(summary):
    """An older summary (schema 1 or 2) as the current schema, in place, every record kept; others unchanged."""
    if not isinstance(summary, dict):
        return summary
    if summary.get("schema_version") == 1:
        migrate_1_to_2(summary)
    if summary.get("schema_version") == 2:
        migrate_2_to_3(summary)
    return summary


def validate_summary(summary, source="summary"):
    """The summary, or SummaryError naming `source`, the failing location and the schema's complaint."""
    error = best_match(schema_validator().iter_errors(summary))
    if error is None:
        return summary
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    raise SummaryError(f"{source} does not match {display_path(SCHEMA_PATH)} at {where}: {error.message}")


def load_summary(path):
    """The parsed, migrated, schema-valid summary at `path`, or SummaryError saying what is wrong with it."""
    name = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SummaryError(f"{name} does not exist; `python3 -m nox -s profile` writes it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SummaryError(f"{name} cannot be read: {exc}") from None
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SummaryError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    digest, summary = content_digest(text), migrate(summary)
    if _VALIDATED.get(Path(path).resolve()) == digest:  # the very text this process validated (and migrated)
        return summary
    summary = validate_summary(summary, name)
    _VALIDATED[Path(path).resolve()] = digest
    return summary


def content_digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_summary(path, summary):
    """Writes a validated summary atomically and remembers its text as valid."""
    text = json_text(summary)
    write_atomically(path, text)
    _VALIDATED[Path(path).resolve()] = content_digest(text)


def new_summary():
    return {"schema_version": SCHEMA_VERSION, "runs": {}}


def summary_for_update(path, say=print):
    """The summary to merge into: the valid one at `path`, or a new one when there is none.

    A file that is not a valid summary (not JSON, another schema, or the right syntax in the wrong
    shape) is moved aside as `summary.json.unreadable-<time>`, never overwritten, and `say` is told.
    The caller holds the lock."""
    path = Path(path)
    if not path.exists():
        return new_summary()
    try:
        return load_summary(path)
    except SummaryError as error:
        aside = path.with_name(f"{path.name}.unreadable-{time.time_ns()}")
        os.replace(path, aside)
        say(f"profile: {error}; kept it as {display_path(aside)} and started a new summary")
        return new_summary()


@contextlib.contextmanager
def locked(path):
    """An exclusive lock on `<path>.lock` for the block: one reader-changer-writer of the summary at a time.

    flock is released by the kernel when the process ends, so a killed profile never leaves it held."""
    lock_path = Path(path).with_name(Path(path).name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def merged_record(old, new):
    """The record a run id keeps: the newest good measurement, failed attempts listed beside it.

    A failed attempt never replaces a good record (status ok or ceiling); it is appended to that
    record's `failures`. A run id with no good measurement yet keeps a failed record.
    """
    failures = list((old or {}).get("failures", []))
    if new["status"] != "failed":
        return {**new, "failures": failures[-FAILURES_KEPT:]}
    failures = (failures + [new["failure"]])[-FAILURES_KEPT:]
    if old is not None and old["status"] != "failed":
        return {**old, "failures": failures}
    return {**{key: value for key, value in new.items() if key != "failure"}, "failures": failures}


def update(path, change, say=print):
    """Applies `change(summary)` to the summary at `path`, validates and writes it atomically.

    What is validated after the change is the summary with only the records `change` added or replaced
    (a record it changes it must replace, not edit in place): the others were valid when read.
    The caller holds `locked(path)` (merge_runs takes it; the driver holds it around a run's files too)."""
    summary = summary_for_update(path, say)
    before = {table: dict(summary.get(table) or {}) for table in RUN_TABLES}
    change(summary)
    changed = {**summary, **{table: {run_id: record for run_id, record in summary[table].items()
                                     if before[table].get(run_id) is not record}
                             for table in RUN_TABLES if table in summary}}
    validate_summary(changed, display_path(path))
    write_summary(path, summary)
    return summary


def add_runs(summary, records, workloads):
    """Merges records (id -> good or failed record) into `summary`: peers' into peer_runs, ours into runs."""
    summary["updated_at"] = now()
    summary["workloads"] = workloads
    for run_id, record in records.items():
        table = summary.setdefault("peer_runs", {}) if record.get("implementation") else summary["runs"]
        table[run_id] = merged_record(table.get(run_id), record)
    summary["runs"] = dict(sorted(summary["runs"].items()))
    if "peer_runs" in summary:
        summary["peer_runs"] = dict(sorted(summary["peer_runs"].items()))


def add_extras(summary, extras, workloads):
    """Merges {"implementations": ..., "anatomy": ...} (and the like) into `summary`, key by key."""
    summary["workloads"] = workloads
    for key, found in extras.items():
        summary[key] = {**summary.get(key, {}), **found}


def merge_runs(path, records, workloads=None):
    """Takes the lock and merges `records` into the summary at `path`; the merged summary."""
    with locked(path):
        return update(path, lambda summary: add_runs(summary, records, workloads or summary.get("workloads", {})))


# --- merging the summaries of several machines --------------------------------------------------
class MergeConflict(SummaryError):
    """Two summaries hold good records of one run id whose memory figures differ."""


MEMORY_FIGURES = ("peak_heap_bytes", "total_allocations", "held_bytes_at_return")  # deterministic per interpreter


def memory_figures(record):
    """What must agree between two good records of one run, whichever machine measured them."""
    return {key: record.get(key) for key in MEMORY_FIGURES} | {"array_peak": (record.get("array_bytes") or {}).get("peak")}


def merge_summaries(sources):
    """One summary from several (`sources`: [(name, summary)], each valid), as if one machine had measured
    every run; MergeConflict names every run id whose good records differ in a memory figure.

    Each record keeps its own provenance (machine, commit, versions, command). Of two good records with
    the same figures the newer (measured_at) is kept; a good record beats a failed one, and the failed
    attempts of all are listed beside it. Other tables (workloads, implementations, anatomy, ...) merge
    key by key, later sources winning; each source's own last_profile moves to `merged_from`."""
    merged, seen, conflicts = new_summary(), {}, []
    merged["merged_from"] = []
    for name, summary in sources:
        summary = json.loads(json.dumps(summary))  # the caller's stays as it was
        merged["merged_from"] += summary.get("merged_from") or [
            {"source": name, "runs": len(summary.get("runs", {})), "peer_runs": len(summary.get("peer_runs", {})),
             "last_profile": summary.get("last_profile")}]
        for table in ("runs", "peer_runs"):
            for run_id, record in (summary.get(table) or {}).items():
                key = (table, run_id)
                old = merged.setdefault(table, {}).get(run_id)
                if old is None:
                    merged[table][run_id], seen[key] = record, name
                    continue
                failures = sorted(old.get("failures", []) + record.get("failures", []), key=lambda f: f["at"])
                good = [r for r in (old, record) if r["status"] != "failed"]
                before, after = memory_figures(old), memory_figures(record)
                if len(good) == 2 and before != after:
                    differ = ", ".join(f"{figure} {before[figure]} in {seen[key]}, {after[figure]} in {name}"
                                       for figure in before if before[figure] != after[figure])
                    conflicts.append(f"{run_id} ({differ})")
                    continue
                candidates = good or [old, record]
                newest = max(candidates, key=lambda r: r.get("measured_at") or "")
                seen[key] = name if newest is record else seen[key]
                merged[table][run_id] = {**newest, "failures": failures[-FAILURES_KEPT:]}
        for key, value in summary.items():
            if key in ("schema_version", "runs", "peer_runs", "last_profile", "updated_at", "merged_from"):
                continue
            if isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    if conflicts:
        raise MergeConflict(f"{len(conflicts)} run{'s' * (len(conflicts) != 1)} measured with different memory "
                            f"figures, not merged: {'; '.join(conflicts)}")
    for table in ("runs", "peer_runs"):
        if table in merged:
            merged[table] = dict(sorted(merged[table].items()))
    merged.setdefault("workloads", {})
    merged["updated_at"] = now()
    return merged
