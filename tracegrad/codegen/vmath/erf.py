"""erf: a polynomial near 0, exp(-x*x) times a polynomial beyond."""

from __future__ import annotations

import numpy as np

from ._consts import Consts
from ._intrinsics import copysign, fma, horner, inline, jit


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


def make_erf(k_: Consts, exp):
    ft = k_.ft
    table = _ERFC32 if ft is np.float32 else _ERFC64
    pieces = tuple((ft(c), ft(1 / h), tuple(map(ft, cs))) for c, h, cs in table)
    one, small, sat = ft(1), k_.erf_small, k_.erf_sat
    c0, c0_lo = k_.erf[0], k_.erf_lo  # the leading coefficient in two parts
    p = k_.erf[1:]
    (ca, ia, ra), = pieces[:1]
    cb, ib, rb = pieces[-1]
    split = ft(2.5)

    @jit
    def erf(x):
        inline()
        w = x * x
        y_small = fma(x, c0, fma(x, c0_lo, x * w * horner(w, p)))
        a = abs(x)
        a = sat if a > sat else a  # erf rounds to 1 beyond; keeps NaN
        aa = a * a  # exp(-(aa + aa_lo)) = exp(-aa) * (1 - aa_lo)
        aa_lo = fma(a, a, -aa)
        ra_ = horner((a - ca) * ia, ra)
        rb_ = horner((a - cb) * ib, rb)
        erfc = exp(-aa) * fma(-aa_lo, one, one) * (ra_ if a < split else rb_)
        return copysign(y_small if abs(x) < small else one - erfc, x)  # erf(-0.0) = -0.0

    return erf
