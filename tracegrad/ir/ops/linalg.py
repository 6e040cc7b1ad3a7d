"""matmul with numpy's semantics for 1-D operands; batch dimensions arrive already equal."""

from __future__ import annotations

import numpy as np

from . import Kind, define, rules


def _matrix_shape(shape, row: bool):
    """A 1-D operand's shape as a 1×n row (left) or n×1 column (right); matrices unchanged."""
    shape = tuple(shape)
    if len(shape) > 1:
        return shape
    return (1, shape[0]) if row else (shape[0], 1)


def _matmul_vjp(g, out, a, b):
    """Each operand is read only inside the other's gradient, as PyTorch saves them."""
    a_shape, b_shape = _matrix_shape(a.shape, row=True), _matrix_shape(b.shape, row=False)
    batch = a_shape[:-2] if len(a_shape) >= len(b_shape) else b_shape[:-2]
    g2 = g.reshape(batch + (a_shape[-2], b_shape[-1]))
    return (lambda: _fit(g2 @ b.reshape(b_shape).mT, a, a_shape),
            lambda: _fit(a.reshape(a_shape).mT @ g2, b, b_shape))


def _fit(grad, like, matrix_shape):
    """Sum a broadcast batch away, then drop the axis a 1-D operand gained."""
    return grad.sum_to(matrix_shape).reshape(like.shape)


def _matmul_name(operands, attrs):
    a, b = operands
    if a.ndim == 1 and b.ndim == 1:
        return "DotBackward0"
    if a.ndim == 2 and b.ndim == 1:
        return "MvBackward0"
    return "MmBackward0" if max(a.ndim, b.ndim) <= 2 else "BmmBackward0"


define("matmul", Kind.CONTRACT, arity=2, infer=rules.matmul, compute=np.matmul,
       vjp=_matmul_vjp, eager_name=_matmul_name)
