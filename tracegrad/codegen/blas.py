"""`gemm(alpha, a, b, beta, c)`: c = alpha * (a @ b) + beta * c in place, for njit code.

Numba's np.dot calls scipy's OpenBLAS (through its `numba_xxgemm` helper) and always into a
fresh array. This intrinsic exposes gemm's scale and accumulate factors, so a kernel can write
a product into part of a larger array, add into an existing value or fold a constant factor
in; operands `a` and `b` may be C- or F-contiguous (an F operand such as `x.T` of a C array is
a transpose flag, never a copy); `c` must be C-contiguous. Mismatched shapes raise ValueError.

Which BLAS: numpy's own OpenBLAS when numpy ships one we can find (numpy 2 wheels bundle
`scipy-openblas64`; with numpy 2.4.6 and scipy 1.17 that is OpenBLAS 0.3.31 against scipy's
0.3.30, about 20% faster on W2's 64x1000x100 float32 products, see benchmarks/matmul.py; and
kernels then share numpy's thread pool), else scipy's through Numba's helper. numpy's library is
called through symbols registered with LLVM by name (`tracegrad_cblas_sgemm64`), never as
addresses baked into code, so kernels stay cacheable on disk: a kernel module imports this
module, which registers the names again in every process before the kernel is linked.
`BACKEND` says which one this process uses (TRACEGRAD_BLAS=scipy forces scipy's); a cached
kernel linked against one does not load under the other, so CACHE_TOKEN belongs in the kernel
cache key. Called from Python (TRACEGRAD_JIT=0 kernels), `gemm` is plain numpy.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas, get_blas_kind

_CHAR = ir.IntType(8)
_INT32 = ir.IntType(32)
_INT64 = ir.IntType(64)
_VOID_P = ir.IntType(8).as_pointer()
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112            # CBLAS enum values


def _numpy_openblas() -> str | None:
    """Register numpy's ILP64 cblas_?gemm under our names; the backend name, or None."""
    config = getattr(np, "__config__", None)
    blas = getattr(config, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in blas.get(
            "openblas configuration", ""):
        return None
    site = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(site, "numpy.libs", "libscipy_openblas64_*"))):
        try:
            lib = ctypes.CDLL(path)
            addresses = {kind: ctypes.cast(getattr(lib, f"scipy_cblas_{kind}gemm64_"),
                                           ctypes.c_void_p).value for kind in "sd"}
        except (OSError, AttributeError):
            continue
        for kind, address in addresses.items():
            llvm.add_symbol(f"tracegrad_cblas_{kind}gemm64", address)
        return "numpy-openblas64"
    return None


BACKEND = (None if os.environ.get("TRACEGRAD_BLAS") == "scipy" else _numpy_openblas()) or "scipy"
CACHE_TOKEN = f"blas:{BACKEND}"


def _check_types(alpha, a, b, beta, c) -> None:
    arrays = (a, b, c)
    if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays):
        raise TypingError("gemm: a, b and c must be 2-D arrays")
    if len({x.dtype for x in arrays}) != 1 or a.dtype not in (types.float32, types.float64):
        raise TypingError("gemm: a, b and c must share one dtype, float32 or float64")
    if a.layout not in "CF" or b.layout not in "CF" or c.layout != "C":
        raise TypingError(f"gemm: needs C/F operands and a C output, got {a.layout}, {b.layout}, "
                          f"{c.layout}")
    if not all(isinstance(s, (types.Number, types.Boolean)) for s in (alpha, beta)):
        raise TypingError("gemm: alpha and beta must be scalars")


def _leading(builder, ty, array):
    """(transposed, leading dimension) of a row-major view: an F array is the transpose of a
    C array with the other dimension leading. BLAS wants a leading dimension of at least 1."""
    rows, cols = cgutils.unpack_tuple(builder, array.shape)
    ld = cols if ty.layout == "C" else rows
    one = ir.Constant(ld.type, 1)
    return ty.layout == "F", builder.select(builder.icmp_signed("<", ld, one), one, ld)


def _call_numpy_cblas(builder, kind, a, b, c, scalars):
    """cblas_?gemm(RowMajor, ...) of numpy's ILP64 OpenBLAS; alpha and beta by value."""
    (m, k), n = a.dims, b.dims[1]
    ftype = scalars[0].type
    fnty = ir.FunctionType(ir.VoidType(), [_INT32, _INT32, _INT32, _INT64, _INT64, _INT64,
                                           ftype, _VOID_P, _INT64, _VOID_P, _INT64,
                                           ftype, _VOID_P, _INT64])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"tracegrad_cblas_{kind}gemm64")
    flag = lambda t: ir.Constant(_INT32, _TRANS if t else _NO_TRANS)  # noqa: E731
    builder.call(fn, (ir.Constant(_INT32, _ROW_MAJOR), flag(a.trans), flag(b.trans), m, n, k,
                      scalars[0], a.data, a.ld, b.data, b.ld, scalars[1], c.data, c.ld))


def _call_numba_helper(context, builder, kind, a, b, c, scalars):
    """Numba's numba_xxgemm (scipy's Fortran ?gemm, column-major): C^T = B^T A^T, so a C
    operand is already the matrix BLAS wants ('n') and an F operand is transposed ('t')."""
    (m, k), n = a.dims, b.dims[1]
    intp = m.type
    slots = [builder.bitcast(cgutils.alloca_once_value(builder, s), _VOID_P) for s in scalars]
    fnty = ir.FunctionType(_INT32, [_CHAR, _CHAR, _CHAR, intp, intp, intp, _VOID_P, _VOID_P, intp,
                                    _VOID_P, intp, _VOID_P, _VOID_P, intp])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
    flag = lambda t: ir.Constant(_CHAR, ord("t" if t else "n"))  # noqa: E731
    status = builder.call(fn, (ir.Constant(_CHAR, ord(kind)), flag(b.trans), flag(a.trans), n, m,
                               k, slots[0], b.data, b.ld, a.data, a.ld, slots[1], c.data, c.ld))
    with builder.if_then(cgutils.is_not_null(builder, status), likely=False):
        context.call_conv.return_user_exc(builder, RuntimeError, ("BLAS gemm reported an error",))


class _Matrix:
    """What a gemm call needs of one 2-D array: dims, data pointer, transpose flag, ld."""

    def __init__(self, context, builder, ty, value) -> None:
        array = context.make_array(ty)(context, builder, value)
        self.dims = cgutils.unpack_tuple(builder, array.shape)
        self.data = builder.bitcast(array.data, _VOID_P)
        self.trans, self.ld = _leading(builder, ty, array)


@intrinsic
def _gemm(typingctx, alpha, a, b, beta, c):
    _check_types(alpha, a, b, beta, c)
    if BACKEND == "scipy":
        ensure_blas()
    kind = get_blas_kind(c.dtype)

    def codegen(context, builder, sig, args):
        ma, mb, mc = (_Matrix(context, builder, t, v)
                      for t, v in zip((a, b, c), (args[1], args[2], args[4])))
        scalars = [context.cast(builder, args[i], sig.args[i], c.dtype) for i in (0, 3)]
        m, n = mc.dims
        fits = [builder.icmp_signed("==", x, y)
                for x, y in ((ma.dims[1], mb.dims[0]), (ma.dims[0], m), (mb.dims[1], n))]
        with builder.if_then(builder.not_(builder.and_(fits[0], builder.and_(*fits[1:]))),
                             likely=False):
            context.call_conv.return_user_exc(builder, ValueError,
                                              ("gemm: operand shapes do not match",))
        zero = ir.Constant(m.type, 0)
        empty = builder.or_(builder.icmp_signed("==", m, zero), builder.icmp_signed("==", n, zero))
        with builder.if_then(builder.not_(empty), likely=True):
            if BACKEND == "scipy":
                _call_numba_helper(context, builder, kind, ma, mb, mc, scalars)
            else:
                _call_numpy_cblas(builder, kind, ma, mb, mc, scalars)
        return context.get_dummy_value()

    return types.none(alpha, a, b, beta, c), codegen


def gemm(alpha, a, b, beta, c) -> None:
    """c = alpha * (a @ b) + beta * c; beta = 0 ignores c's old contents (even NaN).

    Called from Python (kernels run with TRACEGRAD_JIT=0) this is numpy; inside njit code it
    is the BLAS intrinsic above."""
    if a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]):
        raise ValueError("gemm: operand shapes do not match")
    product = np.matmul(a, b) * c.dtype.type(alpha)
    c[...] = product if beta == 0 else product + c.dtype.type(beta) * c


@overload(gemm)
def _gemm_overload(alpha, a, b, beta, c):
    return lambda alpha, a, b, beta, c: _gemm(alpha, a, b, beta, c)


__all__ = ["BACKEND", "CACHE_TOKEN", "gemm"]
