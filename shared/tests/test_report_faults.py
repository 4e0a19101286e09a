"""`nox -s report` when it cannot write: one `report: error:` line, exit 2, and nothing changed."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from folders import read_only
from graphmem.report import render

SHARED = Path(render.__file__).resolve().parents[2]
FIXTURE = SHARED / "tests" / "fixtures" / "summary-small.json"


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def read_only_reports(tmp_path):
    """reports/ with a summary and an old COMPARISON.md in it, that nobody can write to."""
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "summary.json")
    (folder / "COMPARISON.md").write_text("the previous report\n")
    with read_only(folder):
        yield folder


def test_a_read_only_reports_folder_is_one_error_line_and_nothing_changes(read_only_reports):
    before = digest(read_only_reports)
    result = subprocess.run([sys.executable, "-m", "graphmem.report", "--summary", str(read_only_reports / "summary.json"),
                             "--out", str(read_only_reports / "COMPARISON.md"), "--bench", str(read_only_reports / "none.json")],
                            env={**os.environ, "PYTHONPATH": str(SHARED)}, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("report: error: cannot write to ") and str(read_only_reports) in line, line
    assert digest(read_only_reports) == before, "nothing in reports/ changed"
