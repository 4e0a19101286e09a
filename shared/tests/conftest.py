"""Fixtures the report tests share: the small summary every report test renders from."""
import copy
from pathlib import Path

import pytest

from graphmem.report.data import load_summary

REPORT_FIXTURE = Path(__file__).parent / "fixtures" / "summary-small.json"


@pytest.fixture(scope="module")
def fixture_summary():
    """The report fixture as loaded and validated; do not change it (use `summary`)."""
    return load_summary(REPORT_FIXTURE)


@pytest.fixture
def summary(fixture_summary):
    """A copy of the report fixture that a test may change."""
    return copy.deepcopy(fixture_summary)

