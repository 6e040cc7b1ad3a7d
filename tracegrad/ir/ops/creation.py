"""Source ops: `full` (a constant fill) and `const` (an array literal held in an attribute)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ...dtypes import DType, from_numpy_dtype
from ..types import TensorType
from . import Kind, define, rules


@dataclass(frozen=True, eq=False)
class ArrayConst:
    """A read-only array usable as a hashable attribute: equal when shape, dtype and bytes are."""

    array: np.ndarray
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        data = np.array(self.array, copy=True, order="C")   # keeps 0-d arrays 0-d
        data.setflags(write=False)
        object.__setattr__(self, "array", data)
        object.__setattr__(self, "digest", hashlib.sha256(
            repr((data.shape, data.dtype.str)).encode() + data.tobytes()).hexdigest())

    @property
    def type(self) -> TensorType:
        return TensorType(self.array.shape, from_numpy_dtype(self.array.dtype))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayConst) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<{self.type} {self.digest[:8]}>"


def _full_compute(*, value, shape, dtype: DType):
    return np.full(shape, value, dtype=dtype.np)


define("full", Kind.SOURCE, arity=0, attrs=("value", "shape", "dtype"), infer=rules.source,
       compute=_full_compute)
define("const", Kind.SOURCE, arity=0, attrs=("value",),
       infer=lambda *, value: value.type, compute=lambda *, value: value.array)
