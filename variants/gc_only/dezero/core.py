"""DeZero-style define-by-run autograd: one of three variants of the same text.

The variants differ only in the lines marked `# policy:`, which decide who frees
a computation graph once the program has dropped it; POLICY says it in a line.
"""
import contextlib
import contextvars
import gc  # policy: gc_only
import inspect
import numbers
import os  # policy: gc_only
import time  # policy: gc_only
import weakref  # policy: gc_only

import numpy as np

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
    if not isinstance(getattr(_PerContextSettings, name, None), property):
        raise AttributeError(f"Config has no setting {name!r}")
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
                raise TypeError(f"Variable data must be a numpy.ndarray or None, got {type(data).__name__}")
            if data.dtype.kind not in "fiu":
                raise TypeError(f"Variable data must be an array of floats or integers, got dtype {data.dtype} "
                                f"(bool, complex, string and object arrays have no gradient here)")
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

    def __reduce_ex__(self, protocol):
        # copy, deepcopy and pickle all come here. Only a leaf travels, as in PyTorch: a copy
        # of a node would either drag its whole graph along or silently lose it.
        if self.creator is not None:
            raise TypeError(f"cannot copy or pickle {_describe(self)}: only a leaf (a Variable without a "
                            f"creator) can be copied; copy its data instead, e.g. Variable(y.data.copy())")
        return super().__reduce_ex__(protocol)

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def backward(self, retain_grad=False):
        """Adds the gradient of self to the .grad of every leaf of its graph (and, with
        retain_grad, of every Variable in between). The pass starts from self.grad, or from
        ones when it is None; every other gradient it propagates is its own, never an old .grad."""
        # This pass's gradients: a Variable leaves the dict when its creator runs, and no local
        # name keeps the seed alive after that.
        grads = {self: _seed_of(self)}
        collector.check()  # a graph dropped just before backward is freed before backward allocates  # policy: gc_only
        if retain_grad or self.creator is None:
            self.grad = grads[self]  # a leaf's gradient with respect to itself is the seed
        if self.creator is None:
            return
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
                    raise ValueError(f"{type(func).__name__}.backward returned {len(gxs)} gradients "
                                     f"for {len(inputs)} inputs")
                for x, gx in zip(inputs, gxs):
                    # Within the pass a 0-d gradient may be the NumPy scalar NumPy makes of it: it has a
                    # shape and dtype like an array, and becomes one when it is stored in a .grad.
                    data = x.data
                    if not isinstance(gx, _ARRAY_TYPES) or gx.dtype is not data.dtype or gx.shape != data.shape:
                        gx = _checked_grad(gx, x, func, gxs)
                        if gx is None:
                            continue
                    if x in grads:  # out of place: gx may also be another Variable's gradient
                        grads[x] = grads[x] + gx
                    else:  # x's first gradient in this pass: its creator has work to do
                        grads[x] = gx
                        if x.creator is not None:
                            pending.setdefault(x.creator.generation, []).append(x.creator)
                if retain_grad:
                    for y, gy in zip(outputs, gys):
                        if y is not self:
                            y.grad = _sum(y.grad, gy)
        for x, gx in grads.items():  # only leaves are left: their .grad accumulates across passes
            x.grad = _sum(x.grad, gx)


def _describe(variable):
    """How an error message names a Variable."""
    if variable.name is not None:
        return f"Variable {variable.name!r}"
    if variable.creator is not None:
        return f"the output of {type(variable.creator).__name__}"
    return "the leaf Variable"


def _seed_of(variable):
    """The gradient backward() starts from: the Variable's own .grad if set, else ones."""
    data = variable.data
    if data is None:
        raise ValueError("backward() needs data, but this Variable's data is None")
    if data.dtype.kind != "f":
        raise TypeError(f"backward() needs floating-point data, but {_describe(variable)} has dtype {data.dtype}: "
                        f"integer Variables are constants and take no gradient")
    grad = variable.grad
    if grad is None:
        return np.ones_like(data)
    grad = np.asarray(grad) if isinstance(grad, np.generic) else grad
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"the grad preset on {_describe(variable)} is a {type(grad).__name__}; "
                        f"expected a numpy.ndarray")
    if grad.shape != data.shape:
        raise ValueError(f"the grad preset on {_describe(variable)} has shape {grad.shape}, "
                         f"but its data has shape {data.shape}")
    return grad if grad.dtype == data.dtype else grad.astype(data.dtype)


def _checked_grad(gx, x, func, gxs):
    """gx as x's gradient: x's shape and dtype; None for an integer x, a constant."""
    if not isinstance(gx, _ARRAY_TYPES) or gx.shape != x.data.shape:
        position = 1 + [xi is x and gi is gx for xi, gi in zip(func.inputs, gxs)].index(True)
        if not isinstance(gx, _ARRAY_TYPES):
            raise TypeError(f"{type(func).__name__}.backward returned {type(gx).__name__} as the gradient "
                            f"of input {position}; expected a numpy.ndarray")
        raise ValueError(f"{type(func).__name__}.backward returned a gradient of shape {gx.shape} "
                         f"for input {position} of shape {x.data.shape}")
    if x.data.dtype.kind != "f":
        return None
    return gx if gx.dtype == x.data.dtype else gx.astype(x.data.dtype)


_ARRAY_TYPES = (np.ndarray, np.generic)


def _sum(grad, gx):
    """What a .grad holds after gx is added to it: an ndarray, also at 0-d (where NumPy gives scalars)."""
    total = gx if grad is None else grad + gx
    return total if type(total) is np.ndarray else np.asarray(total)


def as_variable(obj, func_name="Function", position=1):
    if isinstance(obj, Variable):
        if obj.data is None:
            raise ValueError(f"{func_name} input {position} is a Variable whose data is None")
        return obj
    if isinstance(obj, np.ndarray):
        return Variable(obj)
    if isinstance(obj, (numbers.Number, np.generic)):
        return Variable(np.asarray(obj))
    raise TypeError(f"{func_name} input {position} must be a Variable, numpy.ndarray or scalar, "
                    f"got {type(obj).__name__}")


def _as_variables(inputs, func_name):
    """The inputs as Variables. A Python int or float is weak, as in NumPy (NEP 50): it takes
    the dtype NumPy would give it next to the other inputs, so 2.0 keeps a float32 graph float32."""
    variables = [x if _is_weak_scalar(x) else as_variable(x, func_name, i + 1) for i, x in enumerate(inputs)]
    arrays = [x.data for x in variables if isinstance(x, Variable)]
    return [Variable(np.asarray(x, np.result_type(*arrays, x))) if _is_weak_scalar(x) else x for x in variables]


def _is_weak_scalar(x):
    return type(x) in (int, float)


# --- Function ----------------------------------------------------------------------
class Function:
    """One operation: forward on ndarrays, backward on the gradients of its outputs.

    An instance records one call (its inputs and outputs are the graph's edges); make a
    new instance for every call."""

    arity = None  # inputs that forward takes; None when it takes *args
    inputs = None  # set when the instance records its call

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        code = getattr(cls.forward, "__code__", None)
        if code is not None and not code.co_flags & inspect.CO_VARARGS:
            cls.arity = code.co_argcount - 1

    def __call__(self, *inputs):
        if self.arity is not None and len(inputs) != self.arity:
            raise TypeError(f"{type(self).__name__} takes {self.arity} input{'s' * (self.arity != 1)}, "
                            f"got {len(inputs)}")
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
            outputs = [Variable(y if type(y) is np.ndarray else _checked_output(y, self)) for y in ys]
        else:
            outputs = [Variable(ys if type(ys) is np.ndarray else _checked_output(ys, self))]
        if _enable_backprop.get():
            if self.inputs is not None:
                raise RuntimeError(f"this {type(self).__name__} instance has already recorded a call, and a "
                                   f"Function records one call: use a new {type(self).__name__}() for each call")
            self.inputs = list(inputs)
            self.generation = generation
            for output in outputs:
                output.creator, output.generation = self, generation + 1  # set_creator, inlined
            self.outputs = outputs  # policy: gc_only
            collector.record(self, inputs, outputs)  # policy: gc_only
        return outputs if len(outputs) > 1 else outputs[0]

    def __reduce_ex__(self, protocol):
        if self.inputs is not None:
            raise TypeError(f"cannot copy or pickle a {type(self).__name__} that has recorded a call: "
                            f"it is part of a graph")
        return super().__reduce_ex__(protocol)

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")


def _checked_output(y, func):
    if isinstance(y, np.generic):  # numpy turns 0-d results into scalars: the common way here
        return np.asarray(y)
    if isinstance(y, np.ndarray):  # an ndarray subclass
        return y
    raise TypeError(f"{type(func).__name__}.forward returned {type(y).__name__}; expected a numpy.ndarray")


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
        # d(x0**x1)/dx0 = x1 * x0**(x1 - 1), taken as 0 where x1 == 0 (0**0 included), as in PyTorch;
        # d(x0**x1)/dx1 = x0**x1 * log(x0): nan for a negative base, as in PyTorch.
        with np.errstate(divide="ignore", invalid="ignore"):
            gx0 = gy * np.where(x1.data == 0, 0, x1.data * x0.data ** (x1.data - 1))
            gx1 = gy * x0.data ** x1.data * np.log(np.where(x0.data == 0, 1, x0.data))
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
