"""A chain far deeper than Python's recursion limit: forward, backward and teardown."""
import gc
import weakref

import numpy as np

from dezero import Variable

DEPTH = 100_000


def test_chain_of_100k_functions_forward_backward_and_drop():
    x = Variable(np.array([1.0, -2.0]))
    y = x
    for _ in range(DEPTH):
        y = -y  # stays bounded, unlike square, and an even count gives x back
    np.testing.assert_array_equal(y.data, x.data)
    assert y.generation == DEPTH

    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])

    middle = y
    for _ in range(DEPTH // 2):
        middle = middle.creator.inputs[0]
    probe = weakref.ref(middle)
    del y, middle
    gc.collect()  # every policy has freed the chain after a full collection
    assert probe() is None
