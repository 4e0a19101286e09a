"""PyTorch eager mode on the CPU, one thread (`torch==2.13.0`: the CPU build on this machine's disk)."""
import numpy as np

from graphmem.adapters import Adapter, Citation


class TorchAdapter(Adapter):
    """PyTorch: the graph lives in C++ and is freed by reference counting."""

    kind = name = "torch"
    distribution = module = "torch"
    # This pin takes the CPU build from the machine's disk; never ask pip for plain `torch`.
    install_steps = (("torch==2.13.0", "numpy"),)
    holds_outputs = ("C++ reference counting: a node holds its inputs' edges, not its outputs; a saved output "
                     "is kept without its grad_fn to avoid a circular reference")
    citation = Citation("torch", r"circular reference", path="include/torch/csrc/autograd/saved_variable.h")
    advice = "nothing to do: the graph is freed when its last tensor goes (its buffers are invisible to tracemalloc)"

    def __init__(self):
        import torch
        torch.set_num_threads(1)
        self._torch = torch
        self.square, self.neg = torch.square, torch.neg
        self.tensor_types = (torch.Tensor,)

    def variable(self, array):
        return self._torch.from_numpy(np.asarray(array, dtype=np.float64)).requires_grad_()

    def leaf(self, shape, fill):
        shape = shape if isinstance(shape, tuple) else (shape,)
        return self._torch.full(shape, fill, dtype=self._torch.float64, requires_grad=True)

    def backward(self, y):
        # Seeded with ones like the dezero packages do, since y is not a scalar in general.
        y.backward(self._torch.ones_like(y))

    def value(self, x):
        return x.detach().numpy()

    def gradient(self, x, y=None):
        return x.grad.numpy()

    def clear_gradient(self, x):
        x.grad = None

    def update(self, x, array):
        with self._torch.no_grad():
            x.copy_(self._torch.from_numpy(array))
        return x

    def no_grad(self):
        return self._torch.no_grad()

    def buffers(self, obj):
        storage = obj.untyped_storage()
        return [(storage.data_ptr(), storage.nbytes())]

    def versions(self):
        return {"torch": self._torch.__version__, "torch_threads": self._torch.get_num_threads()}
