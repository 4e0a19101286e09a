"""The cyclic collector switched off for a region, restored afterwards: used by the contract and bench."""
import contextlib
import gc


@contextlib.contextmanager
def collector_disabled(collect_around=False):
    """gc.disable() for the block; `collect_around` also collects before and after it, so the block
    starts from nothing left over and leaves nothing behind. (On PyPy gc.disable() stops major
    collections only.)"""
    if collect_around:
        gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        if collect_around:
            gc.collect()
