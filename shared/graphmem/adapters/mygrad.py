"""MyGrad 2.5: a NumPy-centred autograd with no link from an operation to its output."""
import numpy as np

from graphmem.adapters import Adapter, Citation


class MygradAdapter(Adapter):
    """MyGrad: tensor -> creator operation strong, input -> operation weak, operation -> output none."""

    kind = name = "mygrad"
    distribution = module = "mygrad"
    install_steps = (("mygrad==2.5.0", "numpy"),)
    holds_outputs = ("an output tensor holds its creator operation strongly; an input holds the operations "
                     "that use it by weakref; no operation refers to its output")
    citation = Citation("mygrad.tensor_base", r"_ops\.add\(ReferenceType\(")
    advice = "nothing to do: a dropped graph is freed at once by reference counting"

    def __init__(self):
        import mygrad
        self._mygrad = mygrad
        self.square, self.neg = mygrad.square, mygrad.negative
        self.tensor_types = (mygrad.Tensor,)

    def variable(self, array):
        return self._mygrad.tensor(array, copy=False)

    def clear_gradient(self, x):
        x.null_grad()

    def no_grad(self):
        return self._mygrad.no_autodiff

    def held_arrays(self, obj):
        return (obj.data, obj.grad)
