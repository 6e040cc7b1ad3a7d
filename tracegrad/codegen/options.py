"""Kernel options: the njit keyword text ("parallel=True, fastmath=True") for one graph's kernel.

The text is part of the kernel cache key and is what the emitter reads: loops use `prange` only
when it says parallel=True, and then only loops with enough work (see PARALLEL_MIN_ELEMENTS;
smaller ones cost more to fork and join than they gain) whose iterations write disjoint
elements (see lowering.LoopNest). A kernel without such a loop never gets parallel=True: it
would gain nothing but Numba's "no parallel transformation" warning and a slower compile.
parallel=None decides by size: as True, when Numba also runs more than one thread.
error_model='numpy', nogil and cache are fixed in codegen/jit.py, not here.
"""

from __future__ import annotations

from ..ir.graph import Graph

# Measured by benchmarks/parallel_threshold.py (2 cores, Numba's omp layer, generated float32
# kernels, min of 200 runs, 2026-11-23): fork+join costs 2-4 us; prange wins from 65536
# elements for a cheap map (2*x+1: 11.0 us serial / 8.5 us parallel; 32768: 4.5 / 6.5), from
# 8192 for two vmath calls per element (tanh*sigmoid: 18.1 / 9.4; 4096: 7.8 / 8.5) and from
# 131072-262144 for a plain sum(x*x) (65536: 4.4 / 6.0, 262144: 19.8 / 12.8). So a loop runs
# in parallel when elements * (1 + VMATH_CALL_WEIGHT * vmath calls in its body) reaches
# PARALLEL_MIN_ELEMENTS: 65536 for cheap loops, 7282 for tanh*sigmoid, 13108 for one exp.
PARALLEL_MIN_ELEMENTS = 65536
VMATH_CALL_WEIGHT = 4


def kernel_options(graph: Graph, parallel: bool | None, fastmath: bool) -> str:
    """Keyword text for the graph's `@njit(...)`; "" means the defaults.

    parallel=True: large loops use prange; False: none do; None: as True when Numba runs more
    than one thread."""
    parts = []
    if parallel is not False and (parallel or _threads() > 1) and has_parallel_loop(graph):
        parts.append("parallel=True")
    if fastmath:
        parts.append("fastmath=True")
    return ", ".join(parts)


def is_parallel(options: str) -> bool:
    """Whether option text asks for a parallel kernel."""
    return any(part.replace(" ", "") == "parallel=True" for part in options.split(","))


def has_parallel_loop(graph: Graph) -> bool:
    """Whether a parallel kernel of `graph` would run a loop with prange (asks the emitter:
    one pass of string building, no compile)."""
    from .emit import emit_function
    return "prange(" in emit_function(graph, "probe", "parallel=True").text


def _threads() -> int:
    from numba import config
    return int(config.NUMBA_NUM_THREADS)


__all__ = [
    "PARALLEL_MIN_ELEMENTS", "VMATH_CALL_WEIGHT", "has_parallel_loop", "is_parallel",
    "kernel_options",
]
