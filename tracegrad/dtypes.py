"""Tensor element types, PyTorch's type-promotion rules and the numpy mapping.

Invariants: there is exactly one `DType` object per element type, so dtypes compare by
identity; `DType.short` is the name used in IR dumps (`f32`), `DType.name` the PyTorch-style
name (`float32`) used in reprs and error messages.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DType", "float16", "float32", "float64", "int32", "int64", "bool_",
    "half", "double", "long",
    "as_dtype", "from_numpy_dtype", "promote", "result_type", "scalar_kind", "default_float",
]


@dataclass(frozen=True, eq=False, slots=True)
class DType:
    name: str            # "float32"
    short: str           # "f32"
    np: np.dtype         # numpy dtype
    category: int        # 0 bool, 1 integer, 2 floating: the order of promotion categories

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    def __repr__(self) -> str:
        return f"tracegrad.{self.name}"

    def __reduce__(self) -> str:  # pickling keeps the singleton identity
        return _PUBLIC_NAMES[self.name]


bool_ = DType("bool", "bool", np.dtype(np.bool_), 0)
int32 = DType("int32", "i32", np.dtype(np.int32), 1)
int64 = DType("int64", "i64", np.dtype(np.int64), 1)
float16 = DType("float16", "f16", np.dtype(np.float16), 2)
float32 = DType("float32", "f32", np.dtype(np.float32), 2)
float64 = DType("float64", "f64", np.dtype(np.float64), 2)

half, double, long = float16, float64, int64

ALL = (bool_, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL} | {d.short: d for d in ALL}
_PUBLIC_NAMES = {"bool": "bool_", "int32": "int32", "int64": "int64", "float16": "float16",
                 "float32": "float32", "float64": "float64"}
_ORDER = {d: i for i, d in enumerate(ALL)}   # within a category, later = wider


def default_float() -> DType:
    return float32


def from_numpy_dtype(dt: Any) -> DType:
    """Map a numpy dtype to a DType; unsupported ones raise TypeError naming what is supported."""
    dt = np.dtype(dt)
    if dt in _BY_NP:
        return _BY_NP[dt]
    narrowing = {np.dtype(np.int8): int32, np.dtype(np.int16): int32, np.dtype(np.uint8): int64,
                 np.dtype(np.uint16): int32, np.dtype(np.uint32): int64}
    if dt in narrowing:
        return narrowing[dt]
    raise TypeError(f"unsupported dtype {dt}: tracegrad supports "
                    + ", ".join(d.name for d in ALL))


def as_dtype(value: Any) -> DType:
    """Accept a DType, a Python type (float → float64, as PyTorch does), a numpy dtype or a name."""
    if isinstance(value, DType):
        return value
    builtin = {builtins.float: float64, builtins.int: int64, builtins.bool: bool_}
    if value in builtin:
        return builtin[value]
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return from_numpy_dtype(value)
    except TypeError:
        raise TypeError(f"expected a tracegrad dtype (e.g. tracegrad.float32), got {value!r}") from None


def scalar_kind(value: Any) -> DType:
    """The dtype PyTorch gives a bare Python scalar: bool, int64, or the default float."""
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(value, (builtins.int, np.integer)):
        return int64
    if isinstance(value, (builtins.float, np.floating)):
        return float32
    raise TypeError(f"expected a tensor or a Python number, got {type(value).__name__}")


def promote(a: DType, b: DType) -> DType:
    """The wider of two dtypes (PyTorch's promote_types)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if {a, b} == {float16, float32}:
        return float32
    return a if _ORDER[a] > _ORDER[b] else b


def result_type(*operands: tuple[DType, int]) -> DType:
    """PyTorch's result_type over (dtype, priority) pairs.

    Priority 2 is a tensor with dimensions, 1 a 0-d tensor, 0 a Python scalar. The highest
    category present wins; within it, only the operands of the highest priority that reach that
    category take part. A Python float joining integer tensors gives the default float dtype.
    """
    top = max(d.category for d, _ in operands)
    best = max(p for d, p in operands if d.category == top)
    chosen = [d for d, p in operands if d.category == top and p == best]
    if best == 0:
        return default_float() if top == 2 else chosen[0]
    out = chosen[0]
    for d in chosen[1:]:
        out = promote(out, d)
    return out
