"""The floor: the smallest define-by-run autograd that the book's step 17 describes.

A Variable holds data, grad, creator and generation; a Function holds its inputs and weak
references to its outputs; Square is the only operation; backward keeps the Functions still
to run in a list, re-sorted by generation on each insert. No checks, no operators, no
no_grad, no names: whatever our variants cost above this is what their features cost.
Written for this project from the step's description, not copied from the book's listing. It is
the bench's floor (graphmem.bench) and an implementation the adapters can drive
(graphmem.adapters.minimal), so it lives below both.
"""
import weakref

import numpy as np


class Variable:
    """An array, its gradient and the Function that made it."""

    def __init__(self, data):
        self.data = data
        self.grad = None
        self.creator = None
        self.generation = 0

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def backward(self):
        if self.grad is None:
            self.grad = np.ones_like(self.data)
        pending, seen = [], set()

        def add_func(func):
            if func not in seen:
                seen.add(func)
                pending.append(func)
                pending.sort(key=lambda f: f.generation)

        add_func(self.creator)
        while pending:
            func = pending.pop()
            gys = [output().grad for output in func.outputs]
            gxs = func.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(func.inputs, gxs):
                x.grad = gx if x.grad is None else x.grad + gx
                if x.creator is not None:
                    add_func(x.creator)


def as_array(x):
    # NumPy returns a scalar, not a 0-d array, from arithmetic on 0-d arrays.
    return np.array(x) if np.isscalar(x) else x


class Function:
    """Calls forward on the inputs' data and links the outputs back to itself."""

    def __call__(self, *inputs):
        ys = self.forward(*[x.data for x in inputs])
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = [Variable(as_array(y)) for y in ys]
        self.generation = max(x.generation for x in inputs)
        for output in outputs:
            output.set_creator(self)
        self.inputs = inputs
        self.outputs = [weakref.ref(output) for output in outputs]
        return outputs if len(outputs) > 1 else outputs[0]


class Square(Function):
    """y = x ** 2."""

    def forward(self, x):
        return x ** 2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def square(x):
    return Square()(x)
