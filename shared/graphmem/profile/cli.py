"""The profile's command line: its options, their defaults, and the command that reproduces a run.

    python -m graphmem.profile [--full] [--python 3.12,pypy3,/path/to/python] [--variant V,...]
                               [--peer P,...] [--adapter FILE.py:Class]
                               [--workload W,...] [--mode M,...]
                               [--gc-budget 8MiB,64MiB,...] [--ceiling 1GiB] [--no-sweeps]
                               [--jobs N] [--shard K/N] ...
"""
import argparse
import os
import shlex
from pathlib import Path

from graphmem.adapters import PEERS
from graphmem.facts import DEFAULT_GC_BUDGET, MODES, ROOT, VARIANTS
from graphmem.interpreters import DEFAULTS as DEFAULT_INTERPRETERS
from graphmem.profile.parsing import SelectionError, parse_size, positive_number
from graphmem.profile.plan import BUDGET_SWEEP_WORKLOAD, DEFAULT_BUDGET_SWEEP
from graphmem.sizes import format_size
from graphmem.workloads import WORKLOADS
DEFAULT_CEILING = 2**30  # enough for strong's 30-fold peaks at the default sizes, small next to 24 GiB
FULL_CEILING = 4 * 2**30  # strong's seed_loop under auto holds about 2 GB at 10^6 elements
DEFAULT_TIMEOUT = 900  # seconds a single process of a run may take before the run is recorded as failed
# Times are compared only from processes without memray: this many per run (at least 5, so that
# non-overlapping ranges of two runs are unlikely to be chance: 2 in 252 for identical distributions).
DEFAULT_TIMING_PROCESSES = 5


def argument_parser():
    parser = argparse.ArgumentParser(
        prog="nox -s profile --",
        description="Profile the dezero variants on each interpreter under memray (where memray runs), one process "
                    "per run; results go to reports/.")
    parser.add_argument("--python", action="append",
                        help="interpreters our variants run on, by name (3.12, python3.12, pypy3: looked up on PATH "
                             "and in pyenv's versions) or by path (default: "
                             f"{', '.join(DEFAULT_INTERPRETERS)}); one that is not found is recorded as unavailable "
                             "with the reason; peers run on this session's interpreter")
    parser.add_argument("--variant", action="append", help=f"variants to run (default all: {', '.join(VARIANTS)})")
    parser.add_argument("--peer", action="append",
                        help=f"peer libraries to run through their adapters, all, or none (default all: {', '.join(PEERS)}); "
                             "naming any --variant, --peer or --adapter runs only what is named")
    parser.add_argument("--adapter", action="append",
                        help="your own implementation: an adapter as path/to/file.py:Class or module:Class "
                             "(see README, 'Profile your own library'); runs like a peer")
    parser.add_argument("--no-anatomy", action="store_true", help="skip the cycle anatomy of each implementation")
    parser.add_argument("--workload", action="append",
                        help=f"workloads to run (default all: {', '.join(WORKLOADS)})")
    parser.add_argument("--mode", action="append", help=f"collector modes (default all: {', '.join(MODES)})")
    parser.add_argument("--gc-budget", action="append",
                        help="gc_only budgets, e.g. 8MiB,64MiB,512MiB: every selected gc_only run at each "
                             f"(default: {format_size(DEFAULT_GC_BUDGET)}, and a sweep of "
                             f"{', '.join(format_size(b) for b in DEFAULT_BUDGET_SWEEP)} on {BUDGET_SWEEP_WORKLOAD})")
    parser.add_argument("--full", action="store_true", help="also run every workload at full size (10^6 elements)")
    parser.add_argument("--no-sweeps", action="store_true", help="only the default parameters, no size, "
                        "iteration or budget sweeps")
    parser.add_argument("--no-flamegraphs", action="store_true",
                        help="numbers only: no flamegraphs or stats files (quicker)")
    parser.add_argument("--params", action="append", help="override workload parameters, e.g. size=1000,iterations=3 "
                        "(implies --no-sweeps)")
    parser.add_argument("--ceiling", help="address space a run may add before it is stopped "
                        f"(default {format_size(DEFAULT_CEILING)}, {format_size(FULL_CEILING)} with --full)")
    parser.add_argument("--timeout", default=str(DEFAULT_TIMEOUT),
                        help="seconds each process of a run may take (default %(default)s)")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports", help="output folder (default reports/)")
    parser.add_argument("--captures", type=Path, default=ROOT / "build" / "memray",
                        help="where raw memray captures (.bin) go; not committed (default build/memray/)")
    parser.add_argument("--env-dir", type=Path, default=ROOT / ".nox",
                        help="where the environments, one per (variant, interpreter), live (default .nox/)")
    parser.add_argument("--requirement", action="append", default=[],
                        help="a requirement installed into every variant environment (repeatable)")
    parser.add_argument("--interpreter", action="append",
                        help="VARIANT=PATH (or PEER=PATH): use this python, which has that variant (or library) "
                             "installed, instead of an environment")
    parser.add_argument("--memory-interval-ms", default="10", help="memray's snapshot interval (default %(default)s)")
    parser.add_argument("--timing-processes", default=str(DEFAULT_TIMING_PROCESSES),
                        help="processes without memray that time each default, full and budget run "
                             "(default %(default)s; 0: no times)")
    parser.add_argument("--logs", type=Path, default=ROOT / "build" / "profile-logs",
                        help="where the output of failed runs is kept; not committed (default build/profile-logs/)")
    parser.add_argument("--no-report", action="store_true",
                        help="do not render COMPARISON.md and the charts at the end (nox -s report does it)")
    throughput_options(parser)
    return parser


# --- throughput: runs side by side, and a slice of the matrix per machine -----------------------
def throughput_options(parser):
    parser.add_argument("--jobs", default=str(os.cpu_count() or 1),
                        help="memray measurements of different runs at once (default: the number of CPUs, "
                             "%(default)s); timing processes always run alone")
    parser.add_argument("--shard", help="K/N: run only the K-th of N deterministic, balanced slices of the matrix "
                                        "(one per machine; `nox -s report -- --merge` joins their summaries)")


def checked_throughput(args):
    """--jobs as a number and --shard as (K, N), or SelectionError naming the bad one."""
    args.jobs = positive_number("--jobs", args.jobs, whole=True)
    if args.shard is None:
        return args
    index, slash, count = args.shard.partition("/")
    if not (slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise SelectionError(f"--shard {args.shard!r}: expected K/N with 1 <= K <= N, e.g. 1/2")
    args.shard = (int(index), int(count))
    return args


SESSION_OPTIONS = ("--env-dir", "--requirement", "--interpreter")  # what the session or a test passes, not its user


def user_command(argv):
    """The command that reproduces these runs: nox's profile session with the user's arguments.

    Left out: what the nox session adds itself, and --interpreter, whose paths are one machine's.
    """
    user_args, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in SESSION_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in SESSION_OPTIONS)):
            user_args.append(arg)
    return "python3 -m nox -s profile" + (f" -- {shlex.join(user_args)}" if user_args else "")


def checked_options(args):
    """The numeric options as numbers, each checked before anything starts (SelectionError names the first bad one)."""
    args.timeout = positive_number("--timeout", args.timeout)
    args.memory_interval_ms = positive_number("--memory-interval-ms", args.memory_interval_ms, whole=True)
    args.timing_processes = positive_number("--timing-processes", args.timing_processes, whole=True, minimum=0)
    args.ceiling = parse_size(args.ceiling) if args.ceiling else FULL_CEILING if args.full else DEFAULT_CEILING
    return checked_throughput(args)
