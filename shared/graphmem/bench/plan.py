"""What a bench run measures: the groups, shapes and expressions, the sizes of each plan, and where its files go.

Read by the measuring process (graphmem.bench.measure), by the run that drives it
(graphmem.bench.run) and by the report; it imports nothing heavier than the workloads' names.
"""
from dataclasses import dataclass

from graphmem.checkout import ROOT
from graphmem.spread import quartiles
from graphmem.workloads.bench import EXPRESSIONS as EXPRESSION_BUILDS

GROUPS = ("per_op", "scaling", "collection", "teardown", "profile", "features")
# Which groups each kind of implementation runs: the peers only take part in per-operation time;
# the floor is also profiled, to set against weakref's profile.
GROUPS_FOR_KIND = {"ours": GROUPS, "book": ("per_op",), "torch": ("per_op",), "minimal": ("per_op", "profile")}
PEERS = ("minimal", "book", "torch")  # the implementations bench sets against the variants, in report order
PROFILED = ("weakref", "minimal")  # the profile group runs for these implementations only
# Groups that run for some implementations of their kinds only: the profile, and the cost of
# weakref's features (graphmem.bench.features), which sets weakref against the floor.
ONLY_FOR = {"profile": PROFILED, "features": ("weakref",)}
EXPRESSIONS = tuple(EXPRESSION_BUILDS)  # the chain of squares, and the binary mix
# The per-operation inputs: 0-d as every example in the book, (1,), and a mid size where numpy's
# own work starts to count. Labels are the keys of the plans and of the result rows.
SHAPES = {"0-d": (), "(1,)": (1,), "(1000,)": (1000,)}
PHASES = ("forward", "backward", "forward+backward")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class BenchInputError(ValueError):
    """Bad input to the bench: a missing or malformed environment record, plan or file."""


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one bench run."""

    name: str
    per_op_functions: dict  # shape label (a key of SHAPES) -> Functions in the chain
    per_op_repeats: int
    warmup: int
    rounds: int  # per-operation processes per implementation, interleaved across implementations
    scaling_repeats: dict  # graph size in Functions -> repetitions
    collection_repeats: dict  # graph size -> repetitions
    teardown_functions: int
    teardown_repeats: int
    profile_functions: int  # the square chain on 0-d inputs, built and backpropagated under cProfile
    profile_repeats: int


PLANS = {
    "full": Plan("full", {"0-d": 1000, "(1,)": 1000, "(1000,)": 200}, per_op_repeats=20, warmup=3, rounds=5,
                 scaling_repeats={10**3: 15, 10**4: 9, 10**5: 7, 10**6: 4},
                 collection_repeats={10**3: 15, 10**4: 7, 10**5: 3, 10**6: 1},
                 teardown_functions=10**5, teardown_repeats=5, profile_functions=1000, profile_repeats=20),
    "quick": Plan("quick", {"0-d": 400, "(1,)": 400, "(1000,)": 40}, per_op_repeats=5, warmup=1, rounds=2,
                  scaling_repeats={10**3: 5, 10**4: 3, 10**5: 1},
                  collection_repeats={10**3: 3, 10**4: 2, 10**5: 1},
                  teardown_functions=10**5, teardown_repeats=2, profile_functions=400, profile_repeats=5),
    # The smallest sizes, for the test suite: proves the code runs, measures nothing useful.
    "smoke": Plan("smoke", {"0-d": 8, "(1,)": 8, "(1000,)": 4}, per_op_repeats=2, warmup=1, rounds=1,
                  scaling_repeats={10: 2, 100: 1}, collection_repeats={10: 2, 100: 1},
                  teardown_functions=100, teardown_repeats=2, profile_functions=8, profile_repeats=2),
}
RECORD_PLAN = "full"
RECORD_DIR = ROOT / "reports"  # where the record goes: only a full run of everything
SCRATCH_DIR = ROOT / "build" / "bench-quick"  # where every other run goes unless --out-dir says otherwise


def plan_named(name, quick):
    """The plan of `--plan NAME` / `--quick`; BenchInputError when they contradict each other."""
    if quick and name not in (None, "quick"):
        raise BenchInputError(f"--quick contradicts --plan {name}")
    return PLANS["quick" if quick else (name or RECORD_PLAN)]


def summarize(samples_ns, per=1):
    """Median, quartiles and range of samples (ns), each divided by `per`."""
    if not samples_ns:
        raise BenchInputError("no samples to summarize")
    return {**quartiles(s / per for s in samples_ns), "repeats": len(samples_ns)}
