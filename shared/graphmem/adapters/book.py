"""The book's own package, `dezero==0.0.13` from PyPI (Deep Learning from Scratch 3)."""
import numpy as np

from graphmem.adapters import Adapter, Citation


class BookAdapter(Adapter):
    """The book's `dezero` 0.0.13: outputs held by weakref, as the book's step 17 teaches."""

    kind = name = "book"
    distribution = module = "dezero"
    # It uses np.int, gone in numpy 1.24, and imports matplotlib without declaring it.
    install_steps = (("dezero==0.0.13", "numpy==1.23.5", "matplotlib<3.10"),)
    holds_outputs = "a Function holds its outputs by weakref.ref (the book's step 17)"
    citation = Citation("dezero.core", r"^\s*self\.outputs = ")
    advice = "nothing to do: a dropped graph is freed at once by reference counting"
    notes = "the package has no square(); x ** 2 (its Pow Function) stands in"

    def __init__(self):
        import dezero
        self._dezero = dezero
        self.tensor_types = (dezero.Variable,)

    @staticmethod
    def square(x):
        return x ** 2  # the package has no square(); x ** 2 is its one-Function square (Pow)

    def variable(self, array):
        return self._dezero.Variable(array)

    def gradient(self, x, y=None):
        return np.asarray(x.grad.data)  # its grads are Variables

    def no_grad(self):
        return self._dezero.no_grad()

    def held_arrays(self, obj):
        return (obj.data, getattr(obj.grad, "data", None))
