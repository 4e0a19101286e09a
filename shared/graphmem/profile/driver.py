"""The profile driver: every selected (interpreter, variant, workload, mode, params, budget, phase) in its own
process.

Beside our variants, the peers (real autograd libraries, graphmem.adapters.PEERS, and any
--adapter of your own) run the same workloads through their adapters, each in an environment
built from its adapter's pins; a peer that cannot install or import is recorded with the reason
and the others go on. The rooms: `cli` (options), `plan` (the run matrix), `environments`
(interpreters), `execute` (one run, checked by `checks`), `pages` (offline HTML) and
graphmem.store (summary.json). This module runs the plan: each finished run's files and record
land together in reports/, under the summary's lock and with interrupts held back, and after the
last run, or on Ctrl-C, COMPARISON.md and its charts are rendered from the merged summary, so the
three always agree; see reports/README.md.
"""
import contextlib
import dataclasses
import os
import signal
import sys
import time

from graphmem import interpreters, store
from graphmem.atomic_files import NotWritable, check_writable, write_atomically
from graphmem.checkout import display_path, now
from graphmem.facts import VARIANTS
from graphmem.markdown import format_duration
from graphmem.profile.cli import argument_parser, checked_options, user_command
from graphmem.profile.environments import (describe_implementations, host_environment, prepare_peers,
                                           probe_interpreter, variant_environment)
from graphmem.profile.execute import Measurement
from graphmem.profile.pages import prune_assets
from graphmem.profile.parsing import SelectionError, parse_interpreters, split_names
from graphmem.profile.plan import (SESSION_LABEL, build_matrix, measured_phases, parallel_estimate, plan_estimate, shard,
                                   workloads_record)
from graphmem.profile.schedule import Scheduler
from graphmem.sizes import format_size
INTERRUPTED = 130  # the shell's exit status for a command ended by SIGINT


def commit(attempt, args, summary_path, extras=None):
    """Moves a good attempt's files into reports/ and merges its record (and `extras`), all under the
    summary's lock, so that a concurrent profile never sees files without their record (the caller
    holds interrupts back)."""
    with store.locked(summary_path):
        for name, body in attempt.assets.items():
            if not (args.reports / "assets" / name).exists():
                write_atomically(args.reports / "assets" / name, body)
        for path, body in attempt.files.items():
            write_atomically(path, body)
        if attempt.capture:  # one capture per run in build/, not one more per profile
            os.replace(*attempt.capture)

        def change(summary):
            store.add_runs(summary, {attempt.record["id"]: attempt.record}, workloads_record())
            if extras:
                store.add_extras(summary, extras, workloads_record())
        return store.update(summary_path, change, say=lambda text: print(text, flush=True))


def with_phase_seconds(done):
    """The finished run's Attempt, its record saying how long its processes took (phase_seconds)."""
    timing = done.attempt.record.get("timing") or {}
    done.attempt.record["phase_seconds"] = {"memory": round(done.memray_seconds, 3),
                                            "timing": round(done.timing_seconds, 3),
                                            "timing_processes": timing.get("processes", 0)}
    return done.attempt


@contextlib.contextmanager
def interrupts_deferred():
    """SIGINT and SIGTERM wait until the block is done, then raise KeyboardInterrupt."""
    received = []
    previous = {number: signal.signal(number, lambda signum, frame: received.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise KeyboardInterrupt


def terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def describe_result(record):
    if record["status"] == "failed":
        return f"FAILED: {record['reason']}"
    peak, arrays = record.get("peak_heap_bytes"), record.get("array_bytes")
    if peak is not None:
        text = f"{record['status']}, peak {format_size(peak)} ({record['peak_ratio_to_bound']:.2f}x bound)"
    else:
        text = f"{record['status']}, without memray"
    if arrays:
        text += f", array bytes peak {format_size(arrays['peak'])}"
    held = record.get("held_bytes_at_return")
    if held:
        text += f", held at return {format_size(held)}"
    wall = (record.get("timing") or {}).get("wall_seconds")
    if wall:
        text += f", wall {wall['median'] * 1000:.0f} ms [{wall['min'] * 1000:.0f}-{wall['max'] * 1000:.0f}]"
    if record["status"] == "ceiling":
        text += f" -- {record['reason']}"
    return text


def progress_line(merged, total, done, record, schedule):
    """`[k/N] <run id>: <result> [memray s + timing s]`, then what is still in flight and the ETA from
    the throughput measured so far."""
    memory = "memory" if record.get("memray_unavailable") else "memray"  # PyPy's memory process runs without it
    seconds = f"{memory} {done.memray_seconds:.1f}s" + (f" + timing {done.timing_seconds:.1f}s"
                                                      if done.timing_seconds else "")
    line = f"[{merged}/{total}] {done.run.id}: {describe_result(record)} [{seconds}]"
    busy = schedule.unfinished()
    if busy:
        line += f"; in progress: {', '.join(busy[:3])}" + (f" and {len(busy) - 3} more" if len(busy) > 3 else "")
    eta = schedule.eta()
    if eta is not None and merged < total:
        line += f"; ETA {format_duration(eta)}"
    return line


def record_profile(summary_path, figures):
    """summary["last_profile"]: what the last complete profile cost (command, times, jobs, parallel share)."""
    with store.locked(summary_path):
        store.update(summary_path, lambda summary: summary.update(last_profile=figures),
                     say=lambda text: print(text, flush=True))


def merge_extras(summary_path, extras):
    """Merges the implementations and their anatomy into the summary, validated, atomically."""
    with store.locked(summary_path):
        store.update(summary_path, lambda summary: store.add_extras(summary, extras, workloads_record()),
                     say=lambda text: print(text, flush=True))


def finish(args, summary_path):
    """Drops unused assets and renders COMPARISON.md and its charts from the merged summary.

    Interrupts wait until it is done: stopped halfway, the report would not match the summary."""
    with interrupts_deferred(), store.locked(summary_path):
        prune_assets(args.reports)
        if not args.no_report:
            from graphmem.report.render import README_PATH, REPORT_PATH, build

            # The repository's own reports/ also rewrite README's result line, from the same summary.
            build(summary_path, args.reports / "COMPARISON.md", bench_path=args.reports / "bench.json",
                  readme_path=README_PATH if args.reports == REPORT_PATH.parent else None)


def chosen_interpreters(args, variants, given):
    """The interpreters our variants run on: {variant: [Interpreter]}, and every one requested (for the summary).

    --python names them (default: graphmem.interpreters.DEFAULTS); a variant given a python with
    --interpreter VARIANT=PATH runs on that one, and on the --python ones only if --python is given."""
    requested = split_names(args.python)
    try:
        own = {variant: interpreters.resolve(given[variant]) for variant in variants if variant in given}
        needed = requested or any(variant not in given for variant in variants)
        chosen = interpreters.resolve_all(requested or None, say=lambda text: print(f"profile: {text}", flush=True)) \
            if needed else []
    except interpreters.InterpreterError as error:
        raise SelectionError(str(error)) from None
    on = {}
    for variant in variants:
        mine = [own[variant]] if variant in own else []
        others = chosen if (requested or variant not in own) else []
        on[variant] = mine + [each for each in others
                              if each.available and each.label not in {m.label for m in mine}]
    return on, [*own.values(), *chosen], own


def prepare_variants(variants, on, own, given, args):
    """({(variant, label): python}, {(variant, label): probe}, {label: why its environment could not be made});
    `own`: {variant: the Interpreter of its --interpreter python, used as it is}."""
    pythons, environments, broken = {}, {}, {}
    for variant in variants:
        for interpreter in on[variant]:
            where = (variant, interpreter.label)
            if own.get(variant) is interpreter:
                pythons[where] = given[variant]
            else:
                try:
                    pythons[where] = variant_environment(variant, args.env_dir, args.requirement, interpreter)
                except SelectionError as error:
                    print(f"profile: {interpreter.label} is left out: {error}", flush=True)
                    broken[interpreter.label] = f"its {variant} environment could not be made: {error}"
                    continue
            environments[where] = probe_interpreter(variant, pythons[where])
    return pythons, environments, broken


def main(argv=None):
    began = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    args = argument_parser().parse_args(argv)
    args.reports = args.reports.resolve()
    try:
        checked_options(args)
        named = build_matrix(args)  # the selection checked before any interpreter is looked for
        variants = list(dict.fromkeys(run.variant for run in named if not run.peer))
        peers = {run.variant: run.peer for run in named if run.peer}
        given = parse_interpreters(args.interpreter, (*VARIANTS, *peers))
        on, requested, own = chosen_interpreters(args, variants, given)
        check_writable([args.reports, args.reports / "assets"])
        summary_path = args.reports / "summary.json"
        with store.locked(summary_path):  # a summary that is not one is set aside now, before anything is measured
            measured = measured_phases(store.summary_for_update(summary_path, say=lambda text: print(text, flush=True)))
        pythons, environments, broken = prepare_variants(variants, on, own, given, args)
        implementations = prepare_peers(peers, args, given, pythons, environments)
        # Each peer runs on the interpreter of its environment (the session's, unless --interpreter says).
        peer_labels = {name: label for name, label in environments if name in peers}
        runs = [dataclasses.replace(run, interpreter=peer_labels[run.variant]) if run.peer else run
                for run in build_matrix(args, {v: [i for i in on[v] if i.label not in broken] for v in variants})
                if not run.peer or run.variant in peer_labels]
        if variants and not any(not run.peer for run in runs):
            raise SelectionError("nothing to run: no selected interpreter is available ("
                                 + "; ".join(f"{i.requested}: {i.reason or broken.get(i.label)}" for i in requested)
                                 + ")")
        runs = shard(runs, args.shard, lambda run: plan_estimate([run], args))
        check_writable(sorted({args.reports / run.interpreter / run.variant for run in runs}))
    except (SelectionError, NotWritable) as error:
        print(f"profile: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nprofile: interrupted before the first run; reports/ is unchanged.", file=sys.stderr)
        return INTERRUPTED

    host, command = host_environment(), user_command(argv)
    provenance = {where: {**host, **{k: v for k, v in found.items() if k != "interpreter"}, "command": command}
                  for where, found in environments.items()}
    listed = interpreters.summary_record(requested)
    for label, reason in broken.items():
        listed[label] = {**listed[label], "available": False, "reason": reason}
    unavailable = [f"{name} ({entry['reason']})" for name, entry in listed.items() if not entry["available"]]
    if unavailable:
        print(f"profile: unavailable, recorded in the summary: {'; '.join(unavailable)}", flush=True)
    variants = list(dict.fromkeys(name for name, _ in environments))
    labels = list(dict.fromkeys(run.interpreter for run in runs))
    timed = sum(run.timed for run in runs)
    print(f"profile: {len(runs)} runs over {', '.join(variants)} on {', '.join(labels)}: each once under memray "
          "for memory (where memray runs)"
          + (f", and {timed} of them {args.timing_processes} times more without memray for times"
             if args.timing_processes and timed else "")
          + f"; about {format_duration(parallel_estimate(runs, args, measured))} with --jobs {args.jobs}"
          + f"; results merge into {summary_path}", flush=True)
    failed, statuses, merged = [], {}, 0
    outcome, runs_or_extras_saved, started_at, setup_seconds = 0, False, None, None
    schedule = Scheduler(runs, lambda run: Measurement(run, pythons[run.where], args, provenance[run.where],
                                                       environments[run.where]["interpreter"]),
                         args.jobs, lambda some: plan_estimate(some, args, measured))
    previous_term = signal.signal(signal.SIGTERM, terminate_as_interrupt)
    try:
        # Which implementations ran and what a dropped graph leaves in each: merged with the first run.
        one_each = {}  # the python each implementation is described with: the session's interpreter's first
        for (name, label), python in sorted(pythons.items(), key=lambda item: item[0][1] != SESSION_LABEL):
            one_each.setdefault(name, python)
        extras = {**describe_implementations(implementations, [v for v in variants if v in VARIANTS], peers,
                                             one_each, args), "interpreters": listed}
        started_at, setup_seconds = now(), time.perf_counter() - began  # environments and anatomy
        with schedule:
            for done in schedule.finished():
                try:
                    with interrupts_deferred():  # files and record land together, and are counted as kept
                        commit(with_phase_seconds(done), args, summary_path, extras)
                        extras = None
                        merged += 1
                except OSError as error:
                    print(f"[{merged + 1}/{len(runs)}] {done.run.id}: NOT SAVED: {error}", flush=True)
                    print(f"profile: error: cannot write {error.filename or args.reports}: {error.strerror or error}; "
                          f"{merged} runs saved before it are in {display_path(summary_path)}", file=sys.stderr)
                    outcome = 1
                    break
                record = done.attempt.record
                statuses[record["status"]] = statuses.get(record["status"], 0) + 1
                if record["status"] == "failed":
                    failed.append(record)
                print(progress_line(merged, len(runs), done, record, schedule), flush=True)
        wall_seconds = schedule.elapsed()
        if extras and outcome == 0:  # no run at all: the implementations are still worth keeping
            with interrupts_deferred():
                merge_extras(summary_path, extras)
                extras = None
                runs_or_extras_saved = True
        if outcome == 0 and merged:
            with interrupts_deferred():
                record_profile(summary_path, {
                    "command": command, "started": started_at, "finished": now(), "jobs": args.jobs,
                    "shard": "/".join(map(str, args.shard)) if args.shard else None,
                    "runs": merged, "wall_seconds": round(wall_seconds, 3), "setup_seconds": round(setup_seconds, 3),
                    "seconds_per_run": round(wall_seconds / merged, 3),
                    "runs_per_minute": round(60 * merged / wall_seconds, 2) if wall_seconds else None,
                    "parallel_share": round(schedule.parallel_share(), 4)})
    except KeyboardInterrupt:
        outcome = INTERRUPTED
    try:
        if merged or runs_or_extras_saved:
            finish(args, summary_path)
    except KeyboardInterrupt:
        outcome = INTERRUPTED
    except (OSError, ImportError) as error:  # ImportError: a python without matplotlib, outside the session
        print(f"profile: error: could not render the report: {error}; {display_path(summary_path)} has every run "
              f"measured, and `python3 -m nox -s report` renders it", file=sys.stderr)
        outcome = outcome or 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    rendered = "" if args.no_report else ", COMPARISON.md and charts re-rendered from it"
    if outcome == INTERRUPTED:
        in_progress = schedule.unfinished()
        kept = (f"kept the {merged} run{'s' * (merged != 1)} finished before it in {display_path(summary_path)}"
                f"{rendered}"
                if merged else f"nothing was saved, {display_path(args.reports)} is unchanged")
        print(f"\nprofile: interrupted: {kept}; {len(runs) - merged} runs not measured"
              + (f" (the {len(in_progress)} in progress, {', '.join(in_progress)}, were discarded)"
                 if len(in_progress) > 1 else f" (the one in progress, {in_progress[0]}, was discarded)"
                 if in_progress else "")
              + f"; rerun `{command}` to measure them", file=sys.stderr, flush=True)
        return INTERRUPTED
    if outcome:
        return outcome
    print(f"profile: done in {format_duration(schedule.elapsed())} with --jobs {args.jobs} "
          f"({schedule.parallel_share():.0%} of it with two or more runs at once): "
          + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
          + f"; summary in {summary_path}{rendered}", flush=True)
    for record in failed:
        print(f"profile: FAILED {record['id']}: {record['reason']}", file=sys.stderr)
    return 1 if failed else 0
