"""Joins the summaries of several machines (one per interpreter or --shard K/N) into one reports/summary.json.

    python -m graphmem.merge a/reports/summary.json b/reports/summary.json ... [--out reports/summary.json]

(`python3 -m nox -s report -- --merge a.json b.json ...` runs this, then renders the report.) The merge
itself is graphmem.store.merge_summaries: every record keeps its own provenance, and two good records of
one run id whose memory figures differ stop the merge, named, with nothing written. The pages a record
names (reports/<implementation>/*.html, stats) are copied from beside each input when they are there;
a summary already at --out that is not an input is kept aside as summary.json.before-merge-<time>.
"""
import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from graphmem import store
from graphmem.checkout import display_path
from graphmem.facts import ROOT


def copy_pages(summary, sources, out):
    """Copies each record's files and the shared assets from beside the input that holds it into
    out's folder; the number copied and the files found nowhere."""
    target_root = out.parent.parent
    copied, missing = 0, []
    for table in ("runs", "peer_runs"):
        for record in (summary.get(table) or {}).values():
            for relative in (record.get("files") or {}).values():
                destination = target_root / relative
                found = [source.parent.parent / relative for source in sources
                         if (source.parent.parent / relative).is_file()]
                if not found:
                    if not destination.is_file():
                        missing.append(relative)
                    continue
                if found[-1].resolve() != destination.resolve():
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(found[-1], destination)
                    copied += 1
    for source in sources:
        assets = source.parent / "assets"
        if assets.is_dir() and assets.resolve() != (out.parent / "assets").resolve():
            shutil.copytree(assets, out.parent / "assets", dirs_exist_ok=True)
    return copied, missing


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m graphmem.merge",
                                     description="Merge summary.json files of several machines or shards into one.")
    parser.add_argument("summaries", nargs="+", type=Path, help="summary.json files, e.g. one per CI job")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "summary.json",
                        help="the merged summary (default reports/summary.json)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out.resolve()
    sources = [path.resolve() for path in args.summaries]
    try:
        loaded = [(display_path(path), store.load_summary(path)) for path in sources]
        merged = store.merge_summaries(loaded)
        store.validate_summary(merged, "the merged summary")
    except store.SummaryError as error:
        print(f"merge: error: {error}", file=sys.stderr)
        return 2
    with store.locked(out):
        if out.exists() and out not in sources:
            aside = out.with_name(f"{out.name}.before-merge-{time.time_ns()}")
            os.replace(out, aside)
            print(f"merge: kept the summary that was at {display_path(out)} as {display_path(aside)}")
        copied, missing = copy_pages(merged, sources, out)
        store.write_summary(out, merged)
    counts = f"{len(merged['runs'])} runs and {len(merged.get('peer_runs', {}))} peer runs"
    print(f"merge: {counts} from {len(sources)} summaries into {display_path(out)}; {copied} pages copied"
          + (f"; {len(missing)} pages named by records were not beside any input (first: {missing[0]})"
             if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
