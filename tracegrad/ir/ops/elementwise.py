"""Elementwise ops: one stanza each. Operands share a shape and dtype (the tensor layer casts
and broadcasts), literals are inline Python scalars.

Scalar templates are expressions over `{0}`, `{1}`, ... (and `{attr}` for attributes, `{z}` for
a zero of the operand dtype, so literals never widen a float32 kernel) valid in Python and Numba. Function names in templates (`exp`, `log`, `tanh`, ...) are resolved by
codegen to the vectorized math of the kernel's dtype; the lowering binds each operand to a local
name first, so a template may repeat `{0}`.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor_api import is_tensor, where
from . import Kind, define, rules
from . import fast
from .fast import accelerated

E = Kind.ELEMENTWISE


def _unary(name, compute, scalar, vjp, infer=rules.floating, **extra):
    define(name, E, arity=1, infer=infer, compute=compute, scalar=scalar, vjp=vjp, **extra)


try:    # numpy >= 2 keeps errstate in a contextvar: setting it directly costs 0.2 us, not 2
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
except ImportError:                                 # pragma: no cover - other numpy versions
    _ERRSTATE = None
_LAST_QUIET: list = [None, None]                    # (the caller's errstate, its quiet twin)


def _quiet_state(current):
    with np.errstate(all="ignore"):                 # the caller's state, every error ignored
        _LAST_QUIET[:] = [current, _ERRSTATE.get()]
    return _LAST_QUIET[1]


def _quiet(fn):
    """Run a numpy function without floating-point warnings (inf and nan are results, as in PyTorch)."""
    if _ERRSTATE is None:                           # pragma: no cover
        def run(*args, **kwargs):
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
    else:
        def run(*args, **kwargs):
            current = _ERRSTATE.get()
            quiet = _LAST_QUIET[1] if current is _LAST_QUIET[0] else _quiet_state(current)
            token = _ERRSTATE.set(quiet)
            try:
                return fn(*args, **kwargs)
            finally:
                _ERRSTATE.reset(token)
    run.__name__ = getattr(fn, "__name__", "compute")
    return run


# ---- unary math ----

# `accelerated`: big float arrays run vmath kernels (transcendental functions) or write into
# recycled buffers (ir/ops/fast.py); everything else is the numpy call itself.
_unary("neg", _quiet(accelerated("neg", np.negative)), "(-{0})", lambda g, out, x: (-g,),
       infer=rules.elementwise)
_unary("exp", _quiet(accelerated("exp", np.exp)), "exp({0})", lambda g, out, x: (g * out,))
_unary("log", _quiet(accelerated("log", np.log)), "log({0})", lambda g, out, x: (g / x,))
_unary("log1p", _quiet(accelerated("log1p", np.log1p)), "log1p({0})",
       lambda g, out, x: (g / (x + 1.0),))
_unary("sin", _quiet(accelerated("sin", np.sin)), "sin({0})",
       lambda g, out, x: (g * x.cos(),))
_unary("cos", _quiet(accelerated("cos", np.cos)), "cos({0})",
       lambda g, out, x: (g * -x.sin(),))
_unary("tanh", _quiet(accelerated("tanh", np.tanh)), "tanh({0})",
       lambda g, out, x: (g * (1.0 - out * out),))
_unary("sqrt", _quiet(accelerated("sqrt", np.sqrt)), "sqrt({0})",
       lambda g, out, x: (g / (out * 2.0),))


@_quiet
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@_quiet
def _softplus(x):
    return np.logaddexp(0.0, x).astype(x.dtype, copy=False)


_unary("sigmoid", accelerated("sigmoid", _sigmoid), "sigmoid({0})",
       lambda g, out, x: (g * (out * (1.0 - out)),))
_unary("softplus", accelerated("softplus", _softplus), "softplus({0})",
       lambda g, out, x: (g * x.sigmoid(),))


def _relu_vjp(g, out, x):
    return (where(out > 0, g, 0.0),)   # reads the output, as PyTorch saves it; 0 at x = 0


_unary("relu", lambda x: np.maximum(x, 0).astype(x.dtype), "({0} if not {0} <= {z} else {z})",
       _relu_vjp, infer=rules.elementwise)
_unary("abs", np.abs, "abs({0})", lambda g, out, x: (g * x.sign(),), infer=rules.elementwise)
_unary("sign", lambda x: np.subtract(x > 0, x < 0, dtype=x.dtype),
       "(({0} > {z}) * 1 - ({0} < {z}) * 1)", None, infer=rules.elementwise)   # PyTorch: sign(nan) = 0


def _clamp_vjp(g, out, x, *, min, max):
    """PyTorch passes the gradient where min <= x <= max, boundaries included."""
    if min is not None:
        g = where(x >= min, g, 0.0)
    if max is not None:
        g = where(x <= max, g, 0.0)
    return (g,)


def _clamp_scalar(min, max):
    expr = "{0}"
    if min is not None:
        expr = f"({{min}} if {expr} < {{min}} else {expr})"
    if max is not None:
        expr = f"({{max}} if {expr} > {{max}} else {expr})"
    return expr


def _clamp_name(operands, attrs):
    if attrs["max"] is None:
        return "ClampMinBackward0"
    return "ClampMaxBackward0" if attrs["min"] is None else "ClampBackward1"


_unary("clamp", lambda x, *, min, max: np.clip(x, min, max).astype(x.dtype), _clamp_scalar,
       _clamp_vjp, infer=lambda x, *, min, max: rules.elementwise(x),
       attrs=("min", "max"), eager_name=_clamp_name)

# ---- binary arithmetic ----


def _binary(name, compute, scalar, vjp, infer=rules.elementwise, **extra):
    define(name, E, arity=2, infer=infer, compute=compute, scalar=scalar, vjp=vjp, **extra)


# The arithmetic ops' ufuncs, quiet: eager in-place updates that autograd does not record write
# through them straight into the tensor (`w -= lr * g` in one pass, as numpy's; runtime/tensor.py).
IN_PLACE = {name: _quiet(ufunc) for name, ufunc in (
    ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide))}

_binary("add", _quiet(accelerated("add", np.add)), "({0} + {1})", lambda g, out, x, y: (g, g))
_binary("sub", _quiet(accelerated("sub", np.subtract)), "({0} - {1})",
        lambda g, out, x, y: (g, lambda: -g),
        eager_name=lambda ops, attrs: "SubBackward0" if is_tensor_type(ops[0]) else "RsubBackward1")
_binary("mul", _quiet(accelerated("mul", np.multiply)), "({0} * {1})",
        lambda g, out, x, y: (lambda: g * y, lambda: g * x))
_binary("div", _quiet(accelerated("div", np.true_divide)), "({0} / {1})",
        lambda g, out, x, y: (lambda: g / y, lambda: -g * x / (y * y)), infer=rules.floating)


def _log_of(v):
    """log of a tensor, or of a literal base (a Python number: static, so plain math)."""
    if is_tensor(v):
        return v.log()
    return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def _pow_base_grad(g, x, y):
    if not is_tensor(y):                 # a literal exponent: static, so Python branches
        if y == 0:
            return g * 0.0
        if y == 1:
            return g                     # x ** 0 is 1, even for NaN
        return g * (2.0 * x) if y == 2 else g * (y * x ** (y - 1))
    return where(y == 0, 0.0, g * (y * x ** (y - 1.0)))


def _pow_exponent_grad(g, out, x, y):
    grad = g * (out * _log_of(x))
    if not is_tensor(x):                 # a literal base: a static fact, so a Python branch
        return where(y >= 0, 0.0, grad) if x == 0 else grad
    return where(x == 0, where(y >= 0, 0.0, grad), grad)   # PyTorch masks 0 ** y for y >= 0


def _pow_name(operands, attrs):
    x_tensor, y_tensor = (is_tensor_type(t) for t in operands)
    return "PowBackward1" if x_tensor and y_tensor else ("PowBackward0" if x_tensor else "PowBackward2")


def _small_exponent(x, y) -> int | None:
    """A literal integer exponent in [-4, 4] on a float array: computed by products, as
    PyTorch and codegen do (np.power costs 10-30 ns per element; a product rounds at most
    |n|-1 times more, within 2 ulp)."""
    if isinstance(y, (int, float)) and not isinstance(y, bool) and isinstance(x, np.ndarray) \
            and x.dtype.kind == "f" and float(y).is_integer() and -4 <= y <= 4:
        return int(y)
    return None


def _power_by_multiplication(x, n):
    if n == 0:
        return np.ones_like(x)          # pow(x, 0) = 1 even for NaN (C99, numpy)
    out = fast.empty_like(x)            # an array even for 0-d x; recycled when big
    if abs(n) == 1:
        np.copyto(out, x)
    else:
        np.multiply(x, x, out=out)
    if abs(n) == 3:
        np.multiply(out, x, out=out)
    elif abs(n) == 4:
        np.multiply(out, out, out=out)
    return np.divide(1, out, out=out) if n < 0 else out


_general_power = accelerated("pow", np.power)


@_quiet
def _power(x, y):
    n = _small_exponent(x, y)
    return _general_power(x, y) if n is None else _power_by_multiplication(x, n)


_binary("pow", _power, "pow({0}, {1})",
        lambda g, out, x, y: (lambda: _pow_base_grad(g, x, y), lambda: _pow_exponent_grad(g, out, x, y)),
        eager_name=_pow_name)

# ---- comparisons (no VJP: bool results carry no gradient) ----

for _name, _fn, _sym in (("eq", np.equal, "=="), ("ne", np.not_equal, "!="), ("lt", np.less, "<"),
                         ("le", np.less_equal, "<="), ("gt", np.greater, ">"),
                         ("ge", np.greater_equal, ">=")):
    _binary(_name, _fn, f"({{0}} {_sym} {{1}})", None, infer=rules.comparison)

# ---- selection and conversion ----


def _where_vjp(g, out, cond, a, b):
    return None, lambda: where(cond, g, 0.0), lambda: where(cond, 0.0, g)


define("where", E, arity=3, infer=rules.where, compute=np.where, scalar="({1} if {0} else {2})",
       vjp=_where_vjp)


def _cast_vjp(g, out, x, *, dtype):
    return (g.to(x.dtype) if x.dtype.is_floating_point else None,)


define("cast", E, arity=1, attrs=("dtype",), infer=rules.cast,
       compute=lambda x, *, dtype: x.astype(dtype.np), scalar="{0}", vjp=_cast_vjp,
       eager_name="ToCopyBackward0")
define("stop_gradient", E, arity=1, infer=rules.elementwise, compute=lambda x: x, scalar="{0}",
       vjp=None)


def is_tensor_type(operand) -> bool:
    """In eager_name callables, operands are types (tensors) or Python scalars (literals)."""
    return not isinstance(operand, (bool, int, float))
