"""Shape and dtype rules shared by the op records. Pure functions of types and attributes.

An operand type is a `TensorType`, or a Python scalar for an inline literal. Every rule raises
ShapeError or DTypeError saying what it expected and what it got; the tensor layer has already
made broadcasting and dtype promotion explicit, so elementwise rules demand equal shapes.
"""

from __future__ import annotations

import math
from typing import Any

from ...dtypes import DType, bool_, int64
from ...errors import DTypeError, ShapeError
from ..shapes import broadcast_shapes, keepdims_shape, normalize_axes, reduced_shape
from ..types import TensorType

Operand = Any   # TensorType | bool | int | float


def tensor_types(operands: tuple[Operand, ...]) -> list[TensorType]:
    return [t for t in operands if isinstance(t, TensorType)]


def elementwise(*operands: Operand) -> TensorType:
    """Operands share one shape and one dtype; literals fit any."""
    tensors = tensor_types(operands)
    if not tensors:
        raise ShapeError("an elementwise op needs at least one tensor operand, got only literals")
    first = tensors[0]
    for t in tensors[1:]:
        if t.shape != first.shape:
            raise ShapeError(f"elementwise operands must share a shape (broadcast first): "
                             f"got {first} and {t}")
        if t.dtype is not first.dtype:
            raise DTypeError(f"elementwise operands must share a dtype (promote first): "
                             f"got {first} and {t}")
    return first


def floating(*operands: Operand) -> TensorType:
    """Elementwise, and the dtype must be floating point."""
    out = elementwise(*operands)
    if not out.dtype.is_floating_point:
        raise DTypeError(f"expected a floating-point tensor, got {out}")
    return out


def comparison(*operands: Operand) -> TensorType:
    return TensorType(elementwise(*operands).shape, bool_)


def where(cond: Operand, a: Operand, b: Operand) -> TensorType:
    if not isinstance(cond, TensorType) or cond.dtype is not bool_:
        raise DTypeError(f"where's condition must be a bool tensor, got {cond}")
    out = elementwise(a, b)
    if cond.shape != out.shape:
        raise ShapeError(f"where's condition and values must share a shape: got {cond} and {out}")
    return out


def cast(x: TensorType, *, dtype: DType) -> TensorType:
    return TensorType(x.shape, dtype)


def reduce(x: TensorType, *, axes: tuple[int, ...], keepdims: bool) -> TensorType:
    _check_axes(x, axes)
    return TensorType(reduced_shape(x.shape, axes, keepdims), x.dtype)


def extreme(x: TensorType, *, axes: tuple[int, ...], keepdims: bool) -> TensorType:
    if x.size == 0:
        raise ShapeError(f"max()/min() of an empty tensor has no identity: got {x}")
    return reduce(x, axes=axes, keepdims=keepdims)


def arg_reduce(x: TensorType, *, axis: int | None, keepdims: bool) -> TensorType:
    axes = tuple(range(x.ndim)) if axis is None else (axis,)
    shape = reduced_shape(x.shape, axes, keepdims) if axis is not None else (
        (1,) * x.ndim if keepdims else ())
    return TensorType(shape, int64)


def _check_axes(x: TensorType, axes: tuple[int, ...]) -> None:
    if any(not 0 <= a < max(x.ndim, 1) for a in axes) or list(axes) != sorted(set(axes)):
        raise ShapeError(f"axes must be sorted, unique and within {x}: got {axes}")


def broadcast_to(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    lead = len(shape) - x.ndim                 # each axis of x is 1 or the target's size
    if lead < 0 or any(n != 1 and n != shape[lead + i] for i, n in enumerate(x.shape)):
        if lead >= 0:
            broadcast_shapes(x.shape, shape)   # PyTorch's message when sizes clash
        raise ShapeError(f"cannot broadcast {x} to shape {list(shape)}")
    return TensorType(tuple(shape), x.dtype)


def sum_to(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if len(shape) > x.ndim or broadcast_shapes(x.shape, shape) != x.shape:
        raise ShapeError(f"cannot sum {x} down to shape {list(shape)}")
    return TensorType(tuple(shape), x.dtype)


def reshape(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if math.prod(shape) != x.size:
        raise ShapeError(f"shape '{list(shape)}' is invalid for input of size {x.size}")
    return TensorType(tuple(shape), x.dtype)


def transpose(x: TensorType, *, perm: tuple[int, ...]) -> TensorType:
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"perm {perm} is not a permutation of the axes of {x}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def slice_(x: TensorType, *, starts: tuple[int, ...], stops: tuple[int, ...],
           steps: tuple[int, ...]) -> TensorType:
    if not len(starts) == len(stops) == len(steps) == x.ndim:
        raise ShapeError(f"slice needs one start/stop/step per axis of {x}")
    shape = []
    for n, a, b, s in zip(x.shape, starts, stops, steps):
        if s < 1 or not 0 <= a <= b <= n:
            raise ShapeError(f"slice {a}:{b}:{s} is out of range for an axis of size {n}")
        shape.append(len(range(a, b, s)))
    return TensorType(tuple(shape), x.dtype)


def unslice(x: TensorType, *, starts: tuple[int, ...], steps: tuple[int, ...],
            shape: tuple[int, ...]) -> TensorType:
    stops = tuple(a + (n - 1) * s + 1 if n else a for a, n, s in zip(starts, x.shape, steps))
    slice_(TensorType(tuple(shape), x.dtype), starts=starts, stops=stops, steps=steps)
    return TensorType(tuple(shape), x.dtype)


def concat(*xs: TensorType, axis: int) -> TensorType:
    first = xs[0]
    for t in xs[1:]:
        rest = [n for i, n in enumerate(t.shape) if i != axis]
        if t.ndim != first.ndim or rest != [n for i, n in enumerate(first.shape) if i != axis]:
            raise ShapeError(f"Sizes of tensors must match except in dimension {axis}: "
                             f"got {first} and {t}")
        if t.dtype is not first.dtype:
            raise DTypeError(f"concatenated tensors must share a dtype: got {first} and {t}")
    size = sum(t.shape[axis] for t in xs)
    return TensorType(first.shape[:axis] + (size,) + first.shape[axis + 1:], first.dtype)


def take(x: TensorType, idx: TensorType, *, axis: int) -> TensorType:
    if idx.dtype.category != 1:
        raise DTypeError(f"indices must be an integer tensor, got {idx}")
    return TensorType(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


def scatter_add(g: TensorType, idx: TensorType, *, axis: int, size: int) -> TensorType:
    if idx.dtype.category != 1:
        raise DTypeError(f"indices must be an integer tensor, got {idx}")
    lead, trail = g.shape[:axis], g.shape[axis + idx.ndim:]
    if g.shape[axis:axis + idx.ndim] != idx.shape:
        raise ShapeError(f"scatter_add: values {g} do not fit indices {idx} at axis {axis}")
    return TensorType(lead + (size,) + trail, g.dtype)


def matmul(a: TensorType, b: TensorType) -> TensorType:
    """numpy's matmul for 1-D and N-D operands whose batch dimensions are already equal."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"both arguments to matmul need to be at least 1D, but they are "
                         f"{a.ndim}D and {b.ndim}D")
    if a.dtype is not b.dtype:
        raise DTypeError(f"expected both matmul operands to have the same dtype, but got "
                         f"{a.dtype.name} != {b.dtype.name}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied "
                         f"({_matrix_text(a)} and {_matrix_text(b)})")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    if a.ndim > 2 and b.ndim > 2 and batch_a != batch_b:
        raise ShapeError(f"matmul batch dimensions must be equal (broadcast first): {a} and {b}")
    batch = batch_a if len(batch_a) >= len(batch_b) else batch_b
    rows = a.shape[-2:-1] if a.ndim > 1 else ()
    cols = b.shape[-1:] if b.ndim > 1 else ()
    return TensorType(batch + rows + cols, a.dtype)


def _matrix_text(t: TensorType) -> str:
    return "x".join(map(str, t.shape if t.ndim > 1 else (1,) + t.shape))


def source(*, shape: tuple[int, ...], dtype: DType, **_: Any) -> TensorType:
    return TensorType(tuple(shape), dtype)
