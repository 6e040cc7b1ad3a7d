"""TensorType: the static type of an IR value (shape and dtype), printed as `f32[64,100]`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..dtypes import DType


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: DType

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(map(str, self.shape))}]"


class Size(tuple):
    """A shape as PyTorch shows it: a tuple that prints `tracegrad.Size([2, 3])`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"tracegrad.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)
