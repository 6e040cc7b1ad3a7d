"""exp, expm1, log and log1p, per dtype (factories taking the dtype's constants)."""

from __future__ import annotations

import math

import numpy as np

from ._consts import Consts
from ._intrinsics import (estrin, exponent, fma, horner, inline, jit, log_exponent, log_mantissa,
                          mantissa, pow2, rint)


# ---- exp and expm1 ---------------------------------------------------------------------------


def make_exp_parts(k_: Consts):
    log2e, ln2_hi, ln2_lo = k_.log2e, k_.ln2_hi, k_.ln2_lo
    half = k_.ft(0.5)

    @jit
    def reduce(x):
        """x = k*ln2 + r + r_lo with |r| <= ln2/2, for exp_lo <= x <= exp_hi.

        Outside that range (and for NaN) k and r are garbage: callers select their own result
        there, which costs fewer instructions than clamping x first.
        """
        inline()
        k = rint(x * log2e)
        # k*ln2_hi is exact (few bits) and so is x - k*ln2_hi (Sterbenz); r_lo is the rounding
        # error of the second step (Fast2Sum), which expm1 needs where it cancels at k = 1
        r_hi = fma(k, -ln2_hi, x)
        t = k * ln2_lo
        r = r_hi - t
        return k, r, (r_hi - r) - t

    # float64's 10 coefficients by Estrin: Horner's chain of 9 FMAs is 36 cycles of latency, and
    # these loops are latency-bound (exp_f64 1.60 -> 1.42 ns per element, sigmoid_f64 1.94 ->
    # 1.78, expm1_f64 2.49 -> 2.34, tanh_f64 4.2 -> 3.8; same accuracy). float32 keeps Horner:
    # fused kernels' statement schedules (codegen/schedule.py) are tuned around exp_f32's code.
    core = make_exp_core(k_, estrin_form=k_.ft is np.float64)

    @jit
    def scale(p, k):
        """p * 2**k in two exact steps, so subnormal and near-overflow results round once."""
        inline()
        k1 = rint(k * half)
        return p * pow2(k1) * pow2(k - k1)

    return reduce, core, scale


def make_exp_core(k_: Consts, estrin_form: bool):
    """Q(r) with expm1(r) ~= r + r*r*Q(r) on |r| <= ln2/2, by Horner's rule or Estrin's."""
    q = k_.em1
    if estrin_form:
        return estrin(q)

    @jit
    def core(r):
        inline()
        return horner(r, q)

    return core


def make_exp(k_: Consts, reduce, core, scale):
    one, zero, inf, lo, hi = k_.ft(1), k_.ft(0), k_.ft(np.inf), k_.exp_lo, k_.exp_hi

    @jit
    def exp(x):
        inline()
        k, r, _ = reduce(x)
        y = scale(fma(r, fma(r, core(r), one), one), k)
        y = inf if x > hi else y
        return zero if x < lo else y  # NaN: r is NaN, so is y

    return exp


def make_expm1(k_: Consts, reduce, core, scale):
    one, zero, inf = k_.ft(1), k_.ft(0), k_.ft(np.inf)
    lo, hi, kmax = k_.em1_lo, k_.exp_hi, k_.em1_kmax

    @jit
    def expm1(x):
        inline()
        k, r, r_lo = reduce(x)
        q = core(r)
        s = pow2(k if k < kmax else kmax)
        # 2**k*(r + r_lo + r*r*q) + (2**k - 1): 2**k - 1 is exact while |k| <= kmax, and
        # s*r + (s - 1) is exact at k = 1, where the cancellation is worst
        small = fma(s, fma(r * r, q, r_lo), fma(s, r, s - one))
        big = scale(fma(r, fma(r, q, one), one), k)  # exp(x): the -1 is below rounding
        y = small if k <= kmax else big
        y = -one if x < lo else (inf if x > hi else y)
        return x if x == zero else y  # expm1(-0.0) = -0.0

    return expm1


# ---- log and log1p -------------------------------------------------------------------------------


def make_log1p_reduced(k_: Consts):
    one, two, half, sqrt2 = k_.ft(1), k_.ft(2), k_.ft(0.5), k_.ft(math.sqrt(2))
    r_, ln2_hi, ln2_lo = estrin(k_.log), k_.ln2_hi, k_.ln2_lo

    @jit
    def log1p_reduced(m, d, e):
        """e*ln2 + log(m + d) for m in [1, 2] and a small correction d.

        With m moved into [sqrt(1/2), sqrt(2)] and f = m - 1 (exact), s = f/(2+f) and
        log1p(f) = 2*atanh(s) = f - s*(f - s**2 * R(s**2)): f stays exact, the rest is small.
        """
        inline()
        big = m > sqrt2
        m = m * half if big else m
        d = d * half if big else d
        e = e + one if big else e
        f = m - one
        fd = f + d
        s = fd / (two + fd)
        z = s * s
        corr = s * fma(-z, r_(z), fd)
        return fma(e, ln2_hi, f - ((corr - d) - e * ln2_lo))

    return log1p_reduced


def make_log(k_: Consts):
    one, two, zero, inf, nan = k_.ft(1), k_.ft(2), k_.ft(0), k_.ft(np.inf), k_.ft(np.nan)
    tiny, tiny_scale, tiny_shift = k_.tiny, k_.tiny_scale, k_.tiny_shift
    r_, ln2_hi, ln2_lo, ln2 = estrin(k_.log), k_.ln2_hi, k_.ln2_lo, k_.ft(math.log(2))
    short, below_log = k_.ft is np.float64, -k_.ft(np.finfo(k_.ft).max)

    @jit
    def log(x):
        """log1p_reduced's method with m = x / 2**e in [sqrt(1/2), sqrt(2)) split off by
        integer arithmetic on the bits (no compare-and-halve) and no correction term."""
        inline()
        sub = x < tiny  # scale subnormals up so the exponent field is exact
        xs = x * tiny_scale if sub else x
        e = log_exponent(xs) - (tiny_shift if sub else zero)
        m = log_mantissa(xs)
        f = m - one  # exact
        if short:
            # float64 spends its 4-ulp budget on speed: log = e*ln2 + 2s + s**3 * R, the
            # rounding of s taken as it comes (2.1 ulp at worst, x near sqrt(1/2), where
            # e*ln2 and log(m) cancel); float32 keeps f exact and ln2 in two parts (2 ulp).
            # Latency first (the loop is latency-bound): m + 1 without waiting for f, and
            # e*ln2 + 2s summed while R(z) is still being evaluated (1.58 -> 1.48 ns)
            s = f / (m + one)
            z = s * s
            y = fma(s * z, r_(z), fma(e, ln2, s + s))
        else:
            s = f / (two + f)
            z = s * s
            corr = s * fma(-z, r_(z), f)
            y = fma(e, ln2_hi, f - (corr - e * ln2_lo))
        t = x + below_log  # +inf for x = +inf, else below any log: a max, not compare+blend
        y = y if y > t else t
        return y if x > zero else (-inf if x == zero else nan)  # NaN lands here too

    return log


def make_log1p(k_: Consts, reduced):
    one, zero, inf, nan = k_.ft(1), k_.ft(0), k_.ft(np.inf), k_.ft(np.nan)
    emax = k_.tiny_shift

    @jit
    def log1p(x):
        inline()
        u = one + x
        # the rounding error of 1 + x, exactly (Fast2Sum, larger operand first)
        d = (x - (u - one)) if abs(x) <= one else (one - (u - x))
        e = exponent(u)
        d = d * pow2(-e) if e < emax else zero  # |d| <= 1 is negligible once u is huge
        y = reduced(mantissa(u), d, e)
        special = -inf if x == -one else (inf if x == inf else nan)
        y = y if (x > -one) & (x < inf) else special
        return x if x == zero else y  # log1p(-0.0) = -0.0

    return log1p
