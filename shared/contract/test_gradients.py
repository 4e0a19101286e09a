"""Every Function's backward against numerical_diff, alone and in random compositions."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dezero import Variable, add, div, exp, mul, neg, numerical_diff, pow, square, sub

SHAPES = [(), (1,), (5,), (2, 3), (2, 1, 4)]

# Each op with the domain it is smooth on, so central differences are accurate.
UNARY = {"square": (square, -3, 3), "exp": (exp, -3, 3), "neg": (neg, -3, 3)}
BINARY = {
    "add": (add, (-3, 3), (-3, 3)),
    "sub": (sub, (-3, 3), (-3, 3)),
    "mul": (mul, (-3, 3), (-3, 3)),
    "div": (div, (-3, 3), (0.5, 3)),
    "pow": (pow, (0.5, 3), (-2, 2)),
}


def backward_grads(f, *arrays):
    xs = [Variable(a) for a in arrays]
    f(*xs).backward()
    return [x.grad for x in xs]


def assert_matches_numerical(f, arrays):
    """Elementwise f: d sum(f) / d x_i is the central difference of f in x alone."""
    grads = backward_grads(f, *arrays)
    for i, (array, grad) in enumerate(zip(arrays, grads)):
        def f_of_input_i(v, i=i):
            return f(*[v if j == i else Variable(a) for j, a in enumerate(arrays)])
        expected = numerical_diff(f_of_input_i, Variable(array))
        assert grad.shape == array.shape
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_backward_matches_numerical_diff(name, shape):
    f, low, high = UNARY[name]
    rng = np.random.default_rng(0)
    assert_matches_numerical(f, [np.asarray(rng.uniform(low, high, shape))])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_backward_matches_numerical_diff(name, shape):
    f, range0, range1 = BINARY[name]
    rng = np.random.default_rng(1)
    assert_matches_numerical(f, [np.asarray(rng.uniform(*range0, shape)), np.asarray(rng.uniform(*range1, shape))])


def test_numerical_diff_is_central():
    x = Variable(np.array(2.0))
    assert numerical_diff(square, x) == pytest.approx(4.0, abs=1e-8)


# --- random compositions -----------------------------------------------------------

def expressions(depth):
    """Random expression trees over one input X and a constant c, as (text, function of X)."""
    leaf = st.sampled_from([("X", lambda x: x), ("c", lambda x: 0.75)])
    if depth == 0:
        return leaf
    sub_expr = expressions(depth - 1)
    unary = st.tuples(st.sampled_from(sorted(UNARY)), sub_expr).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda x, f=UNARY[t[0]][0], g=t[1][1]: f(g(x))))
    binary = st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), sub_expr, sub_expr).map(
        lambda t: (f"{t[0]}({t[1][0]}, {t[2][0]})",
                   lambda x, f=BINARY[t[0]][0], g=t[1][1], h=t[2][1]: f(g(x), h(x))))
    return st.one_of(leaf, unary, binary)


def _is_well_conditioned(f, x):
    """Finite, moderate values, and no division by zero or overflow along the way."""
    with np.errstate(all="raise"):
        try:
            value = f(Variable(x)).data
            nearby = [f(Variable(np.asarray(x + d))).data for d in (-1e-3, 1e-3)]
        except FloatingPointError:
            return False
    return all(np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e3) for v in [value, *nearby]) \
        and all(np.all(np.abs(v - value) < 1.0) for v in nearby)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    expression=expressions(3),
    x=hnp.arrays(np.float64, st.sampled_from(SHAPES),
                 elements=st.floats(-2, 2).filter(lambda v: abs(v) > 0.1)),
)
def test_random_compositions_match_numerical_diff(expression, x):
    text, f = expression
    assume("X" in text)  # the input takes part
    assume(_is_well_conditioned(f, x))

    def as_variable_output(v):
        y = f(v)
        return y if isinstance(y, Variable) else Variable(np.full_like(v.data, y))

    grad = backward_grads(as_variable_output, x)[0]
    expected = numerical_diff(as_variable_output, Variable(x), eps=1e-6)
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-4, err_msg=text)
