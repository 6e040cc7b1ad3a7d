"""Numba's library calls behind vmath's names: what TRACEGRAD_VMATH=0 binds."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._intrinsics import jit


# ---- Numba's library calls (TRACEGRAD_VMATH=0) -----------------------------------------------


def make_library(ft: type) -> dict[str, Callable]:
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

    return {f.__name__: jit(f) for f in (exp, expm1, log, log1p, tanh, sigmoid, softplus, sin,
                                          cos, pow, erf)}
