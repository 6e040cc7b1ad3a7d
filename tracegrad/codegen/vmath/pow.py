"""pow(x, y) as exp(y*log|x|) with C99's special cases."""

from __future__ import annotations

import numpy as np

from ._consts import F64, Consts
from ._intrinsics import (copysign, estrin, fma, inline, jit, log_exponent, log_mantissa, pow2,
                          rint)
from ._rare import rare_call


# ---- pow -----------------------------------------------------------------------------------------

# log1p(f) = 2s + (2/3)s**3 + s**5 * T(s*s), s = f/(2+f); T on s*s <= 0.0295: relative error
# 2**-53.8, 2**-66.4 of log1p
_LOG_TAIL64 = tuple(map(np.float64, (0.4, 0.2857142857142938, 0.2222222222164818,
                                     0.18181818337034655, 0.15384594796290108,
                                     0.13334813317256777, 0.11706014879699615,
                                     0.11725409536326277)))
_TWO_THIRDS = (np.float64(0.6666666666666666), np.float64(3.700743415417188e-17))
_TINY, _TINY_SCALE, _TINY_SHIFT = F64.tiny, F64.tiny_scale, F64.tiny_shift
_LN2_HI, _LN2_LO, _LOG2E = F64.ln2_hi, F64.ln2_lo, F64.log2e
_TAIL = estrin(_LOG_TAIL64)
_EXP_CORE = estrin(F64.em1)  # Q(r) with e**r = 1 + r + r*r*Q(r), |r| <= ln2/2 (+ 2**-14)


@jit
def _log_split(m, e):
    """e*ln2 + log(m) = big + lo for m in [sqrt(1/2), sqrt(2)), to about 2**-62 relative.

    pow needs it: y*log(x) up to +-708 must be known to about 2**-60. The loops are
    latency-bound, so big (within 2**-23 of the sum) is ready a few operations after the
    division and lets exp start, while lo collects what is left, exactly or nearly: the
    rounding error of s (s_lo), (2/3)(s + s_lo)**3 in two parts (t + t_lo), the full tail,
    the rounding errors of the two sums making big (Fast2Sum: |e*ln2_hi| >= |2s| >= |v|).
    Relative error measured (against Decimal) 2**-61.9 at worst, m near sqrt(2), where the
    tail's own roundings (2**-49 of it) dominate.
    """
    inline()
    one, two = np.float64(1), np.float64(2)
    f = m - one  # exact
    u = m + one
    u_lo = m - (u - one)  # exact: the rounding error of m + 1
    inv = one / u
    s = f * inv
    s_lo = (fma(-s, u, f) - s * u_lo) * inv  # s + s_lo = f/(m + 1) to ~2**-100
    z = s * s
    c = s * z
    v = c * fma(z, fma(z, _LOG_TAIL64[1], _LOG_TAIL64[0]), _TWO_THIRDS[0])  # ~ the s**3 terms
    a = s + s
    k_hi = e * _LN2_HI  # exact: ln2_hi has 42 bits
    h1 = k_hi + a
    err1 = (k_hi - h1) + a
    big = h1 + v
    err2 = (h1 - big) + v
    c_lo = fma(s, z, -c) + s * fma(s, s, -z) + np.float64(3) * z * s_lo  # (s + s_lo)**3 - c
    t = c * _TWO_THIRDS[0]
    t_lo = fma(c, _TWO_THIRDS[0], -t) + (c_lo * _TWO_THIRDS[0] + c * _TWO_THIRDS[1])
    tail = (c * z) * _TAIL(z)
    # t - v is exact (Sterbenz) and cancels the tail's bulk
    return big, (err1 + err2) + (((t - v) + tail) + (t_lo + fma(two, s_lo, e * _LN2_LO)))


@jit
def _exp_split(y, big, lo):
    """(t, k, p) with e**(y*(big + lo)) = p * 2**k (|p - 1| < 0.42), t = y*big rounded."""
    inline()
    one = np.float64(1)
    t = y * big
    t_lo = fma(y, big, -t) + y * lo  # |t_lo| < 2**-14 for |t| < 708
    k = rint(t * _LOG2E)
    r = fma(k, -_LN2_HI, t)  # exact
    r = r + fma(k, -_LN2_LO, t_lo)
    return t, k, fma(r, fma(r, _EXP_CORE(r), one), one)


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
# s*s <= 0.0295 (relative error 2**-37.8), and 2**r = E(r) on |r| <= 1/2 (2**-29.0); |y*log2|x||
# <= 200 matters, so the result's relative error stays near 2**-28 (0.06 ulp of float32).
_POW32_LOG2 = tuple(map(np.float64, (2.88539008179008, 0.9617966733500642, 0.5770835832689838,
                                     0.41167282691478935, 0.34072800799014175)))
_POW32_EXP2 = tuple(map(np.float64, (1.000000000551212, 0.6931472056377551, 0.2402264690589969,
                                     0.05550328994174778, 0.009618487988302208,
                                     0.0013399843145683195, 0.00015345892007873546)))


def make_pow_f32():
    one, d1, zero, half = np.float32(1), np.float64(1), np.float32(0), np.float32(0.5)
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
        m = log_mantissa(ax)
        s = (m - d1) / (m + d1)  # m + 1 without waiting for m - 1 (the loop is latency-bound)
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
def _negative_base(x, y):
    """(-1 if x < 0 and y is an odd integer else 1, x < 0 and y not an integer)."""
    inline()
    one, half = np.float64(1), np.float64(0.5)
    y_int = np.floor(y) == y
    odd = y_int & (np.floor(y * half) != y * half)
    neg = x < np.float64(0)
    return (-one if neg & odd else one), neg & ~y_int


def make_pow_f64(special, scale):
    zero, inf = np.float64(0), np.float64(np.inf)
    lo_, hi_, fast_t, tiny = F64.exp_lo, F64.exp_hi, np.float64(708), F64.tiny

    @jit
    def complete(x, y):
        """Every case, C99 specials included: what the rare path runs, one lane at a time."""
        ax = abs(x)
        sub = ax < tiny  # scale subnormals up so the exponent field is exact
        xs = ax * _TINY_SCALE if sub else ax
        e = log_exponent(xs) - (_TINY_SHIFT if sub else zero)
        t, k, p = _exp_split(y, *_log_split(log_mantissa(xs), e))
        res = inf if t > hi_ else (zero if t < lo_ else scale(p, k))
        return special(x, y, res)

    rare = rare_call(lambda x, y: complete(x, y), "tracegrad.vmath.rare.pow_f64", 2)

    @jit
    def pow_(x, y):
        inline()
        # the common case only: |x| normal, and x >= 0 or y an integer, |y*log|x|| < 708 so
        # that the result is a normal number and one power-of-two scaling is exact (the sign
        # goes into that factor, off the critical path); the rest goes out of line. Error:
        # 0.94 ulp at worst on the tests' 1.2e6 samples, 1.65 on 1.6e5 lanes at the edges
        # (|y*log x| near 708 and the thresholds, x near 1, sqrt(2), sqrt(1/2)), from the
        # log's 2**-62 times |y*log x| and two roundings in exp. Split log, sign in the scale
        # factor, NaN case out of line: 7.2 -> 6.0 ns per element (AVX2, same process)
        ax = abs(x)
        sign, nan_case = _negative_base(x, y)
        t, k, p = _exp_split(y, *_log_split(log_mantissa(ax), log_exponent(ax)))
        res = p * (pow2(k) * sign)
        if ~((ax >= tiny) & (ax < inf) & (abs(t) < fast_t)) | nan_case:
            res = rare(x, y)
        return res

    return pow_
