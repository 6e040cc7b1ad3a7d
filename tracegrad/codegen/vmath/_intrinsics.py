"""LLVM building blocks for vmath: FMA, rint, bit casts, reassociating add, alwaysinline.

Each is a Numba intrinsic with a plain-Python twin (registered as its overload), so the
functions built on them also run under NUMBA_DISABLE_JIT=1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

jit = njit(error_model="numpy")


# ---- LLVM building blocks --------------------------------------------------------------------


def _call_llvm(builder: ir.IRBuilder, name: str, args: list) -> ir.Value:
    ty = args[0].type
    fnty = ir.FunctionType(ty, [a.type for a in args])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"{name}.{ty.intrinsic_name}")
    return builder.call(fn, args)


def is_float(*tys) -> bool:
    return isinstance(tys[0], types.Float) and all(t == tys[0] for t in tys)


def _llvm_intrinsic(name: str, nargs: int):
    """A Numba intrinsic calling the LLVM intrinsic `name` on nargs floats of one type."""

    def codegen(context, builder, sig, llargs):
        return _call_llvm(builder, name, list(llargs))

    def typed(*args):
        return (args[0](*args), codegen) if is_float(*args) else None

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


def float_from_bits(bits: int, width: int) -> float:
    return float(np.array([bits], dtype=f"u{width // 8}").view(f"f{width // 8}")[0])


def _bits_intrinsic(build: Callable):
    """A Numba intrinsic of one float whose LLVM code is build(builder, x, width, ity)."""

    def typer(typingctx, x):
        if not is_float(x):
            return None

        def codegen(context, builder, sig, args):
            return build(builder, args[0], x.bitwidth, ir.IntType(x.bitwidth))

        return x(x), codegen

    return intrinsic(typer)


def _field_to_float(builder, field, x, width: int, ity):
    """A small non-negative integer (a biased exponent) to float, minus the bias: OR it into
    the bits of 2**mant and subtract 2**mant + bias (AVX2 has no int64 -> double)."""
    mant, bias, _, two_mant = _LAYOUT[width]
    t = builder.bitcast(builder.or_(field, ir.Constant(ity, two_mant)), x.type)
    return builder.fsub(t, ir.Constant(x.type, 2.0**mant + bias))


def _build_pow2(builder, k, width: int, ity):
    """2**k for an integer-valued float k in the normal exponent range, by building the bits.

    k + bias + 1.5*2**mant leaves k + bias in the low mantissa bits; the shift moves them into
    the exponent field and pushes the shifter's bits out. No float->int conversion (AVX2 has
    none for 64-bit lanes), and NaN gives garbage bits, never poison.
    """
    mant, bias, shifter, _ = _LAYOUT[width]
    t = builder.fadd(k, ir.Constant(k.type, float_from_bits(shifter, width) + bias))
    return builder.bitcast(builder.shl(builder.bitcast(t, ity), ir.Constant(ity, mant)), k.type)


def _build_exponent(builder, x, width: int, ity):
    """The unbiased exponent field of x as a float: floor(log2|x|) for normal x."""
    mant, bias, _, _ = _LAYOUT[width]
    field = builder.lshr(builder.bitcast(x, ity), ir.Constant(ity, mant))
    return _field_to_float(builder, builder.and_(field, ir.Constant(ity, 2 * bias + 1)), x,
                           width, ity)


def _build_mantissa(builder, x, width: int, ity):
    """|x| with its exponent field set to the bias: the significand in [1, 2) for normal x."""
    mant, bias, _, _ = _LAYOUT[width]
    bits = builder.and_(builder.bitcast(x, ity), ir.Constant(ity, (1 << mant) - 1))
    return builder.bitcast(builder.or_(bits, ir.Constant(ity, bias << mant)), x.type)


def _sqrt2_split(builder, x, width: int, ity):
    """(biased k, bits of x / 2**k) with x / 2**k in [sqrt(1/2), sqrt(2)), for normal x > 0.

    Adding 2**mant - (mantissa bits of sqrt 2) to the bits carries into the exponent field
    exactly when the significand is >= sqrt 2: integer adds and shifts, no compare or select.
    """
    mant, bias, _, _ = _LAYOUT[width]
    bits = builder.bitcast(x, ity)
    sqrt2_bits = int(np.array([np.sqrt(2)], dtype=f"f{width // 8}").view(f"u{width // 8}")[0])
    carry = (1 << mant) - (sqrt2_bits & ((1 << mant) - 1))
    k = builder.lshr(builder.add(bits, ir.Constant(ity, carry)), ir.Constant(ity, mant))
    m = builder.sub(bits, builder.shl(builder.sub(k, ir.Constant(ity, bias)),
                                      ir.Constant(ity, mant)))
    return k, m


def _build_log_exponent(builder, x, width: int, ity):
    return _field_to_float(builder, _sqrt2_split(builder, x, width, ity)[0], x, width, ity)


def _build_log_mantissa(builder, x, width: int, ity):
    return builder.bitcast(_sqrt2_split(builder, x, width, ity)[1], x.type)


_pow2_ir = _bits_intrinsic(_build_pow2)
_exponent_ir = _bits_intrinsic(_build_exponent)
_mantissa_ir = _bits_intrinsic(_build_mantissa)
_log_exponent_ir = _bits_intrinsic(_build_log_exponent)
_log_mantissa_ir = _bits_intrinsic(_build_log_mantissa)


@intrinsic
def _reassoc_add_ir(typingctx, a, b):
    """a + b as an `fadd reassoc`: the one flag a loop-carried sum needs to vectorize."""
    if not is_float(a, b):
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


def fma(a, b, c):
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)):
        return a * b + c
    if isinstance(a, np.float32):  # the product is exact in float64
        return np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    return np.float64(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))  # one rounding


def rint(x):
    return np.rint(x)


def copysign(a, b):
    return np.copysign(a, b)


def maximum(a, b):
    return np.maximum(a, b)


def minimum(a, b):
    return np.minimum(a, b)


def pow2(x):
    return np.ldexp(type(x)(1), int(x)) if np.isfinite(x) else type(x)(np.nan)


def exponent(x):
    return type(x)(np.frexp(x)[1] - 1)


def mantissa(x):
    return type(x)(2) * abs(np.frexp(x)[0])


def reassoc_add(a, b):
    return a + b


def inline():
    return None


def log_mantissa(x):
    """x / 2**log_exponent(x), in [sqrt(1/2), sqrt(2)) for normal x > 0; 1 for 0 and inf,
    as the bit split gives (pow_f32 relies on it)."""
    if x == 0 or np.isinf(x):
        return type(x)(1)
    m, e = np.frexp(x)
    return type(x)(2 * m) if m < np.sqrt(type(x)(0.5)) else type(x)(m)


def log_exponent(x):
    """The k with x / 2**k in [sqrt(1/2), sqrt(2)), as a float, for normal x > 0; for 0 and
    inf what the bit split gives: minus the exponent bias, and the bias + 1."""
    if x == 0 or np.isinf(x):
        bias = _LAYOUT[np.dtype(type(x)).itemsize * 8][1]
        return type(x)(-bias if x == 0 else bias + 1)
    m, e = np.frexp(x)
    return type(x)(e - 1) if m < np.sqrt(type(x)(0.5)) else type(x)(e)


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


for _py, _ll in ((fma, _fma_ir), (rint, _rint_ir), (copysign, _copysign_ir),
                 (maximum, _maximum_ir), (minimum, _minimum_ir), (pow2, _pow2_ir),
                 (exponent, _exponent_ir), (mantissa, _mantissa_ir),
                 (log_exponent, _log_exponent_ir), (log_mantissa, _log_mantissa_ir),
                 (reassoc_add, _reassoc_add_ir), (inline, _inline_ir)):
    _register_twin(_py, _ll)


@jit
def horner(t, c):
    """c[0] + t*(c[1] + t*(...)) with FMAs; c is a constant tuple, so LLVM unrolls it."""
    inline()
    acc = c[-1]
    for i in range(len(c) - 2, -1, -1):
        acc = fma(t, acc, c[i])
    return acc


def estrin(c: tuple) -> Callable:
    """A jitted p(t) = c[0] + c[1]*t + ... evaluated by Estrin's scheme.

    Horner's n-1 FMAs form one dependency chain (4 cycles each); Estrin's split
    p = lo(t) + t**h * hi(t) (h a power of two) needs about log2(n) levels, the powers of t
    computed alongside (LLVM merges the repeated t*t). The kernels are latency-bound: the
    out-of-order window holds only two or three iterations of these long bodies, so the
    shorter chain runs faster although the FMA count is the same.
    """
    if len(c) == 1:
        c0 = c[0]

        @jit
        def constant(t):
            inline()
            return c0

        return constant
    if len(c) == 2:
        c0, c1 = c

        @jit
        def linear(t):
            inline()
            return fma(t, c1, c0)

        return linear
    h = 1 << ((len(c) - 1).bit_length() - 1)  # the largest power of two below len(c)
    lo, hi, squarings = estrin(c[:h]), estrin(c[h:]), h.bit_length() - 1

    @jit
    def split(t):
        inline()
        th = t
        for _ in range(squarings):
            th = th * th
        return fma(th, hi(t), lo(t))

    return split



# ---- functions that are one LLVM intrinsic -----------------------------------------------------


@jit
def sqrt(x):
    inline()
    return math.sqrt(x)  # llvm.sqrt (error_model='numpy': NaN for x < 0, no branch)


@jit
def fabs(x):
    inline()
    return abs(x)  # llvm.fabs


@jit
def floor(x):
    inline()
    return np.floor(x)  # llvm.floor (math.floor would return an int)

