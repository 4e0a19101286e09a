"""HIPS autograd 1.9: a graph traced while a function runs, owned by the vjp it returns."""
import numpy as np

from graphmem.adapters import Adapter, Citation, Traced


class AutogradAdapter(Adapter):
    """HIPS autograd: box -> node -> parents, each node's vjp a closure over its input values."""

    kind = name = "autograd"
    distribution = module = "autograd"
    install_steps = (("autograd==1.9.1", "numpy"),)
    holds_outputs = ("a traced node holds its parents and a vjp closure over its inputs' values; nothing refers "
                     "back to an output, and the graph lives only in the vjp make_vjp returns")
    citation = Citation("autograd.core", r"self\.vjp = vjpmaker\(")
    advice = "nothing to do: dropping the vjp (and the gradient it returned) frees the traced graph"
    notes = "functional: a graph is a trace of make_vjp over the workload's function; leaves are plain ndarrays"

    def __init__(self):
        import autograd
        import autograd.numpy as anp
        self._make_vjp = autograd.make_vjp
        self.square, self.neg = anp.square, anp.negative
        self.tensor_types = (Traced,)

    def variable(self, array):
        return np.asarray(array, dtype=np.float64)

    def graph(self, function, *leaves):
        vjp, value = self._make_vjp(function, argnum=tuple(range(len(leaves))))(*leaves)
        return Traced(value, vjp, leaves)

    def backward(self, y):
        y.grads = y.vjp(np.ones_like(y.value))

    def value(self, x):
        return x

    def gradient(self, x, y=None):
        return np.asarray(y.gradient_of(x))

    def clear_gradient(self, x):
        pass  # gradients are returned by the vjp, never stored on a leaf

    def update(self, x, array):
        x[...] = array
        return x
