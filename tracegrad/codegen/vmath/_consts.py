"""Per-dtype constants and polynomial coefficients shared by several vmath functions."""

from __future__ import annotations

import numpy as np


class Consts:
    """Per-dtype constants, already of the dtype (a float64 literal would widen float32 code)."""

    def __init__(self, ft: type, **values: float | tuple[float, ...]) -> None:
        self.ft = ft
        for name, v in values.items():
            setattr(self, name, tuple(map(ft, v)) if isinstance(v, tuple) else ft(v))


F32 = Consts(
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

F64 = Consts(
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
