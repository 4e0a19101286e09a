"""A bench run: every implementation measured in its own environment, per-operation rounds interleaved.

    python -m graphmem.bench run (--env-dir DIR | --envs DIR) [--quick] [--only NAME ...] [--group GROUP ...] [--out-dir DIR]

With --env-dir it builds (or reuses) the environments under DIR (graphmem.bench.envs, through the
same code as profile); with --envs it reads hand-made records from DIR. It then runs
graphmem.bench.measure in each environment, one process per implementation and group,
interleaving the per-operation rounds across implementations so that drift in the machine's
load falls on all of them alike, and writes bench.json and BENCH.md (graphmem.bench.report).

Only a full run (the full plan, every implementation, every group) is the record: it goes to
reports/. A quick or partial run goes to build/bench-quick/ unless --out-dir says otherwise,
and its report calls itself indicative wherever it is written.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from graphmem.atomic_files import write_json_atomically
from graphmem.bench import plan as plans
from graphmem.bench.envs import build_records, read_records
from graphmem.bench.plan import GROUPS, GROUPS_FOR_KIND, ONLY_FOR, PLANS, RECORD_PLAN, THREAD_VARIABLES, \
    BenchInputError, plan_named, summarize
from graphmem.bench.report import write_report
from graphmem.checkout import cpu_name, git

MEASURE_TIMEOUT_S = 1800


def _run_measure(record, group, plan, parts_dir, label):
    out = Path(parts_dir) / f"{label}.json"
    command = [record["python"], "-m", "graphmem.bench.measure", "--kind", record["kind"],
               "--group", group, "--plan", plan.name, "--out", str(out)]
    print(f"bench: {label} ...", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MEASURE_TIMEOUT_S,
                              env=_measure_environment())
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{group} could not run: {error}"
    if done.returncode != 0:
        # The last line of a traceback is the error itself; it must fit in one table cell of the report.
        last = (done.stderr.strip().splitlines() or ["(no output on stderr)"])[-1].strip()
        return None, f"{group} exited with code {done.returncode}: {last}"
    return json.loads(out.read_text(encoding="utf-8")), None


def _measure_environment():
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_VARIABLES})
    shared = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = shared + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def machine_environment(command="python3 -m nox -s bench"):
    """The machine and checkout a run measured on, and the command that measured it."""
    status = git("status", "--porcelain", "--untracked-files=no", "--", "variants", "shared/graphmem/bench",
                 "shared/graphmem/adapters", "shared/graphmem/workloads")
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": sys.version.split()[0], "git_commit": git("rev-parse", "HEAD"),
            "git_dirty_variants_or_bench": bool(status) if status is not None else None,
            "threads": {**{name: "1" for name in THREAD_VARIABLES}, "torch.set_num_threads": 1},
            "timer": "time.perf_counter_ns", "command": command,
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()]}


def run(records, plan, parts_dir, groups=GROUPS, subset=(), command="python3 -m nox -s bench", log=print):
    """Every available implementation measured, per-operation rounds interleaved; a result dict.

    `groups` may be a subset of GROUPS and `records` a subset of the implementations, described
    in `subset`; the result says whether it is the record (the full plan and no subset).
    """
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    implementations, rows, weakref_costs = {}, {group: [] for group in GROUPS}, []
    for name, record in records.items():
        entry = {"kind": record["kind"], "note": record.get("note")}
        if "unavailable" in record:
            entry.update(status="unavailable", reason=record["unavailable"])
        else:
            entry.update(status="ok", versions={}, peak_rss_mib={}, failures=[])
        implementations[name] = entry
    # Ours first, then the peers, each group in a fixed order.
    runnable = sorted((name for name, entry in implementations.items() if entry["status"] == "ok"),
                      key=lambda name: (records[name]["kind"] != "ours", name))

    def take(name, group, label, round_index=0):
        part, failure = _run_measure(records[name], group, plan, parts_dir, label)
        entry = implementations[name]
        if failure:
            log(f"bench: {name} {failure}")
            entry["failures"].append(failure)
            return
        entry["versions"] = part["versions"]
        entry["peak_rss_mib"][group] = max(entry["peak_rss_mib"].get(group, 0), part["peak_rss_mib"])
        rows[group] += [{"implementation": name, "round": round_index, **row} for row in part["rows"]]
        if "weakref_cost" in part:
            weakref_costs.append({"implementation": name, "round": round_index, **part["weakref_cost"]})

    if "per_op" in groups:
        for round_index in range(plan.rounds):
            shift = round_index % max(1, len(runnable))
            for name in runnable[shift:] + runnable[:shift]:
                take(name, "per_op", f"{name}-per_op-{round_index}", round_index)
    for group in (g for g in GROUPS[1:] if g in groups):
        for name in runnable:
            if group in GROUPS_FOR_KIND[records[name]["kind"]] and name in ONLY_FOR.get(group, (name,)):
                take(name, group, f"{name}-{group}")
    for name in runnable:
        entry = implementations[name]
        if entry["failures"] and not any(r["implementation"] == name for g in rows.values() for r in g):
            entry.update(status="failed", reason="; ".join(dict.fromkeys(entry["failures"])))
    finished = datetime.datetime.now(datetime.timezone.utc)
    environment = machine_environment(command)
    environment["load_average_at_start"] = load_at_start
    subset = list(subset)
    return {"format": "graphmem-bench/2", "plan": asdict(plan), "quick": plan.name != RECORD_PLAN,
            "subset": subset, "record": plan.name == RECORD_PLAN and not subset,
            "started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
            "environment": environment, "implementations": implementations,
            "per_op": _merge_per_op(rows["per_op"]), "weakref_cost": weakref_costs, "scaling": rows["scaling"],
            "collection": rows["collection"], "teardown": rows["teardown"], "profile": rows["profile"],
            "features": rows["features"]}


def _merge_per_op(rows):
    """Rounds of the same implementation and case pooled into one row of samples.

    Each round's own median per Function is kept too: a ratio between two implementations is
    then taken round by round, and its spread over the rounds is the spread between processes.
    """
    merged = {}
    for row in rows:
        key = (row["implementation"], row["expression"], row["shape"], row["phase"])
        round_median = summarize(row["samples_ns"], row["functions"])["median"]
        if key in merged:
            merged[key]["samples_ns"] += row["samples_ns"]
            merged[key]["collections"] += row["collections"]
            merged[key]["rounds"] += 1
            merged[key]["round_medians_ns"][str(row["round"])] = round_median
        else:
            merged[key] = {**{k: v for k, v in row.items() if k != "round"}, "samples_ns": list(row["samples_ns"]),
                           "rounds": 1, "round_medians_ns": {str(row["round"]): round_median}}
    for row in merged.values():
        row["per_function_ns"] = summarize(row["samples_ns"], row["functions"])
    return list(merged.values())



# --- Command line -------------------------------------------------------------------
def select(records, only, groups):
    """The records and groups a run measures, and a description of what it leaves out."""
    subset = []
    if only:
        unknown = sorted(set(only) - set(records))
        if unknown:
            raise BenchInputError(f"--only names {', '.join(unknown)}, which have no environment record; "
                                  f"known: {', '.join(sorted(records))}")
        records = {name: record for name, record in records.items() if name in only}
        subset.append(f"implementations {', '.join(records)} only")
    groups = tuple(g for g in GROUPS if g in groups) if groups else GROUPS
    if groups != GROUPS:
        subset.append(f"groups {', '.join(groups)} only")
    return records, groups, subset


def output_folder(out_dir, plan, subset):
    """Where a run's files go: --out-dir if given, else the record's folder for a full run of
    everything and the scratch folder for any other, so that a quick look never replaces the record."""
    if out_dir is not None:
        return Path(out_dir)
    return plans.RECORD_DIR if plan.name == RECORD_PLAN and not subset else plans.SCRATCH_DIR


def command_line(args):
    """The nox command that reproduces this run, as the report quotes it."""
    options = (["--quick"] if args.quick else []) + ([f"--plan {args.plan}"] if args.plan else []) \
        + [f"--only {name}" for name in args.only or ()] + [f"--group {g}" for g in args.group or ()] \
        + ([f"--out-dir {args.out_dir}"] if args.out_dir is not None else [])
    return "python3 -m nox -s bench" + (" -- " + " ".join(options) if options else "")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m graphmem.bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run")
    run_cmd.add_argument("--quick", action="store_true", help="the one-minute plan (not the record)")
    run_cmd.add_argument("--plan", choices=sorted(PLANS), help="sizes and repetitions (default: full)")
    where = run_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("--env-dir", type=Path, help="build or reuse the environments here (bench-<name>)")
    where.add_argument("--envs", type=Path, help="a folder of environment records, one JSON per implementation")
    run_cmd.add_argument("--only", action="append", metavar="NAME",
                         help="measure this implementation only (repeatable; a subset is not the record)")
    run_cmd.add_argument("--group", action="append", choices=GROUPS,
                         help="measure this group only (repeatable; a subset is not the record)")
    run_cmd.add_argument("--out-dir", type=Path, default=None,
                         help=f"where bench.json, BENCH.md and the chart go (default: {plans.RECORD_DIR} for a "
                              f"full run of everything, else {plans.SCRATCH_DIR})")
    return parser.parse_args(argv)




def records_for(args):
    """The environment records this run measures in: built under --env-dir, or read from --envs."""
    if args.envs is not None:
        return read_records(args.envs)
    names = [name for name in args.only] if args.only else None
    return build_records(args.env_dir, names, say=lambda text: print(text, flush=True))


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        plan = plan_named(args.plan, args.quick)
        records, groups, subset = select(records_for(args), args.only, args.group)
        out_dir = output_folder(args.out_dir, plan, subset)
        print(f"bench: plan {plan.name}, {', '.join(subset) or 'everything'}: writing to {out_dir}"
              + ("" if plan.name == RECORD_PLAN and not subset else " (indicative, not the record)"), flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-parts-") as parts:
            result = run(records, plan, parts, groups, subset, command_line(args))
    except BenchInputError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    json_path = out_dir / "bench.json"
    write_json_atomically(json_path, result)
    written = write_report(result, out_dir)
    for path in (json_path, *written):
        print(f"bench: wrote {path}")
    failed = [n for n, e in result["implementations"].items() if e["status"] == "failed" or e.get("failures")]
    if any(result["implementations"][n]["kind"] == "ours" for n in failed):
        print(f"bench: error: a variant failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
