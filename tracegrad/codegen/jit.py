"""The decorator generated kernels use: Numba's njit, or nothing when TRACEGRAD_JIT=0.

Kernels import `njit`, `prange` and `vm` (vectorizable math) from here, so the same generated
file runs compiled or as plain Python and numpy (for debugging and coverage), chosen when the
module is imported. Under TRACEGRAD_JIT=0, `vm` holds numpy scalar functions with the same names
and dtypes as vmath's, so no Numba code runs at all.
Kernel options are fixed here: error_model='numpy' (Python's division checks stop LLVM from
vectorizing), no fastmath on whole kernels, nogil, and Numba's on-disk cache."""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable
from typing import Any

import numpy as np


def jit_enabled() -> bool:
    return os.environ.get("TRACEGRAD_JIT", "1").strip() != "0"


def _quiet(fn: Callable) -> Callable:
    """Plain-Python kernel: numpy's floating-point warnings off, as compiled kernels have none."""
    @functools.wraps(fn)
    def kernel(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args)
    return kernel


def _identity(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return _quiet(args[0])
    return _quiet


if jit_enabled():
    from numba import njit as _numba_njit
    from numba import prange

    def njit(*args: Any, **kwargs: Any) -> Callable:
        options = {"cache": True, "nogil": True, "error_model": "numpy", **kwargs}
        return _numba_njit(*args, **options)
else:
    njit = _identity
    prange = range


def _sigmoid(x: Any) -> Any:
    if x >= 0:
        return 1 / (1 + np.exp(-x))
    e = np.exp(x)
    return e / (1 + e)


def _python_vmath() -> types.SimpleNamespace:
    """vmath's names as numpy scalar functions of the named dtype (the reference semantics)."""
    import math
    table = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
             "sin": np.sin, "cos": np.cos, "sqrt": np.sqrt, "abs": np.abs, "floor": np.floor,
             "sigmoid": _sigmoid, "softplus": lambda x: np.logaddexp(0, x),
             "erf": lambda x: math.erf(x), "pow": np.power, "minimum": np.minimum,
             "maximum": np.maximum, "sum_step": lambda acc, v: acc + v}
    space = types.SimpleNamespace()
    for short, kind in (("f32", np.float32), ("f64", np.float64)):
        for name, fn in table.items():
            def typed(*args: Any, _fn: Callable = fn, _kind: type = kind) -> Any:
                with np.errstate(all="ignore"):
                    return _kind(_fn(*(_kind(a) for a in args)))
            setattr(space, f"{name}_{short}", typed)
    return space


if not jit_enabled():
    vm = _python_vmath()
else:
    def __getattr__(name: str) -> Any:
        if name == "vm":                 # imported on first use: vmath builds Numba intrinsics
            from . import vmath
            return vmath
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["jit_enabled", "njit", "prange", "vm"]
