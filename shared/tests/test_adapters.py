"""The adapter layer and the cycle anatomy, on the installed variant and on adapters written here.

The peers' own libraries are not installed in the test environments; `nox -s profile` runs them
in theirs. What is tested here is what every adapter relies on: loading by name or by file,
the cited source read at run time, the shared workloads over an adapter, and what the cycle
anatomy finds for a cycle whose shape we know.
"""
import gc
import json

import numpy as np
import pytest

from expectations import EXPECTED
from graphmem import adapters, anatomy
from graphmem.adapters import (Adapter, Citation, ImplementationUnavailable, UnknownImplementation, adapter_class,
                               make_adapter)
from graphmem.workloads import WORKLOADS

# A scalar autograd with micrograd's shape: each op's closure `_backward` captures its output.
CLOSURE_LIBRARY = '''
def lift(other):
    return other if isinstance(other, Value) else Value(float(other))


class Value:
    def __init__(self, data, children=()):
        self.data, self.grad, self._prev = data, 0.0, set(children)
        self._backward = lambda: None

    def __mul__(self, other):
        other = lift(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():  # MARKER: the closure refers to out
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = lift(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        out = Value(self.data ** exponent, (self,))

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-lift(other))

    def __rsub__(self, other):
        return lift(other) + (-self)

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self):
        order, seen = [], set()

        def visit(v):  # a topological order, outputs last
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
'''

CLOSURE_ADAPTER = '''
import numpy as np
from graphmem.adapters import Adapter, Citation


class ClosureAdapter(Adapter):
    """Scalar Values in an object array, like the micrograd adapter."""

    name = kind = "closure"
    module = "closurelib"
    holds_outputs = "each op's closure refers to its output"
    citation = Citation("closurelib", r"MARKER")
    advice = "collect"
    scalar_scale = 10
    unsupported = {"no_grad_loop": "no no-grad mode"}

    def __init__(self):
        import closurelib
        self._value = closurelib.Value
        self.tensor_types = (closurelib.Value,)

    def variable(self, array):
        values = np.empty(len(array), dtype=object)
        values[:] = [self._value(float(v)) for v in array]
        return values

    def backward(self, y):
        for value in y:
            value.backward()

    def gradient(self, x, y=None):
        return np.array([v.grad for v in x])

    def value(self, x):
        return np.array([v.data for v in x])

    def clear_gradient(self, x):
        for v in x:
            v.grad = 0.0

    def update(self, x, array):
        for v, new in zip(x, array):
            v.data = float(new)
        return x
'''


@pytest.fixture
def closure_adapter(tmp_path, monkeypatch):
    """The file path:Class of an adapter we do not ship, over a library on sys.path."""
    (tmp_path / "closurelib.py").write_text(CLOSURE_LIBRARY)
    (tmp_path / "closure_adapter.py").write_text(CLOSURE_ADAPTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{tmp_path / 'closure_adapter.py'}:ClosureAdapter"


# --- loading ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", adapters.KINDS)
def test_every_registered_adapter_loads_without_its_library_and_describes_itself(kind):
    chosen = adapter_class(kind)
    assert issubclass(chosen, Adapter)
    assert chosen.holds_outputs or kind == "ours"  # ours reads its policy from the installed variant
    if kind in adapters.PEERS or kind == "ours":
        assert isinstance(chosen.citation, Citation)
    if kind in adapters.PEERS:
        assert chosen.name == kind and chosen.advice and chosen.module
        assert chosen.install_steps, f"{kind}: no pins to build its environment from"
        assert set(chosen.unsupported) <= set(WORKLOADS)


@pytest.mark.parametrize("target, message", [
    ("nosuchlib", "unknown implementation kind 'nosuchlib'"),
    ("graphmem.adapters:NoSuchAdapter", "no Adapter subclass named 'NoSuchAdapter'"),
    ("graphmem.adapters:Citation", "no Adapter subclass named 'Citation'"),
    ("no_such_module_here:Adapter", "cannot import the adapter module 'no_such_module_here'"),
    ("/no/such/file.py:Adapter", "adapter file /no/such/file.py does not exist"),
    (":Adapter", "is not an adapter"),
])
def test_a_bad_adapter_is_named(target, message):
    with pytest.raises(UnknownImplementation, match=message):
        make_adapter(target)


def test_a_missing_library_is_named_with_the_interpreter(tmp_path):
    (tmp_path / "needs.py").write_text("from graphmem.adapters import Adapter\n"
                                       "class Needs(Adapter):\n"
                                       "    name = 'needs'\n"
                                       "    def __init__(self):\n"
                                       "        import no_such_library_anywhere\n")
    with pytest.raises(ImplementationUnavailable, match="the needs adapter cannot import its library here"):
        make_adapter(f"{tmp_path / 'needs.py'}:Needs")


def test_ours_cites_the_line_of_the_installed_variant_that_holds_the_outputs():
    import dezero.core

    described = make_adapter("ours").describe()
    source = described["source"]
    assert source["file"] == "dezero/core.py" and described["source_problem"] is None
    lines = open(dezero.core.__file__).read().splitlines()
    assert lines[source["line"] - 1].strip() == source["text"]
    assert source["text"].startswith("self.outputs = ")
    assert described["holds_outputs"] == dezero.POLICY


def test_a_citation_follows_the_installed_source_and_says_when_its_marker_is_gone(tmp_path, monkeypatch):
    package = tmp_path / "citedlib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text("a = 1\n\nself_outputs = 'held here'  # MARK\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert Citation("citedlib.core", r"# MARK").locate() == {
        "file": "citedlib/core.py", "line": 3, "text": "self_outputs = 'held here'  # MARK"}
    (package / "core.py").write_text("a = 1\n")  # a release that removed the line
    with pytest.raises(LookupError, match="not found in .*core.py: the installed citedlib.core changed"):
        Citation("citedlib.core", r"# MARK").locate()


# --- the workloads over an adapter we do not ship ---------------------------------------
def test_every_supported_workload_runs_over_a_scalar_adapter_from_a_file(closure_adapter):
    ops = make_adapter(closure_adapter)
    described = ops.describe()
    marker_line = next(n for n, line in enumerate(CLOSURE_LIBRARY.splitlines(), 1) if "MARKER" in line)
    assert described["source"]["file"] == "closurelib.py" and described["source"]["line"] == marker_line
    for name, workload in WORKLOADS.items():
        params = workload.params({"size": 40, **{k: 3 for k in ("iterations", "depth", "layers")
                                                 if k in workload.default_params}})
        if not ops.supports(name):
            assert name == "no_grad_loop"
            continue
        assert ops.scaled_params(params)["size"] == 4
        assert ops.live_set_bound(workload, params) == workload.live_set_bound({**params, "size": 4}) // 8 * 8
        workload.function(ops, **ops.scaled_params(params))


def test_the_gradient_through_an_adapter_is_the_same_in_ours_and_a_scalar_library(closure_adapter):
    x0 = np.array([0.5, -1.5])
    for ops in (make_adapter("ours"), make_adapter(closure_adapter)):
        x = ops.variable(x0.copy())
        y = ops.graph(lambda x: 1 - (x * x * x) ** 2, x)
        ops.backward(y)
        np.testing.assert_allclose(ops.gradient(x, y), -6 * x0 ** 5)


# --- cycle anatomy ------------------------------------------------------------------------
def test_anatomy_draws_the_closure_cycle_of_a_micrograd_like_library(closure_adapter):
    record = anatomy.anatomy(closure_adapter, size=20)  # 2 Values
    forward = record["forward"]
    assert record["elements"] == 2 and forward["by_type"]["closurelib.Value"] == 2 * 4
    chain = forward["cycle"]
    assert [step["edge"] for step in chain] == ["._backward", "__closure__", chain[2]["edge"], "cell_contents"]
    assert [step["node"] for step in chain] == ["closurelib.Value", "function _backward", "tuple", "cell"]
    assert forward["array_bytes"] == 0  # floats, no arrays


def test_anatomy_of_the_installed_variant_matches_its_expectation():
    record = anatomy.anatomy("ours", size=1000)
    for phase in anatomy.PHASES:
        found = record[phase]
        if EXPECTED.freed_on_drop:
            assert found["objects"] == 0 and found["cycle"] is None and found["array_bytes"] == 0
        else:
            # x and three outputs (and after backward their gradients), held only by the cycle
            arrays = 4 if phase == "forward" else 5
            assert found["array_bytes"] == arrays * 1000 * 8
            nodes = [step["node"] for step in found["cycle"]]
            assert nodes[0] == "dezero.Variable" and "dezero.Square" in nodes
            assert [step["edge"] for step in found["cycle"]][:2] == [".creator", ".outputs"]
    assert gc.isenabled()


def test_anatomy_command_writes_its_record_and_refuses_a_bad_size(tmp_path, capsys):
    out = tmp_path / "anatomy.json"
    assert anatomy.main(["ours", str(out), "--size", "10"]) == 0
    assert json.loads(out.read_text())["implementation"] == make_adapter("ours").name
    with pytest.raises(SystemExit):
        anatomy.main(["ours", str(out), "--size", "0"])
    assert "--size must be a positive integer" in capsys.readouterr().err


def test_shortest_cycle_prefers_the_shortest_loop():
    class Node:
        pass

    a, b, c = Node(), Node(), Node()
    a.next, b.next, c.next = b, c, a  # a 3-cycle
    b.back = a  # and a 2-cycle through a and b
    chain = anatomy.shortest_cycle([a, b, c], (Node,))
    assert [step["edge"] for step in chain] == [".next", ".back"]
    del a, b, c, chain
    gc.collect()
