"""One thin adapter per autograd under benchmark, so the same workload code drives each.

An adapter offers the few operations the bench workloads use: make a leaf (a float64 array
of the given shape, an int n meaning (n,), filled with `fill`), square, the four binary
operators (None where the implementation has none), backward from an output, and a
between-repetitions clean-up. Each library is imported only when its adapter is made, because ours and the book's package are both
imported as `dezero` and can never share a process.
"""
import gc
import importlib.metadata
import operator
import platform
import sys

KINDS = ("ours", "book", "torch", "minimal")


class UnknownImplementation(ValueError):
    """Raised for an implementation kind that has no adapter."""


def _distribution_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


class OursAdapter:
    """One of this project's variants, whichever `dezero` is installed."""

    kind = "ours"
    add, sub, mul, div = operator.add, operator.sub, operator.mul, operator.truediv

    def __init__(self):
        import dezero
        import numpy
        self._dezero, self._numpy = dezero, numpy
        self.name = dezero.VARIANT
        self.square = dezero.square
        # A variant that counts the graph bytes since its last collection must be told of the
        # collections the harness runs, or its own count would trigger one inside a timed region.
        self._collector = getattr(dezero, "collector", None)

    def leaf(self, shape, fill):
        return self._dezero.Variable(self._numpy.full(shape, fill, dtype=self._numpy.float64))

    def backward(self, y):
        y.backward()

    def collect_garbage(self):
        if self._collector is not None:
            self._collector.collect()
        else:
            gc.collect()

    def collections_so_far(self):
        """Collections the variant has run on its own account (None: it never runs any)."""
        return None if self._collector is None else self._collector.collections

    def versions(self):
        return {"dezero": f"{self.name} (this project)", "numpy": self._numpy.__version__}


class BookAdapter:
    """The book's own package, `dezero==0.0.13` from PyPI (needs numpy<1.24: it uses np.int)."""

    kind = "book"
    name = "book"
    add, sub, mul, div = operator.add, operator.sub, operator.mul, operator.truediv

    def __init__(self):
        import dezero
        import numpy
        self._dezero, self._numpy = dezero, numpy

    @staticmethod
    def square(x):
        return x ** 2  # the package has no square(); x ** 2 is its one-Function square (Pow)

    def leaf(self, shape, fill):
        return self._dezero.Variable(self._numpy.full(shape, fill, dtype=self._numpy.float64))

    def backward(self, y):
        y.backward()

    def collect_garbage(self):
        gc.collect()

    def collections_so_far(self):
        return None

    def versions(self):
        return {"dezero": _distribution_version("dezero"), "numpy": self._numpy.__version__}


class TorchAdapter:
    """PyTorch eager mode on the CPU, held to one thread."""

    kind = "torch"
    name = "torch"
    add, sub, mul, div = operator.add, operator.sub, operator.mul, operator.truediv

    def __init__(self):
        import torch
        torch.set_num_threads(1)
        self._torch = torch
        self.square = torch.square

    def leaf(self, shape, fill):
        shape = shape if isinstance(shape, tuple) else (shape,)
        return self._torch.full(shape, fill, dtype=self._torch.float64, requires_grad=True)

    def backward(self, y):
        # Seeded with ones like the dezero packages do, since y is not a scalar in general.
        y.backward(self._torch.ones_like(y))

    def collect_garbage(self):
        gc.collect()

    def collections_so_far(self):
        return None

    def versions(self):
        return {"torch": self._torch.__version__, "torch_threads": self._torch.get_num_threads()}


class MinimalAdapter(BookAdapter):
    """The bench's own floor, graphmem.bench.minimal: step 17's autograd with the book's Variable API, square only."""

    kind = "minimal"
    name = "minimal"
    add = sub = mul = div = None  # no operators: it runs the square chain only

    def __init__(self):
        import numpy
        from graphmem.bench import minimal
        self._dezero, self._numpy = minimal, numpy  # leaf, backward and collect_garbage as the book's
        self.square = minimal.square

    def versions(self):
        return {"minimal": "graphmem.bench.minimal (this project)", "numpy": self._numpy.__version__}


ADAPTERS = {"ours": OursAdapter, "book": BookAdapter, "torch": TorchAdapter, "minimal": MinimalAdapter}


def make_adapter(kind):
    """The adapter for `kind` (one of KINDS), importing its library."""
    if kind not in ADAPTERS:
        raise UnknownImplementation(f"unknown implementation kind {kind!r}; expected one of {', '.join(KINDS)}")
    return ADAPTERS[kind]()


def process_environment():
    """What this measuring process ran on: interpreter and platform."""
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation()}
