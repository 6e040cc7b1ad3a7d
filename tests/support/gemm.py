"""`gemm_all_layouts`: tracegrad's BLAS gemm on C- and F-ordered copies of its operands, for the
tests of the intrinsic (tests/codegen/test_blas.py, test_matmul_lowering.py). nogil, so tests
can call it from several threads at once."""

from __future__ import annotations

import numpy as np
from numba import njit

from tracegrad.codegen import blas


@njit(nogil=True)
def gemm_all_layouts(alpha, a, b, beta, c):
    """c's four results of alpha * a @ b + beta * c: a and b each as given and as F arrays."""
    fa, fb = np.asfortranarray(a), np.asfortranarray(b)
    out = np.empty((4,) + c.shape, dtype=c.dtype)
    for k in range(4):
        out[k] = c
    blas.gemm(alpha, a, b, beta, out[0])
    blas.gemm(alpha, fa, b, beta, out[1])
    blas.gemm(alpha, a, fb, beta, out[2])
    blas.gemm(alpha, fa, fb, beta, out[3])
    return out
