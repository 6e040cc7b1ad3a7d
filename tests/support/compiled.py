"""Helpers for compiled-mode tests: run generated kernels as plain Python inside this process,
give a test its own kernel cache, and compare compiled, eager and interpreted numbers.

`plain_python()` does in-process what TRACEGRAD_JIT=0 selects when `tracegrad.codegen.jit` is
imported: generated modules bind `njit` to a no-op decorator and `prange` to `range`, so the
same generated source runs without a Numba compile (milliseconds instead of about a second per
kernel). The environment variable is set too, so the kernel cache keys these modules apart from
Numba-compiled ones: the two kinds never mix in memory, on disk or in sys.modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.codegen import jit
from tracegrad.runtime.cache import KernelCache, set_default_cache


@contextlib.contextmanager
def plain_python() -> Iterator[None]:
    """Kernels built inside run their generated source as plain Python and numpy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACEGRAD_JIT", "0")
        patch.setattr(jit, "njit", jit._identity)
        patch.setattr(jit, "prange", range)
        patch.setattr(jit, "vm", jit._python_vmath(), raising=False)
        yield


@contextlib.contextmanager
def numba() -> Iterator[None]:
    """Kernels built inside are compiled by Numba (the default; named for parametrization)."""
    if not jit.jit_enabled():
        pytest.skip("TRACEGRAD_JIT=0: Numba kernels are not built in this run")
    yield


MODES: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "python": plain_python, "numba": numba}


def is_numba_dispatcher(fn: Any) -> bool:
    from numba.core.dispatcher import Dispatcher
    return isinstance(fn, Dispatcher)


@contextlib.contextmanager
def private_cache(directory: Path) -> Iterator[KernelCache]:
    """A fresh process-wide kernel cache in `directory` (counters start at zero)."""
    cache = KernelCache(directory)
    previous = set_default_cache(cache)
    try:
        yield cache
    finally:
        set_default_cache(previous)


def tolerance(dtype: Any, scale: float = 1.0) -> dict[str, float]:
    """rtol/atol for results of `dtype` whose magnitudes are about `scale`: orders of
    summation, BLAS and vmath's few-ulp functions differ between the worlds."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return dict(rtol=0, atol=0)
    tol = 1e-10 if dtype.itemsize >= 8 else 2e-5
    return dict(rtol=tol, atol=tol * max(scale, 1.0))


def assert_same(got: Any, expected: Any, scale: float = 1.0, what: str = "") -> None:
    """Same shape and dtype, values within `tolerance` (exact for integers and bools)."""
    g, e = _array(got), _array(expected)
    assert (g.shape, g.dtype) == (e.shape, e.dtype), \
        f"{what}: got {g.shape} {g.dtype}, expected {e.shape} {e.dtype}"
    np.testing.assert_allclose(g, e, **tolerance(e.dtype, scale), equal_nan=True, err_msg=what)


def assert_all_same(got: Sequence[Any], expected: Sequence[Any], scale: float = 1.0,
                    what: str = "") -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} results, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if g is None or e is None:
            assert g is None and e is None, f"{what}[{i}]: {g!r} vs {e!r}"
            continue
        assert_same(g, e, scale, f"{what}[{i}]")


def grads_of(leaves: Sequence[Any]) -> list[np.ndarray | None]:
    """Each leaf's `.grad` as numpy (None where there is none)."""
    return [None if x.grad is None else x.grad.detach().numpy().copy() for x in leaves]


def magnitude(*arrays: Any) -> float:
    """The largest |value| among the arrays (for tolerances relative to the data)."""
    values = [np.max(np.abs(_array(a)), initial=0.0) for a in arrays if a is not None]
    return float(max(values, default=0.0))


def _array(x: Any) -> np.ndarray:
    if isinstance(x, tg.Tensor):
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


__all__ = ["plain_python", "numba", "MODES", "is_numba_dispatcher", "private_cache", "tolerance",
           "assert_same", "assert_all_same", "grads_of", "magnitude"]
