"""TensorOps: the operators and methods shared by eager `Tensor`, IR `SymbolicTensor` and the
tracer's `Proxy`, so that one VJP rule serves eager backward, the reverse-mode pass and every
higher order.

Subclasses provide `shape`, `dtype`, `_apply(op, *operands, **attrs)` (run or record one op)
and `_constant(array)` (a tensor of their own world holding fixed data). Every method here
names ops only through `_apply`; dtype promotion and broadcasting are made explicit here (cast
and broadcast_to ops), so op rules see equal shapes and dtypes.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..device import check_device, device
from .shapes import broadcast_shapes, keepdims_shape, normalize_axes
from .types import Size

Scalar = builtins.bool | builtins.int | builtins.float
MinMax = namedtuple("MinMax", ["values", "indices"])


class TensorOps:
    """Operators and methods common to every tensor-like class of tracegrad."""

    __slots__ = ()
    _priority = 0          # when worlds mix, the operand with the highest priority applies the op
    __hash__ = object.__hash__

    # ---- provided by subclasses ----
    shape: tuple[int, ...]
    dtype: dt.DType

    def _apply(self, op: str, *operands: Any, **attrs: Any) -> TensorOps:
        raise NotImplementedError

    def _constant(self, array: np.ndarray) -> TensorOps:
        raise NotImplementedError

    def _concrete(self) -> np.ndarray | None:
        """The data, when this world has it (eager); None for symbolic tensors."""
        return None

    def _composite(self, name: str, fn: Any, *operands: Any, **static: Any) -> Any:
        """Run a composite made of other ops. Eager mode records it as ONE backward node named
        `name` (PyTorch's name), whose backward replays the decomposition; graphs inline it."""
        return fn(*operands, **static)

    # ---- sizes ----
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return math.prod(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return Size(self.shape) if dim is None else self.shape[dim]

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    # ---- arithmetic ----
    def __add__(self, other): return binary("add", self, other)
    def __radd__(self, other): return binary("add", other, self)
    def __sub__(self, other): return binary("sub", self, other)
    def __rsub__(self, other): return binary("sub", other, self)
    def __mul__(self, other): return binary("mul", self, other)
    def __rmul__(self, other): return binary("mul", other, self)
    def __truediv__(self, other): return binary("div", self, other, floating=True)
    def __rtruediv__(self, other): return binary("div", other, self, floating=True)
    def __pow__(self, other): return binary("pow", self, other)
    def __rpow__(self, other): return binary("pow", other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return self._apply("neg", self)
    def __pos__(self): return self
    def __abs__(self): return self.abs()

    def add(self, other, alpha=1): return self + (other if alpha == 1 else other * alpha)
    def sub(self, other, alpha=1): return self - (other if alpha == 1 else other * alpha)
    def mul(self, other): return self * other
    def div(self, other): return self / other
    def pow(self, exponent): return self ** exponent
    def neg(self): return -self
    def matmul(self, other): return matmul(self, other)
    def mm(self, other): return matmul(self, other)
    def mv(self, other): return matmul(self, other)
    def dot(self, other): return matmul(self, other)

    # ---- comparisons (bool results, no gradient) ----
    def __eq__(self, other): return binary("eq", self, other)    # type: ignore[override]
    def __ne__(self, other): return binary("ne", self, other)    # type: ignore[override]
    def __lt__(self, other): return binary("lt", self, other)
    def __le__(self, other): return binary("le", self, other)
    def __gt__(self, other): return binary("gt", self, other)
    def __ge__(self, other): return binary("ge", self, other)
    def eq(self, other): return self == other
    def ne(self, other): return self != other
    def lt(self, other): return self < other
    def le(self, other): return self <= other
    def gt(self, other): return self > other
    def ge(self, other): return self >= other

    # ---- unary math ----
    def exp(self): return self._float()._apply("exp", self._float())
    def log(self): return self._float()._apply("log", self._float())
    def log1p(self): return self._float()._apply("log1p", self._float())
    def sin(self): return self._float()._apply("sin", self._float())
    def cos(self): return self._float()._apply("cos", self._float())
    def tanh(self): return self._float()._apply("tanh", self._float())
    def sigmoid(self): return self._float()._apply("sigmoid", self._float())
    def softplus(self): return self._float()._apply("softplus", self._float())
    def sqrt(self): return self._float()._apply("sqrt", self._float())
    def relu(self): return self._apply("relu", self)
    def abs(self): return self._apply("abs", self)
    def sign(self): return self._apply("sign", self)
    def square(self): return self * self

    def clamp(self, min: Scalar | None = None, max: Scalar | None = None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
        bounds = [b for b in (min, max) if b is not None]
        x = self.to(common_dtype(self, *bounds))      # PyTorch: int tensor clamped to 2.5 is f32
        return x._apply("clamp", x, min=_literal(min, x.dtype), max=_literal(max, x.dtype))

    def clamp_min(self, min: Scalar): return self.clamp(min=min)
    def clamp_max(self, max: Scalar): return self.clamp(max=max)
    clip = clamp

    def _float(self) -> TensorOps:
        return self if self.dtype.is_floating_point else self.to(dt.default_float())

    # ---- dtype ----
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> TensorOps:
        if dtype is self.dtype and not args and not kwargs:
            return self
        target = _to_target(dtype, *args, **kwargs)
        if target is None or target is self.dtype:
            return self
        return self._apply("cast", self, dtype=target)

    def float(self): return self.to(dt.float32)
    def double(self): return self.to(dt.float64)
    def long(self): return self.to(dt.int64)
    def int(self): return self.to(dt.int32)
    def bool(self): return self.to(dt.bool_)
    def half(self): return self.to(dt.float16)
    def type_as(self, other): return self.to(other.dtype)

    # ---- reductions ----
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self.to(dtype) if dtype is not None else self
        if not x.dtype.is_floating_point and x.dtype is not dt.int64:
            x = x.to(dt.int64)         # PyTorch sums bools and int32 into int64
        axes = normalize_axes(axis if dim is None else dim, x.ndim)
        return x._apply("sum", x, axes=axes, keepdims=_keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self.to(dtype) if dtype is not None else self
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {x.dtype.name}")
        dim = axis if dim is None else dim
        name = "MeanBackward0" if dim is None else "MeanBackward1"
        axes = normalize_axes(dim, x.ndim)
        return x._composite(name, _mean, x, axes=axes, keepdims=_keep(keepdim, keepdims))

    def max(self, dim=None, keepdim=False):
        return _extreme(self, "max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _extreme(self, "min", dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return self._apply("max", self, axes=normalize_axes(dim, self.ndim), keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        return self._apply("min", self, axes=normalize_axes(dim, self.ndim), keepdims=keepdim)

    def argmax(self, dim=None, keepdim=False): return _arg_reduce(self, "argmax", dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _arg_reduce(self, "argmin", dim, keepdim)

    # ---- movement ----
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], tuple) and shape[0] == self.shape:
            return self
        target = _infer_shape(_shape_args(shape), self.numel())
        return self if target == tuple(self.shape) else self._apply("reshape", self, shape=target)

    view = reshape

    def view_as(self, other): return self.reshape(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = normalize_axes(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1))

    def unsqueeze(self, dim):
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        target = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return self.broadcast_to(target)

    def expand_as(self, other): return self.broadcast_to(other.shape)

    def broadcast_to(self, shape):
        shape = tuple(shape)
        return self if tuple(self.shape) == shape else self._apply("broadcast_to", self, shape=shape)

    def sum_to(self, shape):
        shape = tuple(shape)
        return self if tuple(self.shape) == shape else self._apply("sum_to", self, shape=shape)

    def permute(self, *dims):
        perm = tuple(d % self.ndim for d in _shape_args(dims))
        return self if perm == tuple(range(self.ndim)) else self._apply("transpose", self, perm=perm)

    def transpose(self, dim0, dim1):
        ndim = self.ndim
        if ndim == 2 and (dim0, dim1) in _MATRIX_SWAPS:   # the common case, without permute()
            return self._apply("transpose", self, perm=(1, 0))
        perm = list(range(ndim))
        perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
        return self.permute(perm)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self): return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self): return self.transpose(-2, -1)

    def slice(self, starts, stops, steps):
        if tuple(starts) == (0,) * self.ndim and tuple(stops) == tuple(self.shape) and set(steps) <= {1}:
            return self
        return self._apply("slice", self, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))

    def unslice(self, starts, steps, shape):
        return self._apply("unslice", self, starts=tuple(starts), steps=tuple(steps), shape=tuple(shape))

    def take(self, indices, axis=0):
        return self._apply("take", self, indices, axis=axis % max(self.ndim, 1))

    def scatter_add(self, indices, axis, size):
        return self._apply("scatter_add", self, indices, axis=axis, size=size)

    def __getitem__(self, key):
        from .indexing import getitem
        return getitem(self, key)

    def where(self, condition, other): return where(condition, self, other)

    def masked_fill(self, mask, value): return where(mask, value, self)

    def stop_gradient(self): return self._apply("stop_gradient", self)


# ---- free functions over tensors (used by VJP rules and exported by the package) ----

def is_tensor(x: Any) -> bool:
    return isinstance(x, TensorOps)


def lead(*operands: Any) -> TensorOps:
    """The operand whose world applies an op when worlds mix (eager tensors inside a trace)."""
    tensors = [x for x in operands if isinstance(x, TensorOps)]
    if not tensors:
        raise TypeError("expected at least one tensor operand, got "
                        + ", ".join(type(x).__name__ for x in operands))
    return builtins.max(tensors, key=lambda t: t._priority)


def _priority_of(x: Any) -> int:
    if isinstance(x, TensorOps):
        return 2 if x.ndim else 1
    return 0


def _dtype_of(x: Any) -> dt.DType:
    return x.dtype if isinstance(x, TensorOps) else dt.scalar_kind(x)


def common_dtype(*operands: Any) -> dt.DType:
    """PyTorch's result dtype of mixing these tensors and Python scalars."""
    return dt.result_type(*((_dtype_of(x), _priority_of(x)) for x in operands))


def _literal(value: Any, dtype: dt.DType) -> Any:
    """A Python scalar converted to the Python type of `dtype` (None passes through)."""
    if value is None:
        return None
    if isinstance(value, TensorOps) or (isinstance(value, np.ndarray) and value.ndim):
        raise TypeError(f"expected a Python number, got {type(value).__name__}")
    if dtype.is_floating_point:
        return builtins.float(value)
    if dtype is dt.bool_:
        return builtins.bool(value)
    if isinstance(value, builtins.float) and not value.is_integer():
        return value      # an integer tensor compared with 2.5: keep the fraction
    return builtins.int(value)


def _check_operand(x: Any) -> None:
    if not isinstance(x, (TensorOps, builtins.bool, builtins.int, builtins.float, np.number, np.bool_)):
        raise TypeError(f"expected a tensor or a Python number, got {type(x).__name__}")


def prepare(*operands: Any, dtype: dt.DType | None = None) -> list[Any]:
    """Promote and broadcast operands of an elementwise op: casts and broadcast_to made explicit."""
    for x in operands:
        _check_operand(x)
    dtype = dtype or common_dtype(*operands)
    shape = broadcast_shapes(*(tuple(x.shape) for x in operands if isinstance(x, TensorOps)))
    out = []
    for x in operands:
        if isinstance(x, TensorOps):
            out.append(x.to(dtype).broadcast_to(shape))
        else:
            out.append(_literal(x, dtype))
    return out


_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})


_NUMBER = (builtins.int, builtins.float)
_MATRIX_SWAPS = frozenset((a, b) for a in (0, 1, -2, -1) for b in (0, 1, -2, -1) if a % 2 != b % 2)


def binary(op: str, a: Any, b: Any, *, floating: builtins.bool = False) -> TensorOps:
    # Fast paths, equal to what `prepare` would do: two tensors of one world, shape and dtype
    # (no cast, no broadcast), or a float tensor and a Python int/float (the tensor's dtype
    # wins, the number becomes a float literal).
    ta, tb = type(a), type(b)
    if ta is tb:
        if isinstance(a, TensorOps) and a.dtype is b.dtype and a.shape == b.shape \
                and (a.dtype.is_floating_point or not floating):
            return a._apply(op, a, b)
    elif tb in _NUMBER and isinstance(a, TensorOps) and a.dtype.is_floating_point:
        return a._apply(op, a, builtins.float(b))
    elif ta in _NUMBER and isinstance(b, TensorOps) and b.dtype.is_floating_point:
        return b._apply(op, builtins.float(a), b)
    dtype = common_dtype(a, b)
    if floating and not dtype.is_floating_point:
        dtype = dt.default_float()
    x, y = prepare(a, b, dtype=dtype)
    return lead(x, y)._apply(op, x, y)


def where(condition: Any, a: Any, b: Any) -> TensorOps:
    """Elementwise choice: `a` where `condition` holds, else `b` (tensors or Python numbers)."""
    if not isinstance(condition, TensorOps):
        raise TypeError(f"where's condition must be a bool tensor, got {type(condition).__name__}")
    fast = _where_fast(condition, a, b)
    if fast is not None:
        return fast
    dtype = common_dtype(a, b)
    shape = broadcast_shapes(*(tuple(x.shape) for x in (condition, a, b) if isinstance(x, TensorOps)))
    cond = condition.to(dt.bool_).broadcast_to(shape)
    if not isinstance(a, TensorOps) and not isinstance(b, TensorOps):
        a = full_like(cond, a, dtype)          # two Python numbers: the op needs one tensor
    x, y = prepare(a, b, dtype=dtype)
    x = x.broadcast_to(shape) if isinstance(x, TensorOps) else x
    y = y.broadcast_to(shape) if isinstance(y, TensorOps) else y
    return lead(cond, x, y)._apply("where", cond, x, y)


def _where_fast(condition: TensorOps, a: Any, b: Any) -> TensorOps | None:
    """`where` without preparation, when there is nothing to prepare: a bool condition and
    float tensors of its world and shape, or one such tensor and a Python number."""
    shape, world = condition.shape, type(condition)
    if condition.dtype is not dt.bool_:
        return None
    tensors = [x for x in (a, b) if type(x) is world]
    if not tensors or any(x.shape != shape for x in tensors):
        return None
    dtype = tensors[0].dtype
    if not dtype.is_floating_point or any(x.dtype is not dtype for x in tensors):
        return None
    operands = []
    for x in (a, b):
        if type(x) in _NUMBER:
            x = builtins.float(x)
        elif type(x) is not world:
            return None
        operands.append(x)
    return condition._apply("where", condition, *operands)


def matmul(a: Any, b: Any) -> TensorOps:
    """numpy/PyTorch matmul: 1-D operands are vectors; batch dimensions broadcast."""
    if type(a) is type(b) and isinstance(a, TensorOps) and a.dtype is b.dtype \
            and a.ndim <= 2 and b.ndim <= 2:
        return a._apply("matmul", a, b)        # one world, one dtype, no batch: nothing to prepare
    if not (isinstance(a, TensorOps) and isinstance(b, TensorOps)):
        raise TypeError("matmul expects two tensors")
    dtype = dt.promote(a.dtype, b.dtype)
    a, b = a.to(dtype), b.to(dtype)
    if a.ndim > 2 or b.ndim > 2:
        batch = broadcast_shapes(a.shape[:-2] if a.ndim > 1 else (), b.shape[:-2] if b.ndim > 1 else ())
        if a.ndim > 1:
            a = a.broadcast_to(batch + tuple(a.shape[-2:]))
        if b.ndim > 1:
            b = b.broadcast_to(batch + tuple(b.shape[-2:]))
    return lead(a, b)._apply("matmul", a, b)


def concat(tensors: Any, dim: int = 0) -> TensorOps:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dtype = common_dtype(*tensors)
    parts = [t.to(dtype) for t in tensors]
    axis = dim % parts[0].ndim
    if len(parts) == 1:
        return parts[0]
    return lead(*parts)._apply("concat", *parts, axis=axis)


def stack(tensors: Any, dim: int = 0) -> TensorOps:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack expects a non-empty list of tensors")
    d = dim % (tensors[0].ndim + 1)
    return lead(*tensors)._composite("StackBackward0", _stack, *tensors, dim=d)


def _stack(*tensors: TensorOps, dim: int) -> TensorOps:
    return concat([t.unsqueeze(dim) for t in tensors], dim)


def _mean(x: TensorOps, *, axes: tuple[int, ...], keepdims: builtins.bool) -> TensorOps:
    count = math.prod(x.shape[a] for a in axes)
    return x.sum(axes, keepdims) / count if count else x.sum(axes, keepdims) * math.nan


def maximum(a: Any, b: Any) -> TensorOps:
    x, y = prepare(a, b)
    return where(x >= y, x, y)


def minimum(a: Any, b: Any) -> TensorOps:
    x, y = prepare(a, b)
    return where(x <= y, x, y)


def full_like(x: TensorOps, value: Scalar, dtype: dt.DType | None = None) -> TensorOps:
    dtype = dtype or x.dtype
    return x._apply("full", value=_literal(value, dtype), shape=tuple(x.shape), dtype=dtype)


# ---- helpers ----

def _keep(keepdim: builtins.bool, keepdims: builtins.bool | None) -> builtins.bool:
    return builtins.bool(keepdim if keepdims is None else keepdims)


def _extreme(x: TensorOps, op: str, dim: Any, keepdim: builtins.bool) -> Any:
    if isinstance(dim, TensorOps):
        return maximum(x, dim) if op == "max" else minimum(x, dim)
    if dim is None:
        return x._apply(op, x, axes=normalize_axes(None, x.ndim), keepdims=False)
    axes = normalize_axes(dim, x.ndim)
    axis = axes[0] if axes else None
    indices = x._apply(f"arg{op}", x.stop_gradient(), axis=axis, keepdims=keepdim)
    # PyTorch: max(dim)/min(dim) send the gradient to the returned index only (amax/amin share
    # it among ties), so the values are gathered at the indices rather than reduced.
    values = x._composite(f"{op.title()}Backward0", _gather, x, indices, axis=axis)
    return MinMax(values, indices)


def _gather(x: TensorOps, indices: TensorOps, *, axis: int | None) -> TensorOps:
    """The elements of `x` at `indices` along `axis` (a reduced axis, kept or not)."""
    if axis is None:
        return x.reshape(-1).take(indices.reshape(-1)).reshape(tuple(indices.shape))
    strides = [math.prod(x.shape[k + 1:]) for k in range(x.ndim)]
    kept = keepdims_shape(tuple(x.shape), (axis,))
    base = sum(np.arange(n).reshape([n if j == k else 1 for j in range(x.ndim)]) * strides[k]
               for k, n in enumerate(kept) if k != axis)
    flat = indices.reshape(kept)
    flat = (flat * strides[axis] if strides[axis] != 1 else flat) + x._constant(
        np.broadcast_to(base, kept))
    return x.reshape(-1).take(flat.reshape(-1)).reshape(tuple(indices.shape))


def _arg_reduce(x: TensorOps, op: str, dim: Any, keepdim: builtins.bool) -> TensorOps:
    axis = None if dim is None else normalize_axes(dim, x.ndim)[0]
    return x._apply(op, x.stop_gradient(), axis=axis, keepdims=keepdim)


def _shape_args(args: tuple) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(builtins.int(a) for a in args)


def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if n == -1 else n for n in shape)
    if math.prod(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _to_target(dtype: Any, *args: Any, **kwargs: Any) -> dt.DType | None:
    """Interpret `.to(...)` arguments: a dtype, a device ('cpu'), or a tensor to copy the dtype of."""
    candidates = [dtype, *args, kwargs.get("dtype"), kwargs.get("device")]
    target = None
    for c in candidates:
        if c is None:
            continue
        if isinstance(c, TensorOps):
            target = c.dtype
        elif isinstance(c, (str, device)):
            check_device(c)
        else:
            target = dt.as_dtype(c)
    return target


__all__ = ["TensorOps", "binary", "where", "matmul", "concat", "stack", "maximum", "minimum",
           "prepare", "common_dtype", "lead", "is_tensor", "full_like", "keepdims_shape", "MinMax"]
