"""Matmul in generated kernels: every variant the IR can express (1-D and 2-D operands, the four
transpose combinations, batches with broadcasting, strided operands, an empty contraction,
float32/float64, integers and bools) equals eager mode; transposed operands are views, not
copies; a batch times one shared matrix is one product; the BLAS gemm intrinsic's contract.

Kernels are few: each compiled function below returns many products at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

import tracegrad as tg
from support.compiled import assert_all_same, plain_python, private_cache
from support.gemm import gemm_all_layouts
from tracegrad.codegen import blas
from tracegrad.codegen.emit import emit_function
from tracegrad.runtime import cache


def float_variants(v4, v5, a, b, c, d, x, y, w, p, q, s, e, f):
    return (
        v4 @ v4,                   # 1-D @ 1-D
        v4 @ b,                    # 1-D @ 2-D
        a @ v4,                    # 2-D @ 1-D
        a @ b,                     # C @ C
        a.t() @ c,                 # F @ C
        a @ d.t(),                 # C @ F
        b.t() @ a.t(),             # F @ F
        x @ w,                     # batch @ one shared matrix
        x @ v5,                    # batch @ vector
        v4 @ x,                    # vector @ batch
        x @ y,                     # batch @ batch
        x.mT @ x,                  # transposed batch @ batch
        x @ x.mT,                  # batch @ transposed batch
        a @ x,                     # shared matrix @ batch
        w.t() @ x.mT,              # shared transposed @ transposed batch
        p @ q,                     # both batches broadcast: (2,1) x (1,3)
        a.expand(2, 3, 4) @ b.expand(2, 4, 5),   # both one matrix broadcast over the batch
        s[:, ::2] @ b,             # strided operand
        a[:, 1:3].t() @ c,         # transpose of a strided operand
        e @ f,                     # empty contraction: zeros
    )


def _float_inputs(dtype):
    rng = np.random.default_rng(0)
    shapes = [(4,), (5,), (3, 4), (4, 5), (3, 5), (5, 4), (2, 3, 4, 5), (2, 3, 5, 6), (5, 6),
              (2, 1, 4, 5), (1, 3, 5, 6), (3, 8), (3, 0), (0, 2)]
    return [tg.tensor(rng.standard_normal(s), dtype=dtype) for s in shapes]


def _check_variants(dtype):
    args = _float_inputs(dtype)
    expected = [t.numpy() for t in float_variants(*args)]
    got = [t.numpy() for t in tg.compile(float_variants)(*args)]
    assert_all_same(got, expected, scale=10.0, what="matmul variants")


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64], ids=["f32", "f64"])
def test_float_matmul_variants_match_eager(dtype):
    _check_variants(dtype)


def test_float_matmul_variants_match_eager_as_plain_python():
    with plain_python():
        _check_variants(tg.float32)


def test_gemm_lowering_matches_eager(tmp_path):
    """Float products call blas.gemm with transposes as flags (F views), in Numba and Python."""
    with private_cache(tmp_path):
        args = _float_inputs(tg.float32)
        compiled = tg.compile(float_variants)
        assert "blas.gemm(1.0, a.T, c, 0.0, " in compiled.source(*args)
        _check_variants(tg.float32)
        assert cache.default_cache().stats.misses == 1
        with plain_python():
            _check_variants(tg.float64)


def integer_variants(a, b, v, big, x, w, m, n):
    return (a @ b, a.t() @ a, v @ v, a @ v, v @ b, big @ big.t(), x @ w, x.mT @ x, m @ n,
            m.t() @ m)


def test_integer_and_bool_matmul_match_eager():
    rng = np.random.default_rng(1)
    def ints(shape, dtype, high=10):
        return tg.tensor(rng.integers(-high, high, shape), dtype=dtype)

    def bools(shape):
        return tg.tensor(rng.random(shape) < 0.3)

    args = [ints((3, 4), tg.int32), ints((4, 5), tg.int32), ints((4,), tg.int32),
            ints((3, 6), tg.int32, high=100_000),          # products overflow int32: wrap
            ints((2, 3, 4, 5), tg.int64), ints((5, 2), tg.int64), bools((3, 4)), bools((4, 5))]
    expected = [t.numpy() for t in integer_variants(*args)]
    got = [t.numpy() for t in tg.compile(integer_variants)(*args)]
    assert_all_same(got, expected, what="integer matmul")


def batched_loss(x, w, z, v):
    return (((x @ w).tanh() @ z).sin() @ v).sum()


def test_batched_matmul_gradients_match_eager():
    rng = np.random.default_rng(2)
    x, w, z, v = (tg.tensor(rng.standard_normal(s), dtype=tg.float64, requires_grad=True)
                  for s in ((2, 3, 4, 5), (5, 6), (2, 3, 6, 2), (2,)))
    eager = tg.autograd.grad(batched_loss(x, w, z, v), [x, w, z, v])
    loss = tg.compile(batched_loss)(x, w, z, v)
    compiled = tg.autograd.grad(loss, [x, w, z, v])
    assert_all_same([g.numpy() for g in compiled], [g.numpy() for g in eager], scale=10.0,
                    what="grads")


# ---- generated source (no Numba compile) ----

def _kernel_text(fn, *shapes):
    arrays = [np.ones(s, np.float32) for s in shapes]
    graph = tg.make_graph(fn, optimize=True)(*arrays)
    return emit_function(graph, "k").text


def test_transposed_operands_are_views_not_copies():
    text = _kernel_text(lambda x, g: (x.t() @ g, g.t() @ x.t().t()), (64, 10), (64, 5))
    assert "ascontiguousarray" not in text
    assert "x.T, g, " in text and "g.T, x, " in text


def test_batch_times_shared_matrix_is_one_product():
    text = _kernel_text(lambda x, w: x @ w, (2, 3, 4, 5), (5, 6))
    assert "for b in" not in text
    assert "x.reshape((24, 5))" in text


def test_batched_transposed_operand_is_a_view_per_matrix():
    text = _kernel_text(lambda x, y: x.mT @ y, (2, 3, 4, 5), (2, 3, 4, 6))
    assert "ascontiguousarray" not in text
    assert "x.reshape((6, 4, 5))" in text and "[b].T" in text


# ---- the gemm intrinsic ----

@njit
def _gemm_overwrites(a, b, c):
    blas.gemm(1.0, a, b, 0.0, c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_gemm_scales_accumulates_and_takes_transposes(dtype):
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in ((5, 7), (7, 3), (5, 3)))
    expected = 2.0 * (a.astype(np.float64) @ b) + 0.5 * c
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got in gemm_all_layouts(2.0, a, b, 0.5, c):
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    nan = np.full((5, 3), np.nan, dtype)
    _gemm_overwrites(a, b, nan)                           # beta = 0 ignores NaN
    np.testing.assert_allclose(nan, a @ b, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="shapes"):
        _gemm_overwrites(a, b, np.empty((3, 5), dtype))


def test_gemm_from_python_is_numpy():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    c = np.ones((2, 4))
    blas.gemm(2.0, a, b, 1.0, c)
    np.testing.assert_array_equal(c, 2 * a @ b + 1)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm(1.0, a, b, 0.0, np.empty((4, 2)))


_CACHED_KERNEL = """
import numpy as np
from numba import njit
from tracegrad.codegen import blas

@njit(cache=True)
def product(a, b):
    c = np.empty((a.shape[0], b.shape[0]), a.dtype)
    blas.gemm(1.0, a, b.T, 0.0, c)
    return c
"""

_RUN = """
import sys, numpy as np
sys.path.insert(0, {directory!r})
import kernel_module
from tracegrad.codegen import blas
a, b = np.arange(12.0).reshape(3, 4), np.arange(20.0).reshape(5, 4)
assert np.array_equal(kernel_module.product(a, b), a @ b.T)
print(blas.BACKEND, sum(kernel_module.product.stats.cache_hits.values()))
"""


@pytest.mark.parametrize("backend", ["default", "scipy"])
def test_gemm_kernels_load_from_numba_disk_cache(tmp_path, backend):
    """Kernels reach BLAS by symbol name, so a second process links the cached code."""
    (tmp_path / "kernel_module.py").write_text(_CACHED_KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    if backend == "scipy":
        env["TRACEGRAD_BLAS"] = "scipy"
    script = textwrap.dedent(_RUN.format(directory=str(tmp_path)))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=120) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    (name, first), (_, second) = (run.stdout.split() for run in runs)
    assert (first, second) == ("0", "1")
    assert (name == "scipy") == (backend == "scipy")
