"""The capture's numbers and files, read in the harness's process: the totals equal a count over every
record, and each file is byte for byte what memray's own command writes from the same capture."""
import subprocess
import sys

import memray
import numpy as np
import pytest
from memray import AllocatorType, FileReader

from graphmem.profile.capture import RENDERED, SUFFIXES, read_capture
from graphmem.profile.pages import REMOTE_REFERENCE

COMMANDS = {"flamegraph": ["flamegraph", "--no-web"], "temporal_flamegraph": ["flamegraph", "--temporal", "--no-web"],
            "stats": ["stats", "--json"]}


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("capture") / "run.bin"
    with memray.Tracker(path, native_traces=False, trace_python_allocators=True, memory_interval_ms=1):
        kept = [np.ones(1000 * (i + 1)) for i in range(20)]
        del kept[::2]
        words = [str(i) * 3 for i in range(5000)]
        del kept, words
    return path


def counted_over_every_record(path):
    """Allocations and their bytes, counted record by record (frees left out): how the harness counted
    them before it read memray's statistics."""
    frees = {AllocatorType.FREE, AllocatorType.MUNMAP, AllocatorType.PYMALLOC_FREE}
    count = total = 0
    with FileReader(path) as reader:
        for record in reader.get_allocation_records():
            if record.allocator not in frees:
                count += record.n_allocations
                total += record.size
    return count, total


def test_totals_and_peak_are_memrays_own(capture, tmp_path):
    numbers, written, problems = read_capture(capture, {})
    with FileReader(capture) as reader:
        peak, snapshots = reader.metadata.peak_memory, list(reader.get_memory_snapshots())
    assert (numbers["total_allocations"], numbers["total_bytes_allocated"]) == counted_over_every_record(capture)
    assert numbers["total_allocations"] > 5000
    assert numbers["peak_heap_bytes"] == peak
    assert len(numbers["snapshots"]) == min(len(snapshots), 201) and numbers["snapshots"][0]["t"] >= 0
    assert (written, problems) == ({}, [])


def test_each_file_is_what_memrays_command_writes(capture, tmp_path):
    ours = {key: tmp_path / "ours" / f"run{SUFFIXES[key]}" for key in RENDERED}
    _, written, problems = read_capture(capture, {key: str(path) for key, path in ours.items()})
    assert problems == [] and written == {key: str(path) for key, path in ours.items()}
    for key, arguments in COMMANDS.items():
        theirs = tmp_path / f"theirs{SUFFIXES[key]}"
        subprocess.run([sys.executable, "-m", "memray", *arguments, "-f", "-o", str(theirs), str(capture)],
                       check=True, stdout=subprocess.DEVNULL)
        assert ours[key].read_bytes() == theirs.read_bytes(), key
    page = ours["flamegraph"].read_text(encoding="utf-8")
    assert "<html" in page and not REMOTE_REFERENCE.findall(page)


def test_a_file_that_cannot_be_written_is_named_and_the_numbers_still_come(capture, tmp_path):
    blocker = tmp_path / "blocker"  # a file where the page's folder should be: no folder, even for root
    blocker.write_text("not a folder")
    numbers, written, problems = read_capture(capture, {"flamegraph": str(blocker / "f.html"),
                                                        "stats": str(tmp_path / "s.json")})
    assert list(written) == ["stats"]
    assert len(problems) == 1 and problems[0].startswith("memray's flamegraph reporter failed: FileExistsError")
    assert numbers["total_allocations"] == counted_over_every_record(capture)[0]
