"""Karpathy's micrograd: scalar `Value`s, so every workload runs on fewer scalars (say so in reports)."""
import sys
import tracemalloc

import numpy as np

from graphmem.adapters import Adapter, Citation

SCALAR_SCALE = 1000  # a workload's `size` elements become size // 1000 Values: 100 at the default 10^5
RECURSION_LIMIT = 100_000  # backward's topological sort recurses once per node of a chain


class MicrogradAdapter(Adapter):
    """micrograd 0.1.0: each op's closure `_backward` captures its output, a cycle per Value."""

    kind = name = "micrograd"
    distribution = module = "micrograd"
    install_steps = (("micrograd==0.1.0", "numpy"),)
    holds_outputs = ("each op stores a closure on its output, out._backward, that refers to out itself; "
                     "backward()'s recursive build_topo closure refers to itself")
    citation = Citation("micrograd.engine", r"out\._backward = _backward")
    advice = ("run gc.collect() after each step (or keep the collector on), or break the closure: "
              "set v._backward = None on every Value once backward is done")
    unsupported = {"no_grad_loop": "micrograd has no no-grad mode: every op records a Value graph"}
    scalar_scale = SCALAR_SCALE
    notes = (f"scalar-only: a workload of `size` float64 elements runs on size // {SCALAR_SCALE} scalar Values "
             "(a numpy object array of Values), and its live-set bound counts one leaf Value per element; "
             f"the recursion limit is raised to {RECURSION_LIMIT} for backward's recursive topological sort")

    def __init__(self):
        from micrograd.engine import Value
        self._value = Value
        self.tensor_types = (Value,)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))

    def variable(self, array):
        values = np.empty(len(array), dtype=object)
        values[:] = [self._value(float(v)) for v in np.ravel(array)]
        return values

    def square(self, x):
        return x ** 2  # its __pow__ Value, element by element

    def backward(self, y):
        for value in np.ravel(y):
            value.backward()

    def value(self, x):
        return np.array([value.data for value in x], dtype=np.float64)

    def gradient(self, x, y=None):
        return np.array([value.grad for value in x], dtype=np.float64)

    def clear_gradient(self, x):
        for value in x:
            value.grad = 0

    def update(self, x, array):
        for value, new in zip(x, array):
            value.data = float(new)
        return x

    def element_bytes(self, count=1000):
        """What one leaf Value with its float costs, measured here (objects differ across Pythons)."""
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            values = [self._value(float(i) + 0.5) for i in range(count)]
            used = tracemalloc.get_traced_memory()[0] - before
        finally:
            if not was_tracing:
                tracemalloc.stop()
        del values
        return max(1, round(used / count))
