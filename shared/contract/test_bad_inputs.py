"""Bad input gets an error that names the problem, raised where the mistake is made."""
import os
import subprocess
import sys

import numpy as np
import pytest

import dezero
from dezero import Function, Variable, add, no_grad, square
from expectations import EXPECTED


class ReturnsList(Function):
    def forward(self, x):
        return [1.0, 2.0]


class ReturnsFloat(Function):
    def forward(self, x):
        return 3.0


class WrongShapeGrad(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum()  # shape () for an input of shape (3,)


class TooManyGrads(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy, gy


class ListGrad(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.tolist()


class NoBackward(Function):
    def forward(self, x):
        return x * 2


VECTOR = np.ones(3)

BAD_INPUTS = [
    # (what, call, exception, message pattern)
    ("list as Variable data", lambda: Variable([1.0, 2.0]), TypeError,
     "numpy.ndarray or None, got list"),
    ("float as Variable data", lambda: Variable(1.0), TypeError, "numpy.ndarray or None, got float"),
    ("str as Variable data", lambda: Variable("abc"), TypeError, "numpy.ndarray or None, got str"),
    ("str as a Function input", lambda: square("abc"), TypeError,
     "Square input 1 must be a Variable, numpy.ndarray or scalar, got str"),
    ("list as a Function input", lambda: add(Variable(VECTOR), [1, 2, 3]), TypeError,
     "Add input 2 must be a Variable, numpy.ndarray or scalar, got list"),
    ("None as a Function input", lambda: square(None), TypeError, "got NoneType"),
    ("a Variable without data as input", lambda: square(Variable(None)), ValueError,
     "Square input 1 is a Variable whose data is None"),
    ("too many inputs", lambda: dezero.Square()(Variable(VECTOR), Variable(VECTOR)), TypeError,
     "Square takes 1 input, got 2"),
    ("too few inputs", lambda: dezero.Add()(Variable(VECTOR)), TypeError, "Add takes 2 inputs, got 1"),
    ("forward returns a list", lambda: ReturnsList()(Variable(VECTOR)), TypeError,
     "ReturnsList.forward returned list; expected a numpy.ndarray"),
    ("forward returns a float", lambda: ReturnsFloat()(Variable(VECTOR)), TypeError,
     "ReturnsFloat.forward returned float"),
    ("backward returns the wrong shape", lambda: WrongShapeGrad()(Variable(VECTOR)).backward(), ValueError,
     r"WrongShapeGrad.backward returned a gradient of shape \(\) for input 1 of shape \(3,\)"),
    ("backward returns too many gradients", lambda: TooManyGrads()(Variable(VECTOR)).backward(), ValueError,
     "TooManyGrads.backward returned 2 gradients for 1 inputs"),
    ("backward returns a list", lambda: ListGrad()(Variable(VECTOR)).backward(), TypeError,
     "ListGrad.backward returned list as the gradient of input 1"),
    ("backward not defined", lambda: NoBackward()(Variable(VECTOR)).backward(), NotImplementedError,
     "NoBackward does not define backward"),
    ("backward from a Variable without data", lambda: Variable(None).backward(), ValueError,
     "this Variable's data is None"),
    ("operator with a string", lambda: Variable(VECTOR) + "a", TypeError, "got str"),
    ("unknown config setting", lambda: dezero.using_config("no_such", 1).__enter__(), AttributeError,
     "Config has no setting 'no_such'"),
]


@pytest.mark.parametrize("call, exception, message", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gets_a_clear_error(call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def test_bad_input_under_no_grad_is_caught_too():
    with no_grad(), pytest.raises(TypeError, match="got str"):
        square("abc")


GC_BUDGET_CASES = ["abc", "0", "-5", "1.5", "64MiB", ""]


@pytest.mark.needs("budget_collector")
@pytest.mark.parametrize("value", GC_BUDGET_CASES)
def test_bad_gc_budget_in_the_environment(value):
    """A variant that reads DEZERO_GC_BUDGET refuses a value that is not a positive integer."""
    env = dict(os.environ, DEZERO_GC_BUDGET=value)
    result = subprocess.run([sys.executable, "-c", "import dezero"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"DEZERO_GC_BUDGET must be a positive integer number of bytes, got {value!r}" in result.stderr


@pytest.mark.needs("no_budget_collector")
def test_gc_budget_in_the_environment_means_nothing_without_a_budget():
    env = dict(os.environ, DEZERO_GC_BUDGET="abc")
    result = subprocess.run([sys.executable, "-c", "import dezero"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_gc_budget_from_the_environment():
    env = dict(os.environ, DEZERO_GC_BUDGET="12345")
    code = "import dezero; print(getattr(getattr(dezero, 'collector', None), 'budget', None))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ("12345" if EXPECTED.budget_collector else "None")


@pytest.mark.needs("budget_collector")
@pytest.mark.parametrize("value", [0, -1, 1.5, "64MiB", True, None])
def test_bad_gc_budget_from_code(value, small_budget):
    with pytest.raises(ValueError, match="gc budget must be a positive integer number of bytes"):
        small_budget.budget = value
