"""Right answers where the book's design gives wrong ones (issue 10): the same in every variant.

Snippets A, B, C and E are the issue's own, verbatim; D (grad mode across threads) is in
test_grad_mode.py, and the dtype rules are also checked on random inputs in test_dtypes.py.
"""
import copy
import pickle

import numpy as np
import pytest

import dezero
from dezero import Variable, add, mul, square


# --- the snippets ------------------------------------------------------------

def test_snippet_a_a_python_scalar_keeps_a_float32_graph_float32():
    x = Variable(np.ones(3, np.float32)); y = x * 2.0; y.backward()
    assert (y.dtype, x.grad.dtype) == (np.float32, np.float32)


def test_snippet_b_a_retained_gradient_is_not_fed_into_the_next_backward():
    x = Variable(np.array(3.0)); h = square(x)
    (h * 2.0).backward(retain_grad=True); x.cleargrad()
    (h * 5.0).backward()
    assert x.grad == 30.0  # PyTorch: 30
    assert h.grad == 2.0  # what the retaining pass left; the second pass did not retain


def test_snippet_c_a_function_instance_refuses_a_second_recorded_call():
    f = dezero.Square(); a, b = Variable(np.array(2.)), Variable(np.array(5.))
    ya = f(a)
    with pytest.raises(RuntimeError, match=r"this Square instance has already recorded a call.*new Square\(\)"):
        f(b)
    ya.backward()
    assert a.grad == 4.0  # the first call's graph is intact


def test_snippet_e_a_node_is_not_copied_without_its_graph():
    x = Variable(np.array(3.))
    with pytest.raises(TypeError, match="cannot copy or pickle the output of Square: only a leaf"):
        copy.deepcopy(square(x))


# --- backward semantics, as in PyTorch -----------------------------------------------

def test_leaf_gradients_accumulate_across_passes():
    x = Variable(np.array(3.0))
    y = square(x)
    y.backward()
    y.backward()  # the graph stays: a second pass adds its own gradient again
    assert x.grad == 12.0


def test_retained_intermediate_gradients_accumulate_across_passes():
    x = Variable(np.array(3.0))
    h = square(x)
    y = h * 2.0
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert h.grad == 4.0 and x.grad == 24.0


def test_without_retain_grad_intermediate_gradients_are_neither_kept_nor_touched():
    x = Variable(np.array(3.0))
    h = square(x)
    (h * 2.0).backward()
    assert h.grad is None
    h.grad = np.array(100.0)
    (h * 5.0).backward()
    assert h.grad == 100.0 and x.grad == 12.0 + 30.0


def test_the_pass_starts_from_a_preset_gradient_or_ones_and_keeps_it_on_request():
    x = Variable(np.array(3.0))
    y = square(x)
    y.backward(retain_grad=True)
    assert y.grad == 1.0  # the seed, not the seed plus itself
    y.backward(retain_grad=True)  # starts from the retained ones, again
    assert y.grad == 1.0 and x.grad == 12.0


def test_backward_on_a_leaf_twice_accumulates_as_in_pytorch():
    x = Variable(np.array([1.0, 2.0]))
    x.backward()
    x.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])  # PyTorch: [2., 2.] (issue 19)


def test_zero_dimensional_gradients_stay_ndarrays_after_accumulation():
    x = Variable(np.array(2.0))
    y = add(mul(x, x), x)  # x receives two gradients in one pass
    y.backward()
    y.backward()  # and accumulates across passes
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 10.0


def test_inplace_data_update_between_forward_and_backward_uses_the_new_data():
    """As in the book (optimizers write x.data in place): backward reads the inputs' data as
    they are when it runs, so the gradient is the one at the updated value."""
    x = Variable(np.array(2.0))
    y = square(x)
    x.data -= 1.0
    y.backward()
    assert y.data == 4.0 and x.grad == 2.0  # 2 * 1.0, not 2 * 2.0


def test_zero_to_the_zero_has_a_zero_base_gradient():
    base, exponent = Variable(np.array(0.0)), Variable(np.array(0.0))
    y = base ** exponent
    y.backward()
    assert y.data == 1.0 and base.grad == 0.0 and exponent.grad == 0.0  # PyTorch: 0 and 0
    x = Variable(np.array([0.0, 2.0]))
    (x ** 0).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


@pytest.mark.parametrize("name, expected", [("y", "Variable 'y'"), (None, "the output of Square")])
def test_a_preset_gradient_of_the_wrong_shape_names_the_output(name, expected):
    y = square(Variable(np.ones(3)))
    y.name = name
    y.grad = np.ones(2)
    with pytest.raises(ValueError, match=rf"the grad preset on {expected} has shape \(2,\), "
                                         rf"but its data has shape \(3,\)"):
        y.backward()


def test_a_preset_gradient_that_is_no_array_is_a_clear_error():
    y = square(Variable(np.ones(3), name="x"))
    y.grad = [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="the grad preset on the output of Square is a list"):
        y.backward()


def test_a_preset_gradient_takes_the_outputs_dtype():
    x = Variable(np.ones(2, np.float32))
    y = square(x)
    y.grad = np.array([1.0, 2.0])  # float64
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


# --- data types ----------------------------------------------------------------------

@pytest.mark.parametrize("data", [np.array([True, False]), np.array([1 + 2j]), np.array(["a"]),
                                  np.array([b"a"]), np.array([1.0], dtype=object)],
                         ids=["bool", "complex", "str", "bytes", "object"])
def test_data_without_gradients_is_refused_at_construction(data):
    with pytest.raises(TypeError, match=f"floats or integers, got dtype {data.dtype}"):
        Variable(data)


def test_a_function_returning_bool_is_refused():
    class IsPositive(dezero.Function):
        def forward(self, x):
            return x > 0

    with pytest.raises(TypeError, match="got dtype bool"):
        IsPositive()(Variable(np.ones(2)))


def test_integer_variables_are_constants():
    """As in PyTorch (integer tensors cannot require grad): an integer input gets no gradient,
    and backward() from an integer Variable is an error."""
    counts = Variable(np.array([1, 2, 3]))
    weight = Variable(np.array(0.5))
    y = counts * weight
    assert y.dtype == np.float64
    y.backward()
    assert counts.grad is None and weight.grad == 6.0
    with pytest.raises(TypeError, match="integer Variables are constants"):
        (counts * 2).backward()


def test_integer_forward_follows_numpy():
    x = Variable(np.array([1, 2, 3], np.int8))
    assert (x * 2).dtype == np.int8 and (x / 2).dtype == np.float64 and (x + 0.5).dtype == np.float64
    with pytest.raises(OverflowError):
        x + 300  # NumPy 2 refuses a Python int that does not fit the array's dtype, and so do we


# --- Function instances ----------------------------------------------------------------

def test_a_function_instance_may_be_reused_when_nothing_is_recorded():
    f = dezero.Square()
    with dezero.no_grad():
        assert f(Variable(np.array(2.0))).data == 4.0
        assert f(Variable(np.array(3.0))).data == 9.0
    y = f(Variable(np.array(4.0)))  # the one recorded call
    assert y.creator is f


# --- copying and pickling ----------------------------------------------------------------

def leaf_with_grad():
    x = Variable(np.array([1.0, 2.0]), name="x")
    square(x).backward()
    return x


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_leaf_copies_and_pickles_with_data_grad_and_name(duplicate):
    x = leaf_with_grad()
    twin = duplicate(x)
    assert twin is not x and twin.name == "x" and twin.creator is None and twin.generation == 0
    np.testing.assert_array_equal(twin.data, x.data)
    np.testing.assert_array_equal(twin.grad, x.grad)
    square(twin).backward()  # a working leaf of its own
    np.testing.assert_array_equal(twin.grad, 2 * x.grad)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps], ids=["copy", "deepcopy", "pickle"])
def test_a_node_with_a_creator_refuses_every_kind_of_copy(duplicate):
    y = square(Variable(np.array(3.0)))
    y.name = "y"
    with pytest.raises(TypeError, match="cannot copy or pickle Variable 'y'.*Variable\\(y.data.copy\\(\\)\\)"):
        duplicate(y)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps], ids=["copy", "deepcopy", "pickle"])
def test_a_function_that_recorded_a_call_refuses_every_kind_of_copy(duplicate):
    y = square(Variable(np.array(3.0)))
    with pytest.raises(TypeError, match="cannot copy or pickle a Square that has recorded a call"):
        duplicate(y.creator)
    assert type(duplicate(dezero.Square())) in (dezero.Square, bytes)  # a fresh one is plain data


def test_a_copy_made_under_no_grad_is_a_leaf():
    x = Variable(np.array(3.0))
    with dezero.no_grad():
        y = square(x)
    twin = copy.deepcopy(y)
    assert twin.creator is None and twin.data == 9.0
