"""Reductions: sum, max, min (with VJPs), sum_to (the adjoint of broadcast_to), argmax, argmin.

`axes` is always a sorted tuple of non-negative axes (the tensor layer normalizes it).
"""

from __future__ import annotations

import numpy as np

from ..tensor_api import where
from . import Kind, define, rules

R = Kind.REDUCE


def _sum_vjp(g, out, x, *, axes, keepdims):
    return (g.reshape(rules.keepdims_shape(x.shape, axes)).broadcast_to(x.shape),)


def _extreme_vjp(g, out, x, *, axes, keepdims):
    """The gradient is shared evenly by the elements equal to the extreme (PyTorch's amax rule)."""
    shape = rules.keepdims_shape(x.shape, axes)
    hit = x == out.reshape(shape).broadcast_to(x.shape)
    count = hit.to(x.dtype).sum(axes, keepdim=True)
    share = (g.reshape(shape) / count).broadcast_to(x.shape)
    return (where(hit, share, 0.0),)


def _reduce_name(stem, full_suffix, dim_suffix):
    def name(operands, attrs):
        full = len(attrs["axes"]) == operands[0].ndim and not attrs["keepdims"]
        return f"{stem}Backward{full_suffix if full else dim_suffix}"
    return name


def _np_reduce(fn):
    def compute(a, *, axes, keepdims):
        return fn(a, axis=axes, keepdims=keepdims)
    return compute


def _sum_compute(a, *, axes, keepdims):
    """The sum keeps the input's dtype (numpy would widen int32 to int64; `infer` says int32).
    np.add.reduce is what np.sum runs, without np.sum's Python wrapper (2 us per call)."""
    return np.add.reduce(a, axis=axes, dtype=a.dtype, keepdims=keepdims)


define("sum", R, arity=1, attrs=("axes", "keepdims"), infer=rules.reduce,
       compute=_sum_compute, vjp=_sum_vjp, eager_name=_reduce_name("Sum", 0, 1))
define("max", R, arity=1, attrs=("axes", "keepdims"), infer=rules.extreme,
       compute=_np_reduce(np.max), vjp=_extreme_vjp, eager_name=_reduce_name("Max", 1, 0))
define("min", R, arity=1, attrs=("axes", "keepdims"), infer=rules.extreme,
       compute=_np_reduce(np.min), vjp=_extreme_vjp, eager_name=_reduce_name("Min", 1, 0))


def _arg_compute(fn):
    def compute(a, *, axis, keepdims):
        return np.asarray(fn(a, axis=axis, keepdims=keepdims), dtype=np.int64)
    return compute


define("argmax", R, arity=1, attrs=("axis", "keepdims"), infer=rules.arg_reduce,
       compute=_arg_compute(np.argmax))
define("argmin", R, arity=1, attrs=("axis", "keepdims"), infer=rules.arg_reduce,
       compute=_arg_compute(np.argmin))


def sum_to_numpy(a: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `a` down to `shape`, the inverse of broadcasting `shape` up to `a.shape`."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    summed = np.add.reduce(a, axis=axes, dtype=a.dtype, keepdims=True) if axes else a
    return summed.reshape(shape)


define("sum_to", R, arity=1, attrs=("shape",), infer=rules.sum_to, compute=sum_to_numpy,
       vjp=lambda g, out, x, *, shape: (g.broadcast_to(x.shape),), eager_name="SumBackward1")
