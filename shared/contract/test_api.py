"""The public API that every variant shares, so a user's script runs unchanged on any of them."""
import numpy as np
import pytest

import dezero
from dezero import Config, Function, Variable, add, exp, no_grad, square, using_config

PUBLIC_NAMES = ["VARIANT", "POLICY", "Config", "using_config", "no_grad", "Variable", "Function",
                "as_variable", "square", "exp", "add", "mul", "neg", "sub", "div", "pow",
                "numerical_diff"]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_exported(name):
    assert name in dezero.__all__ and hasattr(dezero, name)


def test_variable_attributes_and_properties():
    data = np.arange(6.0).reshape(2, 3)
    x = Variable(data, name="x")
    assert x.data is data and x.name == "x"
    assert x.grad is None and x.creator is None and x.generation == 0
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert len(x) == 2


def test_variable_accepts_none():
    assert Variable(None).data is None


def test_repr():
    assert repr(Variable(np.array([1.0, 2.0]))) == "variable([1. 2.])"
    assert repr(Variable(np.array([[1, 2], [3, 4]]))) == "variable([[1 2]\n          [3 4]])"
    assert repr(Variable(None)) == "variable(None)"


def test_creator_and_generation():
    x = Variable(np.array(1.0))
    a = square(x)
    b = exp(a)
    y = add(a, b)
    assert isinstance(y.creator, dezero.Add)
    assert (x.generation, a.generation, b.generation, y.generation) == (0, 1, 2, 3)
    assert y.creator.generation == 2
    assert y.creator.inputs == [a, b]


def test_backward_on_a_leaf_sets_ones():
    x = Variable(np.array([1.0, 2.0]))
    x.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_backward_uses_a_preset_output_gradient():
    x = Variable(np.array([1.0, 2.0]))
    y = square(x)
    y.grad = np.array([10.0, 100.0])
    y.backward()
    np.testing.assert_allclose(x.grad, [20.0, 400.0])


def test_gradients_accumulate_out_of_place():
    x = Variable(np.array([1.0, 2.0]))
    y = add(x, x)  # both inputs receive the very same gy array
    y.backward(retain_grad=True)
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])  # not mutated by x's accumulation
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    first = x.grad
    add(x, 1.0).backward()
    np.testing.assert_array_equal(first, [2.0, 2.0])  # the earlier gradient array is untouched


def test_generation_order_runs_a_function_after_all_its_consumers():
    x = Variable(np.array(2.0))
    a = square(x)
    y = add(square(a), exp(square(a)))
    y.backward()
    expected = 4 * 2.0**3 + np.exp(2.0**4) * 4 * 2.0**3
    assert x.grad == pytest.approx(expected)


def test_wide_diamonds_stack():
    x = Variable(np.array(1.5))
    y = x
    for _ in range(20):
        y = add(mul_half(y), mul_half(y))  # each layer is the identity, reached twice
    y.backward()
    assert y.data == pytest.approx(1.5) and x.grad == pytest.approx(1.0)


def mul_half(v):
    return v * 0.5


def test_no_grad_records_no_graph():
    x = Variable(np.array(2.0))
    with no_grad():
        y = square(x)
    assert y.creator is None and y.generation == 0
    assert Config.enable_backprop is True


def test_using_config_restores_on_exception():
    with pytest.raises(RuntimeError):
        with using_config("enable_backprop", False):
            assert Config.enable_backprop is False
            raise RuntimeError("body failed")
    assert Config.enable_backprop is True


def test_using_config_rejects_unknown_setting():
    with pytest.raises(AttributeError, match="no setting 'enable_backprob'"):
        with using_config("enable_backprob", False):
            pass


# --- operators ----------------------------------------------------------------------

A = np.array([1.0, 2.0, 3.0])
B = np.array([0.5, -1.0, 2.0])

OPERATOR_CASES = [
    ("x + y", lambda x, y: x + y),
    ("x - y", lambda x, y: x - y),
    ("x * y", lambda x, y: x * y),
    ("x / y", lambda x, y: x / y),
    ("x ** y", lambda x, y: x ** y),
]


@pytest.mark.parametrize("expression, op", OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES])
@pytest.mark.parametrize("other", [2.0, 3, np.float64(1.5), B], ids=["float", "int", "np-scalar", "ndarray"])
def test_operators_with_constants_on_either_side(expression, op, other):
    x = Variable(A)
    left, right = op(x, other), op(other, x)
    assert isinstance(left, Variable) and isinstance(right, Variable)
    np.testing.assert_allclose(left.data, op(A, other))
    np.testing.assert_allclose(right.data, op(other, A))


def test_operators_between_variables_and_unary_minus():
    x, y = Variable(A), Variable(B)
    np.testing.assert_allclose((-x + y * x - y / x).data, -A + B * A - B / A)
    np.testing.assert_allclose((x ** 2).data, A ** 2)


def test_scalar_broadcast_gradient_sums():
    x = Variable(A)
    c = Variable(np.array(2.0))
    y = x * c + c
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])
    assert c.grad.shape == () and c.grad == pytest.approx(A.sum() + 3)


def test_row_broadcast_gradient_sums():
    x = Variable(np.ones((2, 3)))
    row = Variable(np.array([[1.0, 2.0, 3.0]]))
    (x * row).backward()
    np.testing.assert_allclose(row.grad, [[2.0, 2.0, 2.0]])


# --- several inputs and outputs ----------------------------------------------------

class SplitHalves(Function):
    """Two outputs: the first and second half of a vector."""

    def forward(self, x):
        half = len(x) // 2
        return x[:half], x[half:]

    def backward(self, g_first, g_second):
        return np.concatenate([g_first, g_second])


class WeightedSum3(Function):
    """Three inputs: x0 + 2*x1 + 3*x2."""

    def forward(self, x0, x1, x2):
        return x0 + 2 * x1 + 3 * x2

    def backward(self, gy):
        return gy, 2 * gy, 3 * gy


def test_function_with_several_outputs():
    x = Variable(np.arange(4.0))
    first, second = SplitHalves()(x)
    y = add(square(first), mul_half(second))
    y.backward()
    np.testing.assert_allclose(x.grad, [0.0, 2.0, 0.5, 0.5])


def test_unused_output_counts_as_zero_gradient():
    x = Variable(np.arange(4.0))
    first, second = SplitHalves()(x)
    square(first).backward()  # `second` took no part: its gradient is zero
    np.testing.assert_allclose(x.grad, [0.0, 2.0, 0.0, 0.0])


def test_output_dropped_before_backward_counts_as_zero_gradient():
    x = Variable(np.arange(4.0))
    first, second = SplitHalves()(x)
    del second
    square(first).backward()
    np.testing.assert_allclose(x.grad, [0.0, 2.0, 0.0, 0.0])


def test_function_with_three_inputs():
    xs = [Variable(np.array(float(i))) for i in range(3)]
    y = square(WeightedSum3()(*xs))
    y.backward()
    total = 0 + 2 * 1 + 3 * 2
    assert [x.grad for x in xs] == [2 * total, 4 * total, 6 * total]


def test_ndarray_and_scalar_inputs_become_variables():
    y = add(np.array([1.0, 2.0]), 3)
    np.testing.assert_array_equal(y.data, [4.0, 5.0])
    assert all(isinstance(x, Variable) for x in y.creator.inputs)
