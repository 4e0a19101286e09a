"""tinygrad 0.14 on its CPU device (which compiles with the `clang` binary: Debian's `clang`)."""
import numpy as np

from graphmem.adapters import Adapter, Citation, Traced


class TinygradAdapter(Adapter):
    """tinygrad: lazy tensors over a UOp graph; outputs are realized so every op really computes."""

    kind = name = "tinygrad"
    distribution = module = "tinygrad"
    install_steps = (("tinygrad==0.14.0", "numpy"),)
    system_commands = {"clang": "clang"}  # else: RuntimeError: no usable devices
    holds_outputs = ("tensor -> uop -> src strongly, from outputs to inputs; the only tables of all tensors are "
                     "global weakref tables; buffers are anonymous mmaps")
    citation = Citation("tinygrad.tensor", r"all_tensors\[weakref\.ref\(self\)\] = None")
    advice = "nothing to do: a dropped tensor's graph and buffers are freed by reference counting"
    notes = ("lazy: the adapter realizes each graph's forward value (into a copy: realizing the output in place "
             "would cut its graph) and each leaf's gradient, so that the work and its buffers happen inside the "
             "workload; tinygrad has no no-grad mode (it records a UOp graph always)")

    def __init__(self):
        from tinygrad import Tensor
        self._tensor = Tensor
        self.tensor_types = (Tensor,)

    def variable(self, array):
        return self._tensor(np.asarray(array, dtype=np.float64)).realize()

    def square(self, x):
        return x.square()

    def graph(self, function, *leaves):
        # Realizing the output itself would replace its UOp graph by its buffer (backward would then
        # find no path to the leaves), so the forward value is realized into a copy held beside it.
        y = function(*leaves)
        return Traced((y + 0).realize(), y, leaves)

    def backward(self, y):
        y.vjp.backward(self._tensor.ones(*y.value.shape, dtype=y.value.dtype))
        grads = [leaf.grad for leaf in y.leaves if leaf.grad is not None]
        if grads:
            self._tensor.realize(*grads)

    def value(self, x):
        return x.numpy()

    def gradient(self, x, y=None):
        return x.grad.numpy()

    def clear_gradient(self, x):
        x.grad = None

    def update(self, x, array):
        x.assign(self._tensor(np.asarray(array, dtype=np.float64))).realize()
        return x
