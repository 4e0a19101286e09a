"""The shared workloads: plain functions over an adapter (graphmem.adapters), with no profiling code.

Each takes the adapter (`ops`) first, is seeded, so that two runs allocate the same arrays, and
returns nothing: what the graphs still hold when it returns is what a long-running program would
carry. A graph is recorded by `ops.graph(function, *leaves)` (a plain call for a define-by-run
library; a trace for autograd and jax), so the same code drives every implementation. The
registry `WORKLOADS` says, for each, what it does, its default and full-size parameters, and its
live-set bound: the bytes of array data that any correct implementation must hold at the
workload's worst moment, given what the user's code keeps. Only the harness wraps these
functions (memray, collector settings, ceilings); bench builds its graphs from workloads.bench.
"""
import traceback
import types
from dataclasses import dataclass
from typing import Callable

import numpy as np

from graphmem.workloads.bench import square_chain

FLOAT64_BYTES = 8
SEED = 0
SEED_SQUARES = 3  # the seed's y = square(square(square(x)))


# --- the workloads -----------------------------------------------------------------
def seed_loop(ops, size, iterations):
    """The seed's loop exactly: a new graph each iteration, bound to the same names."""
    np.random.seed(SEED)
    for iteration in range(iterations):
        x = ops.variable(np.random.randn(size))
        y = ops.graph(lambda x: square_chain(ops, x, SEED_SQUARES), x)


def seed_backward(ops, size, iterations):
    """The seed's loop with y.backward() in every iteration."""
    np.random.seed(SEED)
    for iteration in range(iterations):
        x = ops.variable(np.random.randn(size))
        y = ops.graph(lambda x: square_chain(ops, x, SEED_SQUARES), x)
        ops.backward(y)


def deep_chain(ops, size, depth):
    """One graph of `depth` Neg Functions in a row, backward through all of them, then dropped."""
    np.random.seed(SEED)
    x = ops.variable(np.random.randn(size))

    def chain(y):
        for iteration in range(depth):
            y = ops.neg(y)
        return y

    y = ops.graph(chain, x)
    ops.backward(y)


def branching(ops, size, layers, iterations):
    """Stacked diamonds a = add(square(a), square(a)): backward must finish both branches of
    a diamond before the node they share, which only generation order guarantees."""
    np.random.seed(SEED)

    def diamonds(a):
        for layer in range(layers):
            a = ops.add(ops.square(a), ops.square(a))
        return a

    for iteration in range(iterations):
        # Small inputs, so 2a^2 shrinks towards 0 instead of overflowing.
        x = ops.variable(0.1 * np.random.randn(size))
        a = x  # drops the previous graph before the new one is built, as the bound assumes
        a = ops.graph(diamonds, a)
        ops.backward(a)


def rosenbrock_function(x0, x1):
    """The 2-D Rosenbrock function, written with the operators every library overloads."""
    return 100 * (x1 - x0 ** 2) ** 2 + (1 - x0) ** 2


def rosenbrock(ops, size, iterations, lr=0.001):
    """Gradient descent on size independent 2-D Rosenbrock functions, written with the
    operators, with the gradients cleared every step: a real training loop."""
    rng = np.random.default_rng(SEED)
    x0 = ops.variable(rng.uniform(-0.5, 0.5, size))
    x1 = ops.variable(rng.uniform(1.5, 2.5, size))
    for iteration in range(iterations):
        y = ops.graph(rosenbrock_function, x0, x1)
        ops.clear_gradient(x0)
        ops.clear_gradient(x1)
        ops.backward(y)
        x0 = ops.update(x0, ops.value(x0) - lr * ops.gradient(x0, y))
        x1 = ops.update(x1, ops.value(x1) - lr * ops.gradient(x1, y))


def no_grad_loop(ops, size, iterations):
    """The seed's loop under no_grad(): no graph at all, the floor."""
    np.random.seed(SEED)
    with ops.no_grad():
        for iteration in range(iterations):
            x = ops.variable(np.random.randn(size))
            y = square_chain(ops, x, SEED_SQUARES)


# --- live-set bounds ---------------------------------------------------------------
def _arrays(count, size):
    return count * size * FLOAT64_BYTES


def seed_loop_bound(size, iterations):
    # While the new y is made, the old y still holds the old graph (x and three outputs).
    return _arrays(8 if iterations >= 2 else 4, size)


def seed_backward_bound(size, iterations):
    # The old graph's four arrays and the old x.grad, plus the new graph's four.
    # Backward needs less: four data, y.grad and one new gradient.
    return _arrays(9 if iterations >= 2 else 6, size)


def deep_chain_bound(size, depth):
    # y keeps every link: depth + 1 arrays; backward adds y.grad and one new gradient.
    return _arrays(depth + 3, size)


def branching_bound(size, layers, iterations):
    # A graph has x and three arrays per diamond, all kept by a. Making a new x while the
    # old graph (and its x.grad) is alive needs 3 * layers + 4 arrays (randn and 0.1 * randn);
    # so does backward: the data, a diamond's shared gradient and two branch gradients.
    return _arrays(3 * layers + 4, size)


def rosenbrock_bound(size, iterations, lr=0.001):
    # x0, x1 and their gradients, the old step's seven intermediate arrays (y keeps them
    # until it is rebound) and the new step's seven.
    # One step alone: the nine arrays and at most three gradients at once.
    return _arrays(18 if iterations >= 2 else 12, size)


def no_grad_loop_bound(size, iterations):
    # No graph: the old y, the new x and two squares in flight.
    return _arrays(4 if iterations >= 2 else 3, size)


# --- registry ----------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """One workload: its function, parameters, live-set bound and how the harness reads progress."""

    name: str
    function: Callable
    description: str
    default_params: dict
    full_params: dict  # what --full uses: arrays of 10^6 elements
    bound: Callable  # params -> bytes
    bound_formula: str  # the bound in words, for the report
    progress_local: str = "iteration"  # the loop counter in the function's frame
    progress_total: str = "iterations"  # the parameter that counts the loop

    def params(self, overrides=None):
        """Default parameters with overrides, checked: unknown names or bad values are an error."""
        params = dict(self.default_params)
        for key, value in (overrides or {}).items():
            if key not in params:
                raise ValueError(f"workload {self.name!r} has no parameter {key!r}; "
                                 f"its parameters are {', '.join(sorted(params))}")
            params[key] = value
        for key, value in params.items():
            if key == "lr":
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                    raise ValueError(f"workload {self.name!r}: lr must be a positive number, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"workload {self.name!r}: {key} must be a positive integer, got {value!r}")
        return params

    def live_set_bound(self, params):
        return int(self.bound(**self.params(params)))

    def total_iterations(self, params):
        return self.params(params).get(self.progress_total)

    def progress_in(self, tb):
        """The loop counter when an exception left the workload (None if it never looped).

        The counter may live in a function nested in the workload (the graph a library traces).
        """
        codes = code_objects(self.function.__code__)
        for frame, _ in reversed(list(traceback.walk_tb(tb))):
            if frame.f_code in codes and self.progress_local in frame.f_locals:
                return frame.f_locals[self.progress_local]
        return None


def code_objects(code):
    """A code object and every function or lambda defined inside it."""
    found = {code}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found |= code_objects(constant)
    return found


WORKLOADS = {w.name: w for w in [
    Workload(
        "seed_loop", seed_loop,
        "the seed's loop: x = Variable(np.random.randn(size)); y = square(square(square(x))), `iterations` times",
        default_params={"size": 100_000, "iterations": 100},
        full_params={"size": 1_000_000, "iterations": 100},
        bound=seed_loop_bound,
        bound_formula="8 x size x 8 bytes: the previous graph's four arrays (still held by y) plus the new one's four",
    ),
    Workload(
        "seed_backward", seed_backward,
        "the seed's loop with y.backward() in every iteration",
        default_params={"size": 100_000, "iterations": 100},
        full_params={"size": 1_000_000, "iterations": 100},
        bound=seed_backward_bound,
        bound_formula="9 x size x 8 bytes: the previous graph's four arrays and x.grad, plus the new graph's four "
                      "(backward needs only six: four arrays, y.grad and one new gradient)",
    ),
    Workload(
        "deep_chain", deep_chain,
        "one graph of `depth` Neg Functions in a row, backward, then dropped",
        default_params={"size": 10_000, "depth": 1_000},
        full_params={"size": 1_000_000, "depth": 100},
        bound=deep_chain_bound,
        bound_formula="(depth + 3) x size x 8 bytes: the depth + 1 arrays y keeps, plus y.grad and one new gradient",
        progress_total="depth",
    ),
    Workload(
        "branching", branching,
        "`layers` stacked diamonds a = add(square(a), square(a)) with backward, `iterations` times",
        default_params={"size": 10_000, "layers": 20, "iterations": 20},
        full_params={"size": 1_000_000, "layers": 20, "iterations": 5},
        bound=branching_bound,
        bound_formula="(3 x layers + 4) x size x 8 bytes: one graph (x and three arrays per diamond) plus, in "
                      "backward, a diamond's shared gradient and its two branch gradients (the previous graph, "
                      "with x.grad, plus the new x and its unscaled draw is as much)",
    ),
    Workload(
        "rosenbrock", rosenbrock,
        "gradient descent on `size` 2-D Rosenbrock functions with the operators, cleargrad() every step",
        default_params={"size": 100_000, "iterations": 50, "lr": 0.001},
        full_params={"size": 1_000_000, "iterations": 50},
        bound=rosenbrock_bound,
        bound_formula="18 x size x 8 bytes: x0, x1 and their gradients, the previous step's seven intermediate "
                      "arrays (y keeps them until it is rebound) and the new step's seven",
    ),
    Workload(
        "no_grad_loop", no_grad_loop,
        "the seed's loop under no_grad(): no graph is recorded, the floor",
        default_params={"size": 100_000, "iterations": 100},
        full_params={"size": 1_000_000, "iterations": 100},
        bound=no_grad_loop_bound,
        bound_formula="4 x size x 8 bytes: the previous y, the new x and two squares in flight",
    ),
]}
