"""Check one adapter in this interpreter and print its description as JSON.

    python -m graphmem.adapters IMPLEMENTATION

The check: the seed's graph y = square(square(square(x))) through the adapter, whose gradient
must be 8 x^7. The profile runs this in each peer's environment before measuring it, so that a
peer whose library or adapter is broken is recorded as unavailable, with this error, not measured.
"""
import json
import sys

import numpy as np

from graphmem.adapters import UnknownImplementation, make_adapter
from graphmem.workloads import SEED_SQUARES
from graphmem.workloads.bench import square_chain

CHECK_POINTS = np.array([0.5, -0.75, 1.25])


def check(implementation):
    """The adapter's description, after its gradient of the seed graph is checked; raises if it is wrong."""
    ops = make_adapter(implementation)
    x = ops.variable(CHECK_POINTS.copy())
    y = ops.graph(lambda x: square_chain(ops, x, SEED_SQUARES), x)
    ops.backward(y)
    got = np.asarray(ops.gradient(x, y), dtype=np.float64)
    expected = 2 ** SEED_SQUARES * CHECK_POINTS ** (2 ** SEED_SQUARES - 1)
    if got.shape != expected.shape or not np.allclose(got, expected):
        raise ValueError(f"the {ops.name} adapter's gradient of x^8 at {CHECK_POINTS.tolist()} is {got.tolist()}, "
                         f"not {expected.tolist()}")
    return ops.describe()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m graphmem.adapters IMPLEMENTATION", file=sys.stderr)
        return 2
    try:
        print(json.dumps(check(argv[0])))
    except (UnknownImplementation, ImportError, ValueError) as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
