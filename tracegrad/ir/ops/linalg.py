"""matmul with numpy's semantics for 1-D operands; batch dimensions arrive already equal."""

from __future__ import annotations

import numpy as np

from . import Kind, define, rules


def _as_matrix(t, row: bool):
    """A 1-D operand as a 1×n row (left) or n×1 column (right); matrices unchanged."""
    if t.ndim > 1:
        return t
    return t.reshape((1, t.shape[0]) if row else (t.shape[0], 1))


def _matmul_vjp(g, out, a, b):
    a2, b2 = _as_matrix(a, row=True), _as_matrix(b, row=False)
    batch = a2.shape[:-2] if a2.ndim >= b2.ndim else b2.shape[:-2]
    g2 = g.reshape(tuple(batch) + (a2.shape[-2], b2.shape[-1]))
    return (lambda: _fit(g2 @ b2.mT, a, a2), lambda: _fit(a2.mT @ g2, b, b2))


def _fit(grad, like, like_matrix):
    """Sum a broadcast batch away, then drop the axis a 1-D operand gained."""
    return grad.sum_to(like_matrix.shape).reshape(like.shape)


def _matmul_name(operands, attrs):
    a, b = operands
    if a.ndim == 1 and b.ndim == 1:
        return "DotBackward0"
    if a.ndim == 2 and b.ndim == 1:
        return "MvBackward0"
    return "MmBackward0" if max(a.ndim, b.ndim) <= 2 else "BmmBackward0"


define("matmul", Kind.CONTRACT, arity=2, infer=rules.matmul, compute=np.matmul,
       vjp=_matmul_vjp, eager_name=_matmul_name)
