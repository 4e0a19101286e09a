import gc
import os

import dezero
import pytest
from hypothesis import settings

from expectations import SMALL_BUDGET


# CI gets the same examples on every run, so a red build is about the change, not the draw.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_report_header(config):
    return f"dezero variant under test: {dezero.VARIANT} ({dezero.__file__}); policy: {dezero.POLICY}"


@pytest.fixture
def collector_off():
    """The cyclic collector is off for the test body, so only reference counting frees memory."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


@pytest.fixture
def small_budget():
    """A variant with a graph-bytes budget gets SMALL_BUDGET for the test and a fresh count."""
    collector = getattr(dezero, "collector", None)
    if collector is None:
        yield None
        return
    saved = collector.budget
    collector.budget = SMALL_BUDGET
    collector.pending_bytes = 0
    try:
        yield collector
    finally:
        collector.budget = saved
