"""What the harness's tests may expect of each memory policy: the one table that names variants here.

The live-set bound is the least any correct implementation can hold, so every variant's peak
is at least the bound. Only a policy that frees a dropped graph the moment it is dropped can
be held to the bound from above; the others keep dropped graphs until a collector runs.
"""
from dataclasses import dataclass

import dezero


@dataclass(frozen=True)
class BoundExpectation:
    """How close one policy's peak comes to a workload's live-set bound."""

    peak_at_most: float | None  # multiple of the bound the workload's peak stays within; None: no upper limit


BOUND_EXPECTATIONS = {
    "weakref": BoundExpectation(peak_at_most=1.1),  # reference counting frees each graph when it is dropped
    "strong": BoundExpectation(peak_at_most=None),  # dropped graphs wait for the cyclic collector
    "gc_only": BoundExpectation(peak_at_most=None),  # dropped graphs wait until the byte budget is passed
}

EXPECTED_BOUND = BOUND_EXPECTATIONS[dezero.VARIANT]
