"""The profile driver: every selected (variant, workload, mode, params, budget) in its own process.

    python -m graphmem.profile [--full] [--variant V,...] [--peer P,...] [--adapter FILE.py:Class]
                               [--workload W,...] [--mode M,...]
                               [--gc-budget 8MiB,64MiB,...] [--ceiling 1GiB] [--no-sweeps] ...

Beside our variants, the peers (real autograd libraries, graphmem.adapters.PEERS, and any
--adapter of your own) run the same workloads through their adapters, each in an environment
built from its adapter's pins (graphmem.adapters.environments); a peer that cannot install or
import is recorded with the reason and the others go on. Their records go to `peer_runs`, and
every implementation's cycle anatomy (graphmem.anatomy) to `anatomy`.

`nox -s profile -- ARGS` runs this with ARGS. For each selected variant the driver keeps a
virtual environment under --env-dir (`.nox/profile-<variant>`) with that variant and the
profile requirements, rebuilt only when the variant's sources or the requirements change.
Each run is `python -m graphmem.profile.harness` in that environment (see harness.py): one
process under memray for memory, then --timing-processes more without memray for the times the
report compares. Each process is in a process group of its own, ended with its run. What a run
leaves is checked (bad data is a failed run, not a crash); a good run's files are moved into
reports/ and its record merged into reports/summary.json by run id, atomically, with interrupts
held back for that moment. A failed attempt is recorded beside the last good record of its run
id, never over it. After the last run, or on Ctrl-C, COMPARISON.md and its charts are rendered
from the merged summary, so the three always agree; see reports/README.md.
"""
import argparse
import contextlib
import datetime
import hashlib
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path

from graphmem import anatomy
from graphmem.adapters import PEERS, UnknownImplementation, adapter_class
from graphmem.adapters.environments import check as check_adapter
from graphmem.adapters.environments import PeerEnvironment, peer_environment
from graphmem.atomic_files import write_atomically, write_json_atomically
from graphmem.checkout import cpu_name, git
from graphmem.profile import processes
from graphmem.sizes import format_size
from graphmem.spread import quartiles
from graphmem.workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT / "shared"
VARIANTS = ("strong", "weakref", "gc_only")
MODES = ("auto", "off")
BUDGETED_VARIANT = "gc_only"  # the one variant whose collector takes a byte budget
DEFAULT_GC_BUDGET = 64 * 2**20  # gc_only's own default; given explicitly so every run id names its budget
DEFAULT_BUDGET_SWEEP = (8 * 2**20, 64 * 2**20, 512 * 2**20)
DEFAULT_CEILING = 2**30  # enough for strong's 30-fold peaks at the default sizes, small next to 24 GiB
FULL_CEILING = 4 * 2**30  # strong's seed_loop under auto holds about 2 GB at 10^6 elements
DEFAULT_TIMEOUT = 900  # seconds a single process of a run may take before the run is recorded as failed
SCHEMA_VERSION = 2
# Times are compared only from processes without memray: this many per run (at least 5, so that
# non-overlapping ranges of two runs are unlikely to be chance: 2 in 252 for identical distributions).
DEFAULT_TIMING_PROCESSES = 5
TIMED_KINDS = ("default", "full", "budget")  # the runs whose times the report prints; sweeps show peaks only
PEER_TIMED_WORKLOAD = "seed_loop"  # a peer's one timed workload: its report row quotes the seed loop's time
FAILURES_KEPT = 10  # failed attempts kept beside a record, newest last
INTERRUPTED = 130  # the shell's exit status for a command ended by SIGINT
# What profiling itself writes: not a change to the code that was measured.
OWN_OUTPUT = ("reports", "build")
UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
         "kib": 2**10, "mib": 2**20, "gib": 2**30}


class SelectionError(ValueError):
    """A bad selection, or an environment that cannot run it: stops the profile before any run."""


@dataclass(frozen=True)
class Sweep:
    """Extra runs of one workload: one parameter over several values, in the given modes."""

    workload: str
    param: str
    values: tuple
    modes: tuple


# The report charts peak against array size (under auto) and held bytes against
# iterations (under off, where strong leaks); the 400-iteration point passes the
# default ceiling in strong, to show a run that stops there.
DEFAULT_SWEEPS = (
    Sweep("seed_loop", "size", (10_000, 30_000, 300_000), ("auto",)),
    Sweep("seed_loop", "iterations", (25, 50, 200, 400), ("auto", "off")),
)
BUDGET_SWEEP_WORKLOAD = "seed_loop"


@dataclass(frozen=True)
class Run:
    """One measurement: what the harness runs in one fresh process."""

    variant: str
    workload: str
    mode: str
    params: tuple  # sorted (name, value) pairs
    gc_budget: int | None
    kind: str  # "default", "full", "sweep" or "budget": default and full runs get flamegraphs
    peer: str | None = None  # a peer's adapter (name or module:Class); `variant` is then its name

    @property
    def params_dict(self):
        return dict(self.params)

    @property
    def id(self):
        text = f"{self.variant}/{self.workload}/{self.mode}/" + ",".join(f"{k}={v}" for k, v in self.params)
        return text + (f"/budget={self.gc_budget}" if self.gc_budget is not None else "")

    @property
    def timed(self):
        # A peer is timed only on the seed loop, the one time its report row quotes.
        return self.kind in TIMED_KINDS and (not self.peer or self.workload == PEER_TIMED_WORKLOAD)

    @property
    def file_stem(self):
        """<workload>-<mode>, plus -full or the parameters when not the defaults, plus gc_only's budget."""
        spec = WORKLOADS[self.workload]
        stem = f"{self.workload}-{self.mode}"
        if self.params_dict == spec.params(spec.full_params) and self.params_dict != spec.params():
            stem += "-full"
        elif self.params_dict != spec.params():
            stem += "-" + "-".join(f"{name}{value}" for name, value in self.params)
        if self.gc_budget is not None and self.gc_budget != DEFAULT_GC_BUDGET:
            stem += f"-budget{format_size(self.gc_budget).replace(' ', '')}"
        return stem


# --- parsing -------------------------------------------------------------------------
def parse_size(text):
    """'8MiB', '512 MiB', '1GiB', '1000000' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise SelectionError(f"{text!r} is not a size; write e.g. 8MiB, 512MiB, 1GiB or a number of bytes "
                             f"(units: {', '.join(u for u in UNITS if u)}, case-insensitive)")
    value = float(match.group(1)) * UNITS[match.group(2).lower()]
    if value < 1 or value != int(value):
        raise SelectionError(f"{text!r} is not a positive whole number of bytes")
    return int(value)


def split_names(values):
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def choose(kind, given, valid):
    """The names given (comma-separated or repeated), each checked against the valid ones."""
    names = split_names(given)
    if not names:
        return list(valid)
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise SelectionError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid {kind}s: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def parse_params(text):
    """'size=1000,iterations=3' -> {'size': 1000, 'iterations': 3}."""
    params = {}
    for item in split_names(text):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SelectionError(f"--params takes name=value pairs, got {item!r}")
        try:
            params[name.strip()] = int(value) if re.fullmatch(r"\s*-?\d+\s*", value) else float(value)
        except ValueError:
            raise SelectionError(f"--params: {name.strip()}={value!r} is not a number") from None
    return params


def parse_interpreters(values, names=VARIANTS):
    interpreters = {}
    for value in values or []:
        variant, sep, path = value.partition("=")
        if not sep or variant not in names:
            raise SelectionError(f"--interpreter takes VARIANT=PATH with VARIANT one of {', '.join(names)}, "
                                 f"got {value!r}")
        interpreters[variant] = path
    return interpreters


def argument_parser():
    parser = argparse.ArgumentParser(
        prog="nox -s profile --",
        description="Profile the dezero variants under memray, one process per run; results go to reports/.")
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
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds each process of a run may take (default %(default)s)")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports", help="output folder (default reports/)")
    parser.add_argument("--captures", type=Path, default=ROOT / "build" / "memray",
                        help="where raw memray captures (.bin) go; not committed (default build/memray/)")
    parser.add_argument("--env-dir", type=Path, default=ROOT / ".nox",
                        help="where the per-variant environments live (default .nox/)")
    parser.add_argument("--requirement", action="append", default=[],
                        help="a requirement installed into every variant environment (repeatable)")
    parser.add_argument("--interpreter", action="append",
                        help="VARIANT=PATH (or PEER=PATH): use this python, which has that variant (or library) "
                             "installed, instead of an environment")
    parser.add_argument("--memory-interval-ms", type=int, default=10, help="memray's snapshot interval")
    parser.add_argument("--timing-processes", type=int, default=DEFAULT_TIMING_PROCESSES,
                        help="processes without memray that time each default, full and budget run "
                             "(default %(default)s; 0: no times)")
    parser.add_argument("--logs", type=Path, default=ROOT / "build" / "profile-logs",
                        help="where the output of failed runs is kept; not committed (default build/profile-logs/)")
    parser.add_argument("--no-report", action="store_true",
                        help="do not render COMPARISON.md and the charts at the end (nox -s report does it)")
    return parser


# --- the matrix --------------------------------------------------------------------
def chosen_peers(args):
    """{name: adapter target} of the peers the arguments select (see --peer and --adapter)."""
    named = bool(args.variant or args.peer or args.adapter)
    given = split_names(args.peer)
    if named and not given:
        names = []
    elif "all" in given or not given:
        names = list(PEERS)
    else:
        names = [name for name in given if name != "none"]
    peers = {name: name for name in choose("peer", names, PEERS)} if names else {}
    for target in args.adapter or []:
        where, _, class_name = target.rpartition(":")
        if where.endswith(".py"):  # the path as the harness will see it, from the repository root
            target = f"{Path(where).resolve()}:{class_name}"
        try:
            name = adapter_class(target).name
        except UnknownImplementation as error:
            raise SelectionError(str(error)) from None
        if name in peers or name in VARIANTS:
            raise SelectionError(f"--adapter {target}: its name {name!r} is taken; give the adapter class its own name")
        peers[name] = target
    return peers


def build_matrix(args):
    """Every run the arguments select, in order, without duplicates."""
    peers = chosen_peers(args)
    named = bool(args.variant or args.peer or args.adapter)
    variants = choose("variant", args.variant, VARIANTS) if args.variant or not named else []
    workloads = choose("workload", args.workload, list(WORKLOADS))
    modes = choose("mode", args.mode, MODES)
    budgets = [parse_size(b) for b in split_names(args.gc_budget)]
    if not variants and not peers:
        raise SelectionError("nothing to run: no variant and no peer selected")
    if budgets and BUDGETED_VARIANT not in variants:
        raise SelectionError(f"--gc-budget applies only to {BUDGETED_VARIANT}, which is not among the selected "
                             f"variants ({', '.join(variants)})")
    overrides = parse_params(args.params)
    sweeps = not (args.no_sweeps or overrides)
    for name in workloads:
        WORKLOADS[name].params({k: v for k, v in overrides.items() if k in WORKLOADS[name].default_params})
    unused = [k for k in overrides if not any(k in WORKLOADS[w].default_params for w in workloads)]
    if unused:
        raise SelectionError(f"--params: no selected workload has parameter(s) {', '.join(unused)}")

    runs = {}

    def add(variant, workload, mode, params, kind, budget_list):
        for budget in budget_list if variant == BUDGETED_VARIANT else [None]:
            run = Run(variant, workload, mode, tuple(sorted(params.items())), budget, kind)
            runs.setdefault(run.id, run)

    for variant in variants:
        base_budgets = budgets or [DEFAULT_GC_BUDGET]
        for workload in workloads:
            spec = WORKLOADS[workload]
            own = {k: v for k, v in overrides.items() if k in spec.default_params}
            for mode in modes:
                add(variant, workload, mode, spec.params(own), "default", base_budgets)
                if args.full:
                    add(variant, workload, mode, spec.params(spec.full_params), "full", base_budgets)
        if not sweeps:
            continue
        for sweep in DEFAULT_SWEEPS:
            if sweep.workload not in workloads:
                continue
            spec = WORKLOADS[sweep.workload]
            for mode in (m for m in sweep.modes if m in modes):
                for value in sweep.values:
                    add(variant, sweep.workload, mode, spec.params({sweep.param: value}), "sweep", base_budgets)
        if not budgets and variant == BUDGETED_VARIANT and BUDGET_SWEEP_WORKLOAD in workloads:
            spec = WORKLOADS[BUDGET_SWEEP_WORKLOAD]
            for mode in modes:
                add(variant, BUDGET_SWEEP_WORKLOAD, mode, spec.params(), "budget", DEFAULT_BUDGET_SWEEP)
    # Peers: the default (and full) parameters of every workload their adapter runs; no sweeps.
    for name, target in peers.items():
        unsupported = adapter_class(target).unsupported
        for workload in (w for w in workloads if w not in unsupported):
            spec = WORKLOADS[workload]
            own = {k: v for k, v in overrides.items() if k in spec.default_params}
            for mode in modes:
                for kind, params in [("default", spec.params(own))] + (
                        [("full", spec.params(spec.full_params))] if args.full else []):
                    run = Run(name, workload, mode, tuple(sorted(params.items())), None, kind, peer=target)
                    runs.setdefault(run.id, run)
    return list(runs.values())


# --- environments ------------------------------------------------------------------
def environment_fingerprint(variant, requirements):
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\n{sorted(requirements)}\n".encode())
    folder = ROOT / "variants" / variant
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and ".egg-info" not in str(p) and "build" not in p.relative_to(folder).parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def variant_environment(variant, env_dir, requirements):
    """The python of `<env_dir>/profile-<variant>`, created or updated when its inputs changed."""
    folder = env_dir / f"profile-{variant}"
    python = folder / "bin" / "python"
    stamp = folder / ".graphmem-profile-stamp"
    fingerprint = environment_fingerprint(variant, requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return python
    print(f"profile: preparing the {variant} environment in {folder}", flush=True)
    stamp.unlink(missing_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                str(ROOT / "variants" / variant), *requirements])
    if installed.returncode != 0:
        raise SelectionError(f"could not install variant {variant!r} and {', '.join(requirements) or 'nothing else'} "
                             f"into {folder} (pip exited with {installed.returncode}; its output is above)")
    stamp.write_text(fingerprint)
    return python


PROBE = """
import json, os, platform, sys
from importlib.metadata import version
try:
    import dezero
except ImportError:
    dezero = None
print(json.dumps({"variant": getattr(dezero, "VARIANT", None),
                  "python": platform.python_version() + " " + platform.python_implementation(),
                  "numpy": version("numpy"), "memray": version("memray"), "platform": platform.platform(),
                  "PYTHONMALLOC": os.environ.get("PYTHONMALLOC")}))
"""


def probe_interpreter(variant, python, peer=False):
    """The versions a variant's (or a peer's) python runs with; fails clearly unless it has that variant and memray."""
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True)
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = result.stderr.strip().splitlines() or ["no output"]
        raise SelectionError(f"{python} cannot profile variant {variant!r}: {lines[-1]}") from None
    if found.pop("variant") != variant and not peer:
        raise SelectionError(f"{python} has another variant of dezero installed, not {variant!r}")
    return found


# --- the summary -------------------------------------------------------------------
def load_summary(path):
    """The summary so far (an older schema migrated), or a new one; a file that is not one is kept aside."""
    from graphmem.report.data import migrate  # one migration, shared with the report

    if path.exists():
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(summary, dict) and summary.get("schema_version") in (1, SCHEMA_VERSION):
                summary = migrate(summary)
                summary.setdefault("runs", {})
                return summary
            problem = f"schema_version {summary.get('schema_version')!r}" if isinstance(summary, dict) else "no object"
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            problem = f"not JSON ({error})"
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        os.replace(path, aside)
        print(f"profile: {path} was unreadable ({problem}); kept as {aside}, starting a new summary", flush=True)
    return {"schema_version": SCHEMA_VERSION, "runs": {}}


def validate_summary(summary):
    """Raises jsonschema.ValidationError unless the summary matches summary.schema.json."""
    from graphmem.report.data import schema_validator  # needs jsonschema, which only the driver has

    schema_validator().validate(summary)


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


def workloads_record():
    return {name: {"description": w.description, "live_set_bound": w.bound_formula,
                   "default_params": w.default_params, "full_params": w.full_params}
            for name, w in WORKLOADS.items()}


def merge_runs(path, records):
    """Merges records (id -> good or failed record) into the summary at `path`, validated, atomically."""
    summary = load_summary(path)
    summary["updated_at"] = now()
    summary["workloads"] = workloads_record()
    for run_id, record in records.items():
        table = summary.setdefault("peer_runs", {}) if record.get("implementation") else summary["runs"]
        table[run_id] = merged_record(table.get(run_id), record)
    summary["runs"] = dict(sorted(summary["runs"].items()))
    if "peer_runs" in summary:
        summary["peer_runs"] = dict(sorted(summary["peer_runs"].items()))
    validate_summary(summary)
    write_json_atomically(path, summary)
    return summary


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def host_environment():
    """What the driver knows about the machine and the checkout; each variant's probe adds its versions.

    The dirty flag ignores what profiling itself writes (reports/, build/), so that a second run
    is not called dirty because of the first one's output.
    """
    status = git("status", "--porcelain", "--", ".", *(f":(exclude){folder}" for folder in OWN_OUTPUT))
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(status) if status is not None else True,
    }


# --- offline HTML ------------------------------------------------------------------
INLINE_BLOCK = re.compile(r"<(script|style)([^>]*)>(.*?)</\1>", re.S)
SHARED_MINIMUM = 16_000  # characters: libraries, not the data of one run
REMOTE_REFERENCE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def shared_assets(html, relative):
    """(page, {asset name: text}): memray's inlined libraries (identical in every page) moved out.

    `memray flamegraph --no-web` inlines some 4 MB of JavaScript (plotly, d3, jQuery) in every
    page; shared by content hash as `<relative>/<hash>.js|.css`, each page keeps only its own
    data and still needs no network.
    """
    assets = {}

    def replace(match):
        tag, attributes, body = match.groups()
        if len(body) < SHARED_MINIMUM or body.lstrip().startswith("const packed_data"):
            return match.group(0)
        name = hashlib.sha256(body.encode()).hexdigest()[:16] + (".js" if tag == "script" else ".css")
        assets[name] = body
        if tag == "script":
            return f'<script{attributes} src="{relative}/{name}" charset="utf-8"></script>'
        return f'<link rel="stylesheet" href="{relative}/{name}">'

    return INLINE_BLOCK.sub(replace, html), assets


def share_inline_assets(html_path, assets_dir):
    """Rewrites one page in place with its libraries in assets_dir (see shared_assets)."""
    page, assets = shared_assets(html_path.read_text(encoding="utf-8"), os.path.relpath(assets_dir, html_path.parent))
    for name, body in assets.items():
        if not (assets_dir / name).exists():
            write_atomically(assets_dir / name, body)
    write_atomically(html_path, page)


def remote_references(html_path):
    """Scripts, styles or frames a page would fetch from the network (none for --no-web pages)."""
    return REMOTE_REFERENCE.findall(Path(html_path).read_text(encoding="utf-8"))


def prune_assets(reports_dir):
    """Deletes shared assets no page under reports_dir refers to any more."""
    assets_dir = reports_dir / "assets"
    if not assets_dir.is_dir():
        return
    used = set()
    for page in reports_dir.rglob("*.html"):
        used.update(re.findall(r"assets/([0-9a-f]{16}\.(?:js|css))", page.read_text(encoding="utf-8")))
    for asset in assets_dir.iterdir():
        if asset.name not in used:
            asset.unlink()


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
    from jsonschema.exceptions import best_match

    from graphmem.report.data import run_validator

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
    record = {**base, **result, "id": run.id, "files": files, "measured_at": now()}
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
    if not isinstance(gc_stats, dict) or not all(isinstance(gc_stats.get(key), list) and len(gc_stats[key]) == 3
                                                 for key in ("runs", "seconds")):
        raise RunFailed(f"{what} reported no collector runs and seconds per generation")
    for generation in range(3):
        number(gc_stats["runs"][generation], "a collector run count", whole=True)
        number(gc_stats["seconds"][generation], "a collector time")
    for key, whole in (("variant_collections", True), ("variant_seconds", False)):
        if gc_stats.get(key) is not None:
            number(gc_stats[key], key, whole)
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
        return gc_stats["seconds"][2] / gc_stats["runs"][2] if gc_stats["runs"][2] else None

    def own_collection(sample):
        gc_stats = sample["gc"]
        if gc_stats.get("variant_collections") and gc_stats.get("variant_seconds") is not None:
            return gc_stats["variant_seconds"] / gc_stats["variant_collections"]
        return None

    def rounded(pick):
        return lambda sample: None if pick(sample) is None else round(pick(sample), 6)

    return {
        "processes": len(samples),
        "memray": False,
        "wall_seconds": per_process(rounded(lambda sample: sample["wall_seconds"])),
        "collector_seconds": per_process(rounded(lambda sample: sum(sample["gc"]["seconds"]))),
        "full_collection_seconds": per_process(rounded(full_pause)),
        "variant_collection_seconds": per_process(rounded(own_collection)),
        "variant_seconds": per_process(rounded(lambda sample: sample["gc"].get("variant_seconds"))),
    }


# --- running -----------------------------------------------------------------------
RENDERED = ("flamegraph", "temporal_flamegraph", "stats")
SUFFIXES = {"flamegraph": ".flamegraph.html", "temporal_flamegraph": ".temporal.html", "stats": ".stats.json"}


def spec_for(run, args, capture, scratch):
    """The harness's spec; memray renders into `scratch`, and only a good run's files reach reports/."""
    # Sweep points only add numbers to the summary; a page each would bury the ones that matter.
    rendered = run.kind in ("default", "full") and not args.no_flamegraphs
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
        **{key: str(scratch / f"{run.file_stem}{SUFFIXES[key]}") if rendered else None for key in RENDERED},
    }


def harness_environment():
    # One malloc arena: glibc reserves 64 MiB of address space for each thread's first arena, and
    # memray's snapshot thread may take one after the ceiling (RLIMIT_AS) is set, eating that much
    # of a run's ceiling at random. Where the bytes live is unchanged; only that reservation goes.
    return {**os.environ, "MALLOC_ARENA_MAX": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SHARED), os.environ.get("PYTHONPATH")]))}


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
        processes.end_group(child)  # on timeout, interrupt or exit: renderers go with their run
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


def execute(run, python, args, provenance):
    """Measures one run (memray, then timing processes); returns an Attempt, failed or good."""
    capture = args.captures / run.variant / f"{run.file_stem}-{hashlib.sha1(run.id.encode()).hexdigest()[:8]}.bin"
    base = {
        "id": run.id, "variant": run.variant, "workload": run.workload, "mode": run.mode,
        "params": run.params_dict, "gc_budget": run.gc_budget,
        "live_set_bound_bytes": WORKLOADS[run.workload].live_set_bound(run.params_dict),
        "ceiling_bytes": args.ceiling, "provenance": provenance,
        **({"implementation": run.variant} if run.peer else {}),
    }
    with tempfile.TemporaryDirectory(prefix="graphmem-run-") as scratch_name, \
            open(Path(scratch_name) / "run.log", "w+b") as log:
        scratch = Path(scratch_name)
        try:
            spec = spec_for(run, args, capture, scratch)
            record = checked_record(run, call_harness(python, spec, scratch, "memray", args.timeout, log), base, spec)
            if run.timed and record["status"] == "ok" and args.timing_processes:
                samples = []
                for number in range(1, args.timing_processes + 1):
                    what = f"timing process {number}"
                    sample = checked_sample(call_harness(python, {**spec, "memray": False}, scratch, str(number),
                                                         args.timeout, log), what)
                    if sample["status"] != "ok":
                        raise RunFailed(f"{what} stopped at the ceiling, where the memray process did not")
                    samples.append(sample)
                record["timing"] = timing_statistics(samples)
            return staged(record, args)
        except RunFailed as failure:
            return Attempt(failed_record(base, str(failure), keep_log(log, run, args)), {}, {})


def staged(record, args):
    """The good record with its files read from the scratch folder, HTML pages sharing their assets."""
    files, assets, reasons = {}, {}, [record["reason"]]
    for key, path in record["files"].items():
        path = Path(path)
        destination = args.reports / record["variant"] / path.name
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
    path = args.logs / run.variant / f"{run.file_stem}-{datetime.datetime.now():%Y%m%dT%H%M%S}.log"
    try:
        write_atomically(path, log.read())
    except OSError:
        return None
    return display_path(path)


def display_path(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def commit(attempt, args, summary_path):
    """Moves a good attempt's files into reports/ and merges its record (the caller holds interrupts back)."""
    for name, body in attempt.assets.items():
        if not (args.reports / "assets" / name).exists():
            write_atomically(args.reports / "assets" / name, body)
    for path, body in attempt.files.items():
        write_atomically(path, body)
    return merge_runs(summary_path, {attempt.record["id"]: attempt.record})


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


class ReportsNotWritable(Exception):
    """reports/ (or a folder in it) cannot be written: stop before measuring anything."""


def check_writable(folders):
    """Writes and removes one small file in each folder (creating it); ReportsNotWritable names the first that fails."""
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".graphmem-write-check-") as probe:
                probe.write(b"x" * 4096)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as error:
            raise ReportsNotWritable(f"cannot write to {folder}: {error.strerror or error}") from None


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


def format_duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def describe_result(record):
    if record["status"] == "failed":
        return f"FAILED: {record['reason']}"
    peak = record.get("peak_heap_bytes")
    text = f"{record['status']}, peak {format_size(peak)} ({record['peak_ratio_to_bound']:.2f}x bound)"
    held = record.get("held_bytes_at_return")
    if held:
        text += f", held at return {format_size(held)}"
    wall = (record.get("timing") or {}).get("wall_seconds")
    if wall:
        text += f", wall {wall['median'] * 1000:.0f} ms [{wall['min'] * 1000:.0f}-{wall['max'] * 1000:.0f}]"
    if record["status"] == "ceiling":
        text += f" -- {record['reason']}"
    return text


# Rough costs on a 2-core machine, for the estimate printed before the first run: a memray process
# (including its renderers), and one timing process; the ETA switches to measured times at once.
ESTIMATED_SECONDS = {"memray": 2.5, "rendered": 2.5, "timing": 0.7}


def plan_estimate(runs, args):
    seconds = 0.0
    for run in runs:
        seconds += ESTIMATED_SECONDS["memray"]
        seconds += ESTIMATED_SECONDS["rendered"] * (run.kind in ("default", "full") and not args.no_flamegraphs)
        seconds += ESTIMATED_SECONDS["timing"] * args.timing_processes * run.timed
    return seconds


def prepare_peers(peers, args, interpreters, environments):
    """Builds or reuses each peer's environment; {name: implementation record}. An unavailable peer
    is recorded with its reason and left out of the runs; it never stops the profile."""
    implementations = {}
    for name, target in peers.items():
        if name in interpreters:  # --interpreter NAME=PATH: a python that has the library already
            description, problem = check_adapter(interpreters[name], target)
            found = PeerEnvironment(name, None if problem else Path(interpreters[name]), description, problem)
        else:
            found = peer_environment(target, args.env_dir, args.requirement, say=lambda text: print(text, flush=True))
        implementations[name] = {"kind": "peer", **found.record(), "checked_at": now()}
        implementations[name].pop("python", None)
        if found.unavailable:
            print(f"profile: peer {name} is unavailable and will not run: {found.unavailable}", flush=True)
            continue
        interpreters[name] = found.python
        environments[name] = probe_interpreter(name, found.python, peer=True)
    return implementations


def describe_implementations(implementations, variants, peers, interpreters, args):
    """Adds our variants' descriptions to the peers' and measures every available implementation's
    cycle anatomy: {"implementations": ..., "anatomy": ...} for merge_extras."""
    for variant in variants:
        description, problem = check_adapter(interpreters[variant], "ours")
        implementations[variant] = {"kind": "ours", "available": problem is None, "reason": problem,
                                    "checked_at": now(), **({"description": description} if description else {})}
    found = {}
    if not args.no_anatomy:
        for name, record in implementations.items():
            if record["available"]:
                print(f"profile: cycle anatomy of {name} ... ", end="", flush=True)
                found[name] = anatomy.measure_in(interpreters[name], peers.get(name, "ours"))
                print(found[name].get("failed") or f"{found[name]['forward']['objects']} objects left for "
                      "the collector per dropped graph", flush=True)
    return {"implementations": implementations, "anatomy": found}


def merge_extras(summary_path, extras):
    """Merges the implementations and their anatomy into the summary, validated, atomically."""
    summary = load_summary(summary_path)
    summary["workloads"] = workloads_record()
    for key, found in extras.items():
        summary[key] = {**summary.get(key, {}), **found}
    validate_summary(summary)
    write_json_atomically(summary_path, summary)


def finish(args, summary_path):
    """Drops unused assets and renders COMPARISON.md and its charts from the merged summary.

    Interrupts wait until it is done: stopped halfway, the report would not match the summary."""
    with interrupts_deferred():
        prune_assets(args.reports)
        if not args.no_report:
            from graphmem.report.render import README_PATH, REPORT_PATH, build

            # The repository's own reports/ also rewrite README's result line, from the same summary.
            build(summary_path, args.reports / "COMPARISON.md", bench_path=args.reports / "bench.json",
                  readme_path=README_PATH if args.reports == REPORT_PATH.parent else None)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = argument_parser().parse_args(argv)
    args.reports = args.reports.resolve()
    try:
        runs = build_matrix(args)
        if args.timing_processes < 0:
            raise SelectionError("--timing-processes must be 0 or more")
        args.ceiling = parse_size(args.ceiling) if args.ceiling else FULL_CEILING if args.full else DEFAULT_CEILING
        variants = list(dict.fromkeys(run.variant for run in runs if not run.peer))
        peers = {run.variant: run.peer for run in runs if run.peer}
        interpreters = parse_interpreters(args.interpreter, (*VARIANTS, *peers))
        check_writable([args.reports, args.reports / "assets", *(args.reports / name for name in [*variants, *peers])])
        environments = {}
        for variant in variants:
            if variant not in interpreters:
                interpreters[variant] = variant_environment(variant, args.env_dir, args.requirement)
            environments[variant] = probe_interpreter(variant, interpreters[variant])
        implementations = prepare_peers(peers, args, interpreters, environments)
        runs = [run for run in runs if not run.peer or run.variant in environments]
    except (SelectionError, ReportsNotWritable) as error:
        print(f"profile: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nprofile: interrupted before the first run; reports/ is unchanged.", file=sys.stderr)
        return INTERRUPTED

    summary_path = args.reports / "summary.json"
    host, command = host_environment(), user_command(argv)
    provenance = {name: {**host, **environments[name], "command": command} for name in environments}
    variants = list(environments)
    timed = sum(run.timed for run in runs)
    print(f"profile: {len(runs)} runs over {', '.join(variants)}: each once under memray for memory"
          + (f", and {timed} of them {args.timing_processes} times more without memray for times"
             if args.timing_processes and timed else "")
          + f"; about {format_duration(plan_estimate(runs, args))}; results merge into {summary_path}", flush=True)
    durations, failed, statuses, merged = [], [], {}, 0
    current, outcome, runs_or_extras_saved = None, 0, False
    previous_term = signal.signal(signal.SIGTERM, terminate_as_interrupt)
    try:
        # Which implementations ran and what a dropped graph leaves in each: merged with the first run.
        extras = describe_implementations(implementations, [v for v in variants if v in VARIANTS], peers,
                                          interpreters, args)
        for index, run in enumerate(runs, 1):
            current = run
            left = len(runs) - index
            # The plan's estimate of what is left, scaled by how the runs so far compared with theirs
            # (a timed default run costs several sweep points, so a plain average would mislead).
            done_estimate = plan_estimate(runs[:index - 1], args)
            eta = (f", ETA {format_duration(plan_estimate(runs[index - 1:], args) * sum(durations) / done_estimate)}"
                   if durations and done_estimate else "")
            print(f"[{index}/{len(runs)}] {run.id} ({left} left after this{eta}) ... ", end="", flush=True)
            started = time.perf_counter()
            attempt = execute(run, interpreters[run.variant], args, provenance[run.variant])
            try:
                with interrupts_deferred():  # files and record land together, and are counted as kept
                    commit(attempt, args, summary_path)
                    if extras:
                        merge_extras(summary_path, extras)
                        extras = None
                    merged, current = merged + 1, None
            except OSError as error:
                print(f"NOT SAVED: {error}", flush=True)
                print(f"profile: error: cannot write {error.filename or args.reports}: {error.strerror or error}; "
                      f"{merged} runs saved before it are in {display_path(summary_path)}", file=sys.stderr)
                outcome = 1
                break
            durations.append(time.perf_counter() - started)
            record = attempt.record
            statuses[record["status"]] = statuses.get(record["status"], 0) + 1
            if record["status"] == "failed":
                failed.append(record)
            print(f"{describe_result(record)} [{durations[-1]:.1f}s]", flush=True)
        if extras and outcome == 0:  # no run at all: the implementations are still worth keeping
            with interrupts_deferred():
                merge_extras(summary_path, extras)
                extras = None
                runs_or_extras_saved = True
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
        kept = (f"kept the {merged} run{'s' * (merged != 1)} finished before it in {display_path(summary_path)}"
                f"{rendered}"
                if merged else f"nothing was saved, {display_path(args.reports)} is unchanged")
        print(f"\nprofile: interrupted: {kept}; {len(runs) - merged} runs not measured"
              + (f" (the one in progress, {current.id}, was discarded)" if current else "")
              + f"; rerun `{command}` to measure them", file=sys.stderr, flush=True)
        return INTERRUPTED
    if outcome:
        return outcome
    print(f"profile: done in {format_duration(sum(durations))}: "
          + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
          + f"; summary in {summary_path}{rendered}", flush=True)
    for record in failed:
        print(f"profile: FAILED {record['id']}: {record['reason']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
