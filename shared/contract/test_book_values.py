"""The book's own worked values (steps 1-18), unchanged by any memory policy."""
import numpy as np
import pytest

from dezero import Variable, add, square


def test_square_forward():
    assert square(Variable(np.array(2.0))).data == 4.0


def test_square_backward():
    x = Variable(np.array(3.0))
    square(x).backward()
    assert x.grad == 6.0


def test_diamond_graph():
    x = Variable(np.array(2.0))
    a = square(x)
    y = add(square(a), square(a))
    y.backward()
    assert y.data == 32.0
    assert x.grad == 64.0


def test_gradient_accumulates_then_cleargrad_starts_over():
    x = Variable(np.array(3.0))
    add(x, x).backward()
    assert x.grad == 2.0
    x.cleargrad()
    add(add(x, x), x).backward()
    assert x.grad == 3.0


def test_intermediate_gradients_dropped_unless_retained():
    x0, x1 = Variable(np.array(1.0)), Variable(np.array(1.0))
    t = add(x0, x1)
    y = add(x0, t)
    y.backward()
    assert y.grad is None and t.grad is None
    assert x0.grad == 2.0 and x1.grad == 1.0


def test_retain_grad_keeps_intermediate_gradients():
    x0, x1 = Variable(np.array(1.0)), Variable(np.array(1.0))
    t = add(x0, x1)
    y = add(x0, t)
    y.backward(retain_grad=True)
    assert y.grad == 1.0 and t.grad == 1.0


@pytest.mark.parametrize("value", [0.5, 1.0, 3.0])
def test_square_backward_matches_2x(value):
    x = Variable(np.array(value))
    square(x).backward()
    assert x.grad == pytest.approx(2 * value)
