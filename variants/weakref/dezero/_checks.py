"""What is not the chapter: checks on what a user passes in and their messages, the dtype rules,
and the copy and pickle guards. core.py calls in here, so that it reads like the book.

Byte-identical in the three variants (no memory policy lives here), and imports nothing of core.
"""
import inspect

import numpy as np

# Within a backward pass a 0-d gradient may be the NumPy scalar NumPy makes of it: it has a shape
# and dtype like an array, and becomes one when it is stored in a .grad.
ARRAY_TYPES = (np.ndarray, np.generic)


def describe(variable):
    """How an error message names a Variable."""
    if variable.name is not None:
        return f"Variable {variable.name!r}"
    if variable.creator is not None:
        return f"the output of {type(variable.creator).__name__}"
    return "the leaf Variable"


# --- Config --------------------------------------------------------------------------
def check_setting(settings, name):
    if not isinstance(getattr(settings, name, None), property):
        raise AttributeError(f"Config has no setting {name!r}")


# --- Variable data and its dtype ---------------------------------------------------------
def not_an_array(data):
    return TypeError(f"Variable data must be a numpy.ndarray or None, got {type(data).__name__}")


def no_gradient_dtype(data):
    return TypeError(f"Variable data must be an array of floats or integers, got dtype {data.dtype} "
                     f"(bool, complex, string and object arrays have no gradient here)")


def not_an_input(obj, func_name, position):
    return TypeError(f"{func_name} input {position} must be a Variable, numpy.ndarray or scalar, "
                     f"got {type(obj).__name__}")


def no_data_input(func_name, position):
    return ValueError(f"{func_name} input {position} is a Variable whose data is None")


def is_weak_scalar(x):
    """A Python int or float: weak, as in NumPy (NEP 50)."""
    return type(x) in (int, float)


def weak_scalar_array(x, arrays):
    """A weak scalar as the array NumPy would make of it next to `arrays`: 2.0 beside float32 is float32."""
    return np.asarray(x, np.result_type(*arrays, x))


# --- backward: the seed and each gradient ------------------------------------------------
def seed_of(variable):
    """The gradient backward() starts from: the Variable's own .grad if set, else ones."""
    data = variable.data
    if data is None:
        raise ValueError("backward() needs data, but this Variable's data is None")
    if data.dtype.kind != "f":
        raise TypeError(f"backward() needs floating-point data, but {describe(variable)} has dtype {data.dtype}: "
                        f"integer Variables are constants and take no gradient")
    grad = variable.grad
    if grad is None:
        return np.ones_like(data)
    grad = np.asarray(grad) if isinstance(grad, np.generic) else grad
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"the grad preset on {describe(variable)} is a {type(grad).__name__}; "
                        f"expected a numpy.ndarray")
    if grad.shape != data.shape:
        raise ValueError(f"the grad preset on {describe(variable)} has shape {grad.shape}, "
                         f"but its data has shape {data.shape}")
    return grad if grad.dtype == data.dtype else grad.astype(data.dtype)


def wrong_gradient_count(func, gxs, inputs):
    return ValueError(f"{type(func).__name__}.backward returned {len(gxs)} gradients for {len(inputs)} inputs")


def checked_grad(gx, x, func, gxs):
    """gx as x's gradient: x's shape and dtype; None for an integer x, a constant."""
    if not isinstance(gx, ARRAY_TYPES) or gx.shape != x.data.shape:
        position = 1 + [xi is x and gi is gx for xi, gi in zip(func.inputs, gxs)].index(True)
        if not isinstance(gx, ARRAY_TYPES):
            raise TypeError(f"{type(func).__name__}.backward returned {type(gx).__name__} as the gradient "
                            f"of input {position}; expected a numpy.ndarray")
        raise ValueError(f"{type(func).__name__}.backward returned a gradient of shape {gx.shape} "
                         f"for input {position} of shape {x.data.shape}")
    if x.data.dtype.kind != "f":
        return None
    return gx if gx.dtype == x.data.dtype else gx.astype(x.data.dtype)


def grad_sum(grad, gx):
    """What a .grad holds after gx is added to it: an ndarray, also at 0-d (where NumPy gives scalars)."""
    total = gx if grad is None else grad + gx
    return total if type(total) is np.ndarray else np.array(total)


# --- Function: its inputs, its outputs, one call per instance --------------------------------
def arity_of(cls):
    """How many inputs cls.forward takes; the inherited arity when it takes *args or is not Python code."""
    code = getattr(cls.forward, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return cls.arity
    return code.co_argcount - 1


def wrong_arity(func, inputs):
    return TypeError(f"{type(func).__name__} takes {func.arity} input{'s' * (func.arity != 1)}, got {len(inputs)}")


def already_recorded(func):
    name = type(func).__name__
    return RuntimeError(f"this {name} instance has already recorded a call, and a Function records one call: "
                        f"use a new {name}() for each call")


def checked_output(y, func):
    if isinstance(y, np.generic):  # numpy turns 0-d results into scalars: the common way here
        return np.asarray(y)
    if isinstance(y, np.ndarray):  # an ndarray subclass
        return y
    raise TypeError(f"{type(func).__name__}.forward returned {type(y).__name__}; expected a numpy.ndarray")


# --- copy, deepcopy and pickle ---------------------------------------------------------------
# All three come to __reduce_ex__. Only a leaf travels, as in PyTorch: a copy of a node would either
# drag its whole graph along or silently lose it. A leaf's state is its data, grad and name, which
# every pickle protocol (0 to 5) can carry: __slots__ alone only pickle from protocol 2.
def reduce_leaf(variable, protocol):
    """Variable.__reduce_ex__."""
    if variable.creator is not None:
        raise TypeError(f"cannot copy or pickle {describe(variable)}: only a leaf (a Variable without a "
                        f"creator) can be copied; copy its data instead, e.g. Variable(y.data.copy())")
    return object.__reduce_ex__(variable, protocol)


def leaf_state(variable):
    """Variable.__getstate__."""
    return {"data": variable.data, "name": variable.name, "grad": variable.grad}


def set_leaf_state(variable, state):
    """Variable.__setstate__: a new leaf, its data checked as Variable(...) checks it."""
    variable.__init__(state["data"], state["name"])
    variable.grad = state["grad"]


def reduce_unrecorded(func, protocol):
    """Function.__reduce_ex__: a Function that has recorded a call is part of a graph."""
    if func.inputs is not None:
        raise TypeError(f"cannot copy or pickle a {type(func).__name__} that has recorded a call: "
                        f"it is part of a graph")
    return object.__reduce_ex__(func, protocol)
