"""JAX 0.10 on the CPU, eager `jax.vjp` in float64: no graph outlives the vjp it returns."""
import os

import numpy as np

from graphmem.adapters import Adapter, Citation, Traced


class JaxAdapter(Adapter):
    """JAX: `jax.vjp` linearizes the function; the residuals belong to the returned VJP object."""

    kind = name = "jax"
    distribution = module = "jax"
    install_steps = (("jax==0.10.2", "jaxlib==0.10.2", "numpy"),)
    holds_outputs = ("no persistent graph: jax.vjp linearizes the function and the residuals belong to the VJP "
                     "object it returns")
    citation = Citation("jax._src.api", r"f_vjp = VJP\(")
    advice = "nothing to do: the residuals go with the VJP function; keep no VJP longer than its step"
    notes = ("functional: a graph is jax.vjp over the workload's function, with jax_enable_x64 for float64 "
             "and JAX_PLATFORMS=cpu; arrays are immutable, so an update makes a new leaf")

    def __init__(self):
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        self._jax, self._jnp = jax, jnp
        self.square, self.neg = jnp.square, jnp.negative
        self.tensor_types = (Traced,)

    def variable(self, array):
        return self._jnp.asarray(array, dtype=self._jnp.float64)

    def graph(self, function, *leaves):
        value, vjp = self._jax.vjp(function, *leaves)
        return Traced(value, vjp, leaves)

    def backward(self, y):
        y.grads = y.vjp(self._jnp.ones_like(y.value))
        self._jax.block_until_ready(y.grads)

    def value(self, x):
        return np.asarray(x)

    def gradient(self, x, y=None):
        return np.asarray(y.gradient_of(x))

    def clear_gradient(self, x):
        pass  # gradients are returned by the vjp, never stored on a leaf

    def update(self, x, array):
        return self.variable(array)
