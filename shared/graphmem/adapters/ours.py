"""This project's variants, whichever `dezero` is installed (strong, weakref or gc_only)."""
import gc

import numpy as np

from graphmem.adapters import Adapter, Citation


class OursAdapter(Adapter):
    """One of this project's variants, through the installed `dezero`."""

    kind = "ours"
    distribution = "dezero"
    module = "dezero"
    citation = Citation("dezero.core", r"^\s*self\.outputs = ")
    tensor_types = ()

    def __init__(self):
        import dezero
        self._dezero = dezero
        self.name = dezero.VARIANT
        self.holds_outputs = dezero.POLICY
        self.square, self.neg = dezero.square, dezero.neg
        self.tensor_types = (dezero.Variable,)
        # A variant that counts the graph bytes since its last collection must be told of the
        # collections the harness runs, or its own count would trigger one inside a timed region.
        self._collector = getattr(dezero, "collector", None)

    @property
    def advice(self):
        return {
            "strong": "the book's step-16 design: drop a graph and only CPython's cyclic collector frees it, so "
                      "never run it with the collector off, and expect pauses and a peak of many graphs",
            "weakref": "nothing to do: a dropped graph is freed at once by reference counting",
            "gc_only": "keeps the strong cycle but collects by itself once its graphs pass a byte budget: "
                       "choose the budget as the memory you can spare",
        }.get(self.name, "")

    def variable(self, array):
        return self._dezero.Variable(array)

    def no_grad(self):
        return self._dezero.no_grad()

    def collect_garbage(self):
        if self._collector is not None:
            self._collector.collect()
        else:
            gc.collect()

    def collections_so_far(self):
        """Collections the variant has run on its own account (None: it never runs any)."""
        return None if self._collector is None else self._collector.collections

    def version(self):
        return f"{self.name} (this project)"

    def versions(self):
        return {"dezero": self.version(), "numpy": np.__version__}

    def held_arrays(self, obj):
        return (obj.data, obj.grad)
