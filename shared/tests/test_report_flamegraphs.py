"""Section 5: each flamegraph link sits beside the figures that differ, and strong and weakref are compared by site."""
import json

import pytest

from graphmem.report import flamegraphs
from graphmem.report import render as report
from graphmem.report.cells import fmt_bytes

STRONG = "cpython-3.11/strong/seed_loop/auto/iterations=50,size=100000"
WEAK = "cpython-3.11/weakref/seed_loop/auto/iterations=50,size=100000"
CORE = "/venv/lib/python3.11/site-packages/dezero/core.py"


def stats(total, forward, line):
    return {
        "total_bytes_allocated": total,
        "top_allocations_by_size": [{"location": f"forward:{CORE}:{line}", "size": forward},
                                    {"location": "seed_loop:/x/shared/graphmem/workloads/__init__.py:29", "size": 10}],
        "top_modules_by_allocation_size": [{"module": "dezero", "num_allocations": 5, "total_bytes": forward}],
    }


@pytest.fixture
def root(tmp_path, summary):
    """A repository root holding stats files for the fixture's strong and weakref seed_loop runs."""
    for run_id, line in ((STRONG, 206), (WEAK, 213)):
        path = tmp_path / summary["runs"][run_id]["files"]["stats"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats(1_000_000, 900_000, line)), encoding="utf-8")
    return tmp_path


def test_memray_locations_read_as_function_file_and_line():
    assert flamegraphs.site(f"forward:{CORE}:206") == ("forward", "dezero/core.py", "206")
    assert flamegraphs.site("seed_loop:/tmp/x/shared/graphmem/workloads/__init__.py:29") == \
        ("seed_loop", "graphmem/workloads/__init__.py", "29")
    assert flamegraphs.site("something odd") == ("something odd", "", "")


def test_the_difference_table_puts_strong_and_weakref_side_by_side(summary, root):
    text = "\n\n".join(flamegraphs.difference_table(summary, root))
    assert "### What differs between the flamegraphs: seed_loop, collector `auto`" in text
    strong_row = next(line for line in text.splitlines() if line.startswith("| peak heap"))
    assert fmt_bytes(summary["runs"][STRONG]["peak_heap_bytes"]) in strong_row
    assert fmt_bytes(summary["runs"][WEAK]["peak_heap_bytes"]) in strong_row
    assert "allocated at `forward` in dezero/core.py, line 206 / 213" in text
    assert "The same lines allocated the same bytes in every policy" in text
    temporal = flamegraphs.report_link(summary["runs"][STRONG]["files"]["temporal_flamegraph"])
    assert f"[temporal]({temporal})" in text


def test_the_reading_follows_the_allocations(summary, root):
    path = root / summary["runs"][WEAK]["files"]["stats"]
    path.write_text(json.dumps(stats(3_000_000, 900_000, 213)), encoding="utf-8")
    text = "\n\n".join(flamegraphs.difference_table(summary, root))
    assert "The same lines allocated the same bytes" not in text
    assert "totals within 5%: no" in text


def test_missing_or_corrupt_stats_are_not_measured(summary, tmp_path, root):
    assert flamegraphs.difference_table(summary, tmp_path / "nowhere")[0].startswith("Not measured:")
    (root / summary["runs"][WEAK]["files"]["stats"]).write_text("{broken", encoding="utf-8")
    assert flamegraphs.read_stats(summary["runs"][WEAK], root) is None
    assert flamegraphs.difference_table(summary, root)[0].startswith("Not measured:")


def test_each_flamegraph_link_sits_beside_its_figures(summary, root):
    summary["runs"][STRONG]["held_bytes_at_return"] = 12_345_678
    text = "\n\n".join(flamegraphs.section_flamegraphs(summary, frozenset(), root))
    row = next(line for line in text.splitlines() if line.startswith(f"| `{STRONG.split('/', 1)[1]}`"))
    assert fmt_bytes(12_345_678) in row and fmt_bytes(900_000) in row
    assert "[flamegraph](" in row and "[temporal](" in row


def test_the_committed_report_compares_the_committed_flamegraphs():
    text = report.REPORT_PATH.read_text(encoding="utf-8")
    section = text[text.index("## 5. Flamegraphs"):text.index("## 6. Reproduce")]
    assert "### What differs between the flamegraphs" in section
    assert "allocated at `forward` in dezero/core.py" in section
