"""The store's validation: a summary this process wrote is not checked again, and an update checks only
what it adds; anything else on disk is checked in full, so a bad record is refused either way."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from graphmem import store

SMALL = Path(__file__).parent / "fixtures" / "summary-small.json"


@pytest.fixture
def summary_path(tmp_path):
    path = tmp_path / "summary.json"
    shutil.copy(SMALL, path)
    return path


@pytest.fixture
def validated(monkeypatch):
    """How many run records each validation looked at, in order."""
    seen, validate = [], store.validate_summary

    def counting(summary, source="summary"):
        seen.append(len(summary.get("runs", {})) + len(summary.get("peer_runs", {})))
        return validate(summary, source)
    monkeypatch.setattr(store, "validate_summary", counting)
    return seen


def a_record_like(summary, run_id, **changes):
    record = json.loads(json.dumps(next(r for r in summary["runs"].values() if r["status"] == "ok")))
    return {**record, "id": run_id, **changes}


def add(run_id, **changes):
    def change(summary):
        summary["runs"][run_id] = a_record_like(summary, run_id, **changes)
    return change


def test_an_update_checks_every_record_once_then_only_what_it_adds(summary_path, validated):
    records = len(json.loads(SMALL.read_text())["runs"])
    store.update(summary_path, add("cpython-3.11/strong/extra/off/size=1"))
    store.update(summary_path, add("cpython-3.11/strong/extra/off/size=2"))
    # By hand: the first read checks the fixture's records, each update the one record it adds;
    # the second read is of the text the first update wrote.
    assert validated == [records, 1, 1]
    assert len(store.load_summary(summary_path)["runs"]) == records + 2


def test_a_file_changed_by_another_writer_is_checked_in_full(summary_path, validated):
    store.update(summary_path, add("cpython-3.11/strong/extra/off/size=1"))
    summary = json.loads(summary_path.read_text())
    run_id = next(iter(summary["runs"]))
    summary["runs"][run_id]["held_bytes_at_return"] = -5  # as another process (or an editor) might leave it
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    with pytest.raises(store.SummaryError, match="held_bytes_at_return"):
        store.load_summary(summary_path)


def test_an_added_record_of_the_wrong_shape_is_refused_and_nothing_is_written(summary_path):
    store.update(summary_path, add("cpython-3.11/strong/extra/off/size=1"))
    before = hashlib.sha256(summary_path.read_bytes()).hexdigest()
    with pytest.raises(store.SummaryError, match="held_bytes_at_return"):
        store.update(summary_path, add("cpython-3.11/strong/extra/off/size=2", held_bytes_at_return=-5))
    assert hashlib.sha256(summary_path.read_bytes()).hexdigest() == before
