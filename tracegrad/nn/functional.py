"""Activation and loss functions, composites built only from tensor methods.

In eager mode each one is recorded as ONE backward node with PyTorch's name (through
`_composite`); traced, it inlines into primitive ops. `reduction` is 'mean', 'sum' or 'none'.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..ir.tensor_api import TensorOps, lead, where

_REDUCTIONS = ("mean", "sum", "none")


def relu(input: TensorOps, inplace: bool = False) -> TensorOps:
    return input.relu()


def sigmoid(input: TensorOps) -> TensorOps:
    return input.sigmoid()


def tanh(input: TensorOps) -> TensorOps:
    return input.tanh()


def softplus(input: TensorOps) -> TensorOps:
    return input.softplus()


def _softmax(x: TensorOps, *, dim: int) -> TensorOps:
    e = (x - x.amax(dim, keepdim=True).stop_gradient()).exp()
    return e / e.sum(dim, keepdim=True)


def _log_softmax(x: TensorOps, *, dim: int) -> TensorOps:
    shifted = x - x.amax(dim, keepdim=True).stop_gradient()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(input: TensorOps, dim: int | None = None, dtype: Any = None) -> TensorOps:
    x = input.to(dtype) if dtype is not None else input._float()
    return x._composite("SoftmaxBackward0", _softmax, x, dim=_class_dim(x, dim))


def log_softmax(input: TensorOps, dim: int | None = None, dtype: Any = None) -> TensorOps:
    x = input.to(dtype) if dtype is not None else input._float()
    return x._composite("LogSoftmaxBackward0", _log_softmax, x, dim=_class_dim(x, dim))


def _class_dim(x: TensorOps, dim: int | None) -> int:
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1   # PyTorch's legacy implicit choice
    return dim % max(x.ndim, 1)


def _reduce(loss: TensorOps, reduction: str) -> TensorOps:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of "
                         f"{', '.join(_REDUCTIONS)}")


def _mse(x: TensorOps, y: TensorOps, *, reduction: str) -> TensorOps:
    d = x - y
    return _reduce(d * d, reduction)


def mse_loss(input: TensorOps, target: TensorOps, reduction: str = "mean") -> TensorOps:
    """Mean squared error: `((input - target) ** 2).mean()`."""
    _check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the input "
                      f"size ({tuple(input.shape)}). This will likely lead to incorrect results "
                      "due to broadcasting. Please ensure they have the same size.", stacklevel=2)
    return lead(input, target)._composite("MseLossBackward0", _mse, input, target,
                                          reduction=reduction)


def _bce_logits(z: TensorOps, y: TensorOps, weight: Any, pos_weight: Any, *,
                reduction: str) -> TensorOps:
    """(1 - y) z + (1 + (p - 1) y) softplus(-z): stable for any |z| (softplus is a primitive)."""
    softplus = (-z).softplus()
    if pos_weight is not None:                  # without it the scale is 1: no multiply
        softplus = ((pos_weight - 1.0) * y + 1.0) * softplus
    loss = (1.0 - y) * z + softplus
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: TensorOps, target: TensorOps, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> TensorOps:
    """Binary cross-entropy of logits `input` against probabilities `target`."""
    _check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Target size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")
    return lead(input, target)._composite("BinaryCrossEntropyWithLogitsBackward0", _bce_logits,
                                          input, target, weight, pos_weight, reduction=reduction)


def _bce(p: TensorOps, y: TensorOps, weight: Any, *, reduction: str) -> TensorOps:
    loss = -(y * p.log().clamp(min=-100.0) + (1.0 - y) * (1.0 - p).log().clamp(min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input: TensorOps, target: TensorOps, weight: Any = None,
                         reduction: str = "mean") -> TensorOps:
    """Binary cross-entropy of probabilities; logs are clamped at -100 as in PyTorch."""
    _check_reduction(reduction)
    return lead(input, target)._composite("BinaryCrossEntropyBackward0", _bce, input, target,
                                          weight, reduction=reduction)


def _one_hot(target: TensorOps, classes: int, ndim: int) -> TensorOps:
    shape = (1, classes) + (1,) * (ndim - 2) if ndim > 1 else (classes,)
    labels = target._constant(np.arange(classes, dtype=np.int64).reshape(shape))
    return target.unsqueeze(1 if ndim > 1 else 0) == labels


def _along_classes(weight: TensorOps, ndim: int, classes: int) -> TensorOps:
    """A per-class weight (C,) shaped to broadcast along the class axis of an (N, C, ...) input."""
    return weight.reshape((1, classes) + (1,) * (ndim - 2) if ndim > 1 else (classes,))


def _nll(logp: TensorOps, target: TensorOps, weight: Any, *, reduction: str, ignore_index: int,
         smoothing: float) -> TensorOps:
    dim = 1 if logp.ndim > 1 else 0
    classes = logp.shape[dim]
    hit = _one_hot(target, classes, logp.ndim)
    keep = target != ignore_index
    class_weight = None if weight is None else _along_classes(weight, logp.ndim, classes)
    w = hit.to(logp.dtype) if weight is None else where(hit, class_weight, 0.0)
    picked = -(w * logp).sum(dim)
    if smoothing:
        spread = -logp if weight is None else -(logp * class_weight)
        picked = (1.0 - smoothing) * picked + smoothing / classes * spread.sum(dim)
    picked = where(keep, picked, 0.0)
    if reduction == "mean":
        denominator = w.sum(dim) if weight is not None else keep.to(logp.dtype)
        return picked.sum() / where(keep, denominator, 0.0).sum()
    return _reduce(picked, reduction)


def nll_loss(input: TensorOps, target: TensorOps, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> TensorOps:
    """Negative log-likelihood of class indices `target` under log-probabilities `input`."""
    _check_reduction(reduction)
    return input._composite("NllLossBackward0", _nll, input, target, weight, reduction=reduction,
                            ignore_index=ignore_index, smoothing=0.0)


def cross_entropy(input: TensorOps, target: TensorOps, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> TensorOps:
    """Cross-entropy of logits `input` (N, C, ...) against class indices or probabilities."""
    _check_reduction(reduction)
    dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, dim)
    if target.dtype.is_floating_point:           # class probabilities
        classes = input.shape[dim]
        y = target if not label_smoothing else target * (1.0 - label_smoothing) + (
            label_smoothing / classes)
        if weight is not None:
            y = y * _along_classes(weight, input.ndim, classes)
        return _reduce(-(logp * y).sum(dim), reduction)
    return logp._composite("NllLossBackward0", _nll, logp, target, weight, reduction=reduction,
                           ignore_index=ignore_index, smoothing=label_smoothing)
