"""gemm's two-halves path (tracegrad/codegen/blas.py): a large product cut by rows or by
columns into one cblas_?gemm_batch call equals numpy's for every operand layout, dtype, alpha
and beta; small or empty products keep the one-call path; concurrent callers neither deadlock
nor mix results; a kernel that splits loads from Numba's disk cache in a new process.

OpenBLAS runs 2 threads in these tests (the split needs it; `two_blas_threads` restores the
previous count). Compiles are few: one nogil function per dtype does all four layouts."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from numba import njit
from support.gemm import gemm_all_layouts

from tracegrad.codegen import blas

pytestmark = pytest.mark.skipif(not blas.SPLIT, reason="numpy's OpenBLAS has no gemm_batch")

SHAPES = [  # (m, k, n): how split_at cuts c
    (64, 1000, 100),      # rows, 32 + 32 (W2's x @ w1)
    (1000, 64, 100),      # rows, 500 + 500 (W2's x.T @ gh when a is transposed)
    (20, 2000, 120),      # columns (c much wider than tall), 60 + 60
    (131, 127, 129),      # rows, 65 + 66
    (100, 100, 100),      # one call: below SPLIT_MIN_MNK
    (3, 300_000, 3),      # one call: the 1-row half would go to OpenBLAS's small-matrix kernel
]
SPLITS = [(True, 32), (True, 500), (False, 60), (True, 65), (True, 0), (True, 0)]


@pytest.fixture
def two_blas_threads():
    lib = ctypes.CDLL(blas.LIBRARY)
    before = lib.scipy_openblas_get_num_threads64_()
    lib.scipy_openblas_set_num_threads64_(2)
    yield
    lib.scipy_openblas_set_num_threads64_(before)


def _split_at(a, b, c):
    return blas.split_at(c.shape[0], c.shape[1], a.shape[1])


def _operands(rng, m, k, n, dtype):
    return (rng.standard_normal(s).astype(dtype) for s in ((m, k), (k, n), (m, n)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_blas_halves_match_numpy_for_every_layout(dtype, two_blas_threads):
    rng = np.random.default_rng(7)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for (m, k, n), split in zip(SHAPES, SPLITS):
        a, b, c = _operands(rng, m, k, n, dtype)
        assert _split_at(a, b, c) == split, (m, k, n)
        for alpha, beta in ((1.0, 0.0), (2.0, 0.5)):
            start = np.full_like(c, np.nan) if beta == 0 else c   # beta = 0 ignores NaN
            want = alpha * (a.astype(np.float64) @ b) + beta * c
            scale = np.abs(want).max()
            for got in gemm_all_layouts(alpha, a, b, beta, start):
                np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=tol)


def test_blas_empty_and_mismatched_products_take_one_call(two_blas_threads):
    rng = np.random.default_rng(8)
    for m, k, n in ((0, 3000, 700), (3000, 700, 0), (3000, 0, 700)):
        a, b, c = _operands(rng, m, k, n, np.float64)
        got = gemm_all_layouts(1.0, a, b, 2.0, c)
        np.testing.assert_array_equal(got, np.broadcast_to(a @ b + 2.0 * c, got.shape))
    a, b, _ = _operands(rng, 64, 1000, 100, np.float64)
    with pytest.raises(ValueError, match="shapes"):
        gemm_all_layouts(1.0, a, b, 0.0, np.empty((100, 64)))


def test_blas_split_gemm_from_python_is_numpy():
    a, b, _ = _operands(np.random.default_rng(9), 64, 1000, 100, np.float32)
    c = np.ones((64, 100), np.float32)
    blas.gemm(2.0, a, b, 1.0, c)
    np.testing.assert_allclose(c, 2 * (a @ b) + 1, rtol=1e-5, atol=1e-3)


def test_blas_concurrent_callers_get_their_own_results(two_blas_threads):
    """Four Python threads split products at once (kernels are nogil): OpenBLAS's pool takes
    their batches in turn; each result must be its own and every thread must finish."""
    rng = np.random.default_rng(10)
    work = [tuple(_operands(rng, 64, 1000, 100, np.float32)) for _ in range(4)]
    results: dict[int, list[np.ndarray]] = {}

    def run(i: int) -> None:
        a, b, c = work[i]
        results[i] = [gemm_all_layouts(1.0, a, b, 0.0, c) for _ in range(5)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    for i, (a, b, _) in enumerate(work):
        for got in results[i]:
            np.testing.assert_allclose(got[0], a @ b, rtol=1e-4, atol=1e-3)
            np.testing.assert_array_equal(got, np.broadcast_to(got[0], got.shape))


_CACHED_KERNEL = """
import numpy as np
from numba import njit
from tracegrad.codegen import blas

@njit(cache=True)
def product(a, b):
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    blas.gemm(1.0, a, b, 0.0, c)
    return c, blas.split_at(c.shape[0], c.shape[1], a.shape[1])[1]
"""

_RUN = """
import sys, numpy as np
sys.path.insert(0, {directory!r})
import kernel_module
rng = np.random.default_rng(0)
a, b = rng.standard_normal((64, 1000)), rng.standard_normal((1000, 100))
c, half = kernel_module.product(a, b)
assert np.allclose(c, a @ b), "wrong product"
print(half, sum(kernel_module.product.stats.cache_hits.values()))
"""


def test_blas_split_kernel_loads_from_numba_disk_cache(tmp_path):
    """The batch and thread-count entry points are registered by name like gemm's, so a
    second process links the cached kernel."""
    (tmp_path / "kernel_module.py").write_text(_CACHED_KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), OPENBLAS_NUM_THREADS="2")
    script = textwrap.dedent(_RUN.format(directory=str(tmp_path)))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=120) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert [run.stdout.split() for run in runs] == [["32", "0"], ["32", "1"]]
