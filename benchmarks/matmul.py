"""Matmul shapes of workloads W2 and W4: numpy's `@` against what a kernel can call.

Columns: numpy `a @ b` (numpy's own OpenBLAS, ILP64); `gemm 1 call`: tracegrad's gemm as one
cblas_?gemm call into a preallocated output (what gemm did before it could split; operands are
views, an F-contiguous `x.T` is a transpose flag); `gemm`: tracegrad's gemm as kernels call it
(two halves in one cblas_?gemm_batch call when OpenBLAS runs 2 threads and the product is
large enough, see tracegrad/codegen/blas.py); a plain loop nest (small shapes only).
TRACEGRAD_BLAS=scipy makes both gemm columns scipy's OpenBLAS. Numba's np.dot is left out: it
calls scipy's OpenBLAS, whose second pool of spinning workers, interleaved with numpy's on 2
cores, made every column's 2-thread median milliseconds in one run.

A sample is the mean time of a batch of calls made inside one njit function (no Python
dispatch; numpy's batch is a Python loop), in microseconds; the variants take turns within a
round, so load from other processes hits all of them alike. Each cell is min/median over the
rounds. Run: `python benchmarks/matmul.py [--rounds N]` (1 and 2 threads, set through each
OpenBLAS's API).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import time

import numpy as np
import scipy
from numba import njit

from tracegrad.codegen.blas import BACKEND, CACHE_TOKEN, _gemm, gemm

SHAPES = [  # (workload, label, a shape, a transposed?, b shape, b transposed?)
    ("W2", "x @ w1", (64, 1000), False, (1000, 100), False),
    ("W2", "h @ w2", (64, 100), False, (100, 10), False),
    ("W2", "d @ w2.T", (64, 10), False, (100, 10), True),
    ("W2", "h.T @ d", (64, 100), True, (64, 10), False),
    ("W2", "x.T @ dh", (64, 1000), True, (64, 100), False),
    ("W4", "x @ w", (4096, 512), False, (512, 64), False),
    ("W4", "x.T @ dz", (4096, 512), True, (4096, 64), False),
    ("--", "cube 128", (128, 128), False, (128, 128), False),
    ("--", "cube 100", (100, 100), False, (100, 100), False),
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


def _repeat(product):
    """A cached njit loop calling `product(1.0, a, b, 0.0, out)` reps times."""
    @njit(cache=True)
    def loop(a, b, reps):
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        for _ in range(reps):
            product(1.0, a, b, 0.0, out)
        return out
    return loop


_one_call_loop = _repeat(_gemm)   # the single BLAS call gemm always made before the split
_gemm_loop = _repeat(gemm)        # gemm as kernels call it (split or not)


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


def times_us(fns, a, b, flops: float, rounds: int) -> list[tuple[float, float]]:
    """(min, median) over `rounds` of each variant's mean time per call in a batch."""
    reps = max(1, int(1e7 / flops))          # about 5 ms per batch at 2 GFLOP/s
    samples = [[] for _ in fns]
    for fn in fns:
        fn(a, b, 1)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn(a, b, reps)
            samples[k].append((time.perf_counter() - start) / reps * 1e6)
    return [(min(t), float(np.median(t))) for t in samples]


def operands(a_shape, a_t, b_shape, b_t, dtype=np.float32):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    return (a.T if a_t else a), (b.T if b_t else b)


COLUMNS = ("numpy @", "gemm 1 call", "gemm", "loops")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    rounds = parser.parse_args().rounds
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, gemm {CACHE_TOKEN}, "
          f"load {os.getloadavg()[0]:.2f}; us per call, min/median of {rounds} rounds")
    print(f"{'':3} {'matmul':10} {'m x k x n':>15} {'thr':>3} "
          + " ".join(f"{c:>15}" for c in COLUMNS) + "  gemm/numpy (min, median)")
    for threads in (1, 2):
        set_blas_threads(threads)
        for work, label, a_shape, a_t, b_shape, b_t in SHAPES:
            a, b = operands(a_shape, a_t, b_shape, b_t)
            flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
            size = f"{a.shape[0]}x{a.shape[1]}x{b.shape[1]}"
            fns = [_numpy_loop, _one_call_loop, _gemm_loop]
            row = times_us(fns + [_nest_loop] if flops < 2e6 else fns, a, b, flops, rounds)
            cells = [f"{lo:7.1f}/{med:<7.1f}" for lo, med in row]
            cells += [f"{'':15}"] * (len(COLUMNS) - len(cells))
            ratio = f"{row[2][0] / row[0][0]:.2f}, {row[2][1] / row[0][1]:.2f}"
            print(f"{work:3} {label:10} {size:>15} {threads:3d} " + " ".join(cells)
                  + f"  {ratio}", flush=True)


if __name__ == "__main__":
    main()
