"""Vectorizable math for generated kernels: transcendental functions LLVM can put in SIMD loops.

Numba lowers `math.exp`, `math.tanh`, ... to scalar libm calls, and PyPI's llvmlite has no
SVML, so a kernel loop that calls them never vectorizes (2-14 ns per element here, against
0.3-3 ns for numpy's SIMD ufuncs). The functions below are written in plain float arithmetic
plus a few LLVM intrinsics (FMA, rint, copysign, exponent-field bit tricks), with every
special case handled by selects instead of branches, so LLVM inlines them into the kernel loop
and vectorizes it (`<8 x float>`, `vfmadd...ps ymm` on AVX2).

Public names. Each is an `njit` dispatcher, so plain Python can call it too (compiled, per
element: what a TRACEGRAD_JIT=0 kernel does); under NUMBA_DISABLE_JIT=1 every function,
intrinsics included, runs as plain Python on numpy scalars (the intrinsics have Python twins):
  - `<name>_f32`, `<name>_f64` for name in FUNCTIONS: exp expm1 log log1p tanh sigmoid softplus
    sin cos pow erf. float32 versions take and return float32 (a float64 argument is cast);
    sin/cos/pow for float32 work in float64 inside, so they run 4 lanes wide, not 8.
  - `<name>_f32`, `<name>_f64` for name in INTRINSICS: sqrt abs floor minimum maximum. These are
    one LLVM intrinsic each (llvm.sqrt/fabs/floor/minimum/maximum), which already vectorize;
    minimum/maximum propagate NaN like numpy. Writing `math.sqrt(x)`, `abs(x)` or `np.floor(x)`
    in a kernel gives the same code.
  - reductions: `sum_step_<dt>`, `sum_<dt>`, SUM_BLOCK (see "Reductions" below); `maximum_<dt>`
    and `minimum_<dt>` are also valid reduction steps (LLVM vectorizes llvm.maximum reductions).
  - `get(name, dtype)`, ENABLED, CACHE_TOKEN, KERNEL_OPTIONS, SINCOS_F64_LIMIT.

Accuracy (measured by tests/codegen/test_vmath.py against float64 / long double references,
dense samples plus edges): at most 2 ulp for float32 and 4 ulp for float64 over the whole
domain, with C99 special values (NaN in -> NaN out, exp(-inf) = 0, log(0) = -inf, log(x<0) =
NaN, tanh(+-large) = +-1 exactly, pow's special cases). Exception: sin_f64/cos_f64 reduce the
argument by Cody-Waite, accurate for |x| < SINCOS_F64_LIMIT = 2**48 and NaN beyond (a loud
failure rather than a wrong number). sin_f32/cos_f32 are exact over all float32.
Measured maxima: 0.5-1.5 ulp (float32, including a scan of every 13th float32), 0.8-1.9 ulp
(float64).

Cost of use: the first kernel in a process that uses a function compiles its helper chain
(about 0.3-2 s per function, once); later kernels only pay for inlining it.

Kernel conventions (what codegen must emit):
  - `@njit(error_model="numpy", ...)` (KERNEL_OPTIONS): Python's error model puts a
    division-by-zero branch on every `/`, and that branch stops vectorization.
  - No `fastmath` on kernels. The functions here are compiled separately (their own flags:
    none) and marked `alwaysinline`, so LLVM inlines them whatever the kernel's flags; but
    `nnan`/`ninf` on the kernel would still let LLVM drop the NaN/inf handling around them.
  - Float literals typed to the kernel dtype (`np.float32(0.5)`): a bare `0.5` is float64.
  - Conditions as selects: `a if c else b` with `&`/`|` on comparisons, never `and`/`or`
    (short-circuit creates branches that block vectorization).
  - Reductions: see below. Only the accumulating add carries `reassoc`.

Reductions. A plain `acc += v` loop does not vectorize: without reassociation LLVM must keep
the serial order. `sum_step_<dt>(acc, v)` is `acc + v` as one `fadd reassoc`: LLVM then keeps
8 x 4 partial sums (float32) and adds them at the end. Codegen writes reductions blocked, so
float32 sums stay accurate and the block loop is what `prange` splits. Both loops belong in the
kernel function itself: an njit helper called once per block measured 5x slower.
The accumulator must have the step's dtype (`acc = np.float32(0.0)` for sum_step_f32):

    total = 0.0                                        # float64 across blocks
    for b in range(0, n, vmath.SUM_BLOCK):             # or prange over block indices
        acc = np.float32(0.0)
        for i in range(b, min(b + vmath.SUM_BLOCK, n)):
            acc = vmath.sum_step_f32(acc, <value of element i>)
        total += acc
    result = np.float32(total)

Bound: |result - exact| <= (SUM_BLOCK/p + log2(p) + n/SUM_BLOCK * 2**-29) * u * sum|x_i| + half
an ulp of the result, with u = 2**-24 (float32) or 2**-53 (float64) and p the number of partial
sums LLVM keeps (32 on AVX2 for float32, 16 for float64; p = 1 in the worst case, e.g. without
SIMD). With SUM_BLOCK = 512 that is about 21u*sum|x_i| on AVX2 (numpy's pairwise sum: ~log2(n)u).

Switch: TRACEGRAD_VMATH=0 in the environment (read once, at import) binds every name in
FUNCTIONS to Numba's library call instead (`math.exp` etc.), for debugging and comparison;
`vmath.ENABLED` says which is active. Kernels compiled under one setting and cached on disk
must not be reused under the other: put CACHE_TOKEN in the kernel cache key (it changes with
the switch and with this file's source).

Polynomial coefficients are minimax fits of our own: a Remez exchange on the relative error,
solved in 60-digit `decimal` arithmetic (reference values from Decimal.exp/ln and Taylor
series), coefficients rounded to the working dtype. Each table below names the interval and
the achieved weighted error.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

ENABLED: bool = os.environ.get("TRACEGRAD_VMATH", "1").strip() != "0"
KERNEL_OPTIONS: dict[str, object] = {"error_model": "numpy"}
FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "sin", "cos", "pow",
             "erf")
INTRINSICS = ("sqrt", "abs", "floor", "minimum", "maximum")
SUM_BLOCK = 512
SINCOS_F64_LIMIT = 2.0**48

_jit = njit(error_model="numpy")


# ---- LLVM building blocks --------------------------------------------------------------------


def _call_llvm(builder: ir.IRBuilder, name: str, args: list) -> ir.Value:
    ty = args[0].type
    fnty = ir.FunctionType(ty, [a.type for a in args])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"{name}.{ty.intrinsic_name}")
    return builder.call(fn, args)


def _is_float(*tys) -> bool:
    return isinstance(tys[0], types.Float) and all(t == tys[0] for t in tys)


def _llvm_intrinsic(name: str, nargs: int):
    """A Numba intrinsic calling the LLVM intrinsic `name` on nargs floats of one type."""

    def codegen(context, builder, sig, llargs):
        return _call_llvm(builder, name, list(llargs))

    def typed(*args):
        return (args[0](*args), codegen) if _is_float(*args) else None

    # Numba's intrinsic needs a fixed signature (no *args)
    if nargs == 1:
        return intrinsic(lambda typingctx, x: typed(x))
    if nargs == 2:
        return intrinsic(lambda typingctx, a, b: typed(a, b))
    return intrinsic(lambda typingctx, a, b, c: typed(a, b, c))


_fma_ir = _llvm_intrinsic("llvm.fmuladd", 3)  # fused where the CPU has FMA (all x86-64-v3)
_rint_ir = _llvm_intrinsic("llvm.rint", 1)  # round half to even; vroundps
_copysign_ir = _llvm_intrinsic("llvm.copysign", 2)
_maximum_ir = _llvm_intrinsic("llvm.maximum", 2)  # NaN-propagating, like np.maximum
_minimum_ir = _llvm_intrinsic("llvm.minimum", 2)

# width -> (mantissa bits, exponent bias, bits of 1.5 * 2**mantissa_bits, bits of 2**mant)
_LAYOUT = {32: (23, 127, 0x4B400000, 0x4B000000),
           64: (52, 1023, 0x4338000000000000, 0x4330000000000000)}


def _float_from_bits(bits: int, width: int) -> float:
    return float(np.array([bits], dtype=f"u{width // 8}").view(f"f{width // 8}")[0])


@intrinsic
def _pow2_ir(typingctx, k):
    """2**k for an integer-valued float k in the normal exponent range, by building the bits."""
    if not _is_float(k):
        return None

    def codegen(context, builder, sig, args):
        mant, bias, shifter, _ = _LAYOUT[k.bitwidth]
        fty, ity = args[0].type, ir.IntType(k.bitwidth)
        # k + bias + 1.5*2**mant leaves k + bias in the low mantissa bits; the shift moves them
        # into the exponent field and pushes the shifter's bits out. No float->int conversion
        # (AVX2 has none for 64-bit lanes), and NaN gives garbage bits, never poison.
        t = builder.fadd(args[0], ir.Constant(fty, _float_from_bits(shifter, k.bitwidth) + bias))
        i = builder.shl(builder.bitcast(t, ity), ir.Constant(ity, mant))
        return builder.bitcast(i, fty)

    return k(k), codegen


@intrinsic
def _exponent_ir(typingctx, x):
    """The unbiased exponent field of x as a float: floor(log2|x|) for normal x."""
    if not _is_float(x):
        return None

    def codegen(context, builder, sig, args):
        mant, bias, _, two_mant = _LAYOUT[x.bitwidth]
        fty, ity = args[0].type, ir.IntType(x.bitwidth)
        field = builder.lshr(builder.bitcast(args[0], ity), ir.Constant(ity, mant))
        field = builder.and_(field, ir.Constant(ity, 2 * bias + 1))
        # OR the field into the bits of 2**mant, then subtract 2**mant + bias: int -> float
        t = builder.bitcast(builder.or_(field, ir.Constant(ity, two_mant)), fty)
        return builder.fsub(t, ir.Constant(fty, 2.0**mant + bias))

    return x(x), codegen


@intrinsic
def _mantissa_ir(typingctx, x):
    """|x| with its exponent field set to the bias: the significand in [1, 2) for normal x."""
    if not _is_float(x):
        return None

    def codegen(context, builder, sig, args):
        mant, bias, _, _ = _LAYOUT[x.bitwidth]
        fty, ity = args[0].type, ir.IntType(x.bitwidth)
        bits = builder.and_(builder.bitcast(args[0], ity), ir.Constant(ity, (1 << mant) - 1))
        return builder.bitcast(builder.or_(bits, ir.Constant(ity, bias << mant)), fty)

    return x(x), codegen


@intrinsic
def _reassoc_add_ir(typingctx, a, b):
    """a + b as an `fadd reassoc`: the one flag a loop-carried sum needs to vectorize."""
    if not _is_float(a, b):
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return a(a, b), codegen


@intrinsic
def _inline_ir(typingctx):
    """Mark the function being compiled `alwaysinline`.

    LLVM's size heuristic declines to inline the larger functions (tanh_f64 calls expm1_f64),
    and a call left in a loop body stops vectorization. Numba's own inline='always' works too
    but re-types the callee at every call site (about twice the compile time).
    """

    def codegen(context, builder, sig, args):
        builder.function.attributes.add("alwaysinline")
        return context.get_dummy_value()

    return types.none(), codegen


# Python twins of the intrinsics: compiled code uses the overloads (inlined by Numba); plain
# Python (`.py_func`, NUMBA_DISABLE_JIT=1) runs these on numpy scalars, slowly. Results may
# differ from compiled ones in the last bit (float32 FMA rounds twice here).


def _fma(a, b, c):
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)):
        return a * b + c
    if isinstance(a, np.float32):  # the product is exact in float64
        return np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    return np.float64(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))  # one rounding


def _rint(x):
    return np.rint(x)


def _copysign(a, b):
    return np.copysign(a, b)


def _maximum(a, b):
    return np.maximum(a, b)


def _minimum(a, b):
    return np.minimum(a, b)


def _pow2(x):
    return np.ldexp(type(x)(1), int(x)) if np.isfinite(x) else type(x)(np.nan)


def _exponent(x):
    return type(x)(np.frexp(x)[1] - 1)


def _mantissa(x):
    return type(x)(2) * abs(np.frexp(x)[0])


def _reassoc_add(a, b):
    return a + b


def _inline():
    return None


def _register_twin(py_func: Callable, ir_func) -> None:
    n = py_func.__code__.co_argcount
    if n == 0:
        overload(py_func, inline="always")(lambda: (lambda: ir_func()))
    elif n == 1:
        overload(py_func, inline="always")(lambda x: (lambda x: ir_func(x)))
    elif n == 2:
        overload(py_func, inline="always")(lambda a, b: (lambda a, b: ir_func(a, b)))
    else:
        overload(py_func, inline="always")(lambda a, b, c: (lambda a, b, c: ir_func(a, b, c)))


for _py, _ll in ((_fma, _fma_ir), (_rint, _rint_ir), (_copysign, _copysign_ir),
                 (_maximum, _maximum_ir), (_minimum, _minimum_ir), (_pow2, _pow2_ir),
                 (_exponent, _exponent_ir), (_mantissa, _mantissa_ir),
                 (_reassoc_add, _reassoc_add_ir), (_inline, _inline_ir)):
    _register_twin(_py, _ll)


# ---- constants and coefficients ----------------------------------------------------------------


class _Consts:
    """Per-dtype constants, already of the dtype (a float64 literal would widen float32 code)."""

    def __init__(self, ft: type, **values: float | tuple[float, ...]) -> None:
        self.ft = ft
        for name, v in values.items():
            setattr(self, name, tuple(map(ft, v)) if isinstance(v, tuple) else ft(v))


_F32 = _Consts(
    np.float32,
    log2e=1.4426950408889634,
    ln2_hi=0.693145751953125,  # 16 bits: k*ln2_hi is exact for |k| < 2**8
    ln2_lo=1.428606765330187e-06,
    exp_lo=-104.0,  # exp rounds to 0 below ln(2**-150) = -103.97
    exp_hi=89.0,  # and overflows above 88.72
    em1_lo=-18.0,  # expm1 rounds to -1 below ln(2**-25)
    em1_kmax=24.0,  # 2**k - 1 is exact up to here
    # (expm1(r) - r)/r**2 on |r| <= 0.347; relative error of expm1 2**-26.2
    em1=(0.4999999814151695, 0.16666543064548964, 0.041667202270275316, 0.008366595633706484,
         0.0013882507276870896),
    tiny=2.0**-126,
    tiny_scale=2.0**23,
    tiny_shift=23.0,
    # R(z), z = s**2 <= 0.0295: log1p(f) = 2s + s*z*R(z), s = f/(2+f); relative error 2**-30.2
    log=(0.6666677671700342, 0.39977495582834444, 0.29873073214619),
    tanh_small=0.625,
    tanh_sat=9.1,  # tanh rounds to 1 above 9.01
    # (tanh(x) - x)/x**3 in w = x**2 on |x| <= 0.625; relative error 2**-27.8
    tanh=(-0.33333281939705506, 0.13331442154661413, -0.053739712301268894, 0.02063907987112181,
          -0.005704980044814904),
    erf_small=1.0,
    erf_sat=3.93,  # erf rounds to 1 above 3.92
    erf_lo=1.1283791657268119 - float(np.float32(1.1283791657268119)),
    # erf(x)/x in w = x**2 on |x| <= 1; relative error 2**-29.6
    erf=(1.1283791657268119, -0.3761262582335885, 0.1128358513756008, -0.026853811484530834,
         0.005188326863044696, -0.0008010186661132181, 7.853839066858563e-05),
)

_F64 = _Consts(
    np.float64,
    log2e=1.4426950408889634,
    ln2_hi=0.6931471805598903,  # 42 bits: k*ln2_hi is exact for |k| < 2**11
    ln2_lo=5.497923018708371e-14,
    exp_lo=-746.0,  # below ln(2**-1075) = -745.13
    exp_hi=710.0,  # above 709.78
    em1_lo=-38.0,  # below ln(2**-54)
    em1_kmax=53.0,
    # (expm1(r) - r)/r**2 on |r| <= 0.347; relative error of expm1 2**-55.6
    em1=(0.5000000000000006, 0.16666666666666588, 0.041666666666575945, 0.008333333333390069,
         0.0013888888931853482, 0.000198412697181608, 2.4801504903912545e-05,
         2.7557407957222807e-06, 2.76261928232388e-07, 2.505377366358852e-08),
    tiny=2.0**-1022,
    tiny_scale=2.0**52,
    tiny_shift=52.0,
    # R(z) as for float32; relative error 2**-59.5
    log=(0.6666666666666735, 0.3999999999941109, 0.28571428743262356, 0.22222198476039925,
         0.18183569736216781, 0.1531390335436291, 0.14797506506875782),
    tanh_small=0.0,  # unused: float64 tanh has one path
    tanh_sat=19.1,  # tanh rounds to 1 above 19.06
    tanh=(0.0,),
    erf_small=1.0,
    erf_sat=5.95,  # erf rounds to 1 above 5.93
    erf_lo=1.533545961316588e-17,  # 2/sqrt(pi) - erf[0]
    # erf(x)/x in w = x**2 on |x| <= 1; relative error 2**-62.7
    erf=(1.1283791670955126, -0.3761263890318375, 0.11283791670954857, -0.026866170645072903,
         0.005223977624780954, -0.0008548326978747335, 0.00012055331037091695,
         -1.492559351162582e-05, 1.6460972894887772e-06, -1.635002606766439e-07,
         1.465788565230551e-08, -1.1365688884791045e-09, 5.945301267133541e-11),
)


@_jit
def _horner(t, c):
    """c[0] + t*(c[1] + t*(...)) with FMAs; c is a constant tuple, so LLVM unrolls it."""
    _inline()
    acc = c[-1]
    for i in range(len(c) - 2, -1, -1):
        acc = _fma(t, acc, c[i])
    return acc


# ---- exp and expm1 ---------------------------------------------------------------------------


def _make_exp_parts(k_: _Consts):
    log2e, ln2_hi, ln2_lo, lo, hi, q = k_.log2e, k_.ln2_hi, k_.ln2_lo, k_.exp_lo, k_.exp_hi, k_.em1
    half = k_.ft(0.5)

    @_jit
    def reduce(x):
        """x = k*ln2 + r + r_lo with |r| <= ln2/2; k comes from x clamped (NaN-free)."""
        _inline()
        xs = x if x > lo else lo
        xs = xs if xs < hi else hi
        k = _rint(xs * log2e)
        # k*ln2_hi is exact (few bits) and so is x - k*ln2_hi (Sterbenz); r_lo is the rounding
        # error of the second step (Fast2Sum), which expm1 needs where it cancels at k = 1
        r_hi = _fma(k, -ln2_hi, x)
        t = k * ln2_lo
        r = r_hi - t
        return k, r, (r_hi - r) - t

    @_jit
    def core(r):
        """Q(r) with expm1(r) ~= r + r*r*Q(r) on |r| <= ln2/2."""
        _inline()
        return _horner(r, q)

    @_jit
    def scale(p, k):
        """p * 2**k in two exact steps, so subnormal and near-overflow results round once."""
        _inline()
        k1 = _rint(k * half)
        return p * _pow2(k1) * _pow2(k - k1)

    return reduce, core, scale


def _make_exp(k_: _Consts, reduce, core, scale):
    one, zero, lo = k_.ft(1), k_.ft(0), k_.exp_lo

    @_jit
    def exp(x):
        _inline()
        k, r, _ = reduce(x)
        y = scale(_fma(r, _fma(r, core(r), one), one), k)
        return zero if x < lo else y

    return exp


def _make_expm1(k_: _Consts, reduce, core, scale):
    one, zero, lo, kmax = k_.ft(1), k_.ft(0), k_.em1_lo, k_.em1_kmax

    @_jit
    def expm1(x):
        _inline()
        k, r, r_lo = reduce(x)
        q = core(r)
        s = _pow2(k if k < kmax else kmax)
        # 2**k*(r + r_lo + r*r*q) + (2**k - 1): 2**k - 1 is exact while |k| <= kmax, and
        # s*r + (s - 1) is exact at k = 1, where the cancellation is worst
        small = _fma(s, _fma(r * r, q, r_lo), _fma(s, r, s - one))
        big = scale(_fma(r, _fma(r, q, one), one), k)  # exp(x): the -1 is below rounding
        y = small if k <= kmax else big
        y = -one if x < lo else y
        return x if x == zero else y  # expm1(-0.0) = -0.0

    return expm1


# ---- log and log1p -------------------------------------------------------------------------------


def _make_log1p_reduced(k_: _Consts):
    one, two, half, sqrt2 = k_.ft(1), k_.ft(2), k_.ft(0.5), k_.ft(math.sqrt(2))
    r_, ln2_hi, ln2_lo = k_.log, k_.ln2_hi, k_.ln2_lo

    @_jit
    def log1p_reduced(m, d, e):
        """e*ln2 + log(m + d) for m in [1, 2] and a small correction d.

        With m moved into [sqrt(1/2), sqrt(2)] and f = m - 1 (exact), s = f/(2+f) and
        log1p(f) = 2*atanh(s) = f - s*(f - s**2 * R(s**2)): f stays exact, the rest is small.
        """
        _inline()
        big = m > sqrt2
        m = m * half if big else m
        d = d * half if big else d
        e = e + one if big else e
        f = m - one
        fd = f + d
        s = fd / (two + fd)
        z = s * s
        corr = s * _fma(-z, _horner(z, r_), fd)
        return _fma(e, ln2_hi, f - ((corr - d) - e * ln2_lo))

    return log1p_reduced


def _make_log(k_: _Consts, reduced):
    zero, inf, nan = k_.ft(0), k_.ft(np.inf), k_.ft(np.nan)
    tiny, tiny_scale, tiny_shift = k_.tiny, k_.tiny_scale, k_.tiny_shift

    @_jit
    def log(x):
        _inline()
        sub = x < tiny  # scale subnormals up so the exponent field is exact
        xs = x * tiny_scale if sub else x
        e = _exponent(xs) - (tiny_shift if sub else zero)
        y = reduced(_mantissa(xs), zero, e)
        special = -inf if x == zero else (inf if x == inf else nan)
        return y if (x > zero) & (x < inf) else special

    return log


def _make_log1p(k_: _Consts, reduced):
    one, zero, inf, nan = k_.ft(1), k_.ft(0), k_.ft(np.inf), k_.ft(np.nan)
    emax = k_.tiny_shift

    @_jit
    def log1p(x):
        _inline()
        u = one + x
        # the rounding error of 1 + x, exactly (Fast2Sum, larger operand first)
        d = (x - (u - one)) if abs(x) <= one else (one - (u - x))
        e = _exponent(u)
        d = d * _pow2(-e) if e < emax else zero  # |d| <= 1 is negligible once u is huge
        y = reduced(_mantissa(u), d, e)
        special = -inf if x == -one else (inf if x == inf else nan)
        y = y if (x > -one) & (x < inf) else special
        return x if x == zero else y  # log1p(-0.0) = -0.0

    return log1p


# ---- tanh, sigmoid, softplus ---------------------------------------------------------------------


def _make_divide(k_: _Consts):
    one = k_.ft(1)

    @_jit
    def divide_exact_sum(n, d, d_lo):
        """n / (d + d_lo) with about one rounding of error: a Newton step on the quotient."""
        _inline()
        inv = one / d
        q = n * inv
        return _fma(_fma(-q, d, n) - q * d_lo, inv, q)

    return divide_exact_sum


def _make_tanh_f32(k_: _Consts, reduce, core):
    one, two, small, sat, p = k_.ft(1), k_.ft(2), k_.tanh_small, k_.tanh_sat, k_.tanh

    @_jit
    def tanh(x):
        _inline()
        # |x| < 0.625: odd polynomial. Above: 1 - 2/(e + 1), e = exp(2|x|) with |x| clamped
        # where tanh rounds to 1; 2/(e + 1) <= 0.45, so its errors shrink in 1 - t.
        w = x * x
        y_small = _fma(x * w, _horner(w, p), x)
        a = abs(x)
        k, r, _ = reduce(two * (sat if a > sat else a))
        e = _fma(r, _fma(r, core(r), one), one) * _pow2(k)  # 2 <= k <= 27: one exact scaling
        y_big = one - two / (e + one)
        return _copysign(y_small if a < small else y_big, x)  # also tanh(-0.0) = -0.0

    return tanh


def _make_tanh_f64(k_: _Consts, expm1, divide):
    two, sat = k_.ft(2), k_.tanh_sat

    @_jit
    def tanh(x):
        _inline()
        # tanh|x| = e/(e + 2), e = expm1(2|x|): no cancellation anywhere. e + 2 is kept exact
        # as d + d_lo and the quotient gets a Newton step, leaving expm1's error.
        a = abs(x)
        e = expm1(two * (sat if a > sat else a))
        d = e + two
        d_lo = (e - (d - two)) if e <= two else (two - (d - e))  # Fast2Sum: exact
        return _copysign(divide(e, d, d_lo), x)

    return tanh


def _make_sigmoid(k_: _Consts, exp, divide):
    one, zero = k_.ft(1), k_.ft(0)

    @_jit
    def sigmoid(x):
        _inline()
        # e = exp(-|x|) <= 1 never overflows; sigmoid(-|x|) = e/(1 + e), 1 + e kept exact
        e = exp(-abs(x))
        d = one + e
        return divide(one if x >= zero else e, d, e - (d - one))

    return sigmoid


def _make_softplus(k_: _Consts, reduce, core, scale, reduced):
    one, zero, lo = k_.ft(1), k_.ft(0), k_.exp_lo

    @_jit
    def softplus(x):
        _inline()
        # log(1 + exp(x)) = max(x, 0) + log1p(e), e = exp(-|x|) <= 1. For x < 0 the result is
        # about e, so e is computed as e + e_lo (the FMA residuals of exp's last two steps):
        # exp's own rounding would otherwise pass straight through. 1 + e lies in [1, 2], so
        # log1p needs no special cases: m = 1 + e, d = its rounding error, exponent 0.
        k, r, _ = reduce(-abs(x))
        q = core(r)
        s = _fma(r, q, one)
        p = _fma(r, s, one)
        p_lo = _fma(r, s, one - p) + r * _fma(r, q, one - s)
        tiny = -abs(x) < lo  # false for NaN, which then flows through
        e = zero if tiny else scale(p, k)
        e_lo = zero if tiny else scale(p_lo, k)
        u = one + e
        return (x if x > zero else zero) + reduced(u, (e - (u - one)) + e_lo, zero)

    return softplus


# ---- sin and cos ---------------------------------------------------------------------------------

# sin r = r + r*z*S(z), cos r = 1 - z/2 + z*z*K(z), z = r*r, |r| <= pi/4 (float64 arithmetic).
# Relative errors: S32 2**-37.5, K32 2**-33.0, S64 2**-57.9, K64 2**-64.0.
_SIN32 = tuple(map(np.float64, (-0.16666666640776265, 0.008333329302415997,
                                -0.00019839311484440934, 2.718114106226841e-06)))
_COS32 = tuple(map(np.float64, (0.041666645670259184, -0.0013887315621397222,
                                2.4433083202139854e-05)))
_SIN64 = tuple(map(np.float64, (-0.1666666666666663, 0.008333333333322108,
                                -0.0001984126982958028, 2.7557313618055735e-06,
                                -2.5050747224068245e-08, 1.5896197968241635e-10)))
_COS64 = tuple(map(np.float64, (0.041666666666666595, -0.001388888888887304,
                                2.480158728884152e-05, -2.75573141762756e-07,
                                2.087570042103295e-09, -1.1358514211037176e-11)))
# 2/pi and pi/2 as sums of non-overlapping doubles (each the rounding of what remains)
_TWO_OVER_PI = tuple(map(np.float64, (0.6366197723675814, -3.935735335036497e-17,
                                      -2.1442872565786008e-33, 1.6107127853188224e-49)))
_PIO2 = tuple(map(np.float64, (1.5707963267948966, 6.123233995736766e-17,
                               -1.4973849048591698e-33)))
_SPLIT24 = np.float64(1.5 * 2.0**28)  # (v + _SPLIT24) - _SPLIT24 rounds |v| < 2**27 to 2**-24
_SINCOS_F64_LIMIT = np.float64(SINCOS_F64_LIMIT)


@_jit
def _mod4(v):
    _inline()
    return _fma(np.float64(-4), _rint(v * np.float64(0.25)), v)  # exact; result in [-2, 2]


@_jit
def _split24(v):
    _inline()
    hi = (v + _SPLIT24) - _SPLIT24
    return hi, v - hi


@_jit
def _reduce_pio2_f32(x):
    """x*2/pi = n + f for every float32 x, in float64; returns (f, n mod 4).

    x has 24 bits, so x*c for each 53-bit chunk c of 2/pi is exactly p + e (FMA). Terms that
    can be large are reduced mod 4 (exactly), then split at 2**-24: the high parts add exactly
    and the low parts are small, so f keeps about 2**-70 absolute accuracy even where x is
    within 2**-30 of a multiple of pi/2. Payne-Hanek without a table (tables would need
    gathers, which cost more here) and without branches.
    """
    _inline()
    c0, c1, c2, c3 = _TWO_OVER_PI
    xd = np.float64(x)
    p0 = xd * c0
    p1 = xd * c1
    p2 = xd * c2
    h0, l0 = _split24(_mod4(p0))
    h1, l1 = _split24(_mod4(_fma(xd, c0, -p0)))
    h2, l2 = _split24(_mod4(p1))
    h3, l3 = _split24(_fma(xd, c1, -p1))  # below 2**22 for float32 x, like p2
    h4, l4 = _split24(p2)
    tail = _fma(xd, c2, -p2) + xd * c3
    h = ((h0 + h1) + (h2 + h3)) + h4
    n = _rint(h)
    f = (h - n) + (((l0 + l1) + (l2 + l3)) + (l4 + tail))
    return f, n - np.float64(4) * np.floor(n * np.float64(0.25))


@_jit
def _reduce_pio2_f64(x):
    """x = n*pi/2 + r + r_lo, returns (r, r_lo, n mod 4): Cody-Waite, pi/2 in three parts.

    n*p1 and x - n*p1 are exact (FMA) while |n| < 2**52; the second part is subtracted in
    double-double. Accurate to about 2**-100 relative for |x| < SINCOS_F64_LIMIT.
    """
    _inline()
    p1, p2, p3 = _PIO2
    n = _rint(x * _TWO_OVER_PI[0])
    r1 = _fma(-n, p1, x)
    w = n * p2
    w_lo = _fma(n, p2, -w)
    r = r1 - w
    bv = r - r1
    r_lo = (((r1 - (r - bv)) - (w + bv)) - w_lo) - n * p3  # TwoSum error, then the low parts
    rh = r + r_lo
    return rh, r_lo - (rh - r), n - np.float64(4) * np.floor(n * np.float64(0.25))


@_jit
def _quadrant(s, c, q, cosine):
    """sin or cos of n*pi/2 + r from s = sin r, c = cos r and q = n mod 4."""
    _inline()
    q = q + (np.float64(1) if cosine else np.float64(0))
    q = q - np.float64(4) if q >= np.float64(4) else q
    y = s if (q == np.float64(0)) | (q == np.float64(2)) else c
    return -y if q >= np.float64(2) else y


def _make_sincos_f32(cosine: bool):
    half, one, tiny = np.float64(0.5), np.float64(1), np.float32(2.0**-12)

    @_jit
    def sincos(x):
        _inline()
        f, q = _reduce_pio2_f32(x)
        r = f * _PIO2[0]
        z = r * r
        s = _fma(r * z, _horner(z, _SIN32), r)
        c = _fma(z * z, _horner(z, _COS32), _fma(z, -half, one))
        y = np.float32(_quadrant(s, c, q, cosine))
        if cosine:
            return y
        return x if abs(x) < tiny else y  # sin x rounds to x there; keeps the sign of -0.0

    return sincos


def _make_sincos_f64(cosine: bool):
    half, one, nan = np.float64(0.5), np.float64(1), np.float64(np.nan)

    @_jit
    def sincos(x):
        _inline()
        r, r_lo, q = _reduce_pio2_f64(x)
        z = r * r
        # sin(r + r_lo) = sin r + r_lo*cos r and cos(r + r_lo) = cos r - r_lo*sin r (r_lo tiny)
        s = r + _fma(r * z, _horner(z, _SIN64), r_lo * _fma(z, -half, one))
        c = _fma(z * z, _horner(z, _COS64), _fma(z, -half, one) - r * r_lo)
        y = _quadrant(s, c, q, cosine)
        y = y if abs(x) < _SINCOS_F64_LIMIT else nan
        return y if cosine or x != np.float64(0) else x  # sin(-0.0) = -0.0

    return sincos


# ---- pow -----------------------------------------------------------------------------------------

# log1p(f) = 2s + (2/3)s**3 + s**5 * T(s*s), s = f/(2+f); T on s*s <= 0.0295, error 2**-57.6
_LOG_TAIL64 = tuple(map(np.float64, (0.4, 0.2857142857142938, 0.2222222222164818,
                                     0.18181818337034655, 0.15384594796290108,
                                     0.13334813317256777, 0.11706014879699615,
                                     0.11725409536326277)))
_TWO_THIRDS = (np.float64(0.6666666666666666), np.float64(3.700743415417188e-17))
_LOG_DD = (_F64.tiny, _F64.tiny_scale, _F64.tiny_shift, _F64.ln2_hi, _F64.ln2_lo)


@_jit
def _log_dd_f64(ax):
    """log(ax) as hi + lo with about 2**-66 relative error, for finite ax > 0.

    pow needs it: y*log(x) up to +-745 must be known to about 2**-63 for a 1-ulp result.
    """
    _inline()
    one, two = np.float64(1), np.float64(2)
    tiny, tiny_scale, tiny_shift, ln2_hi, ln2_lo = _LOG_DD
    sub = ax < tiny
    xs = ax * tiny_scale if sub else ax
    e = _exponent(xs) - (tiny_shift if sub else np.float64(0))
    m = _mantissa(xs)
    big = m > np.float64(math.sqrt(2))
    m = m * np.float64(0.5) if big else m
    e = e + one if big else e
    f = m - one
    u = two + f
    u_lo = f - (u - two)
    inv = one / u
    s = f * inv
    s_lo = (_fma(-s, u, f) - s * u_lo) * inv  # s + s_lo = f/(2+f) to ~2**-100
    z = s * s
    c = s * z  # (s + s_lo)**3 = c + c_lo
    c_lo = _fma(s, z, -c) + s * _fma(s, s, -z) + np.float64(3) * z * s_lo
    t = c * _TWO_THIRDS[0]
    t_lo = _fma(c, _TWO_THIRDS[0], -t) + (c_lo * _TWO_THIRDS[0] + c * _TWO_THIRDS[1])
    a = two * s
    hi = a + t
    lo = ((a - hi) + t) + (two * s_lo + t_lo + c * z * _horner(z, _LOG_TAIL64))
    k_hi = e * ln2_hi  # exact: ln2_hi has 42 bits
    big_hi = k_hi + hi
    err = ((k_hi - big_hi) + hi) if abs(k_hi) >= abs(hi) else ((hi - big_hi) + k_hi)
    lo = err + (lo + e * ln2_lo)
    res = big_hi + lo
    return res, lo - (res - big_hi)


def _make_pow_special(k_: _Consts):
    zero, one, half, inf, nan = k_.ft(0), k_.ft(1), k_.ft(0.5), k_.ft(np.inf), k_.ft(np.nan)

    @_jit
    def pow_special(x, y, r):
        """C99 pow's special cases around r = |x|**y, computed assuming finite positive |x|."""
        _inline()
        ax, ay = abs(x), abs(y)
        y_int = np.floor(y) == y
        y_odd = y_int & (np.floor(y * half) != y * half)
        big = zero if y < zero else inf  # |x|**y for |x| = inf, or |x| > 1 and y = +-inf
        small = inf if y < zero else zero  # |x|**y for |x| = 0, or |x| < 1 and y = +-inf
        r = small if ax == zero else r
        r = big if ax == inf else r
        r = ((big if ax > one else small) if ax != one else one) if ay == inf else r
        r = -r if (_copysign(one, x) < zero) & y_odd else r
        r = nan if (x < zero) & (ax < inf) & ~y_int else r
        r = nan if (x != x) | (y != y) else r
        return one if (y == zero) | (x == one) else r

    return pow_special


# Inside pow_f32, in float64 where 2**-32 relative error suffices: expm1-type Q (2**-32.0 on
# |r| <= ln2/2) and log's R (2**-37.6 on s*s <= 0.0295).
_POW32_EXP = tuple(map(np.float64, (0.5000000044460122, 0.16666666368440178, 0.04166635953949575,
                                    0.00833338962515361, 0.0013940743783476311,
                                    0.00019845886805519702)))
_POW32_LOG = tuple(map(np.float64, (0.6666666564129243, 0.4000033621934692, 0.2853723831905393,
                                    0.23583568975478955)))
_LN2 = np.float64(math.log(2))


def _make_pow_f32(special):
    one, two, half, sqrt2 = np.float64(1), np.float64(2), np.float64(0.5), np.float64(math.sqrt(2))
    lim, log2e = np.float64(120), np.float64(1 / math.log(2))

    @_jit
    def pow_(x, y):
        _inline()
        # float64 inside, lean: float32 |x| is a normal double, and e**u for |u| <= 120 needs
        # one power-of-two scaling and no overflow handling (float32 conversion does it);
        # errors stay near 2**-45, so results are essentially correctly rounded
        ax = np.float64(abs(x))
        m, e = _mantissa(ax), _exponent(ax)
        big = m > sqrt2
        m = m * half if big else m
        e = e + one if big else e
        f = m - one
        s = f / (two + f)
        z = s * s
        lg = _fma(e, _LN2, _fma(s * z, _horner(z, _POW32_LOG), two * s))
        u = np.float64(y) * lg
        u = -lim if u < -lim else u  # keeps NaN
        u = lim if u > lim else u
        k = _rint(u * log2e)
        r = _fma(k, -_LN2, u)
        p = _fma(r, _fma(r, _horner(r, _POW32_EXP), one), one)
        return special(x, y, np.float32(p * _pow2(k)))

    return pow_


def _make_pow_f64(special, reduce, core, scale):
    zero, one, inf = np.float64(0), np.float64(1), np.float64(np.inf)
    lo_, hi_ = _F64.exp_lo, _F64.exp_hi

    @_jit
    def pow_(x, y):
        _inline()
        lg, lg_lo = _log_dd_f64(abs(x))
        t = y * lg
        t_lo = _fma(y, lg, -t) + y * lg_lo
        k, r, r_lo = reduce(t)
        r = r + (r_lo + t_lo)
        res = scale(_fma(r, _fma(r, core(r), one), one), k)
        res = inf if t > hi_ else (zero if t < lo_ else res)
        return special(x, y, res)

    return pow_


# ---- erf -----------------------------------------------------------------------------------------

# erfc(a) = exp(-a*a) * R(u), u = (a - center)/half_width in [-1, 1]: (center, half, coefficients)
# float32: a in [1, 3.93], relative error 2**-25.4.
# float64: a in [1, 2.5], 2**-54.4, and [2.5, 5.95], 2**-45.0 (erfc < 4.1e-4 there).
_ERFC32 = ((2.465, 1.465, (0.21343941225624832, -0.11151997039785279, 0.05536569142185527,
                           -0.026273412724037087, 0.011969321813476926, -0.005259643137092511,
                           0.002252035554921912, -0.0009236439084737598, 0.00033476226724840944,
                           -0.00013438559628396868, 8.229295772027428e-05,
                           -2.899434424278409e-05)),)
_ERFC64 = (
    (1.75, 0.75, (0.2849722347374364, -0.09823225913586388, 0.031367041923984595,
                  -0.009390935492462043, 0.0026591791242474884, -0.0007168914455875922,
                  0.00018495607778275637, -4.585616729009303e-05, 1.0962896490273478e-05,
                  -2.534510268739699e-06, 5.680083612776327e-07, -1.2366133445881303e-07,
                  2.62144363101368e-08, -5.412496977372286e-09, 1.077210352974495e-09,
                  -2.1305913948222796e-10, 4.852582538206482e-11, -8.968788642024902e-12)),
    (4.225, 1.725, (0.1300728617859712, -0.050479511632044956, 0.01914706863793037,
                    -0.007107911452754228, 0.002585574497084663, -0.0009225956009993787,
                    0.00032323583529639797, -0.00011128973950661612, 3.7684709164303426e-05,
                    -1.2558349758509248e-05, 4.119038359873607e-06, -1.332338157790848e-06,
                    4.2902491469007954e-07, -1.3464386570490263e-07, 3.761127346493516e-08,
                    -1.1699792581979861e-08, 5.778243944502764e-09, -1.686018910403761e-09)),
)


def _erfc_pieces(k_: _Consts, table):
    ft = k_.ft
    return tuple((ft(c), ft(1 / h), tuple(map(ft, cs))) for c, h, cs in table)


def _make_erf(k_: _Consts, exp, pieces):
    ft = k_.ft
    one, small, sat = ft(1), k_.erf_small, k_.erf_sat
    c0, c0_lo = k_.erf[0], k_.erf_lo  # the leading coefficient in two parts
    p = k_.erf[1:]
    (ca, ia, ra), = pieces[:1]
    cb, ib, rb = pieces[-1]
    split = ft(2.5)

    @_jit
    def erf(x):
        _inline()
        w = x * x
        y_small = _fma(x, c0, _fma(x, c0_lo, x * w * _horner(w, p)))
        a = abs(x)
        a = sat if a > sat else a  # erf rounds to 1 beyond; keeps NaN
        aa = a * a  # exp(-(aa + aa_lo)) = exp(-aa) * (1 - aa_lo)
        aa_lo = _fma(a, a, -aa)
        ra_ = _horner((a - ca) * ia, ra)
        rb_ = _horner((a - cb) * ib, rb)
        erfc = exp(-aa) * _fma(-aa_lo, one, one) * (ra_ if a < split else rb_)
        return _copysign(y_small if abs(x) < small else one - erfc, x)  # erf(-0.0) = -0.0

    return erf


# ---- functions that are one LLVM intrinsic -----------------------------------------------------


@_jit
def _sqrt(x):
    _inline()
    return math.sqrt(x)  # llvm.sqrt (error_model='numpy': NaN for x < 0, no branch)


@_jit
def _abs(x):
    _inline()
    return abs(x)  # llvm.fabs


@_jit
def _floor(x):
    _inline()
    return np.floor(x)  # llvm.floor (math.floor would return an int)


# ---- reductions ------------------------------------------------------------------------------


def _make_sum(ft: type, step):
    zero = ft(0)

    @_jit
    def sum_(x):
        """Blocked sum of a 1-D array: the pattern codegen emits for a fused reduction."""
        n = x.size
        total = 0.0
        for b in range(0, n, SUM_BLOCK):
            acc = zero
            for i in range(b, min(b + SUM_BLOCK, n)):
                acc = step(acc, x[i])
            total += np.float64(acc)
        return ft(total)

    return sum_


# ---- Numba's library calls (TRACEGRAD_VMATH=0) -----------------------------------------------


def _make_library(ft: type) -> dict[str, Callable]:
    one, zero = ft(1), ft(0)

    def exp(x):
        return ft(math.exp(x))

    def expm1(x):
        return ft(math.expm1(x))

    def log(x):
        return ft(math.log(x)) if x > zero else (ft(-np.inf) if x == zero else ft(np.nan))

    def log1p(x):
        return ft(math.log1p(x)) if x > -one else (ft(-np.inf) if x == -one else ft(np.nan))

    def tanh(x):
        return ft(math.tanh(x))

    def sigmoid(x):
        return one / (one + ft(math.exp(-x)))

    def softplus(x):
        return (x if x > zero else zero) + ft(math.log1p(math.exp(-abs(x))))

    def sin(x):
        return ft(math.sin(x))

    def cos(x):
        return ft(math.cos(x))

    def pow(x, y):
        return ft(x**y)

    def erf(x):
        return ft(math.erf(x))

    return {f.__name__: _jit(f) for f in (exp, expm1, log, log1p, tanh, sigmoid, softplus, sin,
                                          cos, pow, erf)}


# ---- the public table --------------------------------------------------------------------------


def _make_vmath(k_: _Consts) -> dict[str, Callable]:
    reduce, core, scale = _make_exp_parts(k_)
    exp = _make_exp(k_, reduce, core, scale)
    expm1 = _make_expm1(k_, reduce, core, scale)
    reduced = _make_log1p_reduced(k_)
    divide = _make_divide(k_)
    fns = {
        "exp": exp,
        "expm1": expm1,
        "log": _make_log(k_, reduced),
        "log1p": _make_log1p(k_, reduced),
        "sigmoid": _make_sigmoid(k_, exp, divide),
        "softplus": _make_softplus(k_, reduce, core, scale, reduced),
    }
    if k_ is _F32:
        fns["tanh"] = _make_tanh_f32(k_, reduce, core)
        fns["sin"], fns["cos"] = _make_sincos_f32(False), _make_sincos_f32(True)
        fns["pow"] = _make_pow_f32(_make_pow_special(k_))
        fns["erf"] = _make_erf(k_, exp, _erfc_pieces(k_, _ERFC32))
    else:
        fns["tanh"] = _make_tanh_f64(k_, expm1, divide)
        fns["sin"], fns["cos"] = _make_sincos_f64(False), _make_sincos_f64(True)
        fns["pow"] = _make_pow_f64(_make_pow_special(k_), reduce, core, scale)
        fns["erf"] = _make_erf(k_, exp, _erfc_pieces(k_, _ERFC64))
    return fns


def _publish(name: str, ft: type, impl, nargs: int):
    """The public dispatcher: casts its arguments to the dtype, then inlines impl."""
    if nargs == 1:

        def public(x):
            _inline()
            return impl(ft(x))

    else:

        def public(x, y):
            _inline()
            return impl(ft(x), ft(y))

    public.__name__ = public.__qualname__ = f"{name}_{_SUFFIX[ft]}"
    public.__doc__ = f"{name} for {ft.__name__} (tracegrad.codegen.vmath)."
    return _jit(public)


_SUFFIX = {np.float32: "f32", np.float64: "f64"}
_ARITY = {"pow": 2, "minimum": 2, "maximum": 2, "sum_step": 2}


def _build_namespace() -> dict[str, Callable]:
    impls = {np.float32: _make_vmath(_F32), np.float64: _make_vmath(_F64)}
    out = {}
    for ft, suffix in _SUFFIX.items():
        chosen = impls[ft] if ENABLED else _make_library(ft)
        chosen = {n: chosen[n] for n in FUNCTIONS}
        chosen.update(sqrt=_sqrt, abs=_abs, floor=_floor, minimum=_minimum, maximum=_maximum,
                      sum_step=_reassoc_add)
        for name, impl in chosen.items():
            out[f"{name}_{suffix}"] = _publish(name, ft, impl, _ARITY.get(name, 1))
        out[f"sum_{suffix}"] = _make_sum(ft, out[f"sum_step_{suffix}"])
    return out


globals().update(_build_namespace())


def get(name: str, dtype: str | type | np.dtype) -> Callable:
    """The dispatcher for `name` ('exp', 'sum_step', ...) and dtype ('f32', np.float32, ...)."""
    suffix = dtype if dtype in ("f32", "f64") else _SUFFIX[np.dtype(dtype).type]
    return globals()[f"{name}_{suffix}"]


def _cache_token() -> str:
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return f"vmath-{'on' if ENABLED else 'off'}-{digest}"


CACHE_TOKEN: str = _cache_token()
