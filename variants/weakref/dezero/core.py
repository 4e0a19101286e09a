"""DeZero-style define-by-run autograd: one of three variants of the same text.

The variants differ only in the lines marked `# policy:`, which decide who frees
a computation graph once the program has dropped it; POLICY says it in a line.
"""
import contextlib
import heapq
import inspect
import itertools
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
class Config:
    """Process-wide switches: with enable_backprop off, no graph is recorded."""

    enable_backprop = True


@contextlib.contextmanager
def using_config(name, value):
    if not hasattr(Config, name):
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

    def __init__(self, data, name=None):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable data must be a numpy.ndarray or None, got {type(data).__name__}")
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

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def backward(self, retain_grad=False):
        if self.data is None:
            raise ValueError("backward() needs data, but this Variable's data is None")
        if self.grad is None:
            self.grad = np.ones_like(self.data)
        # A heap ordered by generation (newest first) runs every Function after all
        # Functions that consumed its outputs, in O(n log n); the counter breaks ties.
        pending, queued, tiebreak = [], set(), itertools.count()
        push, pop = heapq.heappush, heapq.heappop
        if self.creator is not None:
            queued.add(self.creator)
            push(pending, (-self.creator.generation, next(tiebreak), self.creator))
        while pending:
            func = pop(pending)[2]
            outputs = [ref() for ref in func.outputs]  # policy: weakref
            if None in outputs:  # policy: weakref
                # An output the program dropped before backward had no consumers: zero gradient.  # policy: weakref
                outputs = [Variable(np.zeros(*spec)) if y is None else y  # policy: weakref
                           for y, spec in zip(outputs, func.output_specs)]  # policy: weakref
            gys = [np.zeros_like(y.data) if y.grad is None else y.grad for y in outputs]
            gxs = func.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            inputs = func.inputs
            if len(gxs) != len(inputs):
                raise ValueError(f"{type(func).__name__}.backward returned {len(gxs)} gradients "
                                 f"for {len(inputs)} inputs")
            for x, gx in zip(inputs, gxs):
                if type(gx) is not np.ndarray or gx.shape != x.data.shape:
                    gx = _checked_grad(gx, x, func, gxs)
                # Out of place: the array in x.grad may also be another Variable's grad.
                x.grad = gx if x.grad is None else x.grad + gx
                creator = x.creator
                if creator is not None and creator not in queued:
                    queued.add(creator)
                    push(pending, (-creator.generation, next(tiebreak), creator))
            if not retain_grad:
                for y in outputs:
                    y.grad = None


def _checked_grad(gx, x, func, gxs):
    position = 1 + [xi is x and gi is gx for xi, gi in zip(func.inputs, gxs)].index(True)  # for the message
    gx = np.asarray(gx) if isinstance(gx, np.generic) else gx
    if not isinstance(gx, np.ndarray):
        raise TypeError(f"{type(func).__name__}.backward returned {type(gx).__name__} as the gradient "
                        f"of input {position}; expected a numpy.ndarray")
    if gx.shape != x.data.shape:
        raise ValueError(f"{type(func).__name__}.backward returned a gradient of shape {gx.shape} "
                         f"for input {position} of shape {x.data.shape}")
    return gx


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


# --- Function ----------------------------------------------------------------------
class Function:
    """One operation: forward on ndarrays, backward on the gradients of its outputs."""

    arity = None  # inputs that forward takes; None when it takes *args

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        code = getattr(cls.forward, "__code__", None)
        if code is not None and not code.co_flags & inspect.CO_VARARGS:
            cls.arity = code.co_argcount - 1

    def __call__(self, *inputs):
        if self.arity is not None and len(inputs) != self.arity:
            raise TypeError(f"{type(self).__name__} takes {self.arity} input{'s' * (self.arity != 1)}, "
                            f"got {len(inputs)}")
        # One pass over the inputs; the checking helpers only see what is not the usual type.
        variables, arrays, generation = [], [], 0
        for x in inputs:
            if not isinstance(x, Variable) or x.data is None:
                x = as_variable(x, type(self).__name__, len(variables) + 1)
            variables.append(x)
            arrays.append(x.data)
            if x.generation > generation:
                generation = x.generation
        ys = self.forward(*arrays)
        outputs = [Variable(y if type(y) is np.ndarray else _checked_output(y, type(self).__name__))
                   for y in (ys if isinstance(ys, tuple) else (ys,))]
        if Config.enable_backprop:
            self.generation, self.inputs = generation, variables
            for output in outputs:
                output.creator, output.generation = self, generation + 1  # set_creator, inlined
            self.outputs = [weakref.ref(output) for output in outputs]  # policy: weakref
            # backward reaches a Function through a live output: only a sibling can be gone by then.  # policy: weakref
            self.output_specs = [(y.shape, y.dtype) for y in outputs] if len(outputs) > 1 else None  # policy: weakref
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")


def _checked_output(y, name):
    if isinstance(y, np.ndarray):
        return y
    if isinstance(y, np.generic):  # numpy turns 0-d results into scalars
        return np.asarray(y)
    raise TypeError(f"{name}.forward returned {type(y).__name__}; expected a numpy.ndarray")


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
        gx0 = gy * x1.data * x0.data ** (x1.data - 1)
        # d(x0**x1)/dx1 = x0**x1 * log(x0): nan for a negative base, as in PyTorch.
        with np.errstate(divide="ignore", invalid="ignore"):
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
