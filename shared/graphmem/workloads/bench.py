"""The bench workloads: plain graph-building functions over an adapter, with no timing code.

Each takes an adapter (`ops`) and leaves made by it, and returns the graph's output.
"""

MIX_PATTERN = ("add", "mul", "sub", "div")  # with a leaf of ones the values stay 1.0 and 2.0


def square_chain(ops, x, functions):
    """x squared `functions` times: a chain, one Function per step."""
    y = x
    for _ in range(functions):
        y = ops.square(y)
    return y


def binary_mix(ops, x, c, functions):
    """y = (((y + c) * c) - c) / c repeated: a chain of binary operators sharing the leaf c."""
    if functions % len(MIX_PATTERN):
        raise ValueError(f"binary_mix needs a multiple of {len(MIX_PATTERN)} Functions, got {functions}")
    add, mul, sub, div = ops.add, ops.mul, ops.sub, ops.div
    y = x
    for _ in range(functions // len(MIX_PATTERN)):
        y = div(sub(mul(add(y, c), c), c), c)
    return y


def branching_width(functions):
    """Squares fanned out from one leaf such that squares plus pairwise adds come to ~functions."""
    return max(1, (functions + 1) // 2)


def branching(ops, x, functions):
    """A wide graph: x feeds many squares at once, summed pairwise: 2*width - 1 Functions."""
    level = [ops.square(x) for _ in range(branching_width(functions))]
    add = ops.add
    while len(level) > 1:
        paired = [add(a, b) for a, b in zip(level[0::2], level[1::2])]
        level = paired + level[len(paired) * 2:]
    return level[0]


def branching_functions(functions):
    """How many Functions `branching` actually records for a requested size."""
    return 2 * branching_width(functions) - 1


# The per-operation expressions: each builder and the leaves it starts from. Zeros for the square
# chain, so that no value or gradient overflows; ones for the mix, whose values stay 1.0 and 2.0.
EXPRESSIONS = {"square_chain": (square_chain, (0.0,)), "binary_mix": (binary_mix, (1.0, 1.0))}


def expression_leaves(ops, expression, shape):
    """Fresh leaves of the given shape for one of EXPRESSIONS."""
    return tuple(ops.leaf(shape, fill) for fill in EXPRESSIONS[expression][1])


def build_expression(ops, expression, leaves, functions):
    """The expression's graph of `functions` Functions over the leaves; returns its output."""
    return EXPRESSIONS[expression][0](ops, *leaves, functions)


GRAPHS = {
    "chain": (lambda ops, x, n: square_chain(ops, x, n), lambda n: n),
    "branching": (branching, branching_functions),
}
