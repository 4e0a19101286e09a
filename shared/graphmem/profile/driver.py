"""The profile driver: every selected (variant, workload, mode, params, budget) in its own process.

    python -m graphmem.profile [--full] [--variant V,...] [--workload W,...] [--mode M,...]
                               [--gc-budget 8MiB,64MiB,...] [--ceiling 1GiB] [--no-sweeps] ...

`nox -s profile -- ARGS` runs this with ARGS. For each selected variant the driver keeps a
virtual environment under --env-dir (`.nox/profile-<variant>`) with that variant and the
profile requirements, rebuilt only when the variant's sources or the requirements change.
Each run is `python -m graphmem.profile.harness` in that environment (see harness.py); its numbers
are merged into reports/summary.json by run id, atomically after every run, so that an
interrupted profile keeps what it measured and a rerun of a subset replaces only its runs.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path

from graphmem.checkout import cpu_name, git
from graphmem.sizes import format_size
from graphmem.atomic_files import write_atomically, write_json_atomically
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
DEFAULT_TIMEOUT = 900  # seconds a single run may take before it is recorded as failed
SCHEMA_VERSION = 1
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

    @property
    def params_dict(self):
        return dict(self.params)

    @property
    def id(self):
        text = f"{self.variant}/{self.workload}/{self.mode}/" + ",".join(f"{k}={v}" for k, v in self.params)
        return text + (f"/budget={self.gc_budget}" if self.gc_budget is not None else "")

    @property
    def file_stem(self):
        stem = f"{self.workload}-{self.mode}"
        if self.kind == "full":
            stem += "-full"
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


def parse_interpreters(values):
    interpreters = {}
    for value in values or []:
        variant, sep, path = value.partition("=")
        if not sep or variant not in VARIANTS:
            raise SelectionError(f"--interpreter takes VARIANT=PATH with VARIANT one of {', '.join(VARIANTS)}, "
                                 f"got {value!r}")
        interpreters[variant] = path
    return interpreters


def argument_parser():
    parser = argparse.ArgumentParser(
        prog="nox -s profile --",
        description="Profile the dezero variants under memray, one process per run; results go to reports/.")
    parser.add_argument("--variant", action="append", help=f"variants to run (default all: {', '.join(VARIANTS)})")
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
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run (default %(default)s)")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports", help="output folder (default reports/)")
    parser.add_argument("--captures", type=Path, default=ROOT / "build" / "memray",
                        help="where raw memray captures (.bin) go; not committed (default build/memray/)")
    parser.add_argument("--env-dir", type=Path, default=ROOT / ".nox",
                        help="where the per-variant environments live (default .nox/)")
    parser.add_argument("--requirement", action="append", default=[],
                        help="a requirement installed into every variant environment (repeatable)")
    parser.add_argument("--interpreter", action="append",
                        help="VARIANT=PATH: use this python (with that variant installed) instead of an environment")
    parser.add_argument("--memory-interval-ms", type=int, default=10, help="memray's snapshot interval")
    return parser


# --- the matrix --------------------------------------------------------------------
def build_matrix(args):
    """Every run the arguments select, in order, without duplicates."""
    variants = choose("variant", args.variant, VARIANTS)
    workloads = choose("workload", args.workload, list(WORKLOADS))
    modes = choose("mode", args.mode, MODES)
    budgets = [parse_size(b) for b in split_names(args.gc_budget)]
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
import dezero
print(json.dumps({"variant": dezero.VARIANT,
                  "python": platform.python_version() + " " + platform.python_implementation(),
                  "numpy": version("numpy"), "memray": version("memray"), "platform": platform.platform(),
                  "PYTHONMALLOC": os.environ.get("PYTHONMALLOC")}))
"""


def probe_interpreter(variant, python):
    """The versions a variant's python runs with; fails clearly unless it has that variant and memray."""
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True)
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = result.stderr.strip().splitlines() or ["no output"]
        raise SelectionError(f"{python} cannot profile variant {variant!r}: {lines[-1]}") from None
    if found.pop("variant") != variant:
        raise SelectionError(f"{python} has another variant of dezero installed, not {variant!r}")
    return found


# --- the summary -------------------------------------------------------------------
def load_summary(path):
    """The summary so far, or a new one; a file that is not a summary is kept aside, not overwritten."""
    if path.exists():
        try:
            summary = json.loads(path.read_text())
            if isinstance(summary, dict) and summary.get("schema_version") == SCHEMA_VERSION:
                summary.setdefault("runs", {})
                return summary
            problem = f"schema_version {summary.get('schema_version')!r}" if isinstance(summary, dict) else "no object"
        except json.JSONDecodeError as error:
            problem = f"not JSON ({error})"
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        os.replace(path, aside)
        print(f"profile: {path} was unreadable ({problem}); kept as {aside}, starting a new summary", flush=True)
    return {"schema_version": SCHEMA_VERSION, "runs": {}}


def validate_summary(summary):
    """Raises jsonschema.ValidationError unless the summary matches summary.schema.json."""
    from graphmem.report.data import schema_validator  # needs jsonschema, which only the driver has

    schema_validator().validate(summary)


def merge_runs(path, runs, command, environment):
    """Merges runs (id -> record) into the summary at `path`, validated, atomically."""
    summary = load_summary(path)
    summary["command"] = command
    summary["updated_at"] = now()
    summary["environment"] = {**summary.get("environment", {}), **environment}
    summary["workloads"] = {
        name: {"description": w.description, "live_set_bound": w.bound_formula, "default_params": w.default_params,
               "full_params": w.full_params}
        for name, w in WORKLOADS.items()}
    summary["runs"].update(runs)
    summary["runs"] = dict(sorted(summary["runs"].items()))
    validate_summary(summary)
    write_json_atomically(path, summary)
    return summary


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def host_environment():
    """What the driver knows about the machine and the checkout; the runs add their interpreter's versions."""
    status = git("status", "--porcelain")
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


def share_inline_assets(html_path, assets_dir):
    """Moves memray's inlined libraries (identical in every page) into assets_dir/<hash>.js|.css.

    `memray flamegraph --no-web` inlines some 4 MB of JavaScript (plotly, d3, jQuery) in every
    page; shared by content hash, each page keeps only its own data and still needs no network.
    """
    html = html_path.read_text(encoding="utf-8")
    relative = os.path.relpath(assets_dir, html_path.parent)

    def replace(match):
        tag, attributes, body = match.groups()
        if len(body) < SHARED_MINIMUM or body.lstrip().startswith("const packed_data"):
            return match.group(0)
        suffix = ".js" if tag == "script" else ".css"
        name = hashlib.sha256(body.encode()).hexdigest()[:16] + suffix
        asset = assets_dir / name
        if not asset.exists():
            assets_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(asset, body)
        if tag == "script":
            return f'<script{attributes} src="{relative}/{name}" charset="utf-8"></script>'
        return f'<link rel="stylesheet" href="{relative}/{name}">'

    write_atomically(html_path, INLINE_BLOCK.sub(replace, html))


def remote_references(html_path):
    """Scripts, styles or frames a page would fetch from the network (none for --no-web pages)."""
    return REMOTE_REFERENCE.findall(html_path.read_text(encoding="utf-8"))


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


# --- running -----------------------------------------------------------------------
def spec_for(run, args, capture):
    out = args.reports / run.variant
    # Sweep points only add numbers to the summary; a page each would bury the ones that matter.
    rendered = run.kind in ("default", "full") and not args.no_flamegraphs
    return {
        "variant": run.variant,
        "workload": run.workload,
        "params": run.params_dict,
        "mode": run.mode,
        "gc_budget": run.gc_budget,
        "ceiling_bytes": args.ceiling,
        "capture": str(capture),
        "memory_interval_ms": args.memory_interval_ms,
        "flamegraph": str(out / f"{run.file_stem}.flamegraph.html") if rendered else None,
        "temporal_flamegraph": str(out / f"{run.file_stem}.temporal.html") if rendered else None,
        "stats": str(out / f"{run.file_stem}.stats.json") if rendered else None,
    }


def execute(run, python, args):
    """Runs one measurement in a fresh process; returns its summary record and the seconds it took."""
    capture = args.captures / run.variant / f"{run.file_stem}-{hashlib.sha1(run.id.encode()).hexdigest()[:8]}.bin"
    spec = spec_for(run, args, capture)
    base = {
        "id": run.id, "variant": run.variant, "workload": run.workload, "mode": run.mode,
        "params": run.params_dict, "gc_budget": run.gc_budget,
        "live_set_bound_bytes": WORKLOADS[run.workload].live_set_bound(run.params_dict),
        "ceiling_bytes": spec["ceiling_bytes"],
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SHARED), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="graphmem-run-") as scratch:
        spec_path, result_path = Path(scratch) / "spec.json", Path(scratch) / "result.json"
        spec_path.write_text(json.dumps(spec))
        started = time.perf_counter()
        try:
            child = subprocess.run([str(python), "-m", "graphmem.profile.harness", str(spec_path), str(result_path)],
                                   cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
            failure = None if child.returncode == 0 and result_path.exists() else describe_failure(child)
        except subprocess.TimeoutExpired:
            failure = f"timed out after {args.timeout:g} s"
        elapsed = time.perf_counter() - started
        if failure:
            return {**base, "status": "failed", "reason": failure, "wall_seconds": None,
                    "measured_at": now(), "files": {}}, elapsed
        result = json.loads(result_path.read_text())
    files = {}
    for key, path in result.pop("files").items():
        path = Path(path)
        if path.suffix == ".html":
            share_inline_assets(path, args.reports / "assets")
            remote = remote_references(path)
            if remote:
                result["reason"] = "; ".join(filter(None, [result["reason"],
                                                           f"{path.name} loads from the network: {remote[0]}"]))
        files[key] = os.path.relpath(path, args.reports.resolve().parent)
    record = {**base, **result, "id": run.id, "files": files, "measured_at": now()}
    return record, elapsed


SESSION_OPTIONS = ("--env-dir", "--requirement")  # what the nox session passes, not its user


def user_command(argv):
    """The command that reproduces these runs: nox's profile session with the user's arguments."""
    user_args, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in SESSION_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in SESSION_OPTIONS)):
            user_args.append(arg)
    return "python3 -m nox -s profile" + (f" -- {shlex.join(user_args)}" if user_args else "")


def describe_failure(child):
    lines = [line for line in (child.stderr or "").strip().splitlines() if line.strip()]
    if child.returncode < 0:
        what = f"killed by signal {-child.returncode}"
    else:
        what = f"exited with status {child.returncode}"
    return f"the run {what}" + (f": {lines[-1].strip()}" if lines else "")


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
    if record["status"] == "ceiling":
        text += f" -- {record['reason']}"
    return text


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = argument_parser().parse_args(argv)
    try:
        runs = build_matrix(args)
        args.ceiling = parse_size(args.ceiling) if args.ceiling else FULL_CEILING if args.full else DEFAULT_CEILING
        interpreters = parse_interpreters(args.interpreter)
        variants = list(dict.fromkeys(run.variant for run in runs))
        environments = {}
        for variant in variants:
            if variant not in interpreters:
                interpreters[variant] = variant_environment(variant, args.env_dir, args.requirement)
            environments[variant] = probe_interpreter(variant, interpreters[variant])
    except SelectionError as error:
        print(f"profile: error: {error}", file=sys.stderr)
        return 2

    args.reports = args.reports.resolve()
    summary_path = args.reports / "summary.json"
    command = user_command(argv)
    # The variants' environments are built from one interpreter, so the first one speaks for all.
    environment = {**host_environment(), **environments[variants[0]]}
    print(f"profile: {len(runs)} runs over {', '.join(variants)}; results merge into {summary_path}", flush=True)
    durations, failed, statuses = [], [], {}
    for index, run in enumerate(runs, 1):
        left = len(runs) - index
        eta = f", ETA {format_duration(sum(durations) / len(durations) * (left + 1))}" if durations else ""
        print(f"[{index}/{len(runs)}] {run.id} ({left} left after this{eta}) ... ", end="", flush=True)
        record, elapsed = execute(run, interpreters[run.variant], args)
        durations.append(elapsed)
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        if record["status"] == "failed":
            failed.append(record)
        print(f"{describe_result(record)} [{elapsed:.1f}s]", flush=True)
        merge_runs(summary_path, {run.id: record}, command, environment)
    prune_assets(args.reports)
    print(f"profile: done in {format_duration(sum(durations))}: "
          + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
          + f"; summary in {summary_path}", flush=True)
    for record in failed:
        print(f"profile: FAILED {record['id']}: {record['reason']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
