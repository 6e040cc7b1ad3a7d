"""sin and cos: argument reduction by pi/2 and two polynomials.

float32: Cody-Waite in float32 (8 lanes) for |x| < SINCOS_F32_LIMIT; beyond (and for inf,
NaN), a branch-free reduction exact for every float32, in float64. float64: Cody-Waite for
|x| < SINCOS_F64_LIMIT; beyond, a Payne-Hanek reduction with integer arithmetic on a table of
2/pi bits. Both slow paths run out of line through `_rare.rare_call`, so loops stay vectorized.
"""

from __future__ import annotations

import numpy as np

from ._intrinsics import exponent, fma, horner, inline, jit, mantissa, rint
from ._rare import rare_call

SINCOS_F64_LIMIT = 2.0**48  # float64 |x| from here on takes the (slow, exact) Payne-Hanek path

# sin r = r + r*z*S(z), cos r = 1 - z/2 + z*z*K(z), z = r*r, |r| <= pi/4. Relative errors:
# S32 2**-37.5, K32 2**-33.0 (used in float64 by the exact path, rounded to float32 by the fast
# one, where float32 rounding dominates), S64 2**-57.9, K64 2**-64.0.
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


@jit
def _mod4(v):
    inline()
    return fma(np.float64(-4), rint(v * np.float64(0.25)), v)  # exact; result in [-2, 2]


@jit
def _split24(v):
    inline()
    hi = (v + _SPLIT24) - _SPLIT24
    return hi, v - hi


@jit
def _reduce_pio2_f32(x):
    """x*2/pi = n + f for every float32 x, in float64; returns (f, n mod 4).

    x has 24 bits, so x*c for each 53-bit chunk c of 2/pi is exactly p + e (FMA). Terms that
    can be large are reduced mod 4 (exactly), then split at 2**-24: the high parts add exactly
    and the low parts are small, so f keeps about 2**-70 absolute accuracy even where x is
    within 2**-30 of a multiple of pi/2. Payne-Hanek without a table (tables would need
    gathers, which cost more here) and without branches.
    """
    inline()
    c0, c1, c2, c3 = _TWO_OVER_PI
    xd = np.float64(x)
    p0 = xd * c0
    p1 = xd * c1
    p2 = xd * c2
    h0, l0 = _split24(_mod4(p0))
    h1, l1 = _split24(_mod4(fma(xd, c0, -p0)))
    h2, l2 = _split24(_mod4(p1))
    h3, l3 = _split24(fma(xd, c1, -p1))  # below 2**22 for float32 x, like p2
    h4, l4 = _split24(p2)
    tail = fma(xd, c2, -p2) + xd * c3
    h = ((h0 + h1) + (h2 + h3)) + h4
    n = rint(h)
    f = (h - n) + (((l0 + l1) + (l2 + l3)) + (l4 + tail))
    return f, n - np.float64(4) * np.floor(n * np.float64(0.25))


@jit
def _reduce_pio2_f64(x):
    """x = n*pi/2 + r + r_lo, returns (r, r_lo, n mod 4): Cody-Waite, pi/2 in three parts.

    n*p1 and x - n*p1 are exact (FMA) while |n| < 2**52; the second part is subtracted in
    double-double. Accurate to about 2**-100 relative for |x| < SINCOS_F64_LIMIT.
    """
    inline()
    p1, p2, p3 = _PIO2
    n = rint(x * _TWO_OVER_PI[0])
    r1 = fma(-n, p1, x)
    w = n * p2
    w_lo = fma(n, p2, -w)
    r = r1 - w
    bv = r - r1
    r_lo = (((r1 - (r - bv)) - (w + bv)) - w_lo) - n * p3  # TwoSum error, then the low parts
    rh = r + r_lo
    return rh, r_lo - (rh - r), n - np.float64(4) * np.floor(n * np.float64(0.25))


def _make_quadrant(ft: type):
    zero, one, two, four = ft(0), ft(1), ft(2), ft(4)

    @jit
    def quadrant(s, c, q, cosine):
        """sin or cos of n*pi/2 + r from s = sin r, c = cos r and q = n mod 4."""
        inline()
        q = q + (one if cosine else zero)
        q = q - four if q >= four else q
        y = s if (q == zero) | (q == two) else c
        return -y if q >= two else y

    return quadrant


_quadrant = _make_quadrant(np.float64)
_quadrant32 = _make_quadrant(np.float32)


def _make_sincos_f32_exact(cosine: bool):
    half, one, tiny = np.float64(0.5), np.float64(1), np.float32(2.0**-12)

    @jit
    def sincos(x):
        inline()
        f, q = _reduce_pio2_f32(x)
        r = f * _PIO2[0]
        z = r * r
        s = fma(r * z, horner(z, _SIN32), r)
        c = fma(z * z, horner(z, _COS32), fma(z, -half, one))
        y = np.float32(_quadrant(s, c, q, cosine))
        if cosine:
            return y
        return x if abs(x) < tiny else y  # sin x rounds to x there; keeps the sign of -0.0

    return sincos


# float32 Cody-Waite: pi/2 as three float32 parts; n*P1 is exact in the first FMA for
# |x| < SINCOS_F32_LIMIT, so r carries at most one rounding (checked on every float32 there)
SINCOS_F32_LIMIT = 2.0**16
_PIO2_F32 = (np.float32(1.5707964), np.float32(-4.371139e-08), np.float32(-1.7151245e-15))


def make_sincos_f32(cosine: bool):
    """8 lanes in float32 for |x| < SINCOS_F32_LIMIT; beyond (and inf, NaN) the exact
    float64 reduction runs out of line (`_rare`), so the loop stays 8 lanes wide."""
    ft = np.float32
    half, one, tiny, two_over_pi = ft(0.5), ft(1), ft(2.0**-12), ft(2 / np.pi)
    limit, quarter, four = ft(SINCOS_F32_LIMIT), ft(0.25), ft(4)
    p1, p2, p3 = _PIO2_F32
    sin_c, cos_c = tuple(map(ft, _SIN32)), tuple(map(ft, _COS32))
    exact = _make_sincos_f32_exact(cosine)
    rare = rare_call(lambda x: np.float64(exact(np.float32(x))),
                     f"tracegrad.vmath.rare.{'cos' if cosine else 'sin'}_f32")

    @jit
    def sincos(x):
        inline()
        n = rint(x * two_over_pi)
        r = fma(n, -p3, fma(n, -p2, fma(n, -p1, x)))
        q = n - four * np.floor(n * quarter)
        z = r * r
        s = fma(r * z, horner(z, sin_c), r)
        c = fma(z * z, horner(z, cos_c), fma(z, -half, one))
        y = _quadrant32(s, c, q, cosine)
        if ~(abs(x) < limit):  # rare: huge |x|, inf, NaN
            y = np.float32(rare(np.float64(x)))
        if cosine:
            return y
        return x if abs(x) < tiny else y  # sin x rounds to x there; keeps the sign of -0.0

    return sincos


@jit
def _sincos_f64_reduced(r, r_lo, q, cosine):
    """sin or cos of x = n*pi/2 + r + r_lo, q = n mod 4."""
    inline()
    half, one = np.float64(0.5), np.float64(1)
    z = r * r
    # sin(r + r_lo) = sin r + r_lo*cos r and cos(r + r_lo) = cos r - r_lo*sin r (r_lo tiny)
    s = r + fma(r * z, horner(z, _SIN64), r_lo * fma(z, -half, one))
    c = fma(z * z, horner(z, _COS64), fma(z, -half, one) - r * r_lo)
    return _quadrant(s, c, q, cosine)


# ---- Payne-Hanek for float64 |x| >= SINCOS_F64_LIMIT --------------------------------------------


def _two_over_pi_words(nbits: int = 1280) -> np.ndarray:
    """The first nbits bits of 2/pi (0.a2f9836e...) as big-endian uint32 words.

    pi from Machin's formula in integer fixed point with 120 guard bits; 1280 bits cover the
    window the largest float64 exponent needs (bits up to 971 + 190).
    """
    guard = nbits + 120

    def atan_inverse(k: int) -> int:  # atan(1/k) * 2**guard
        total, power, n, sign = 0, (1 << guard) // k, 1, 1
        while power:
            total += sign * (power // n)
            power, n, sign = power // (k * k), n + 2, -sign
        return total

    pi = 16 * atan_inverse(5) - 4 * atan_inverse(239)
    bits = (2 << (nbits + guard)) // pi
    return np.array([(bits >> (nbits - 32 * (i + 1))) & 0xFFFFFFFF for i in range(nbits // 32)],
                    dtype=np.uint64)


_TWO_OVER_PI_WORDS = _two_over_pi_words()
_MASK32 = np.uint64(0xFFFFFFFF)


@jit
def _bits64(limbs, pos):
    """Bits pos .. pos+63 of the little-endian 32-bit limbs."""
    k, off = pos // 32, np.uint64(pos % 32)
    low = limbs[k] | (limbs[k + 1] << np.uint64(32))
    return low if off == 0 else (low >> off) | (limbs[k + 2] << (np.uint64(64) - off))


@jit
def _window_product(big_x, j):
    """big_x times 2/pi's bits from word j on (7 words), exactly, as 11 little-endian limbs."""
    limbs = np.zeros(11, np.uint64)
    x_lo, x_hi = big_x & _MASK32, big_x >> np.uint64(32)
    for i in range(7):
        w = _TWO_OVER_PI_WORDS[j + 6 - i]
        for part, at in ((x_lo * w, i), (x_hi * w, i + 1)):  # each below 2**64
            limbs[at] += part & _MASK32
            limbs[at + 1] += part >> np.uint64(32)
    for i in range(10):  # carries
        limbs[i + 1] += limbs[i] >> np.uint64(32)
        limbs[i] &= _MASK32
    return limbs


@jit
def _reduce_pio2_huge(x):
    """x = n*pi/2 + r + r_lo for finite |x| >= 2**48: returns (r, r_lo, n mod 4).

    |x| = X * 2**q with X a 53-bit integer. Bits of 2/pi worth 4 or more after multiplying by
    2**q drop out mod 4, so X times a 224-bit window of 2/pi (exact, in 32-bit limbs) holds
    n mod 4 above the binary point and 128 exact bits of the fraction below it.
    """
    ax = abs(x)
    q = int(exponent(ax)) - 52
    big_x = np.uint64(mantissa(ax) * 2.0**52)
    j = (max(1, q - 1) - 1) // 32  # first word: bits before it are worth multiples of 4
    limbs = _window_product(big_x, j)
    point = 32 * j + 224 - q  # the binary point of X * window
    n = int(_bits64(limbs, point) & np.uint64(3))
    f_hi, f_lo = _bits64(limbs, point - 64), _bits64(limbs, point - 128)
    sign = np.float64(1)
    if f_hi >> np.uint64(63):  # fraction >= 1/2: n + 1 and the fraction minus 1
        n, sign = n + 1, np.float64(-1)
        f_lo, f_hi = np.uint64(0) - f_lo, ~f_hi + np.uint64(f_lo == 0)
    a = np.float64(f_hi >> np.uint64(11)) * 2.0**-53
    b = np.float64(((f_hi & np.uint64(0x7FF)) << np.uint64(42)) | (f_lo >> np.uint64(22)))
    c = np.float64(f_lo & np.uint64(0x3FFFFF)) * 2.0**-128
    hi = a + b * 2.0**-106
    lo = (b * 2.0**-106 - (hi - a)) + c  # a, b, c hold disjoint bits; a >= b unless a = 0
    r = hi * _PIO2[0]
    r_lo = fma(hi, _PIO2[0], -r) + (hi * _PIO2[1] + lo * _PIO2[0])
    rh = r + r_lo
    r_lo = r_lo - (rh - r)
    if x < 0:  # sin and cos of -x: negate the reduction
        n, sign = -n, -sign
    return sign * rh, sign * r_lo, np.float64(n % 4)


def _make_huge(cosine: bool):
    nan = np.float64(np.nan)

    def huge(x):
        if not np.isfinite(x):
            return nan
        r, r_lo, q = _reduce_pio2_huge(x)
        return _sincos_f64_reduced(r, r_lo, q, cosine)

    return rare_call(huge, f"tracegrad.vmath.rare.{'cos' if cosine else 'sin'}_f64")


def make_sincos_f64(cosine: bool):
    limit, huge = np.float64(SINCOS_F64_LIMIT), _make_huge(cosine)

    @jit
    def sincos(x):
        inline()
        r, r_lo, q = _reduce_pio2_f64(x)
        y = _sincos_f64_reduced(r, r_lo, q, cosine)
        if abs(x) >= limit:  # rare: a masked out-of-line call keeps the loop vectorized
            y = huge(x)
        return y if cosine or x != np.float64(0) else x  # sin(-0.0) = -0.0

    return sincos
