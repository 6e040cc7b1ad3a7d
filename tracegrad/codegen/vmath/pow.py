"""pow(x, y) as exp(y*log|x|) with C99's special cases."""

from __future__ import annotations

import math

import numpy as np

from ._consts import F64, Consts
from ._intrinsics import (copysign, estrin, fma, horner, inline, jit, log_exponent,
                          log_mantissa, pow2, rint)
from ._rare import rare_call


# ---- pow -----------------------------------------------------------------------------------------

# log1p(f) = 2s + (2/3)s**3 + s**5 * T(s*s), s = f/(2+f); T on s*s <= 0.0295, error 2**-57.6
_LOG_TAIL64 = tuple(map(np.float64, (0.4, 0.2857142857142938, 0.2222222222164818,
                                     0.18181818337034655, 0.15384594796290108,
                                     0.13334813317256777, 0.11706014879699615,
                                     0.11725409536326277)))
_TWO_THIRDS = (np.float64(0.6666666666666666), np.float64(3.700743415417188e-17))
_TINY, _TINY_SCALE, _TINY_SHIFT = F64.tiny, F64.tiny_scale, F64.tiny_shift
_LN2_HI, _LN2_LO = F64.ln2_hi, F64.ln2_lo


@jit
def _log_dd_reduced(m, e):
    """e*ln2 + log(m) as hi + lo with about 2**-66 relative error, m in [sqrt(1/2), sqrt(2)).

    pow needs it: y*log(x) up to +-745 must be known to about 2**-63 for a 1-ulp result.
    """
    inline()
    one, two = np.float64(1), np.float64(2)
    ln2_hi, ln2_lo = _LN2_HI, _LN2_LO
    f = m - one
    u = two + f
    u_lo = f - (u - two)
    inv = one / u
    s = f * inv
    s_lo = (fma(-s, u, f) - s * u_lo) * inv  # s + s_lo = f/(2+f) to ~2**-100
    z = s * s
    c = s * z  # (s + s_lo)**3 = c + c_lo
    c_lo = fma(s, z, -c) + s * fma(s, s, -z) + np.float64(3) * z * s_lo
    t = c * _TWO_THIRDS[0]
    t_lo = fma(c, _TWO_THIRDS[0], -t) + (c_lo * _TWO_THIRDS[0] + c * _TWO_THIRDS[1])
    a = two * s
    hi = a + t
    lo = ((a - hi) + t) + (two * s_lo + t_lo + c * z * horner(z, _LOG_TAIL64))
    k_hi = e * ln2_hi  # exact: ln2_hi has 42 bits
    big_hi = k_hi + hi
    v = big_hi - k_hi  # TwoSum: the rounding error of k_hi + hi, without comparing sizes
    err = (k_hi - (big_hi - v)) + (hi - v)
    lo = err + (lo + e * ln2_lo)
    res = big_hi + lo
    return res, lo - (res - big_hi)


@jit
def _log_dd_f64(ax):
    """log(ax) as hi + lo (see _log_dd_reduced), for finite ax > 0 including subnormals."""
    inline()
    sub = ax < _TINY
    xs = ax * _TINY_SCALE if sub else ax
    e = log_exponent(xs) - (_TINY_SHIFT if sub else np.float64(0))
    return _log_dd_reduced(log_mantissa(xs), e)


def make_pow_special(k_: Consts):
    zero, one, half, inf, nan = k_.ft(0), k_.ft(1), k_.ft(0.5), k_.ft(np.inf), k_.ft(np.nan)

    @jit
    def pow_special(x, y, r):
        """C99 pow's special cases around r = |x|**y, computed assuming finite positive |x|."""
        inline()
        ax, ay = abs(x), abs(y)
        y_int = np.floor(y) == y
        y_odd = y_int & (np.floor(y * half) != y * half)
        big = zero if y < zero else inf  # |x|**y for |x| = inf, or |x| > 1 and y = +-inf
        small = inf if y < zero else zero  # |x|**y for |x| = 0, or |x| < 1 and y = +-inf
        r = small if ax == zero else r
        r = big if ax == inf else r
        r = ((big if ax > one else small) if ax != one else one) if ay == inf else r
        r = -r if (copysign(one, x) < zero) & y_odd else r
        r = nan if (x < zero) & (ax < inf) & ~y_int else r
        r = nan if (x != x) | (y != y) else r
        return one if (y == zero) | (x == one) else r

    return pow_special


# pow_f32 works in float64 with base 2: log2|x| = e + s*P(s*s), s = (m-1)/(m+1), P on
# s*s <= 0.0295 (relative error 2**-37.8), and 2**r = E(r) on |r| <= 1/2 (2**-34.5); |y*log2|x||
# <= 200 matters, so the result's relative error stays near 2**-30 (0.03 ulp of float32).
_POW32_LOG2 = tuple(map(np.float64, (2.88539008179008, 0.9617966733500642, 0.5770835832689838,
                                     0.41167282691478935, 0.34072800799014175)))
_POW32_EXP2 = tuple(map(np.float64, (0.999999999961682, 0.6931471807284467, 0.24022651198157463,
                                     0.055504103534490576, 0.009618027253664911,
                                     0.001333392256262227, 0.00015469291145451446,
                                     1.5201921812220539e-05)))


def make_pow_f32():
    one, two, zero, half = np.float32(1), np.float64(2), np.float32(0), np.float32(0.5)
    edge, huge, lim = np.float64(512), np.float64(2.0**900), np.float64(200)
    ylim, inf, nan = np.float32(2.0**100), np.float32(np.inf), np.float32(np.nan)
    log2_poly, exp2_poly = estrin(_POW32_LOG2), estrin(_POW32_EXP2)

    @jit
    def pow_(x, y):
        inline()
        # Special cases mostly fall out of the arithmetic. log2 of float64 0 and inf comes out
        # of the bit split as -1023 and 1024, scaled up so that y*log2|x| saturates even for
        # the tiniest y (2**(+-200) then under/overflows float32 as C99 wants); y clamped to
        # +-2**100 makes 1**inf = 1 (log2 1 = 0 exactly); float32 conversion does overflow and
        # underflow. Left as selects: NaN, the sign for x < 0, and x == 1 or y == 0 with a NaN.
        ax = np.float64(abs(x))
        yc = ylim if y > ylim else y
        yc = -ylim if yc < -ylim else yc
        e = log_exponent(ax)
        e = e if abs(e) < edge else e * huge
        f = log_mantissa(ax) - np.float64(1)
        s = f / (two + f)
        u = np.float64(yc) * fma(s, log2_poly(s * s), e)
        u = lim if u > lim else u
        u = -lim if u < -lim else u
        k = rint(u)
        res = np.float32(exp2_poly(u - k) * pow2(k))
        y_int = np.floor(y) == y
        odd = y_int & (np.floor(y * half) != y * half)
        res = -res if (copysign(one, x) < zero) & odd else res
        bad = (x != x) | (y != y) | ((x < zero) & (x > -inf) & ~y_int)
        res = nan if bad else res
        return one if (y == zero) | (x == one) else res

    return pow_


@jit
def _signed_power(res, x, y):
    """|x|**y = res turned into x**y for x < 0: odd integer y flips the sign, other y is NaN."""
    inline()
    half = np.float64(0.5)
    y_int = np.floor(y) == y
    odd = y_int & (np.floor(y * half) != y * half)
    res = -res if (x < 0) & odd else res
    return np.float64(np.nan) if (x < 0) & ~y_int else res


def make_pow_f64(special, reduce, core, scale):
    zero, one, inf = np.float64(0), np.float64(1), np.float64(np.inf)
    lo_, hi_, fast_t, tiny = F64.exp_lo, F64.exp_hi, np.float64(708), F64.tiny

    @jit
    def exp_of_product(y, lg, lg_lo):
        """(t, k, p) with e**(y*(lg + lg_lo)) = p * 2**k, t = y*lg rounded."""
        inline()
        t = y * lg
        t_lo = fma(y, lg, -t) + y * lg_lo
        k, r, r_lo = reduce(t)
        r = r + (r_lo + t_lo)
        return t, k, fma(r, fma(r, core(r), one), one)

    @jit
    def complete(x, y):
        """Every case, C99 specials included: what the rare path runs, one lane at a time."""
        t, k, p = exp_of_product(y, *_log_dd_f64(abs(x)))
        res = inf if t > hi_ else (zero if t < lo_ else scale(p, k))
        return special(x, y, res)

    rare = rare_call(lambda x, y: complete(x, y), "tracegrad.vmath.rare.pow_f64", 2)

    @jit
    def pow_(x, y):
        inline()
        # the common case only: |x| normal, |y*log|x|| < 708 so that the result is a normal
        # number and one power-of-two scaling is exact; the rest goes out of line
        ax = abs(x)
        t, k, p = exp_of_product(y, *_log_dd_reduced(log_mantissa(ax), log_exponent(ax)))
        res = _signed_power(p * pow2(k), x, y)
        if ~((ax >= tiny) & (ax < inf) & (abs(t) < fast_t)):
            res = rare(x, y)
        return res

    return pow_
