"""Blocked float sums: the reduction pattern codegen emits (see the package docstring)."""

from __future__ import annotations

import numpy as np

from ._intrinsics import jit

SUM_BLOCK = 512


# ---- reductions ------------------------------------------------------------------------------


def make_sum(ft: type, step):
    zero = ft(0)

    @jit
    def sum_(x):
        """Blocked sum of a 1-D array: the pattern codegen emits for a fused reduction."""
        n = x.size
        total = 0.0
        for b in range(0, n, SUM_BLOCK):
            acc = zero
            for i in range(b, min(b + SUM_BLOCK, n)):
                acc = step(acc, x[i])
            total += np.float64(acc)
        return ft(total)

    return sum_
