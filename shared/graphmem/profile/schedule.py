"""When each run's processes run: memray measurements of different runs side by side, timing processes alone.

`--jobs N` runs up to N memray processes (each writing its run's flamegraph, temporal and stats files)
at once, one per thread here, each thread waiting on its run's process group. The timing processes,
whose times the report compares, run only when no other run of the pipeline is in flight: runs
whose memray phase is done wait in a queue, and when it is long enough (or nothing else is left to
start) no new memray process starts, the ones in flight finish, and the queued runs are timed one
after another. With --jobs 1 a run is timed right after its memray process, as before.

The driver iterates `Scheduler.finished()`, and commits each finished run in its own (main) thread,
under the summary's lock; an interrupt there or here ends every process group still running
(processes.end_all_groups) and drops the runs not finished, so every finished run is kept.
The scheduler also keeps the figures of the progress line and of summary["last_profile"]: what is
in flight, the throughput measured so far (for the ETA) and the share of time with two or more
runs' processes busy.
"""
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from graphmem.profile import processes
# Runs waiting for their timing processes, per job, before the memray processes stop to let them run:
# fewer means more stops (each leaves cores idle while the last memray processes finish), more means
# more measured memory lost to an interrupt (a run counts as finished only once it is timed).
QUEUED_PER_JOB = 4


@dataclass
class Finished:
    """A run whose measurements are all done: its Attempt and the seconds of each phase."""

    run: object
    attempt: object
    memray_seconds: float
    timing_seconds: float


class Scheduler:
    """Runs `measure(run)` Measurements (graphmem.profile.execute) for every run: see the module's text."""

    def __init__(self, runs, measure, jobs, estimate, clock=time.perf_counter):
        self.runs, self.measure, self.jobs, self.estimate, self.clock = list(runs), measure, jobs, estimate, clock
        self.queue_limit = 1 if jobs == 1 else QUEUED_PER_JOB * jobs
        self.pending = deque(self.runs)
        self.order = {run.id: index for index, run in enumerate(self.runs)}  # finished side by side: plan order
        self.in_flight = {}  # run id -> "memray" or "timing"
        self.queued = []  # Measurements whose memray phase is done, waiting to be timed
        self.done = []  # the runs finished so far
        self.started = self.clock()
        self._busy_since, self._busy = self.started, {}  # processes in flight -> seconds
        self._pool, self._futures, self._timing, self._closed = None, {}, None, False

    # --- the figures -------------------------------------------------------------------
    def _count(self):
        """Adds the time since the last change to the tally of how many runs were in flight."""
        now = self.clock()
        count = len(self.in_flight)
        self._busy[count] = self._busy.get(count, 0.0) + now - self._busy_since
        self._busy_since = now

    def elapsed(self):
        return self.clock() - self.started

    def parallel_share(self):
        """The share of the time so far with two or more runs' processes running at once."""
        self._count()
        total = sum(self._busy.values())
        return sum(seconds for count, seconds in self._busy.items() if count >= 2) / total if total else 0.0

    def eta(self):
        """Seconds left: the plan's estimate of what is not finished, at the throughput measured so far
        (estimated seconds of work finished per second of wall time, whatever the parallelism); None
        before the first run finishes."""
        done = self.estimate(self.done)
        if not done:
            return None
        finished = {run.id for run in self.done}
        left = [run for run in self.runs if run.id not in finished]
        return self.estimate(left) * self.elapsed() / done

    def unfinished(self):
        """The ids of the runs started and not finished (in flight or waiting to be timed), in plan order."""
        started = set(self.in_flight) | {m.run.id for m in self.queued}
        return [run.id for run in self.runs if run.id in started]

    # --- running ----------------------------------------------------------------------
    def _memory(self, run):
        measurement = self.measure(run)
        if self._closed:
            measurement.close()
            return None
        measurement.memory()
        return measurement

    def _finish(self, measurement, memray_seconds, timing_seconds):
        self._count()
        self.in_flight.pop(measurement.run.id, None)
        self.done.append(measurement.run)
        return Finished(measurement.run, measurement.attempt(), memray_seconds, timing_seconds)

    def finished(self):
        """Yields a Finished for each run, as each is done (not in plan order when jobs > 1)."""
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="graphmem-run")
        self.started = self._busy_since = self.clock()  # the figures count from the first run's start
        memray_seconds, draining = {}, False
        try:
            while self.pending or self._futures or self.queued:
                # Once the queue is long enough (or nothing else is left to start), every queued run is timed
                # before the next memray process starts: stopping after each timed run instead would leave
                # the memray processes in flight two at a time only for a moment between timings.
                draining = bool(self.queued) and (draining or len(self.queued) >= self.queue_limit
                                                  or not self.pending)
                while not draining and self.pending and len(self._futures) < self.jobs:
                    run = self.pending.popleft()
                    self._count()
                    self.in_flight[run.id] = "memray"
                    memray_seconds[run.id] = self.clock()
                    self._futures[self._pool.submit(self._memory, run)] = run
                if self._futures:
                    done, _ = wait(self._futures, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: self.order[self._futures[f].id]):
                        run = self._futures.pop(future)
                        measurement = future.result()
                        memray_seconds[run.id] = self.clock() - memray_seconds[run.id]
                        if measurement.wants_times:
                            self._count()
                            self.in_flight.pop(run.id)
                            self.queued.append(measurement)
                        else:
                            yield self._finish(measurement, memray_seconds[run.id], 0.0)
                    continue
                # Nothing else in flight: the first queued run's timing processes, alone. They too start
                # from a thread: this (main) thread only waits, so a signal never lands in its fork.
                measurement = self.queued.pop(0)
                self._count()
                self.in_flight[measurement.run.id] = "timing"
                started = self.clock()
                alone = not self._futures and len(self.in_flight) == 1
                self._timing = (self._pool.submit(measurement.times, alone), measurement)
                wait([self._timing[0]])
                self._timing[0].result()
                self._timing = None
                yield self._finish(measurement, memray_seconds[measurement.run.id], self.clock() - started)
        finally:
            self.close()

    def close(self):
        """Ends every run still in flight (their process groups), drops the queued ones, stops the threads."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            busy = [*self._futures, *([self._timing[0]] if self._timing else [])]
            for future in busy:
                future.cancel()
            # A thread may start its harness just after a kill: kill again until every thread has returned.
            while not all(future.done() for future in busy):
                processes.end_all_groups()  # each thread's harness exits, so its wait returns
                wait(busy, timeout=0.05)
            self._pool.shutdown(wait=True)
            for future in self._futures:
                if not future.cancelled() and future.exception() is None and future.result():
                    future.result().close()
            if self._timing:
                self._timing[1].close()
        for measurement in self.queued:
            measurement.close()
        self._count()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
