"""Tensor constructors with PyTorch's defaults: Python floats give float32, ints int64, bools
bool; numpy arrays keep their dtype; `dtype=float` means float64. Random tensors come from one
numpy Generator that `manual_seed` resets."""

from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..device import check_device
from .tensor import Tensor

_GENERATOR = [np.random.default_rng()]
_COPY_CONSTRUCT_WARNING = (
    "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
    "sourceTensor.detach().clone().requires_grad_(True), rather than "
    "tracegrad.tensor(sourceTensor).")


def generator() -> np.random.Generator:
    return _GENERATOR[0]


def manual_seed(seed: int) -> np.random.Generator:
    """Seed tracegrad's random numbers (they differ from PyTorch's for the same seed)."""
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def to_array(data: Any, dtype: Any = None) -> tuple[np.ndarray, dt.DType]:
    """A fresh numpy array and its DType for nested lists, numbers, arrays or tensors."""
    target = None if dtype is None else dt.as_dtype(dtype)
    if isinstance(data, Tensor):
        array = data._data
        kind = target or data.dtype
    elif isinstance(data, np.ndarray) or isinstance(data, np.generic):
        array = np.asarray(data)
        kind = target or dt.from_numpy_dtype(array.dtype)
    else:
        array = np.asarray(_unwrap(data))
        kind = target or _infer_python_dtype(array)
    return np.array(array, dtype=kind.np, copy=True), kind


def _unwrap(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(d) for d in data]
    return data


def _infer_python_dtype(array: np.ndarray) -> dt.DType:
    if array.dtype == np.bool_:
        return dt.bool_
    if array.dtype.kind in "iu":
        return dt.int64
    if array.dtype.kind == "f" and array.size == 0:
        return dt.default_float()
    if array.dtype.kind == "f":
        return dt.default_float()
    raise TypeError(f"could not infer a tensor dtype from data of numpy dtype {array.dtype}")


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data`.

    >>> tracegrad.tensor([3], dtype=float, requires_grad=True)
    tensor([3.], dtype=tracegrad.float64, requires_grad=True)
    """
    check_device(device)
    if isinstance(data, Tensor):
        warnings.warn(_COPY_CONSTRUCT_WARNING, UserWarning, stacklevel=2)
    array, kind = to_array(data, dtype)
    return Tensor._make(array, kind).requires_grad_(requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    check_device(device)
    if isinstance(data, Tensor) and (dtype is None or dt.as_dtype(dtype) is data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or dt.as_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    array, kind = to_array(data, dtype)
    return Tensor._make(array, kind)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    return Tensor._make(array, dt.from_numpy_dtype(array.dtype))


def _filled(size: tuple, value: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    shape = _size(size)
    kind = dt.as_dtype(dtype) if dtype is not None else (
        dt.scalar_kind(value) if value is not None else dt.default_float())
    data = np.empty(shape, kind.np) if value is None else np.full(shape, value, kind.np)
    return Tensor._make(data, kind).requires_grad_(requires_grad) if requires_grad else \
        Tensor._make(data, kind)


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(builtins.int(n) for n in size)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype or dt.default_float(), requires_grad, device)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype or dt.default_float(), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, None, dtype, requires_grad, device)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _filled((size,), fill_value, dtype, requires_grad, device)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    check_device(device)
    kind = dt.as_dtype(dtype) if dtype is not None else dt.default_float()
    return Tensor._make(np.eye(n, m, dtype=kind.np), kind).requires_grad_(requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is not None:
        kind = dt.as_dtype(dtype)
    elif all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step)):
        kind = dt.int64
    else:
        kind = dt.default_float()
    data = np.arange(start, end, step).astype(kind.np)
    return Tensor._make(data, kind).requires_grad_(requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    check_device(device)
    kind = dt.as_dtype(dtype) if dtype is not None else dt.default_float()
    return Tensor._make(np.linspace(start, end, steps).astype(kind.np), kind).requires_grad_(
        requires_grad)


def _random(sample: Any, size: tuple, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    kind = dt.as_dtype(dtype) if dtype is not None else dt.default_float()
    if not kind.is_floating_point:
        raise RuntimeError(f"random floats need a floating dtype, got {kind.name}")
    data = sample(_size(size)).astype(kind.np)
    return Tensor._make(data, kind).requires_grad_(requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _random(lambda s: generator().random(s), size, dtype, requires_grad, device)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _random(lambda s: generator().standard_normal(s), size, dtype, requires_grad, device)


def randint(low: int, high: Any = None, size: Any = None, dtype: Any = None,
            device: Any = None) -> Tensor:
    """Integers in [low, high); like PyTorch, `randint(high, size)` starts at 0."""
    check_device(device)
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint() expects (high, size) or (low, high, size), e.g. "
                        f"randint(0, 10, (3,)); got low={low!r}, high={high!r}, size={size!r}")
    kind = dt.as_dtype(dtype) if dtype is not None else dt.int64
    return Tensor._make(generator().integers(low, high, _size((size,))).astype(kind.np), kind)


def _like(fn: Any) -> Any:
    def like(input: Tensor, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
        return fn(*input.shape, dtype=dtype or input.dtype, device=device,
                  requires_grad=requires_grad)
    like.__name__ = f"{fn.__name__}_like"
    return like


ones_like, zeros_like, empty_like = _like(ones), _like(zeros), _like(empty)
rand_like, randn_like = _like(rand), _like(randn)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return full(tuple(input.shape), fill_value, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)
