"""Fast paths inside op evaluations: big float arrays may use an installed provider.

An elementwise op's `compute` (the numpy reference, run by eager mode and by the interpreter)
is built with `accelerated(name, reference)`. When the float32/float64 operands have at least
MIN_SIZE elements, the installed provider is asked first:
- `provider.run(name, *operands)`: a kernel's result for C-contiguous operands (the runtime's
  Numba loops over `codegen.vmath`, several times faster than numpy's transcendental ufuncs),
  or None when it has no kernel for this op and dtype;
- `provider.empty(shape, dtype)`: an output buffer, which `provider.fill(ufunc, operands,
  out)` fills with the numpy ufunc (the runtime recycles big buffers, sparing the page faults
  of fresh memory, and runs exact arithmetic ufuncs in parts on several cores).
Anything else runs `reference` unchanged. Small arrays never reach the provider, so they never
compile anything.

A kernel's result agrees with numpy's within vmath's accuracy (a few ulp), special values
included; a ufunc writing into a provided buffer computes exactly what it would otherwise.
`ir` stays free of Numba: the provider is installed from outside (`install`), and
TRACEGRAD_EAGER_KERNELS=0 in the environment turns the fast paths off (`ENABLED`, read at
import; tests may assign it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

ENABLED: bool = os.environ.get("TRACEGRAD_EAGER_KERNELS", "1").strip() != "0"
MIN_SIZE = 1 << 16          # below this, numpy's call overhead is small and compiling never pays

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Provider(Protocol):
    def run(self, name: str, *operands: Any) -> np.ndarray | None: ...
    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray: ...
    def fill(self, ufunc: np.ufunc, operands: tuple, out: np.ndarray) -> np.ndarray: ...


_provider: list[Provider] = []


def install(provider: Provider | None) -> Provider | None:
    """Make `provider` serve the fast paths (None removes it); returns the previous one."""
    previous = _provider[0] if _provider else None
    _provider[:] = [provider] if provider is not None else []
    return previous


def active() -> Provider | None:
    return _provider[0] if ENABLED and _provider else None


def float_operands(operands: tuple[Any, ...]) -> tuple[np.dtype, bool] | None:
    """(dtype, all C-contiguous) when the operands are big arrays of one float dtype, possibly
    broadcast, and Python numbers; else None."""
    dtype, contiguous = None, True
    for x in operands:
        if isinstance(x, np.ndarray):
            if x.size < MIN_SIZE or (dtype is not None and x.dtype != dtype):
                return None
            dtype = x.dtype
            if not x.flags.c_contiguous:
                if 0 not in x.strides:          # a transpose: numpy keeps its layout
                    return None
                contiguous = False
        elif not isinstance(x, (int, float)) or isinstance(x, bool):
            return None
    if dtype is None or dtype not in _FLOAT_DTYPES:
        return None
    return dtype, contiguous


def accelerated(name: str, reference: Callable[..., Any]) -> Callable[..., Any]:
    """`reference`, except that big float operands try the provider first: its kernel for
    `name`, else (for a numpy ufunc) the ufunc writing into a buffer from the provider."""
    ufunc = reference if isinstance(reference, np.ufunc) else None

    def compute(*operands: Any) -> Any:
        if _provider and ENABLED and getattr(operands[0], "size", MIN_SIZE) >= MIN_SIZE:
            provider = _provider[0]
            found = float_operands(operands)
            if found is not None:
                dtype, contiguous = found
                out = provider.run(name, *operands) if contiguous else None
                if out is not None:
                    return out
                if ufunc is not None:
                    shape = next(x.shape for x in operands if isinstance(x, np.ndarray))
                    return provider.fill(ufunc, operands, provider.empty(shape, dtype))
        return reference(*operands)

    compute.__name__ = name
    compute.__doc__ = (f"{name}: numpy's {getattr(reference, '__name__', 'reference')}; big "
                       "float arrays go to the installed provider (ir/ops/fast.py).")
    return compute


def empty_like(x: np.ndarray) -> np.ndarray:
    """np.empty_like(x); for a big C-contiguous float array, a buffer from the provider."""
    provider = active()
    if provider is not None and x.size >= MIN_SIZE and x.flags.c_contiguous \
            and x.dtype in _FLOAT_DTYPES:
        return provider.empty(x.shape, x.dtype)
    return np.empty_like(x)
