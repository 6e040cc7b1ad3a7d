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
# 131072-262144 for a plain sum(x*x) (65536: 4.4 / 6.0, 262144: 19.8 / 12.8). A loop runs in
# parallel when elements * (1 + VMATH_CALL_WEIGHT * vmath calls in its body) reaches
# PARALLEL_MIN_ELEMENTS: 7944 elements for two vmath calls, 15888 for one exp, and 2**19 for
# cheap loops: their gain near the measured break-even is a few microseconds, while Numba's
# worker threads spinning next to OpenBLAS's pool cost milliseconds (the W2 step: 8.0 ms with
# a parallel 100k-element scale after a BLAS kernel, 0.68 ms serial; benchmarks/workloads.py).
PARALLEL_MIN_ELEMENTS = 1 << 19
VMATH_CALL_WEIGHT = 32


def kernel_options(graph: Graph, parallel: bool | None, fastmath: bool) -> str:
    """Keyword text for the graph's `@njit(...)`; "" means the defaults.

    parallel=True: large loops use prange; False: none do; None: as True when Numba runs more
    than one thread and the kernel calls no BLAS."""
    parts = []
    auto = parallel is None and _threads() > 1 and not _calls_blas(graph)
    if (parallel or auto) and has_parallel_loop(graph):
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


def _calls_blas(graph: Graph) -> bool:
    """A float matmul calls OpenBLAS, whose own thread pool busy-waits on the same cores as
    Numba's workers: parallel=None keeps such kernels serial (parallel=True still forces)."""
    return any(n.op == "matmul" and n.out.type.dtype.is_floating_point for n in graph.nodes)


def _threads() -> int:
    from numba import config
    return int(config.NUMBA_NUM_THREADS)


__all__ = [
    "PARALLEL_MIN_ELEMENTS", "VMATH_CALL_WEIGHT", "has_parallel_loop", "is_parallel",
    "kernel_options",
]
