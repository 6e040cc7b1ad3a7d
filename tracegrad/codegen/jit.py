"""The decorator generated kernels use: Numba's njit, or nothing when TRACEGRAD_JIT=0.

Kernels import `njit` and `prange` from here, so the same generated file runs compiled or as
plain Python and numpy (for debugging and coverage), chosen when the module is imported.
Kernel options are fixed here: error_model='numpy' (Python's division checks stop LLVM from
vectorizing), no fastmath on whole kernels, nogil, and Numba's on-disk cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def jit_enabled() -> bool:
    return os.environ.get("TRACEGRAD_JIT", "1").strip() != "0"


def _identity(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


if jit_enabled():
    from numba import njit as _numba_njit
    from numba import prange

    def njit(*args: Any, **kwargs: Any) -> Callable:
        options = {"cache": True, "nogil": True, "error_model": "numpy", **kwargs}
        return _numba_njit(*args, **options)
else:
    njit = _identity
    prange = range

__all__ = ["jit_enabled", "njit", "prange"]
