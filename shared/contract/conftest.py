"""The contract's fixtures, and the one rule for what applies where: a test marked
`@pytest.mark.needs("<field>", ...)` is collected only where every named field of the running row of
expectations.py (variant × interpreter) is true. Elsewhere it is deselected, and the header says why."""
import os

import dezero
import pytest
from hypothesis import settings

from expectations import EXPECTED, SMALL_BUDGET
from graphmem.collector import collector_disabled

# CI gets the same examples on every run, so a red build is about the change, not the draw.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Set by `nox -s test` to ask whether a -k/-m selection matches a test on any row at all.
COLLECT_EVERY_ROW = os.environ.get("GRAPHMEM_CONTRACT_EVERY_ROW") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*fields): collected only where these fields of EXPECTED are true")
    if not config.pluginmanager.hasplugin("memray"):
        # pytest-memray does not exist on PyPy; its tests carry needs("memray") and are not collected there.
        config.addinivalue_line("markers", "limit_memory(limit): pytest-memray's peak bound")
        config.addinivalue_line("markers", "limit_leaks(limit): pytest-memray's leak bound")


def pytest_report_header(config):
    return (f"dezero variant under test: {dezero.VARIANT} ({dezero.__file__}); policy: {dezero.POLICY}\n"
            f"interpreter: {EXPECTED.interpreter.name}; contract row: {EXPECTED}")


def missing_needs(item):
    return [field for mark in item.iter_markers("needs") for field in mark.args if not getattr(EXPECTED, field)]


def pytest_collection_modifyitems(config, items):
    if COLLECT_EVERY_ROW:
        return
    applies = [item for item in items if not missing_needs(item)]
    if len(applies) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if missing_needs(item)])
        items[:] = applies


@pytest.fixture
def collector_off():
    """The cyclic collector is off for the test body and collected around it (on PyPy: major collections)."""
    with collector_disabled(collect_around=True):
        yield


@pytest.fixture
def small_budget():
    """The variant's budget collector with SMALL_BUDGET and a fresh count (tests using it need("budget_collector"))."""
    collector = dezero.collector
    saved = collector.budget
    collector.budget = SMALL_BUDGET
    collector.pending_bytes = 0
    try:
        yield collector
    finally:
        collector.budget = saved


@pytest.fixture
def small_budget_if_any(request):
    """small_budget where the row has a budget collector (a test meant for every row), else None."""
    yield request.getfixturevalue("small_budget") if EXPECTED.budget_collector else None
