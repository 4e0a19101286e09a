"""The bench's own floor, graphmem.bench.minimal: step 17's autograd with the book's Variable API."""
import numpy as np

from graphmem.adapters.book import BookAdapter


class MinimalAdapter(BookAdapter):
    """The bench's own floor, graphmem.bench.minimal: step 17's autograd with the book's Variable API, square only."""

    kind = name = "minimal"
    distribution = None
    install_steps = ()
    add = sub = mul = div = None  # no operators: it runs the square chain only
    holds_outputs = "a Function holds its outputs by weakref.ref (step 17), nothing else"
    citation = None
    notes = "bench's floor only; not a library"

    def __init__(self):
        from graphmem.bench import minimal
        self._dezero = minimal  # leaf, backward and collect_garbage as the book's
        self.square = minimal.square
        self.tensor_types = (minimal.Variable,)

    def gradient(self, x, y=None):
        return np.asarray(x.grad)

    def versions(self):
        return {"minimal": "graphmem.bench.minimal (this project)", "numpy": np.__version__}
