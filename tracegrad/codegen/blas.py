"""`gemm(alpha, a, b, beta, c)`: c = alpha * (a @ b) + beta * c in place, for njit code.

Numba's np.dot calls scipy's OpenBLAS (through its `numba_xxgemm` helper) and always into a
fresh array. This intrinsic exposes gemm's scale and accumulate factors, so a kernel can write
a product into part of a larger array, add into an existing value or fold a constant factor
in; operands `a` and `b` may be C- or F-contiguous (an F operand such as `x.T` of a C array is
a transpose flag, never a copy); `c` must be C-contiguous. Mismatched shapes raise ValueError.

Which BLAS: numpy's own OpenBLAS when numpy ships one we can find (numpy 2 wheels bundle
`scipy-openblas64`; with numpy 2.4.6 and scipy 1.17 that is OpenBLAS 0.3.31 against scipy's
0.3.30, about 20% faster on W2's 64x1000x100 float32 products (timed against Numba's np.dot); and
kernels then share numpy's thread pool), else scipy's through Numba's helper. numpy's library is
called through symbols registered with LLVM by name (`tracegrad_cblas_sgemm`), never as
addresses baked into code, so kernels stay cacheable on disk: a kernel module imports this
module, which registers the names again in every process before the kernel is linked.
`BACKEND` says which one this process uses (TRACEGRAD_BLAS=scipy forces scipy's); a cached
kernel linked against one does not load under the other, so CACHE_TOKEN belongs in the kernel
cache key. Called from Python (TRACEGRAD_JIT=0 kernels), `gemm` is plain numpy.

Two halves on two threads: with numpy's OpenBLAS running 2 threads, a product of at least
SPLIT_MIN_MNK multiply-adds is cut into two halves of c's rows (or of its columns when c is
much wider than tall), passed together to cblas_?gemm_batch, which runs each half as a
single-threaded gemm on one thread of OpenBLAS's own pool. OpenBLAS's threaded gemm
synchronises its threads inside one product and scales poorly on such small ones
(benchmarks/matmul.py, 2 shared cores, min/median us: W2's 64x1000x100 float32 product
107/150 against 133/187 for numpy's `@`, its 1000x64x100 one 93/165 against 105/192). Using
OpenBLAS's pool, not a Numba prange region, keeps one set of worker threads: Numba's OpenMP
workers spin for milliseconds after a region and starve OpenBLAS's (a prange split
interleaved with numpy's `@`: medians of 7-16 ms for both). TRACEGRAD_BLAS_SPLIT=0 turns it off
(one call per product, as before); CACHE_TOKEN says which way kernels were compiled.
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba import njit
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas, get_blas_kind

_CHAR = ir.IntType(8)
_INT32 = ir.IntType(32)
_INT64 = ir.IntType(64)
_VOID_P = ir.IntType(8).as_pointer()
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112            # CBLAS enum values


# Symbols of numpy's OpenBLAS, registered with LLVM as tracegrad_<name without the
# scipy_ prefix and the 64_ suffix>: gemm is required, the rest enables the split (see above).
_GEMM = ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_")
_SPLIT_SYMBOLS = ("scipy_cblas_sgemm_batch64_", "scipy_cblas_dgemm_batch64_",
                  "scipy_openblas_get_num_threads64_")


def _address(lib, symbol: str) -> int | None:
    function = getattr(lib, symbol, None)
    return None if function is None else ctypes.cast(function, ctypes.c_void_p).value


def _register(lib, symbols: tuple[str, ...]) -> bool:
    """Register all of `symbols` under our names, or none of them."""
    addresses = [_address(lib, symbol) for symbol in symbols]
    if None in addresses:
        return False
    for symbol, address in zip(symbols, addresses):
        llvm.add_symbol("tracegrad_" + symbol.removeprefix("scipy_").removesuffix("64_"), address)
    return True


def _numpy_openblas() -> tuple[str | None, bool]:
    """Register numpy's ILP64 OpenBLAS entry points: (its path or None, split available)."""
    config = getattr(np, "__config__", None)
    blas = getattr(config, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in blas.get(
            "openblas configuration", ""):
        return None, False
    site = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(site, "numpy.libs", "libscipy_openblas64_*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if _register(lib, _GEMM):
            return path, _register(lib, _SPLIT_SYMBOLS)
    return None, False


LIBRARY, _BATCH = ((None, False) if os.environ.get("TRACEGRAD_BLAS") == "scipy"
                   else _numpy_openblas())
BACKEND = "numpy-openblas64" if LIBRARY else "scipy"
# x86-64 only: there the small-matrix kernels are permitted up to 100**3 multiply-adds (below),
# a bound not checked for OpenBLAS's kernels of other architectures
SPLIT = (_BATCH and os.environ.get("TRACEGRAD_BLAS_SPLIT") != "0"
         and platform.machine().lower() in ("x86_64", "amd64"))
CACHE_TOKEN = f"blas:{BACKEND}" + ("+split2" if SPLIT else "")

# Measured by benchmarks/matmul.py (2 cores, float32 and float64): two halves win from about
# 2M multiply-adds (128x128x128: 34 us against 45 us for one call), gain less beyond 20M. Below,
# one call, which OpenBLAS runs on 1 or 2 threads by its own threshold. cblas_?gemm_batch sends
# parts of at most 100**3 multiply-adds to small-matrix kernels that crash numpy 2.4's
# DYNAMIC_ARCH build (OpenBLAS PR #5980), so each half must stay above _BATCH_SMALL_MNK.
SPLIT_MIN_MNK = 1 << 21
_BATCH_SMALL_MNK = 100 ** 3


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
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"tracegrad_cblas_{kind}gemm")
    builder.call(fn, (ir.Constant(_INT32, _ROW_MAJOR), _flag(a.trans), _flag(b.trans), m, n, k,
                      scalars[0], a.data, a.ld, b.data, b.ld, scalars[1], c.data, c.ld))


def _flag(transposed: bool) -> ir.Constant:
    return ir.Constant(_INT32, _TRANS if transposed else _NO_TRANS)


def _call_numpy_cblas_batch(builder, kind, a, b, c, scalars, parts):
    """cblas_?gemm_batch with one group of one product per part, each part a tuple
    (m, n, a data, b data, c data) of views sharing a, b and c's flags and leading dims."""
    ftype = scalars[0].type

    def array(element, values):
        slot = cgutils.alloca_once(builder, element, size=len(parts))
        for i, value in enumerate(values):
            builder.store(value, cgutils.gep(builder, slot, i))
        return slot

    same = lambda element, value: array(element, [value] * len(parts))  # noqa: E731
    column = lambda i: [part[i] for part in parts]  # noqa: E731
    k = a.dims[1]
    args = (ir.Constant(_INT32, _ROW_MAJOR), same(_INT32, _flag(a.trans)),
            same(_INT32, _flag(b.trans)), array(_INT64, column(0)), array(_INT64, column(1)),
            same(_INT64, k), same(ftype, scalars[0]), array(_VOID_P, column(2)),
            same(_INT64, a.ld), array(_VOID_P, column(3)), same(_INT64, b.ld),
            same(ftype, scalars[1]), array(_VOID_P, column(4)), same(_INT64, c.ld),
            ir.Constant(_INT64, len(parts)), same(_INT64, ir.Constant(_INT64, 1)))
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [arg.type for arg in args]),
        f"tracegrad_cblas_{kind}gemm_batch")
    builder.call(fn, args)


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
        self.itemsize = context.get_abi_sizeof(context.get_data_type(ty.dtype))

    def at(self, builder, index, rows: bool):
        """Data pointer of row (rows=True) or column `index`: C views step ld elements per
        row and 1 per column, F views (transposes) the other way round."""
        step = self.ld if rows != self.trans else ir.Constant(self.ld.type, 1)
        offset = builder.mul(builder.mul(index, step), ir.Constant(index.type, self.itemsize))
        return builder.gep(self.data, [offset])


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
            elif SPLIT:
                _call_split_or_one(context, builder, kind, ma, mb, mc, scalars)
            else:
                _call_numpy_cblas(builder, kind, ma, mb, mc, scalars)
        return context.get_dummy_value()

    return types.none(alpha, a, b, beta, c), codegen


def _call_split_or_one(context, builder, kind, a, b, c, scalars):
    """Two halves in one cblas_?gemm_batch call where `split_rule` says so: c[:h] = a[:h] @ b
    and c[h:] = a[h:] @ b by rows, else c[:, :h] = a @ b[:, :h] and c[:, h:] = a @ b[:, h:];
    otherwise one call. The rule is compiled once per process and called from every site (as
    Python code per call site it cost Numba about 0.3 s of compiling per gemm signature)."""
    (m, n), k = c.dims, a.dims[1]
    rule = types.UniTuple(types.int64, 2)(types.int64, types.int64, types.int64)
    rows, half = cgutils.unpack_tuple(builder, context.compile_internal(
        builder, split_rule, rule, [m, n, k]))
    zero = ir.Constant(half.type, 0)
    with builder.if_else(builder.icmp_signed(">", half, zero)) as (split, one):
        with split:
            with builder.if_else(builder.icmp_signed("!=", rows, zero)) as (by_rows, by_columns):
                with by_rows:
                    _call_numpy_cblas_batch(builder, kind, a, b, c, scalars, [
                        (half, n, a.data, b.data, c.data),
                        (builder.sub(m, half), n, a.at(builder, half, True), b.data,
                         c.at(builder, half, True))])
                with by_columns:
                    _call_numpy_cblas_batch(builder, kind, a, b, c, scalars, [
                        (m, half, a.data, b.data, c.data),
                        (m, builder.sub(n, half), a.data, b.at(builder, half, False),
                         c.at(builder, half, False))])
        with one:
            _call_numpy_cblas(builder, kind, a, b, c, scalars)


@intrinsic
def _openblas_threads(typingctx):
    """openblas_get_num_threads() of numpy's OpenBLAS: its pool size, as the user set it."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_INT32, []),
                                            "tracegrad_openblas_get_num_threads")
        return builder.sext(builder.call(fn, ()), _INT64)

    return types.int64(), codegen


def split_rule(m: int, n: int, k: int) -> tuple[int, int]:
    """How gemm cuts a product c[m, n] = a[m, k] @ b[k, n] (compiled into kernels): (rows, h)
    with rows 1 to cut c's rows, 0 its columns; h = 0 for one call (a small product, or an
    OpenBLAS pool other than 2 threads: more threads would be capped at 2 and one thread would
    run the halves one after the other). Each half stays above _BATCH_SMALL_MNK."""
    if m * n * k < SPLIT_MIN_MNK or _openblas_threads() != 2:
        return 1, 0
    rows = 1 if 2 * m >= n else 0
    size = m if rows else n
    h = size // 2
    if h == 0 or h * (m * n * k // size) <= _BATCH_SMALL_MNK:
        return 1, 0
    return rows, h


split_at = njit(split_rule)     # the same rule, callable from Python (tests, benchmarks)


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


__all__ = ["BACKEND", "CACHE_TOKEN", "LIBRARY", "SPLIT", "SPLIT_MIN_MNK", "gemm"]
