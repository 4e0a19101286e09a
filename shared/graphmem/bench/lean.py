"""The fast floor: step 17's autograd with every fast path our variants use and none of their features.

Like the minimal floor (graphmem.minimal), Square is the only operation and nothing is
checked; unlike it, it takes the variants' fast paths: __slots__, one input and one output
without lists, NumPy scalars converted once, generation buckets instead of a re-sorted list,
and gradients kept in a dict for the pass. No no_grad, no operators, no error messages: what
the weakref variant costs above this is what the contract's features cost.
Written for this bench; not a variant, and not held to the variants' contract.
"""
import weakref

import numpy as np


class Variable:
    """An array, its gradient and the Function that made it."""

    __slots__ = ("data", "grad", "creator", "generation", "__weakref__")

    def __init__(self, data):
        self.data = data
        self.grad = None
        self.creator = None
        self.generation = 0

    def backward(self):
        grads = {self: np.ones_like(self.data)}
        pending = {self.creator.generation: [self.creator]}
        for generation in range(self.creator.generation, -1, -1):
            for func in pending.pop(generation, ()):
                x = func.input
                gx = func.backward(grads.pop(func.output()))
                if x in grads:
                    grads[x] = grads[x] + gx
                else:
                    grads[x] = gx
                    if x.creator is not None:
                        pending.setdefault(x.creator.generation, []).append(x.creator)
        for x, gx in grads.items():
            x.grad = gx if x.grad is None else x.grad + gx


class Function:
    """One input, one output: the only case the floor's Square needs."""

    __slots__ = ("input", "output", "generation")

    def __call__(self, x):
        y = self.forward(x.data)
        if type(y) is not np.ndarray:  # NumPy returns a scalar for a 0-d result
            y = np.asarray(y)
        output = Variable(y)
        self.input, self.generation = x, x.generation
        output.creator, output.generation = self, x.generation + 1
        self.output = weakref.ref(output)
        return output


class Square(Function):
    """y = x ** 2."""

    __slots__ = ()

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x = self.input.data
        return (x + x) * gy


def square(x):
    return Square()(x)
