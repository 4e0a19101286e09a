"""A leaf's gradient is its own, as in PyTorch (issue 19, core items 1-6): the same in every variant.

No leaf shares its .grad with another leaf or with the seed the user set; accumulation into a .grad
is safe from several threads; backward() twice on a leaf accumulates; x ** e has PyTorch's
gradients at x = 0; and a leaf pickles with every pickle protocol.
"""
import copy
import pickle
import threading

import numpy as np
import pytest

from dezero import Square, Variable, pow, square


# --- 1. leaves never share a gradient array ------------------------------------------

@pytest.mark.parametrize("build", [
    lambda a, b: a + b,  # Add's backward returns one array for both inputs
    lambda a, b: a + (b + 0.0),  # the array reaches b through an intermediate
    lambda a, b: (a + b) + (b + a),  # and through two paths, accumulated
], ids=["a+b", "a+(b+0)", "(a+b)+(b+a)"])
def test_two_leaves_never_share_one_gradient_array(build):
    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([3.0, 4.0]))
    build(a, b).backward()
    assert not np.shares_memory(a.grad, b.grad)
    expected_b = b.grad.copy()
    a.grad += 1  # what an optimizer's in-place update, or a user, does
    np.testing.assert_array_equal(b.grad, expected_b)


def test_a_leaf_gradient_is_not_the_seed_the_user_set():
    x = Variable(np.array([1.0, 2.0]))
    y = x + 0.0
    seed = np.ones(2)
    y.grad = seed
    y.backward()
    assert not np.shares_memory(x.grad, seed)
    seed[0] = 99.0
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_a_leaf_gradient_is_not_a_retained_gradient_nor_the_retained_seed():
    x = Variable(np.array([1.0, 2.0]))
    h = x + 0.0
    y = h + 0.0
    y.backward(retain_grad=True)
    assert not np.shares_memory(x.grad, h.grad) and not np.shares_memory(x.grad, y.grad)
    assert not np.shares_memory(h.grad, y.grad)
    x.grad += 1
    np.testing.assert_array_equal(h.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])


def test_a_gradient_accumulated_onto_an_existing_grad_leaves_the_other_leaf_alone():
    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([3.0, 4.0]))
    a.grad = np.zeros(2)  # a accumulates (a new array); b takes the pass's array
    (a + b).backward()
    b.grad += 1
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])


# --- 2. accumulation is safe from several threads --------------------------------------

THREADS, PASSES, SIZE = 8, 25, 200_000


def test_gradients_from_several_threads_into_one_leaf_are_all_kept():
    w = Variable(np.ones(SIZE))
    start = threading.Barrier(THREADS)  # all threads begin together, so their passes overlap
    errors = []

    def work():
        try:
            start.wait()
            for _ in range(PASSES):
                (w * 2.0).backward()
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    np.testing.assert_array_equal(w.grad, np.full(SIZE, 2.0 * THREADS * PASSES))  # 400 everywhere


# --- 3. backward() on a leaf accumulates, as in PyTorch ----------------------------

@pytest.mark.parametrize("data", [np.array([1.0, 2.0]), np.array(3.0)], ids=["(2,)", "0-d"])
def test_backward_on_a_leaf_adds_ones_each_time_as_in_pytorch(data):
    x = Variable(data)
    for calls in (1, 2, 3):  # PyTorch: 1, 2, 3 (a leaf's .grad is what it accumulated, not a seed)
        x.backward()
        assert type(x.grad) is np.ndarray and x.grad.dtype == data.dtype
        np.testing.assert_array_equal(x.grad, np.full_like(data, float(calls)))


def test_backward_on_a_leaf_with_a_preset_grad_adds_to_it_without_aliasing_it():
    x = Variable(np.array([1.0, 2.0]))
    preset = np.array([3.0, 4.0])
    x.grad = preset
    x.backward()  # PyTorch, with x.grad preset: x.grad + 1
    preset[0] = 99.0
    np.testing.assert_array_equal(x.grad, [4.0, 5.0])


def test_backward_on_a_leaf_still_checks_its_preset_grad():
    x = Variable(np.array([1.0, 2.0]))
    x.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"the grad preset on the leaf Variable has shape \(3,\)"):
        x.backward()


# --- 4. x ** e at the corners, as in PyTorch 2.13 -----------------------------------------
# PyTorch's pow backward: d/dx = e * x**(e-1), 0 where e == 0; d/de = x**e * log(x), 0 where
# x == 0 and e >= 0. Each row: x, e, d/dx, d/de (worked out by hand from those formulas and
# checked against torch 2.13.0 CPU).
POW_CORNERS = [
    (0.0, -1.0, -np.inf, -np.inf),  # 0**-1 * log 0 = inf * -inf
    (0.0, -2.0, -np.inf, -np.inf),
    (0.0, -0.5, -np.inf, -np.inf),
    (0.0, 0.0, 0.0, 0.0),
    (0.0, 0.5, np.inf, 0.0),
    (0.0, 1.0, 1.0, 0.0),
    (0.0, 2.0, 0.0, 0.0),
    (-2.0, 2.0, -4.0, np.nan),  # log of a negative base
    (-2.0, 0.0, 0.0, np.nan),
    (2.0, 0.0, 0.0, np.log(2.0)),
    (1.0, -3.0, -3.0, 0.0),
    (-0.0, -1.0, -np.inf, np.inf),  # (-0)**-1 = -inf, log(-0) = -inf
    (0.0, np.inf, np.nan, 0.0),
    (0.0, -np.inf, -np.inf, -np.inf),
    (0.0, np.nan, np.nan, np.nan),  # nan >= 0 is false: 0**nan * log 0
    (np.inf, -1.0, -0.0, np.nan),  # inf**-1 * log inf = 0 * inf
]


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # NumPy's forward 0 ** -1, as in NumPy
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("x, e, dx, de", POW_CORNERS, ids=[f"{x}**{e}" for x, e, _, _ in POW_CORNERS])
def test_pow_gradients_at_the_corners_match_pytorch(x, e, dx, de):
    base, exponent = Variable(np.array(x)), Variable(np.array(e))
    pow(base, exponent).backward()
    np.testing.assert_array_equal([base.grad, exponent.grad], [dx, de])


# --- 5. a leaf pickles with every protocol -------------------------------------------------

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_leaf_pickles_with_every_protocol(protocol):
    x = Variable(np.array([1.0, 2.0]), name="x")
    square(x).backward()
    twin = pickle.loads(pickle.dumps(x, protocol=protocol))
    assert type(twin) is Variable and twin.name == "x" and twin.creator is None and twin.generation == 0
    np.testing.assert_array_equal(twin.data, [1.0, 2.0])
    np.testing.assert_array_equal(twin.grad, [2.0, 4.0])
    square(twin).backward()  # a working leaf of its own
    np.testing.assert_array_equal(twin.grad, [4.0, 8.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_leaf_without_data_or_grad_pickles_with_every_protocol(protocol):
    twin = pickle.loads(pickle.dumps(Variable(None), protocol=protocol))
    assert (twin.data, twin.grad, twin.name, twin.creator) == (None, None, None, None)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_node_and_its_function_refuse_every_protocol(protocol):
    y = square(Variable(np.array(3.0)))
    with pytest.raises(TypeError, match="cannot copy or pickle the output of Square: only a leaf"):
        pickle.dumps(y, protocol=protocol)
    with pytest.raises(TypeError, match="cannot copy or pickle a Square that has recorded a call"):
        pickle.dumps(y.creator, protocol=protocol)
    assert type(pickle.loads(pickle.dumps(Square(), protocol=protocol))) is Square  # a fresh one is plain data


def test_unpickled_state_is_checked_as_variable_checks_its_data():
    twin = copy.copy(Variable(np.array([1.0])))
    with pytest.raises(TypeError, match="must be a numpy.ndarray or None, got list"):
        twin.__setstate__({"data": [1.0], "name": None, "grad": None})
