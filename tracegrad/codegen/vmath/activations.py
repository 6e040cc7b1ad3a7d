"""tanh, sigmoid and softplus, built on exp_log's pieces."""

from __future__ import annotations

import numpy as np

from ._consts import Consts
from ._intrinsics import (copysign, estrin, fma, horner, inline, jit, log_exponent, log_mantissa,
                          pow2)


# ---- tanh, sigmoid, softplus ---------------------------------------------------------------------


def make_divide(k_: Consts):
    one = k_.ft(1)

    @jit
    def divide_exact_sum(n, d, d_lo):
        """n / (d + d_lo) with about one rounding of error: a Newton step on the quotient."""
        inline()
        inv = one / d
        q = n * inv
        return fma(fma(-q, d, n) - q * d_lo, inv, q)

    return divide_exact_sum


def make_tanh_f32(k_: Consts, reduce, core):
    one, two, small, sat, p = k_.ft(1), k_.ft(2), k_.tanh_small, k_.tanh_sat, k_.tanh

    @jit
    def tanh(x):
        inline()
        # |x| < 0.625: odd polynomial. Above: 1 - 2/(e + 1), e = exp(2|x|) with |x| clamped
        # where tanh rounds to 1; 2/(e + 1) <= 0.45, so its errors shrink in 1 - t.
        w = x * x
        y_small = fma(x * w, horner(w, p), x)
        a = abs(x)
        k, r, _ = reduce(two * (sat if a > sat else a))
        e = fma(r, fma(r, core(r), one), one) * pow2(k)  # 2 <= k <= 27: one exact scaling
        y_big = one - two / (e + one)
        return copysign(y_small if a < small else y_big, x)  # also tanh(-0.0) = -0.0

    return tanh


def make_tanh_f64(k_: Consts, expm1, divide):
    two, sat = k_.ft(2), k_.tanh_sat

    @jit
    def tanh(x):
        inline()
        # tanh|x| = e/(e + 2), e = expm1(2|x|): no cancellation anywhere. e + 2 is kept exact
        # as d + d_lo and the quotient gets a Newton step, leaving expm1's error.
        a = abs(x)
        e = expm1(two * (sat if a > sat else a))
        d = e + two
        d_lo = (e - (d - two)) if e <= two else (two - (d - e))  # Fast2Sum: exact
        return copysign(divide(e, d, d_lo), x)

    return tanh


def make_sigmoid(k_: Consts, exp, divide):
    one, zero, newton = k_.ft(1), k_.ft(0), k_.ft is np.float32

    @jit
    def sigmoid(x):
        inline()
        # e = exp(-|x|) <= 1 never overflows; sigmoid(-|x|) = e/(1 + e). A plain division
        # adds the roundings of 1 + e and of the quotient to exp's error: 1.9 ulp, fine for
        # float64; float32 keeps 1 + e exact and takes a Newton step on the quotient (2.05
        # ulp otherwise; 2.06 with the step on 1/(1 + e) and a product for e/(1 + e))
        e = exp(-abs(x))
        n, d = (one if x >= zero else e), one + e
        return divide(n, d, e - (d - one)) if newton else n / d

    return sigmoid


def make_softplus_f64(k_: Consts, exp):
    one, half, zero = k_.ft(1), k_.ft(0.5), k_.ft(0)
    r_, ln2_hi, ln2_lo = estrin(k_.log), k_.ln2_hi, k_.ln2_lo

    @jit
    def softplus(x):
        inline()
        # log(1 + exp(x)) = max(x, 0) + log1p(e), e = exp(-|x|) <= 1, as log(u + d) with
        # u = 1 + e in [1, 2] and d its rounding error (exact). u = m * 2**k, k in {0, 1}, then
        # log's method (exp_log.make_log) on m + d/2**k. For x < 0 the result is about e and
        # carries exp's error (under 1 ulp) plus about one rounding: 1.7 ulp measured. The
        # exp -> log chain is long: R by Estrin, m + 1 formed while d is computed.
        e = exp(-abs(x))
        u = one + e
        k = log_exponent(u)
        m = log_mantissa(u)
        d = (e - (u - one)) * (half if k > zero else one)
        fd = (m - one) + d
        s = fd / ((m + one) + d)
        z = s * s
        corr = s * fma(-z, r_(z), fd)
        y = fma(k, ln2_hi, fd - (corr - k * ln2_lo))
        return (x if x > zero else zero) + y

    return softplus


def make_softplus_f32(k_: Consts, reduce, core, scale, reduced):
    one, zero, lo = k_.ft(1), k_.ft(0), k_.exp_lo

    @jit
    def softplus(x):
        inline()
        # as make_softplus_f64, but e is computed as e + e_lo (the FMA residuals of exp's last two
        # steps) so that exp's rounding does not pass straight into the result: 1.2 ulp instead
        # of 1.8 against float32's 2-ulp budget; 1 + e in [1, 2] needs no special cases
        k, r, _ = reduce(-abs(x))
        q = core(r)
        s = fma(r, q, one)
        p = fma(r, s, one)
        p_lo = fma(r, s, one - p) + r * fma(r, q, one - s)
        tiny = -abs(x) < lo  # false for NaN, which then flows through
        e = zero if tiny else scale(p, k)
        e_lo = zero if tiny else scale(p_lo, k)
        u = one + e
        return (x if x > zero else zero) + reduced(u, (e - (u - one)) + e_lo, zero)

    return softplus
