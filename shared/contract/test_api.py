"""The public API that every variant shares, so a user's script runs unchanged on any of them."""
import ast
from pathlib import Path

import numpy as np
import pytest

import dezero
from dezero import Config, Function, Variable, add, exp, no_grad, square, using_config
from graphmem.facts import VARIANTS, VARIANTS_DIR



def policy_in_the_variants_source():
    """The POLICY line of variants/<VARIANT>/dezero/core.py, read from the folder, not from the import."""
    core = VARIANTS_DIR / dezero.VARIANT / "dezero" / "core.py"
    for node in ast.parse(core.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["POLICY"]:
            return ast.literal_eval(node.value)
    raise LookupError(f"{core} defines no POLICY")


def check_variant(variant):
    # The installed core is the one in variants/<VARIANT>/, and in no other variant's folder.
    installed = Path(dezero.core.__file__).read_text(encoding="utf-8")
    folders = [v for v in VARIANTS if (VARIANTS_DIR / v / "dezero" / "core.py").read_text(encoding="utf-8") == installed]
    assert folders == [variant]


def check_policy(policy):
    assert policy == policy_in_the_variants_source()


def check_config(config):
    assert config.enable_backprop is True
    config.enable_backprop = False
    try:
        assert square(Variable(np.array(3.0))).creator is None
    finally:
        config.enable_backprop = True
    assert square(Variable(np.array(3.0))).creator is not None


def check_using_config(using):
    with using("enable_backprop", False):
        assert Config.enable_backprop is False
        assert exp(Variable(np.array(0.0))).creator is None
    assert Config.enable_backprop is True


def check_no_grad(context):
    with context():
        y = square(Variable(np.array(2.0)))
    assert y.data == 4.0 and y.creator is None


def check_variable(cls):
    data = np.array([1.0, 2.0])
    x = cls(data, name="x")
    assert x.data is data and x.name == "x" and x.grad is None and x.creator is None


def check_function(cls):
    class Triple(cls):
        def forward(self, x):
            return 3 * x

        def backward(self, gy):
            return 3 * gy

    x = Variable(np.array(2.0))
    y = Triple()(x)
    assert y.data == 6.0 and isinstance(y.creator, Triple) and y.creator.inputs == [x]
    y.backward()
    assert x.grad == 3.0


def check_as_variable(convert):
    x = Variable(np.array(1.0))
    assert convert(x) is x
    wrapped = convert(np.array([1.0, 2.0]))
    assert isinstance(wrapped, Variable)
    np.testing.assert_array_equal(wrapped.data, [1.0, 2.0])


def unary(op, value, data, grad):
    """op at `value`: its result and gradient against the hand-computed `data` and `grad`."""
    def check(f):
        x = Variable(np.array(value))
        y = f(x)
        y.backward()
        assert isinstance(y.creator, getattr(dezero, op)), y.creator
        assert y.data == pytest.approx(data) and x.grad == pytest.approx(grad)
    return check


def binary(op, a, b, data, grads):
    def check(f):
        x0, x1 = Variable(np.array(a)), Variable(np.array(b))
        y = f(x0, x1)
        y.backward()
        assert isinstance(y.creator, getattr(dezero, op)), y.creator
        assert y.data == pytest.approx(data)
        assert (x0.grad, x1.grad) == (pytest.approx(grads[0]), pytest.approx(grads[1]))
    return check


def check_numerical_diff(diff):
    assert diff(square, Variable(np.array(3.0))) == pytest.approx(6.0)  # d/dx x^2 at 3
    assert diff(exp, Variable(np.array(0.0))) == pytest.approx(1.0, rel=1e-6)


# Each public name, taken from dezero by that name, does what the book's chapter says it does.
# The expected values are hand computations (the derivatives of the named function).
PUBLIC_BEHAVIOUR = {
    "VARIANT": check_variant,
    "POLICY": check_policy,
    "Config": check_config,
    "using_config": check_using_config,
    "no_grad": check_no_grad,
    "Variable": check_variable,
    "Function": check_function,
    "as_variable": check_as_variable,
    "square": unary("Square", 3.0, 9.0, 6.0),
    "exp": unary("Exp", 1.0, 2.718281828459045, 2.718281828459045),
    "neg": unary("Neg", 2.0, -2.0, -1.0),
    "add": binary("Add", 2.0, 3.0, 5.0, (1.0, 1.0)),
    "mul": binary("Mul", 2.0, 3.0, 6.0, (3.0, 2.0)),
    "sub": binary("Sub", 2.0, 3.0, -1.0, (1.0, -1.0)),
    "div": binary("Div", 2.0, 4.0, 0.5, (0.25, -0.125)),  # d/db a/b = -a/b^2
    "pow": binary("Pow", 2.0, 3.0, 8.0, (12.0, 5.545177444479562)),  # 3*2^2, 2^3*ln 2
    "numerical_diff": check_numerical_diff,
}


@pytest.mark.parametrize("name", PUBLIC_BEHAVIOUR)
def test_public_name_behaves(name):
    assert name in dezero.__all__
    PUBLIC_BEHAVIOUR[name](getattr(dezero, name))


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
