"""DeZero-style define-by-run autograd: one of three variants of the same text.

The variants differ only in the lines marked `# policy:`, which decide who frees
a computation graph once the program has dropped it; POLICY says it in a line.
What is not the chapter (input checks and their messages, dtype rules, copy and pickle
guards) is in dezero/_checks.py, the same file in every variant.
"""
import contextlib
import contextvars
import gc  # policy: gc_only
import numbers
import threading
import os  # policy: gc_only
import time  # policy: gc_only
import weakref  # policy: gc_only

import numpy as np

from dezero import _checks

VARIANT = "gc_only"  # policy: gc_only
POLICY = "the strong cycle, but the variant runs gc.collect() when its recorded graphs not yet freed hold more than a budget"  # policy: gc_only

__all__ = [
    "VARIANT", "POLICY", "Config", "using_config", "no_grad", "Variable", "Function", "as_variable",
    "Square", "Exp", "Neg", "Add", "Sub", "Mul", "Div", "Pow",
    "square", "exp", "add", "mul", "neg", "sub", "div", "pow", "numerical_diff",
]
__all__ += ["GraphCollector", "collector"]  # policy: gc_only


# --- Config ------------------------------------------------------------------------
# Grad mode is per thread and per asyncio task, as in PyTorch: each setting lives in a
# ContextVar, and Config's metaclass reads and writes it under the class attribute's name.
_enable_backprop = contextvars.ContextVar("enable_backprop", default=True)


class _PerContextSettings(type):
    """Config's metaclass: `Config.<setting>` reads and writes the setting's ContextVar."""

    enable_backprop = property(lambda cls: _enable_backprop.get(),
                               lambda cls, value: _enable_backprop.set(value))


class Config(metaclass=_PerContextSettings):
    """Switches, per thread and per asyncio task: with enable_backprop off, no graph is recorded."""


@contextlib.contextmanager
def using_config(name, value):
    _checks.check_setting(_PerContextSettings, name)
    old_value = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old_value)


def no_grad():
    return using_config("enable_backprop", False)


class GraphCollector:  # policy: gc_only
    """Runs gc.collect() once the bytes of recorded graphs not yet freed pass its threshold (the budget)."""  # policy: gc_only
    # Each recorded Function carries its bytes on a weak reference whose callback takes them off  # policy: gc_only
    # the count when the graph is freed (by this collector or CPython's), so a graph that was alive  # policy: gc_only
    # at a collection and dropped later still counts: held graph memory stays within the budget  # policy: gc_only
    # plus what the program keeps. A collection that frees nothing found only graphs the program  # policy: gc_only
    # keeps; the next waits until a budget's worth (or a quarter of what survived, if more) has been  # policy: gc_only
    # recorded beyond them, so kept graphs cost a logarithmic number of collections, not one per budget.  # policy: gc_only

    # What a graph holds besides its array data, per object (CPython 3.11, 64-bit, measured with  # policy: gc_only
    # tracemalloc; a contract test checks that the count is never below what a graph really holds).  # policy: gc_only
    ARRAY_OVERHEAD, DIMENSION_OVERHEAD = 112, 16  # an ndarray object beyond its data, and per dimension  # policy: gc_only
    VARIABLE_OVERHEAD = 128  # a Variable and its attributes  # policy: gc_only
    FUNCTION_OVERHEAD = 512  # a Function, its attributes and lists, and the weak reference that counts it  # policy: gc_only

    def __init__(self, budget):  # policy: gc_only
        self._counted = set()  # one _CountedRef per recorded Function that is not freed yet  # policy: gc_only
        self.budget, self.pending_bytes, self.collections, self.seconds = budget, 0, 0, 0.0  # policy: gc_only

    @property  # policy: gc_only
    def budget(self):  # policy: gc_only
        return self._budget  # policy: gc_only

    @budget.setter  # policy: gc_only
    def budget(self, nbytes):  # policy: gc_only
        if isinstance(nbytes, bool) or not isinstance(nbytes, numbers.Integral) or nbytes <= 0:  # policy: gc_only
            raise ValueError(f"the gc budget must be a positive integer number of bytes, got {nbytes!r}")  # policy: gc_only
        self._budget = self.threshold = int(nbytes)  # policy: gc_only

    @property  # policy: gc_only
    def pending_bytes(self):  # policy: gc_only
        """Bytes held by the graphs recorded since the count was last set, and not freed yet."""  # policy: gc_only
        return self._pending_bytes  # policy: gc_only

    @pending_bytes.setter  # policy: gc_only
    def pending_bytes(self, nbytes):  # policy: gc_only
        self._counted.clear()  # setting the count starts it afresh: the graphs alive now are not in it  # policy: gc_only
        self._pending_bytes = nbytes  # policy: gc_only

    def record(self, func, inputs, outputs):  # policy: gc_only
        """Counts one recorded call: the Function, its outputs, each leaf input and its future gradient."""  # policy: gc_only
        # A leaf used by several calls is counted for each: an upper bound, never an underestimate.  # policy: gc_only
        nbytes = self.FUNCTION_OVERHEAD  # policy: gc_only
        for y in outputs:  # policy: gc_only
            nbytes += self.VARIABLE_OVERHEAD + self._array_bytes(y.data)  # policy: gc_only
        for x in inputs:  # policy: gc_only
            if x.creator is None:  # policy: gc_only
                nbytes += self.VARIABLE_OVERHEAD + 2 * self._array_bytes(x.data)  # policy: gc_only
        ref = _CountedRef(func, self._forget)  # policy: gc_only
        ref.nbytes = nbytes  # policy: gc_only
        self._counted.add(ref)  # policy: gc_only
        self._pending_bytes += nbytes  # policy: gc_only
        self.check()  # policy: gc_only

    def _array_bytes(self, array):  # policy: gc_only
        return self.ARRAY_OVERHEAD + self.DIMENSION_OVERHEAD * array.ndim + array.nbytes  # policy: gc_only

    def check(self):  # policy: gc_only
        """Collects if the count is past the threshold: after each recorded call and before each backward."""  # policy: gc_only
        if self._pending_bytes > self.threshold:  # policy: gc_only
            freed = self.collect()  # policy: gc_only
            survived = self._pending_bytes  # policy: gc_only
            self.threshold = self._budget if freed else survived + max(self._budget, survived // 4)  # policy: gc_only

    def _forget(self, ref):  # policy: gc_only
        if ref in self._counted:  # policy: gc_only
            self._counted.discard(ref)  # policy: gc_only
            self._pending_bytes -= ref.nbytes  # policy: gc_only

    def collect(self):  # policy: gc_only
        """One full collection, counted and timed; returns the counted graph bytes it freed."""  # policy: gc_only
        before, start = self._pending_bytes, time.perf_counter()  # policy: gc_only
        gc.collect()  # policy: gc_only
        self.seconds += time.perf_counter() - start  # policy: gc_only
        self.collections += 1  # policy: gc_only
        return before - self._pending_bytes  # policy: gc_only


class _CountedRef(weakref.ref):  # policy: gc_only
    """A weak reference to a recorded Function that carries the bytes its call was counted for."""  # policy: gc_only

    __slots__ = ("nbytes",)  # policy: gc_only


def _budget_from_environment(default=64 * 2**20):  # policy: gc_only
    text = os.environ.get("DEZERO_GC_BUDGET", str(default))  # policy: gc_only
    if not (text.isascii() and text.strip().isdigit()) or int(text) <= 0:  # policy: gc_only
        raise ValueError(f"DEZERO_GC_BUDGET must be a positive integer number of bytes, got {text!r}")  # policy: gc_only
    return int(text)  # policy: gc_only


collector = GraphCollector(_budget_from_environment())  # policy: gc_only


# --- Variable ----------------------------------------------------------------------
class Variable:
    """A node of the graph: an ndarray, its gradient and the Function that made it."""

    __array_priority__ = 200  # so that ndarray + Variable defers to Variable.__radd__
    # Slots: smaller Variables, faster to make and read; __weakref__ keeps them weakly referable.
    __slots__ = ("data", "name", "grad", "creator", "generation", "__weakref__")

    def __init__(self, data, name=None):
        if data is not None:
            if not isinstance(data, np.ndarray):
                raise _checks.not_an_array(data)
            if data.dtype.kind not in "fiu":
                raise _checks.no_gradient_dtype(data)
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        if self.data is None:
            return "variable(None)"
        return "variable(" + str(self.data).replace("\n", "\n" + " " * 9) + ")"

    # copy, deepcopy and pickle: only a leaf, with its data, grad and name, as in PyTorch.
    __reduce_ex__, __getstate__, __setstate__ = _checks.reduce_leaf, _checks.leaf_state, _checks.set_leaf_state

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def backward(self, retain_grad=False):
        """Adds the gradient of self to the .grad of every leaf of its graph (and, with
        retain_grad, of every Variable in between). The pass starts from self.grad, or from
        ones when it is None; every other gradient it propagates is its own, never an old .grad.
        Each .grad it sets is an array of its own, added to under one lock, as in PyTorch."""
        # This pass's gradients: a Variable leaves the dict when its creator runs, and no local
        # name keeps the seed alive after that.
        grads = {self: _checks.seed_of(self)}
        collector.check()  # a graph dropped just before backward is freed before backward allocates  # policy: gc_only
        if self.creator is None:  # a leaf adds its gradient with respect to itself, ones, as in PyTorch
            with _grad_lock:  # (its .grad is what it accumulated, not a starting gradient)
                if self.grad is None:
                    self.grad = np.ones_like(self.data)
                else:  # checked as a preset grad is; + 1.0 keeps its dtype and makes a new array
                    self.grad = _checks.grad_sum(_checks.seed_of(self), 1.0)
            return
        if retain_grad:
            self.grad = grads[self]
        # Functions wait in buckets by generation. A Function's inputs were made by Functions of
        # lower generations, so walking the generations downward runs every Function after all the
        # Functions that consumed its outputs: O(n + generations), with no sorting.
        pending = {self.creator.generation: [self.creator]}
        for generation in range(self.creator.generation, -1, -1):
            for func in pending.pop(generation, ()):
                outputs = func.outputs
                if len(outputs) == 1:  # the common case: the one output's gradient is there
                    gys = (grads.pop(outputs[0]),)
                else:
                    gys = [grads.pop(y, None) for y in outputs]
                    if all(gy is None for gy in gys):
                        continue  # queued once per output that got a gradient, and has run already
                    # An output this pass did not reach has a zero gradient.
                    gys = [np.zeros_like(y.data) if gy is None else gy for y, gy in zip(outputs, gys)]
                gxs = func.backward(*gys)
                if type(gxs) is not tuple:
                    gxs = (gxs,)
                inputs = func.inputs
                if len(gxs) != len(inputs):
                    raise _checks.wrong_gradient_count(func, gxs, inputs)
                for x, gx in zip(inputs, gxs):
                    data = x.data
                    if not isinstance(gx, _ARRAY_TYPES) or gx.dtype is not data.dtype or gx.shape != data.shape:
                        gx = _checks.checked_grad(gx, x, func, gxs)
                        if gx is None:
                            continue
                    if x in grads:  # out of place: gx may also be another Variable's gradient
                        grads[x] = grads[x] + gx
                    else:  # x's first gradient in this pass: its creator has work to do
                        grads[x] = gx
                        if x.creator is not None:
                            pending.setdefault(x.creator.generation, []).append(x.creator)
                if retain_grad:  # a copy: gy is also handed on to the inputs
                    with _grad_lock:
                        for y, gy in zip(outputs, gys):
                            if y is not self:
                                y.grad = np.array(gy) if y.grad is None else _checks.grad_sum(y.grad, gy)
        with _grad_lock:  # only leaves are left: their .grad accumulates across passes
            stored = set()  # the pass's arrays that became a leaf's .grad as they are
            for x, gx in grads.items():
                if x.grad is not None:
                    x.grad = _checks.grad_sum(x.grad, gx)  # a new array
                elif id(gx) in stored or gx is self.grad:  # another leaf's gradient, or the seed
                    x.grad = np.array(gx)
                else:
                    x.grad = _checks.grad_sum(None, gx)
                    stored.add(id(gx))


_grad_lock = threading.Lock()  # a .grad is read, added to and written by one thread at a time
_ARRAY_TYPES = _checks.ARRAY_TYPES


def as_variable(obj, func_name="Function", position=1):
    if isinstance(obj, Variable):
        if obj.data is None:
            raise _checks.no_data_input(func_name, position)
        return obj
    if isinstance(obj, np.ndarray):
        return Variable(obj)
    if isinstance(obj, (numbers.Number, np.generic)):
        return Variable(np.asarray(obj))
    raise _checks.not_an_input(obj, func_name, position)


def _as_variables(inputs, func_name):
    """The inputs as Variables. A Python int or float is weak, as in NumPy (NEP 50): it takes
    the dtype NumPy would give it next to the other inputs, so 2.0 keeps a float32 graph float32."""
    weak = _checks.is_weak_scalar
    variables = [x if weak(x) else as_variable(x, func_name, i + 1) for i, x in enumerate(inputs)]
    arrays = [x.data for x in variables if isinstance(x, Variable)]
    return [Variable(_checks.weak_scalar_array(x, arrays)) if weak(x) else x for x in variables]


# --- Function ----------------------------------------------------------------------
class Function:
    """One operation: forward on ndarrays, backward on the gradients of its outputs.

    An instance records one call (its inputs and outputs are the graph's edges); make a
    new instance for every call."""

    arity = None  # inputs that forward takes; None when it takes *args
    inputs = None  # set when the instance records its call

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.arity = _checks.arity_of(cls)

    def __call__(self, *inputs):
        if self.arity is not None and len(inputs) != self.arity:
            raise _checks.wrong_arity(self, inputs)
        for x in inputs:
            if type(x) is not Variable or x.data is None:
                inputs = _as_variables(inputs, type(self).__name__)
                break
        if len(inputs) == 1:  # one input and one output are the common case: no comprehensions for them
            ys = self.forward(inputs[0].data)
            generation = inputs[0].generation
        else:
            ys = self.forward(*[x.data for x in inputs])
            generation = max([x.generation for x in inputs])
        if type(ys) is tuple:
            outputs = [Variable(y if type(y) is np.ndarray else _checks.checked_output(y, self)) for y in ys]
        else:
            outputs = [Variable(ys if type(ys) is np.ndarray else _checks.checked_output(ys, self))]
        if _enable_backprop.get():
            if self.inputs is not None:
                raise _checks.already_recorded(self)
            self.inputs = list(inputs)
            self.generation = generation
            for output in outputs:
                output.creator, output.generation = self, generation + 1  # set_creator, inlined
            self.outputs = outputs  # policy: gc_only
            collector.record(self, inputs, outputs)  # policy: gc_only
        return outputs if len(outputs) > 1 else outputs[0]

    __reduce_ex__ = _checks.reduce_unrecorded  # copy, deepcopy and pickle: not once it is part of a graph

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")


def _sum_to(gy, shape):
    """Sums a broadcast gradient back down to the shape of the input it belongs to."""
    if gy.shape == shape:
        return gy
    lead = gy.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1)
    return gy.sum(axis=axes, keepdims=True).reshape(shape)


# --- Operations --------------------------------------------------------------------
class Square(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        x = self.inputs[0].data
        return (x + x) * gy  # the same bits as 2.0 * x * gy, without a Python float to convert


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return np.exp(self.inputs[0].data) * gy


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Add(Function):
    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        x0, x1 = self.inputs
        return _sum_to(gy, x0.data.shape), _sum_to(gy, x1.data.shape)


class Sub(Function):
    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        x0, x1 = self.inputs
        return _sum_to(gy, x0.data.shape), _sum_to(-gy, x1.data.shape)


class Mul(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs
        return _sum_to(gy * x1.data, x0.data.shape), _sum_to(gy * x0.data, x1.data.shape)


class Div(Function):
    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = gy / x1.data
        return _sum_to(gx0, x0.data.shape), _sum_to(-gx0 * x0.data / x1.data, x1.data.shape)


class Pow(Function):
    def forward(self, x0, x1):
        return x0 ** x1

    def backward(self, gy):
        x0, x1 = self.inputs
        # As in PyTorch: d(x0**x1)/dx0 = x1 * x0**(x1 - 1), taken as 0 where x1 == 0 (0**0 included);
        # d(x0**x1)/dx1 = x0**x1 * log(x0), taken as 0 where x0 == 0 and x1 >= 0 (so -inf at 0 for
        # a negative x1, nan for a negative base).
        with np.errstate(divide="ignore", invalid="ignore"):
            gx0 = gy * np.where(x1.data == 0, 0, x1.data * x0.data ** (x1.data - 1))
            gx1 = gy * np.where((x0.data == 0) & (x1.data >= 0), 0, x0.data ** x1.data * np.log(x0.data))
        return _sum_to(gx0, x0.data.shape), _sum_to(gx1, x1.data.shape)


def square(x):
    return Square()(x)

def exp(x):
    return Exp()(x)

def neg(x):
    return Neg()(x)

def add(x0, x1):
    return Add()(x0, x1)

def sub(x0, x1):
    return Sub()(x0, x1)

def mul(x0, x1):
    return Mul()(x0, x1)

def div(x0, x1):
    return Div()(x0, x1)

def pow(x0, x1):
    return Pow()(x0, x1)


def numerical_diff(f, x, eps=1e-4):
    """Central difference of f at x, element by element (f must act elementwise)."""
    x = as_variable(x, "numerical_diff")
    y0 = f(Variable(np.asarray(x.data - eps)))
    y1 = f(Variable(np.asarray(x.data + eps)))
    return (y1.data - y0.data) / (2 * eps)


# --- Operator wiring ---------------------------------------------------------------
Variable.__add__ = add
Variable.__radd__ = add
Variable.__mul__ = mul
Variable.__rmul__ = mul
Variable.__neg__ = neg
Variable.__sub__ = sub
Variable.__rsub__ = lambda self, other: sub(other, self)
Variable.__truediv__ = div
Variable.__rtruediv__ = lambda self, other: div(other, self)
Variable.__pow__ = pow
Variable.__rpow__ = lambda self, other: pow(other, self)
