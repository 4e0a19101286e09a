"""Chainer 7.8.1 (source-only: built with setuptools<70, no build isolation, numpy 1.23.5)."""
import numpy as np

from graphmem.adapters import Adapter, Citation


class ChainerAdapter(Adapter):
    """Chainer: a FunctionNode's outputs are weak references to the output VariableNodes."""

    kind = name = "chainer"
    distribution = module = "chainer"
    # numpy 2 fails on import (np.sctypes); the sdist needs the old setuptools it is built with.
    install_steps = (("numpy==1.23.5", "setuptools<70", "wheel"), ("--no-build-isolation", "chainer==7.8.1"))
    holds_outputs = "a FunctionNode holds its outputs as weak references (\"must be weak references\")"
    citation = Citation("chainer.function_node", r"must be weak references")
    advice = "nothing to do: a dropped graph is freed at once by reference counting"

    def __init__(self):
        import chainer
        import chainer.functions as F
        self._chainer = chainer
        self.square = F.square  # and -x: chainer.functions has no negative()
        self.tensor_types = (chainer.Variable,)

    def variable(self, array):
        return self._chainer.Variable(np.asarray(array, dtype=np.float64))

    def backward(self, y):
        y.grad = np.ones_like(y.array)  # y is not a scalar: seeded with ones, like the dezero packages
        y.backward()

    def value(self, x):
        return x.array

    def update(self, x, array):
        x.array[...] = array
        return x

    def no_grad(self):
        return self._chainer.no_backprop_mode()

    def held_arrays(self, obj):
        return (obj.array, obj.grad)
