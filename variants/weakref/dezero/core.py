"""DeZero-style define-by-run autograd: one of three variants of the same text.

The variants differ only in the lines marked `# policy:`, which decide who frees
a computation graph once the program has dropped it; POLICY says it in a line.
"""
import contextlib
import contextvars
import inspect
import numbers
import weakref  # policy: weakref

import numpy as np

VARIANT = "weakref"  # policy: weakref
POLICY = "a Function holds its outputs by weakref; reference counting frees a dropped graph at once"  # policy: weakref

__all__ = [
    "VARIANT", "POLICY", "Config", "using_config", "no_grad", "Variable", "Function", "as_variable",
    "Square", "Exp", "Neg", "Add", "Sub", "Mul", "Div", "Pow",
    "square", "exp", "add", "mul", "neg", "sub", "div", "pow", "numerical_diff",
]


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
                    outputs = [outputs[0]()]  # alive: this pass's gradients hold it as a key  # policy: weakref
                    gys = (grads.pop(outputs[0]),)
                else:
                    outputs = [ref() for ref in outputs]  # policy: weakref
                    if None in outputs:  # policy: weakref
                        # An output the program dropped before backward had no consumers: zero gradient.  # policy: weakref
                        outputs = [Variable(np.zeros(*spec)) if y is None else y  # policy: weakref
                                   for y, spec in zip(outputs, func.output_specs)]  # policy: weakref
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
            self.outputs = list(map(weakref.ref, outputs))  # policy: weakref
            # backward reaches a Function through a live output: only a sibling can be gone by then.  # policy: weakref
            self.output_specs = [(y.shape, y.dtype) for y in outputs] if len(outputs) > 1 else None  # policy: weakref
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
