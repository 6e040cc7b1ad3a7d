"""pow(x, y) as exp(y*log|x|) with C99's special cases."""

from __future__ import annotations

import math

import numpy as np

from ._consts import F64, Consts
from ._intrinsics import copysign, fma, horner, inline, jit, log_exponent, log_mantissa, pow2, rint
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


# Inside pow_f32, in float64 where 2**-32 relative error suffices: expm1-type Q (2**-32.0 on
# |r| <= ln2/2) and log's R (2**-37.6 on s*s <= 0.0295).
_POW32_EXP = tuple(map(np.float64, (0.5000000044460122, 0.16666666368440178, 0.04166635953949575,
                                    0.00833338962515361, 0.0013940743783476311,
                                    0.00019845886805519702)))
_POW32_LOG = tuple(map(np.float64, (0.6666666564129243, 0.4000033621934692, 0.2853723831905393,
                                    0.23583568975478955)))
_LN2 = np.float64(math.log(2))


@jit
def _signed_power(res, x, y):
    """|x|**y = res turned into x**y for x < 0: odd integer y flips the sign, other y is NaN."""
    inline()
    half = np.float64(0.5)
    y_int = np.floor(y) == y
    odd = y_int & (np.floor(y * half) != y * half)
    res = -res if (x < 0) & odd else res
    return np.float64(np.nan) if (x < 0) & ~y_int else res


def make_pow_f32(special):
    @jit
    def pow_(x, y):
        inline()
        # float64 inside, lean: float32 |x| is a normal double, and e**u for |u| <= 120 needs
        # one power-of-two scaling and no overflow handling (float32 conversion does it);
        # errors stay near 2**-45, so results are essentially correctly rounded. The special
        # cases stay selects here: an out-of-line rare path (as pow_f64 has) measured slower,
        # as LLVM then vectorizes 4 lanes wide instead of 8 (two ymm per float64 operation).
        return special(x, y, np.float32(_pow_core_f32(np.float64(abs(x)), np.float64(y))))

    return pow_


@jit
def _pow_core_f32(ax, y):
    """|x|**y in float64 for float32 |x| > 0 finite and y finite (see make_pow_f32)."""
    inline()
    one, two = np.float64(1), np.float64(2)
    lim, log2e = np.float64(120), np.float64(1 / math.log(2))
    f = log_mantissa(ax) - one
    s = f / (two + f)
    z = s * s
    lg = fma(log_exponent(ax), _LN2, fma(s * z, horner(z, _POW32_LOG), two * s))
    u = y * lg
    u = -lim if u < -lim else u
    u = lim if u > lim else u
    k = rint(u * log2e)
    r = fma(k, -_LN2, u)
    return fma(r, fma(r, horner(r, _POW32_EXP), one), one) * pow2(k)


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
