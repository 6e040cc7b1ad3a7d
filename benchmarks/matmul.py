"""Matmul shapes of workloads W2 and W4: numpy's `@` against what a kernel can call.

Columns: numpy `a @ b` (numpy's own OpenBLAS, ILP64); Numba's np.dot on the operands as views
(an F-contiguous `x.T` is a BLAS transpose flag); np.dot after np.ascontiguousarray (what
kernels did for transposed operands); tracegrad's gemm intrinsic into a preallocated output
(numpy's OpenBLAS when found, see tracegrad/codegen/blas.py; TRACEGRAD_BLAS=scipy for
scipy's); a plain loop nest (small shapes only). Numba's np.dot calls scipy's OpenBLAS, a
second library with its own thread pool. A time is the minimum over rounds of the mean of a
batch of calls made inside one njit function (no Python dispatch), in microseconds.

Run: `python benchmarks/matmul.py` (1 and 2 threads, set through each OpenBLAS's API).
"""

from __future__ import annotations

import ctypes
import glob
import os
import time

import numpy as np
import scipy
from numba import njit

from tracegrad.codegen.blas import BACKEND, gemm

SHAPES = [  # (workload, label, a shape, a transposed?, b shape, b transposed?)
    ("W2", "x @ w1", (64, 1000), False, (1000, 100), False),
    ("W2", "h @ w2", (64, 100), False, (100, 10), False),
    ("W2", "d @ w2.T", (64, 10), False, (100, 10), True),
    ("W2", "h.T @ d", (64, 100), True, (64, 10), False),
    ("W2", "x.T @ dh", (64, 1000), True, (64, 100), False),
    ("W4", "x @ w", (4096, 512), False, (512, 64), False),
    ("W4", "x.T @ dz", (4096, 512), True, (4096, 64), False),
    ("--", "tiny", (4, 4), False, (4, 4), False),
]


def _openblas_setters():
    """set_num_threads of numpy's and scipy's OpenBLAS (found by file, not by import order)."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    found = []
    libraries = (("numpy.libs/libscipy_openblas64_*", "scipy_openblas_set_num_threads64_"),
                 ("scipy.libs/libscipy_openblas*", "scipy_openblas_set_num_threads"))
    for pattern, symbol in libraries:
        for path in glob.glob(os.path.join(site, pattern)):
            lib = ctypes.CDLL(path)
            if hasattr(lib, symbol):
                found.append(getattr(lib, symbol))
    return found


def set_blas_threads(n: int) -> None:
    for setter in _openblas_setters():
        setter(n)


@njit(cache=True)
def _dot_loop(a, b, reps):
    out = np.dot(a, b)
    for _ in range(reps - 1):
        out = np.dot(a, b)
    return out


@njit(cache=True)
def _dot_copy_loop(a, b, reps):
    out = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))
    for _ in range(reps - 1):
        out = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))
    return out


@njit(cache=True)
def _gemm_loop(a, b, reps):
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    for _ in range(reps):
        gemm(1.0, a, b, 0.0, out)
    return out


@njit(cache=True)
def _nest_loop(a, b, reps):
    out = np.zeros((a.shape[0], b.shape[1]), dtype=a.dtype)
    for _ in range(reps):
        out[:] = 0
        for i in range(a.shape[0]):
            for p in range(a.shape[1]):
                v = a[i, p]
                for j in range(b.shape[1]):
                    out[i, j] += v * b[p, j]
    return out


def _numpy_loop(a, b, reps):
    out = a @ b
    for _ in range(reps - 1):
        out = a @ b
    return out


def best_us(fns, a, b, flops: float, repeats: int = 30) -> list[float]:
    """Min over `repeats` rounds; the variants take turns within a round, so a burst of load
    from other processes hits all of them alike."""
    reps = max(1, int(1e7 / flops))          # about 5 ms per batch at 2 GFLOP/s
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn(a, b, 1)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn(a, b, reps)
            best[k] = min(best[k], (time.perf_counter() - start) / reps)
    return [t * 1e6 for t in best]


def operands(a_shape, a_t, b_shape, b_t, dtype=np.float32):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    return (a.T if a_t else a), (b.T if b_t else b)


def main() -> None:
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, gemm backend {BACKEND}, "
          f"load {os.getloadavg()[0]:.2f}; times in us (min over repeats)")
    print(f"{'':3} {'matmul':10} {'m x k x n':>15} {'thr':>3} {'numpy @':>9} {'np.dot':>9} "
          f"{'dot+copy':>9} {'gemm':>9} {'loops':>9}")
    for threads in (1, 2):
        set_blas_threads(threads)
        for work, label, a_shape, a_t, b_shape, b_t in SHAPES:
            a, b = operands(a_shape, a_t, b_shape, b_t)
            flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
            size = f"{a.shape[0]}x{a.shape[1]}x{b.shape[1]}"
            fns = [_numpy_loop, _dot_loop, _dot_copy_loop, _gemm_loop]
            row = best_us(fns + [_nest_loop] if flops < 2e6 else fns, a, b, flops)
            row += [float("nan")] * (5 - len(row))
            print(f"{work:3} {label:10} {size:>15} {threads:3d} "
                  + " ".join(f"{t:9.1f}" for t in row), flush=True)


if __name__ == "__main__":
    main()
