"""Movement ops: reshape, broadcast_to, transpose, slice/unslice, concat, take/scatter_add.

Adjoint pairs: each one's VJP is the other (broadcast_to ↔ sum_to, slice ↔ unslice,
take ↔ scatter_add), so every order of derivative stays inside the table.
"""

from __future__ import annotations

import numpy as np

from . import Kind, define, rules

M = Kind.MOVEMENT


def _broadcast_compute(a, *, shape):
    """np.broadcast_to(a, shape), without its 4 us of nditer set-up when `a` is one block of
    memory: the same read-only view, built from `a`'s buffer with stride 0 along each
    broadcast axis."""
    if type(a) is not np.ndarray:
        return np.broadcast_to(a, shape)
    lead = len(shape) - a.ndim
    strides = [0] * lead
    for n, m, stride in zip(a.shape, shape[lead:], a.strides):
        if n == m:
            strides.append(stride)
        elif n == 1:
            strides.append(0)
        else:
            return np.broadcast_to(a, shape)          # numpy's error
    try:
        view = np.ndarray(shape, a.dtype, a, 0, tuple(strides))
    except (ValueError, TypeError):                   # not contiguous: numpy's own way
        return np.broadcast_to(a, shape)
    view.flags.writeable = False
    return view


# Operands are numpy arrays (eager tensors' data, the interpreter's values): their methods
# spare the Python wrappers np.reshape and np.transpose (about 1 us each).
define("reshape", M, arity=1, attrs=("shape",), infer=rules.reshape,
       compute=lambda a, *, shape: a.reshape(shape),
       vjp=lambda g, out, x, *, shape: (g.reshape(x.shape),), eager_name="ViewBackward0")
define("broadcast_to", M, arity=1, attrs=("shape",), infer=rules.broadcast_to,
       compute=_broadcast_compute,
       vjp=lambda g, out, x, *, shape: (g.sum_to(x.shape),), eager_name="ExpandBackward0")


def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


def _transpose_name(operands, attrs):
    perm = attrs["perm"]
    moved = [i for i, p in enumerate(perm) if i != p]
    if len(perm) == 2:
        return "TBackward0"
    return "TransposeBackward0" if len(moved) == 2 else "PermuteBackward0"


define("transpose", M, arity=1, attrs=("perm",), infer=rules.transpose,
       compute=lambda a, *, perm: a.transpose(perm),
       vjp=lambda g, out, x, *, perm: (g.permute(_inverse(perm)),), eager_name=_transpose_name)


def _slice_compute(a, *, starts, stops, steps):
    return a[tuple(slice(*t) for t in zip(starts, stops, steps))]


def _unslice_compute(a, *, starts, steps, shape):
    out = np.zeros(shape, dtype=a.dtype)
    out[tuple(slice(s, s + n * st if n else s, st) for s, n, st in zip(starts, a.shape, steps))] = a
    return out


def _slice_vjp(g, out, x, *, starts, stops, steps):
    return (g.unslice(starts, steps, x.shape),)


def _unslice_vjp(g, out, x, *, starts, steps, shape):
    stops = tuple(s + (n - 1) * st + 1 if n else s for s, n, st in zip(starts, x.shape, steps))
    return (g.slice(starts, stops, steps),)


define("slice", M, arity=1, attrs=("starts", "stops", "steps"), infer=rules.slice_,
       compute=_slice_compute, vjp=_slice_vjp)
define("unslice", M, arity=1, attrs=("starts", "steps", "shape"), infer=rules.unslice,
       compute=_unslice_compute, vjp=_unslice_vjp)


def _concat_vjp(g, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        stops = list(g.shape)
        starts = [0] * g.ndim
        starts[axis], stops[axis] = start, start + x.shape[axis]
        grads.append(g.slice(starts, stops, [1] * g.ndim))
        start += x.shape[axis]
    return tuple(grads)


define("concat", M, arity=-1, attrs=("axis",), infer=rules.concat,
       compute=lambda *arrays, axis: np.concatenate(arrays, axis=axis), vjp=_concat_vjp,
       eager_name="CatBackward0")


def _scatter_add_compute(g, idx, *, axis, size):
    moved = np.moveaxis(g, list(range(axis, axis + idx.ndim)), list(range(idx.ndim)))
    flat = moved.reshape((idx.size,) + moved.shape[idx.ndim:])
    out = np.zeros((size,) + flat.shape[1:], dtype=g.dtype)
    np.add.at(out, idx.reshape(-1), flat)
    return np.moveaxis(out, 0, axis)


define("take", M, arity=2, attrs=("axis",), infer=rules.take,
       compute=lambda a, idx, *, axis: np.take(a, idx, axis=axis),
       vjp=lambda g, out, x, idx, *, axis: (g.scatter_add(idx, axis, x.shape[axis]), None),
       eager_name="IndexBackward0")
define("scatter_add", M, arity=2, attrs=("axis", "size"), infer=rules.scatter_add,
       compute=_scatter_add_compute,
       vjp=lambda g, out, x, idx, *, axis, size: (g.take(idx, axis), None))
