"""The floor, graphmem.minimal: step 17's autograd with the book's Variable API, driven like the book's package."""
import numpy as np

from graphmem import minimal
from graphmem.adapters.book import BookAdapter


class MinimalAdapter(BookAdapter):
    """The floor, graphmem.minimal: step 17's autograd with the book's Variable API, square only."""

    kind = name = "minimal"
    distribution = None
    module = "graphmem.minimal"  # what the environment check imports
    # numpy as the variants require it (variants/*/pyproject.toml; a test keeps the two equal).
    install_steps = (("numpy>=2",),)
    add = sub = mul = div = None  # no operators: it runs the square chain only
    holds_outputs = "a Function holds its outputs by weakref.ref (step 17), nothing else"
    citation = None
    notes = "the bench's floor only; not a library"

    def __init__(self):
        self._dezero = minimal  # leaf, backward and collect_garbage as the book's
        self.square = minimal.square
        self.tensor_types = (minimal.Variable,)

    def gradient(self, x, y=None):
        return np.asarray(x.grad)

    def versions(self):
        return {"minimal": "graphmem.minimal (this project)", "numpy": np.__version__}
