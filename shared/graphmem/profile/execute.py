"""Measuring one run: the harness once under memray, then the timing processes, each in a process group
of its own; the result checked and staged (files read into memory) for the driver to commit.

Where memray is absent (PyPy, which memray does not support), the first timing process's result is the
record, which says why it has no memray figures; the collections' iterations of the memray process
(where there is one) are compared with the first timing process's.
"""
import datetime
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graphmem.atomic_files import write_atomically
from graphmem.checkout import display_path, now
from graphmem.facts import ROOT
from graphmem.profile import processes
from graphmem.profile.capture import RENDERED, SUFFIXES
from graphmem.profile.checks import (RunFailed, checked_record, checked_sample, read_result,
                                     timing_statistics)
from graphmem.profile.collector_log import iteration_pairs
from graphmem.profile.environments import memray_unavailable
from graphmem.profile.pages import REMOTE_REFERENCE, shared_assets
from graphmem.store import interpreter_from_provenance
from graphmem.workloads import WORKLOADS


def spec_for(run, args, capture, scratch, memray=True):
    """The harness's spec; memray renders into `scratch`, and only a good run's files reach reports/."""
    # Sweep points only add numbers to the summary; a page each would bury the ones that matter.
    rendered = memray and run.kind in ("default", "full") and not args.no_flamegraphs
    return {
        "variant": run.variant,
        **({"implementation": run.peer} if run.peer else {}),
        "workload": run.workload,
        "params": run.params_dict,
        "mode": run.mode,
        "gc_budget": run.gc_budget,
        "ceiling_bytes": args.ceiling,
        "capture": str(capture),
        "memory_interval_ms": args.memory_interval_ms,
        **({"start_phase": run.start_phase} if run.start_phase is not None else {}),
        **({} if memray else {"memray": False}),
        **{key: str(scratch / f"{run.file_stem}{SUFFIXES[key]}") if rendered else None for key in RENDERED},
    }


def harness_environment():
    # One malloc arena: glibc reserves 64 MiB of address space for each thread's first arena, and
    # memray's snapshot thread may take one after the ceiling (RLIMIT_AS) is set, eating that much
    # of a run's ceiling at random. Where the bytes live is unchanged; only that reservation goes.
    return {**os.environ, "MALLOC_ARENA_MAX": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "shared"), os.environ.get("PYTHONPATH")]))}


def call_harness(python, spec, scratch, label, timeout, log):
    """One harness process in a process group of its own, ended with everything it started; its result."""
    spec_path, result_path = scratch / f"spec-{label}.json", scratch / f"result-{label}.json"
    spec_path.write_text(json.dumps(spec))
    what = "the harness" if label == "memray" else f"timing process {label}"
    log.write(f"--- {what}: {python} -m graphmem.profile.harness\n".encode())
    log.flush()
    child = processes.start([str(python), "-m", "graphmem.profile.harness", str(spec_path), str(result_path)],
                            new_group=True, cwd=ROOT, env=harness_environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        returncode = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{what} timed out after {timeout:g} s") from None
    finally:
        processes.end_group(child)  # on timeout, interrupt or exit: whatever it started goes with it
    if returncode != 0:
        what_happened = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
        raise RunFailed(f"{what} {what_happened}{last_line(log)}")
    return read_result(result_path, what)


def last_line(log):
    """': <the last line the process printed>', read back from its log, or ''."""
    log.flush()
    with open(log.name, "rb") as text:
        lines = [line for line in text.read().decode("utf-8", "replace").splitlines()
                 if line.strip() and not line.startswith("--- ")]
    return f": {lines[-1].strip()[:300]}" if lines else ""


@dataclass
class Attempt:
    """A finished attempt of a run: the record to merge and the files to move into reports/."""

    record: dict
    files: dict  # path under reports/ -> bytes or str
    assets: dict  # asset name -> text
    capture: tuple = None  # a good run's memray capture: (where it was written, where it is kept)


class Measurement:
    """One run between its two phases: the memory process (memray and the files it renders; where memray is
    absent, a process without it), which may run beside other runs' (graphmem.profile.schedule), then the
    timing processes, which run alone. The scratch folder, the log and the record live from the first
    phase to `attempt()`."""

    def __init__(self, run, python, args, provenance, interpreter=None):
        self.run, self.python, self.args = run, python, args
        # Written under a name with the process id, so that two profiles in one checkout never write one
        # file; a good run's capture then replaces the one an earlier profile kept (driver.commit).
        stem = f"{run.file_stem}-{hashlib.sha1(run.id.encode()).hexdigest()[:8]}"
        folder = args.captures / run.interpreter / run.variant
        self.capture, self.kept_capture = folder / f"{stem}-{os.getpid()}.bin", folder / f"{stem}.bin"
        interpreter = interpreter or interpreter_from_provenance(provenance)
        self.without_memray = memray_unavailable({**provenance, "interpreter": interpreter})
        self.base = {
            "id": run.id, "variant": run.variant, "workload": run.workload, "mode": run.mode,
            "params": run.params_dict, "gc_budget": run.gc_budget,
            "live_set_bound_bytes": WORKLOADS[run.workload].live_set_bound(run.params_dict),
            "ceiling_bytes": args.ceiling, "provenance": provenance,
            "interpreter": interpreter,
            **({"implementation": run.variant} if run.peer else {}),
            **({"memray_unavailable": self.without_memray} if self.without_memray else {}),
        }
        self._folder = tempfile.TemporaryDirectory(prefix="graphmem-run-")
        self.scratch = Path(self._folder.name)
        self.log = open(self.scratch / "run.log", "w+b")
        self.spec = spec_for(run, args, self.capture, self.scratch, memray=not self.without_memray)
        self.timing_spec = {**self.spec, "memray": False}
        self.record, self.failure = None, None

    def memory(self):
        """The memory process: the record, or the failure that ends the run. Without memray it is a
        process like a timing one, whose memory figures (the NumPy-bytes counter's) are the record's;
        its time is not one of the timed samples, since it may have run beside another run."""
        try:
            if self.without_memray:
                result = checked_sample(call_harness(self.python, self.timing_spec, self.scratch, "memory",
                                                     self.args.timeout, self.log), "the harness")
            else:
                result = call_harness(self.python, self.spec, self.scratch, "memray", self.args.timeout, self.log)
            self.record = checked_record(self.run, result, self.base, self.spec)
        except RunFailed as failure:
            self.failure = str(failure)

    @property
    def wants_times(self):
        return (self.failure is None and self.run.timed and self.record["status"] == "ok"
                and bool(self.args.timing_processes))

    def times(self, alone):
        """The timing processes, one after another; `alone`: no other run's process ran beside them."""
        if not self.wants_times:
            return
        try:
            samples = []
            for number in range(1, self.args.timing_processes + 1):
                what = f"timing process {number}"
                sample = checked_sample(call_harness(self.python, self.timing_spec, self.scratch, str(number),
                                                     self.args.timeout, self.log), what)
                if sample["status"] != "ok":
                    first = "first" if self.without_memray else "memray"
                    raise RunFailed(f"{what} stopped at the ceiling, where the {first} process did not")
                samples.append(sample)
            self.record["timing"] = {**timing_statistics(samples), "alone": alone}
            if not self.without_memray:
                moved = memray_moved_collections(self.record, samples[0])
                if moved is not None:
                    self.record["timing"]["memray_moved_collections"] = moved
        except RunFailed as failure:
            self.failure = str(failure)

    def attempt(self):
        """The finished Attempt, good or failed, with its files read into memory; the scratch folder goes."""
        try:
            if self.failure is None:
                try:
                    attempt = staged(self.record, self.args)
                    if self.capture.exists():
                        attempt.capture = (self.capture, self.kept_capture)
                    return attempt
                except OSError as error:  # a rendered file vanished from the scratch folder
                    self.failure = f"could not read the run's files: {error}"
            return Attempt(failed_record(self.base, self.failure, keep_log(self.log, self.run, self.args)), {}, {})
        finally:
            self.close()

    def close(self):
        self.log.close()
        self._folder.cleanup()


def execute(run, python, args, provenance, interpreter=None):
    """Measures one run (memory, then timing processes) on its own; returns an Attempt, failed or good."""
    measurement = Measurement(run, python, args, provenance, interpreter)
    try:
        measurement.memory()
        measurement.times(alone=True)
        return measurement.attempt()
    finally:
        measurement.close()


def collections_of(result):
    """Where a process's collections came, as [iteration, generation] pairs: `collection_iterations`, or
    the same read from the harness's `gc.collections` ([generation, arrays before, iteration])."""
    if result.get("collection_iterations") is not None:
        return result["collection_iterations"]
    return iteration_pairs((result.get("gc") or {}).get("collections"))


def memray_moved_collections(record, first_sample):
    """Whether the memray process collected at other iterations than the first timing process, or None
    where either did not record them."""
    under_memray, without = collections_of(record), collections_of(first_sample)
    if under_memray is None or without is None:
        return None
    return under_memray != without


def staged(record, args):
    """The good record with its files read from the scratch folder, HTML pages sharing their assets."""
    files, assets, reasons = {}, {}, [record["reason"]]
    for key, path in record["files"].items():
        path = Path(path)
        destination = args.reports / record["interpreter"]["label"] / record["variant"] / path.name
        if path.suffix == ".html":
            page, page_assets = shared_assets(path.read_text(encoding="utf-8"),
                                              os.path.relpath(args.reports / "assets", destination.parent))
            remote = REMOTE_REFERENCE.findall(page)
            if remote:
                reasons.append(f"{path.name} loads from the network: {remote[0]}")
            files[destination], assets = page, {**assets, **page_assets}
        else:
            files[destination] = path.read_bytes()
        record["files"][key] = os.path.relpath(destination, args.reports.parent)
    record["reason"] = "; ".join(filter(None, reasons)) or None
    return Attempt(record, files, assets)


def failed_record(base, reason, log_path):
    when = now()
    return {**base, "status": "failed", "reason": reason, "wall_seconds": None, "files": {}, "measured_at": when,
            "failure": {"at": when, "reason": reason, "log": log_path}}


def keep_log(log, run, args):
    """Copies a failed attempt's output to --logs (outside reports/); its path, or None if it cannot."""
    log.flush()
    log.seek(0)
    path = args.logs / run.interpreter / run.variant / f"{run.file_stem}-{datetime.datetime.now():%Y%m%dT%H%M%S}.log"
    try:
        write_atomically(path, log.read())
    except OSError:
        return None
    return display_path(path)
