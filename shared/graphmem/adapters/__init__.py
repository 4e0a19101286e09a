"""One thin adapter per autograd implementation, so that the same workload code drives each.

An adapter offers what the workloads (shared/graphmem/workloads/) need: a leaf from an ndarray,
the ops they use (square, neg, the four binary operators; the library's own operators work on
what it returns), `graph` to record a computation, backward, a leaf's gradient, a no-grad
context; and it describes itself: name, version, how its graph holds an op's outputs, with the
file and line of the installed package that shows it (found at run time by a marker, see
`Citation`), which workloads it runs and its live-set bound.

Each library is imported only when its adapter is made, because ours and the book's package are
both imported as `dezero` and can never share a process: the classes (and their install pins)
can be read anywhere. `make_adapter` takes a registered name, or `module:Class` / `path.py:Class`
for an implementation this project does not ship (README, "Profile your own library").
"""
import contextlib
import gc
import importlib
import importlib.metadata
import importlib.util
import inspect
import operator
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FLOAT64_BYTES = 8

# name -> "module:Class"; the classes live one per library in this package.
REGISTRY = {
    "ours": "graphmem.adapters.ours:OursAdapter",
    "book": "graphmem.adapters.book:BookAdapter",
    "torch": "graphmem.adapters.torch:TorchAdapter",
    "micrograd": "graphmem.adapters.micrograd:MicrogradAdapter",
    "chainer": "graphmem.adapters.chainer:ChainerAdapter",
    "mygrad": "graphmem.adapters.mygrad:MygradAdapter",
    "autograd": "graphmem.adapters.autograd:AutogradAdapter",
    "tinygrad": "graphmem.adapters.tinygrad:TinygradAdapter",
    "jax": "graphmem.adapters.jax:JaxAdapter",
    "minimal": "graphmem.adapters.minimal:MinimalAdapter",  # bench's floor, not a library
}
KINDS = tuple(REGISTRY)
# The real libraries the profile measures beside our variants.
PEERS = ("book", "torch", "micrograd", "chainer", "mygrad", "autograd", "tinygrad", "jax")


class UnknownImplementation(ValueError):
    """Raised for an implementation that has no adapter, or an adapter that cannot be loaded."""


class ImplementationUnavailable(ImportError):
    """Raised when an adapter's library cannot be imported in this interpreter."""


@dataclass(frozen=True)
class Citation:
    """Where the installed source shows how the graph holds an op's outputs.

    `module` is imported to find the package; `path` (relative to the package folder) names the
    file, else the module's own source file; `marker` is a regular expression whose first match
    is the cited line. Nothing is typed in by hand: a release that moves the line moves the cite.
    """

    module: str
    marker: str
    path: "str | None" = None  # quoted: the harness imports this on Python 3.9 (PyPy)

    def locate(self):
        """{"file", "line", "text"} in the installed package; raises LookupError if the marker is gone."""
        top = importlib.import_module(self.module.split(".")[0])
        # The folder the top-level package or module was installed into (site-packages, say).
        installed_in = Path(top.__file__).parent.parent if hasattr(top, "__path__") else Path(top.__file__).parent
        if self.path:
            file = Path(top.__file__).parent / self.path
        else:
            file = Path(inspect.getsourcefile(importlib.import_module(self.module)))
        pattern = re.compile(self.marker)
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                shown = file.relative_to(installed_in) if file.is_relative_to(installed_in) else file
                return {"file": str(shown), "line": number, "text": line.strip()}
        raise LookupError(f"{self.marker!r} not found in {file}: the installed {self.module} changed")


class Traced:
    """The output of a graph recorded by a functional library (autograd, jax): value, vjp, gradients.

    (tinygrad's adapter keeps its lazy output tensor in `vjp` beside the realized value.)"""

    def __init__(self, value, vjp, leaves):
        self.value, self.vjp, self.leaves, self.grads = value, vjp, leaves, None

    def gradient_of(self, leaf):
        for candidate, grad in zip(self.leaves, self.grads or ()):
            if candidate is leaf:
                return grad
        raise LookupError("no gradient for that leaf: call backward first, with a graph over it")


class Adapter:
    """The common part: defaults for a define-by-run library whose tensors overload the operators."""

    name = "?"
    kind = "?"
    distribution = None  # the pip distribution whose version is reported
    module = None  # what `import` checks in the peer's environment
    # pip steps that build its environment, each one `pip install` argument list (peers only)
    install_steps = ()
    system_commands = {}  # binary -> Debian package the library needs on PATH
    holds_outputs = ""  # how an op's outputs are held, in words
    citation = None  # Citation
    advice = ""  # one sentence for its users, for the report
    unsupported = {}  # workload -> why this adapter does not run it
    scalar_scale = None  # a scalar library runs `size // scalar_scale` scalars per array
    tensor_types = ()  # the library's tensor class(es), for the cycle anatomy
    notes = ""
    # The four binary operators (None where an implementation has none: bench skips what needs them).
    add, sub, mul, div = operator.add, operator.sub, operator.mul, operator.truediv

    # --- making leaves and graphs ---
    def variable(self, array):
        raise NotImplementedError

    def leaf(self, shape, fill):
        """A float64 leaf of the given shape (an int n meaning (n,)) filled with `fill` (bench's workloads)."""
        return self.variable(np.full(shape, fill, dtype=np.float64))

    def square(self, x):
        return x * x

    def neg(self, x):
        return -x

    def graph(self, function, *leaves):
        """Records function(*leaves); define-by-run libraries just call it."""
        return function(*leaves)

    def backward(self, y):
        y.backward()

    def value(self, x):
        """x's value as an ndarray."""
        return np.asarray(x.data)

    def gradient(self, x, y=None):
        """x's gradient after backward(y), as an ndarray."""
        return np.asarray(x.grad)

    def clear_gradient(self, x):
        x.cleargrad()

    def update(self, x, array):
        """x with its value replaced by `array`; the same leaf where the library allows it."""
        x.data[...] = array
        return x

    def no_grad(self):
        return contextlib.nullcontext()

    def warm_up(self):
        """One tiny graph and its backward, so that a library's one-time set-up (lazy imports, an
        autograd engine's threads) happens before a measurement starts rather than inside it."""
        x = self.variable(np.full(4, 0.5))
        y = self.graph(lambda x: self.neg(self.square(self.add(x, x))), x)
        self.backward(y)
        self.gradient(x, y)

    # --- bench's clean-up ---
    def collect_garbage(self):
        gc.collect()

    def collections_so_far(self):
        """Collections the implementation ran on its own account (None: it never runs any)."""
        return None

    # --- description ---
    def version(self):
        try:
            return importlib.metadata.version(self.distribution)
        except (importlib.metadata.PackageNotFoundError, ValueError, TypeError):
            return None

    def versions(self):
        return {self.distribution or self.name: self.version(), "numpy": np.__version__}

    def supports(self, workload):
        return workload not in self.unsupported

    def scaled_params(self, params):
        """The parameters this adapter runs for a workload's `params` (a scalar library: fewer elements)."""
        if self.scalar_scale and "size" in params:
            return {**params, "size": max(1, params["size"] // self.scalar_scale)}
        return dict(params)

    def element_bytes(self):
        """Bytes one array element costs in the live set: a float64."""
        return FLOAT64_BYTES

    def live_set_bound(self, workload, params):
        """The workload's live-set bound in this library's elements, for its (scaled) parameters."""
        scaled = self.scaled_params(params)
        return int(workload.live_set_bound(scaled) // FLOAT64_BYTES * self.element_bytes())

    def held_arrays(self, obj):
        """The ndarrays an object of tensor_types holds (for held-bytes counts); none by default."""
        return ()

    def buffers(self, obj):
        """(key, bytes) of each buffer an object of tensor_types holds; its ndarrays by default."""
        return [(id(a), a.nbytes) for a in self.held_arrays(obj) if isinstance(a, np.ndarray)]

    def held_bytes(self):
        """Bytes of the buffers of every live tensor (each once), cycles included: gc.get_objects()
        does not collect. None for a library whose tensors the collector does not track."""
        if not self.tensor_types:
            return None
        seen = {}
        for obj in gc.get_objects():
            if isinstance(obj, self.tensor_types):
                seen.update(self.buffers(obj))
        return sum(seen.values())

    def describe(self):
        """Name, version and how the graph holds outputs, with the cited installed source line."""
        try:
            cited = self.citation.locate() if self.citation else None
            problem = None
        except (LookupError, OSError, TypeError, ImportError) as error:
            cited, problem = None, str(error)
        return {"name": self.name, "kind": self.kind, "version": self.version(),
                "holds_outputs": self.holds_outputs, "source": cited, "source_problem": problem,
                "advice": self.advice, "scalar_scale": self.scalar_scale, "notes": self.notes or None,
                "unsupported": dict(self.unsupported), "element_bytes": self.element_bytes()}


def _load(target):
    """The class named by "module:Class" or "path/to/file.py:Class"."""
    where, sep, class_name = target.rpartition(":")
    if not sep or not where or not class_name:
        raise UnknownImplementation(f"{target!r} is not an adapter: give a name ({', '.join(KINDS)}), "
                                    "module:Class or path/to/file.py:Class")
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            if not path.is_file():
                raise UnknownImplementation(f"adapter file {path} does not exist")
            spec = importlib.util.spec_from_file_location(f"graphmem_user_adapter_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except UnknownImplementation:
        raise
    except Exception as error:  # noqa: BLE001  a user's file may fail at import in any way; say which, no traceback
        raise UnknownImplementation(f"cannot import the adapter module {where!r}: "
                                    f"{type(error).__name__}: {error}") from None
    adapter_class = getattr(module, class_name, None)
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, Adapter)):
        raise UnknownImplementation(f"{where} has no Adapter subclass named {class_name!r}")
    return adapter_class


def adapter_class(kind):
    """The adapter class for a registered name or a module:Class / file.py:Class, without importing its library."""
    return _load(REGISTRY[kind]) if kind in REGISTRY else _load(kind) if ":" in kind else _unknown(kind)


def _unknown(kind):
    raise UnknownImplementation(f"unknown implementation kind {kind!r}; expected one of {', '.join(KINDS)}, "
                                "or module:Class / path/to/file.py:Class for your own adapter")


def make_adapter(kind):
    """The adapter for `kind` (a registered name, or module:Class), importing its library."""
    chosen = adapter_class(kind)
    try:
        return chosen()
    except ImportError as error:
        raise ImplementationUnavailable(f"the {chosen.name} adapter cannot import its library here "
                                        f"({sys.executable}): {error}") from error


def process_environment():
    """What this measuring process ran on: interpreter and platform."""
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation()}


def __getattr__(name):
    # OursAdapter, BookAdapter, TorchAdapter, MinimalAdapter stay importable from here, as bench imports them.
    legacy = {"OursAdapter": "ours", "BookAdapter": "book", "TorchAdapter": "torch", "MinimalAdapter": "minimal"}
    if name in legacy:
        return adapter_class(legacy[name])
    raise AttributeError(name)
