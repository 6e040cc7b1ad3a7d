"""Indexing for every tensor world, written with tensor methods only.

`getitem` lowers a numpy/PyTorch index to ops: one `slice` for the basic part (integers and
slices), one `take` for at most one advanced index (an integer tensor or list, or a boolean
mask, which needs concrete data), and a final `reshape` that drops integer-indexed axes and adds
`None` axes. `setitem` is the pure counterpart of `x[key] = value`: it returns a new tensor.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TraceError, UnsupportedError, user_location
from .tensor_api import TensorOps, where


@dataclass
class _Plan:
    starts: list[int]
    stops: list[int]
    steps: list[int]
    out_shape: list[Any]        # per result axis: int size, or "adv" where the advanced axes go
    adv_axis: int | None = None  # axis of the sliced tensor the advanced index applies to
    adv: Any = None              # the advanced index: numpy array or world tensor (integer)
    adv_dims: int = 1            # axes of the sliced tensor the advanced index consumes
    adv_front: bool = False      # numpy moves advanced axes first when split by a slice


def getitem(x: TensorOps, key: Any) -> TensorOps:
    plan = _plan(x, key)
    y = x.slice(plan.starts, plan.stops, plan.steps)
    if plan.adv is None:
        return y.reshape(tuple(plan.out_shape))
    y = _apply_advanced(y, plan)
    if plan.adv_front:
        return _front(y, plan)
    shape: list[int] = []
    for entry in plan.out_shape:
        shape.extend(_adv_shape(plan) if entry == "adv" else [entry])
    return y.reshape(tuple(shape))


def _adv_shape(plan: _Plan) -> list[int]:
    return list(plan.adv.shape)


def _apply_advanced(y: TensorOps, plan: _Plan) -> TensorOps:
    a, k = plan.adv_axis, plan.adv_dims
    if k != 1:                                     # a boolean mask over k axes: merge them first
        y = y.reshape(tuple(y.shape[:a]) + (-1,) + tuple(y.shape[a + k:]))
    index = plan.adv if isinstance(plan.adv, TensorOps) else y._constant(plan.adv)
    return y.take(index, axis=a)


def _front(y: TensorOps, plan: _Plan) -> TensorOps:
    """numpy puts advanced axes first when a slice separates them from an integer index."""
    a, n = plan.adv_axis, len(_adv_shape(plan))
    kept = [i for i in range(y.ndim) if not a <= i < a + n]
    y = y.permute(list(range(a, a + n)) + kept)
    rest = [s for s in plan.out_shape if s != "adv"]
    return y.reshape(tuple(_adv_shape(plan)) + tuple(rest))


def _plan(x: TensorOps, key: Any) -> _Plan:
    items = list(key) if isinstance(key, tuple) else [key]
    items = _expand_ellipsis(items, x.ndim)
    plan = _Plan([], [], [], [])
    axis = 0
    kinds = []
    for item in items:
        if item is None:
            plan.out_shape.append(1)
            continue
        if axis >= x.ndim:
            raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
        n = x.shape[axis]
        if isinstance(item, builtins.slice):
            start, stop, step = _slice_bounds(item, n)
            _push(plan, start, stop, step)
            plan.out_shape.append(len(range(start, stop, step)))
            kinds.append("slice")
            axis += 1
        elif _is_int(item):
            i = builtins.int(item)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {axis} with size {n}")
            _push(plan, i % n, i % n + 1, 1)
            kinds.append("int")
            axis += 1
        else:
            consumed = _advanced(plan, x, item, axis, len(plan.starts))
            kinds.append("adv")
            axis += consumed
    for n in x.shape[axis:]:
        _push(plan, 0, n, 1)
        plan.out_shape.append(n)
    plan.adv_front = plan.adv is not None and _split(kinds)
    return plan


def _split(kinds: list[str]) -> bool:
    """True when integer and advanced indices are not adjacent (numpy then moves them first)."""
    marks = [i for i, k in enumerate(kinds) if k in ("int", "adv")]
    return "int" in kinds and marks != list(range(marks[0], marks[-1] + 1))


def _advanced(plan: _Plan, x: TensorOps, item: Any, axis: int, sliced_axis: int) -> int:
    if plan.adv is not None:
        raise UnsupportedError("indexing with more than one tensor/list index is not supported; "
                               f"index one axis at a time (at {user_location()})")
    index = _index_array(x, item)
    if isinstance(index, np.ndarray) and index.dtype == np.bool_:
        k = index.ndim
        if tuple(x.shape[axis:axis + k]) != index.shape:
            raise IndexError(f"The shape of the mask {list(index.shape)} at index {axis} does not "
                             f"match the shape of the indexed tensor {list(x.shape)}")
        index = np.flatnonzero(index)
    else:
        k = 1
        index = _normalize_int_index(index, x.shape[axis], axis)
    for n in x.shape[axis:axis + k]:
        _push(plan, 0, n, 1)
    plan.adv, plan.adv_axis, plan.adv_dims = index, sliced_axis, k
    plan.out_shape.append("adv")
    return k


def _index_array(x: TensorOps, item: Any) -> Any:
    if isinstance(item, TensorOps):
        concrete = item._concrete()
        if item.dtype.name == "bool":
            if concrete is None:
                raise TraceError(f"{user_location()}: indexing with a boolean mask gives a shape "
                                 "that depends on the data, which a static graph cannot record; "
                                 "use tracegrad.where(mask, x, 0) instead")
            return concrete
        if item.dtype.category != 1:
            raise IndexError("tensors used as indices must be long, int or bool tensors")
        return concrete if concrete is not None else item
    array = np.asarray(item)
    if array.dtype == np.bool_ or array.dtype.kind in "iu":
        return array.astype(np.int64) if array.dtype.kind in "iu" else array
    if array.size == 0:
        return array.astype(np.int64)
    raise IndexError(f"only integers, slices, None, Ellipsis, integer or boolean tensors are "
                     f"valid indices, got {type(item).__name__}")


def _normalize_int_index(index: Any, n: int, axis: int) -> Any:
    if isinstance(index, TensorOps):        # a traced index: wrap negatives with ops
        return where(index < 0, index + n, index)
    bad = index[(index < -n) | (index >= n)]
    if bad.size:
        raise IndexError(f"index {bad.flat[0]} is out of bounds for dimension {axis} with size {n}")
    return np.where(index < 0, index + n, index).astype(np.int64)


def _expand_ellipsis(items: list[Any], ndim: int) -> list[Any]:
    count = sum(1 for i in items if i is Ellipsis)
    if count > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_consumes(i) for i in items if i is not Ellipsis)
    if count == 0:
        return items
    at = items.index(Ellipsis)
    return items[:at] + [builtins.slice(None)] * (ndim - used) + items[at + 1:]


def _consumes(item: Any) -> int:
    if item is None:
        return 0
    if isinstance(item, TensorOps) and item.dtype.name == "bool":
        return item.ndim
    if isinstance(item, np.ndarray) and item.dtype == np.bool_:
        return item.ndim
    return 1


def _slice_bounds(item: builtins.slice, n: int) -> tuple[int, int, int]:
    if item.step is not None and item.step <= 0:
        raise ValueError("step must be greater than zero")
    start, stop, step = item.indices(n)
    return start, max(stop, start), step


def _push(plan: _Plan, start: int, stop: int, step: int) -> None:
    plan.starts.append(start)
    plan.stops.append(stop)
    plan.steps.append(step)


def _is_int(item: Any) -> bool:
    if isinstance(item, TensorOps):
        return item.ndim == 0 and item.dtype.category == 1 and item._concrete() is not None
    return isinstance(item, (builtins.int, np.integer)) and not isinstance(item, builtins.bool)


def setitem(x: TensorOps, key: Any, value: Any) -> TensorOps:
    """The value of `x` after `x[key] = value`, as a new tensor built from ops."""
    if isinstance(key, TensorOps) and key.dtype.name == "bool" and (
            key.ndim <= x.ndim and tuple(x.shape[:key.ndim]) == tuple(key.shape)):
        mask = key.reshape(tuple(key.shape) + (1,) * (x.ndim - key.ndim)).broadcast_to(x.shape)
        if not isinstance(value, TensorOps) or value.numel() == 1:
            value = value.reshape(()) if isinstance(value, TensorOps) else value
            return where(mask, value, x).to(x.dtype)
    n = x.numel()
    positions = x._constant(np.arange(n, dtype=np.int64).reshape(tuple(x.shape)))[key]
    flat_positions = positions.reshape(-1)
    if isinstance(value, TensorOps):
        v = value.to(x.dtype).broadcast_to(tuple(positions.shape)).reshape(-1)
    else:
        v = x._constant(np.full(flat_positions.shape, value, dtype=x.dtype.np))
    ones = x._constant(np.ones(flat_positions.shape, dtype=x.dtype.np))
    hit = ones.scatter_add(flat_positions, 0, n) > 0
    placed = v.scatter_add(flat_positions, 0, n)
    return where(hit, placed, x.reshape(-1)).reshape(tuple(x.shape))
