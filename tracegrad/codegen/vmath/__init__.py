"""Vectorizable math for generated kernels: transcendental functions LLVM can put in SIMD loops.

Numba lowers `math.exp`, `math.tanh`, ... to scalar libm calls, and PyPI's llvmlite has no
SVML, so a kernel loop that calls them never vectorizes (2-14 ns per element here, against
0.3-3 ns for numpy's SIMD ufuncs). The functions below are written in plain float arithmetic
plus a few LLVM intrinsics (FMA, rint, copysign, exponent-field bit tricks), with special
cases handled by selects instead of branches, so LLVM inlines them into the kernel loop and
vectorizes it (`<8 x float>`, `vfmadd...ps ymm` on AVX2). The few cases too costly for selects
(sin/cos of huge |x|, pow's C99 special cases in float64) run out of line through a masked
vector call that keeps the loop vectorized (`_rare.py`).

Layout: this module builds the public table; `_intrinsics` (LLVM building blocks with Python
twins, horner), `_consts` (per-dtype constants), `_rare` (out-of-line slow paths), `exp_log`,
`activations` (tanh, sigmoid, softplus), `trig`, `pow`, `erf`, `sums`, `library` (the
TRACEGRAD_VMATH=0 fallbacks).

Public names. Each is an `njit` dispatcher, so plain Python can call it too (compiled, per
element: what a TRACEGRAD_JIT=0 kernel does); under NUMBA_DISABLE_JIT=1 every function,
intrinsics included, runs as plain Python on numpy scalars (the intrinsics have Python twins):
  - `<name>_f32`, `<name>_f64` for name in FUNCTIONS: exp expm1 log log1p tanh sigmoid softplus
    sin cos pow erf. float32 versions take and return float32 (a float64 argument is cast);
    pow_f32 works in float64 inside (still 8 lanes: two ymm per operation).
  - `<name>_f32`, `<name>_f64` for name in INTRINSICS: sqrt abs floor minimum maximum. These are
    one LLVM intrinsic each (llvm.sqrt/fabs/floor/minimum/maximum), which already vectorize;
    minimum/maximum propagate NaN like numpy. Writing `math.sqrt(x)`, `abs(x)` or `np.floor(x)`
    in a kernel gives the same code.
  - reductions: `sum_step_<dt>`, `sum_<dt>`, SUM_BLOCK (see "Reductions" below); `maximum_<dt>`
    and `minimum_<dt>` are also valid reduction steps (LLVM vectorizes llvm.maximum reductions).
  - `get(name, dtype)`, ENABLED, CACHE_TOKEN, KERNEL_OPTIONS, SINCOS_F64_LIMIT (float64 |x|
    from which sin/cos take the Payne-Hanek path), SINCOS_F32_LIMIT (likewise for float32).

Accuracy (measured by tests/codegen/test_vmath.py against float64 / long double references,
dense samples plus edges): at most 2 ulp for float32 and 4 ulp for float64 over the whole
domain, with C99 special values (NaN in -> NaN out, exp(-inf) = 0, log(0) = -inf, log(x<0) =
NaN, tanh(+-large) = +-1 exactly, pow's special cases). sin/cos: Cody-Waite below
SINCOS_F32_LIMIT = 2**16 (float32, in float32) and SINCOS_F64_LIMIT = 2**48 (float64), an exact
reduction beyond: float32 in float64 with 2/pi in four parts, float64 by Payne-Hanek on a
1280-bit table of 2/pi (integer arithmetic). Measured maxima on 1e6 samples a function:
0.5-1.6 ulp (float32; sin/cos also on every 13th float32 below 2**17: 1.56), 0.9-2.1 ulp
(float64, log the 2.1; sin/cos also on 80000 huge arguments and the float64 nearest a multiple
of pi/2; pow also on 160000 lanes at its edges, test_vmath_pow_f64_accurate_at_its_edges: 1.65).

Cost of use: the first kernel in a process that uses a function compiles its helper chain
(about 0.3-2 s per function, once); later kernels only pay for inlining it.

Kernel conventions (what codegen must emit):
  - `@njit(error_model="numpy", ...)` (KERNEL_OPTIONS): Python's error model puts a
    division-by-zero branch on every `/`, and that branch stops vectorization.
  - No `fastmath` on kernels. The functions here are compiled separately (their own flags:
    none) and marked `alwaysinline`, so LLVM inlines them whatever the kernel's flags; but
    `nnan`/`ninf` on the kernel would still let LLVM drop the NaN/inf handling around them.
  - Float literals typed to the kernel dtype (`np.float32(0.5)`): a bare `0.5` is float64.
  - Conditions as selects: `a if c else b` with `&`/`|` on comparisons, never `and`/`or`
    (short-circuit creates branches that block vectorization).
  - Reductions: see below. Only the accumulating add carries `reassoc`.

Reductions. A plain `acc += v` loop does not vectorize: without reassociation LLVM must keep
the serial order. `sum_step_<dt>(acc, v)` is `acc + v` as one `fadd reassoc`: LLVM then keeps
8 x 4 partial sums (float32) and adds them at the end. Codegen writes reductions blocked, so
float32 sums stay accurate and the block loop is what `prange` splits. Both loops belong in the
kernel function itself: an njit helper called once per block measured 5x slower.
The accumulator must have the step's dtype (`acc = np.float32(0.0)` for sum_step_f32):

    total = 0.0                                        # float64 across blocks
    for b in range(0, n, vmath.SUM_BLOCK):             # or prange over block indices
        acc = np.float32(0.0)
        for i in range(b, min(b + vmath.SUM_BLOCK, n)):
            acc = vmath.sum_step_f32(acc, <value of element i>)
        total += acc
    result = np.float32(total)

Bound: |result - exact| <= (SUM_BLOCK/p + log2(p) + n/SUM_BLOCK * 2**-29) * u * sum|x_i| + half
an ulp of the result, with u = 2**-24 (float32) or 2**-53 (float64) and p the number of partial
sums LLVM keeps (32 on AVX2 for float32, 16 for float64; p = 1 in the worst case, e.g. without
SIMD). With SUM_BLOCK = 512 that is about 21u*sum|x_i| on AVX2 (numpy's pairwise sum: ~log2(n)u).

Switch: TRACEGRAD_VMATH=0 in the environment (read once, at import) binds every name in
FUNCTIONS to Numba's library call instead (`math.exp` etc.), for debugging and comparison;
`vmath.ENABLED` says which is active. Kernels compiled under one setting and cached on disk
must not be reused under the other: put CACHE_TOKEN in the kernel cache key (it changes with
the switch and with every source file of this package).

Polynomial coefficients are minimax fits of our own: a Remez exchange on the relative error,
solved in 60-digit `decimal` arithmetic (reference values from Decimal.exp/ln and Taylor
series), coefficients rounded to the working dtype. Each table (in the modules) names the
interval and the achieved weighted error.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ._consts import F32, F64, Consts
from ._intrinsics import fabs, floor, inline, jit, maximum, minimum, reassoc_add, sqrt
from .activations import (make_divide, make_sigmoid, make_softplus_f64, make_softplus_f32,
                          make_tanh_f32, make_tanh_f64)
from .erf import make_erf
from .exp_log import (make_exp, make_exp_core, make_exp_parts, make_expm1, make_log, make_log1p,
                      make_log1p_reduced)
from .library import make_library
from .pow import make_pow_f32, make_pow_f64, make_pow_special
from ..vmath_token import vmath_token
from .sums import SUM_BLOCK, make_sum
from .trig import SINCOS_F32_LIMIT, SINCOS_F64_LIMIT, make_sincos_f32, make_sincos_f64

ENABLED: bool = os.environ.get("TRACEGRAD_VMATH", "1").strip() != "0"
KERNEL_OPTIONS: dict[str, object] = {"error_model": "numpy"}
FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "sin", "cos", "pow",
             "erf")
INTRINSICS = ("sqrt", "abs", "floor", "minimum", "maximum")


def _make_vmath(k_: Consts) -> dict[str, Callable]:
    reduce, core, scale = make_exp_parts(k_)
    exp = make_exp(k_, reduce, core, scale)
    expm1 = make_expm1(k_, reduce, core, scale)
    reduced = make_log1p_reduced(k_)
    divide = make_divide(k_)
    fns = {
        "exp": exp,
        "expm1": expm1,
        "log": make_log(k_),
        "log1p": make_log1p(k_, reduced),
        "sigmoid": make_sigmoid(k_, exp, divide),
        # erf_f64's loop is throughput-bound (two 18-term polynomials): Estrin's extra squarings
        # in exp cost more there than its shorter chain saves (5.3 -> 5.8 ns), so Horner's exp
        "erf": make_erf(k_, exp if k_ is F32 else make_exp(k_, reduce, make_exp_core(k_, False),
                                                            scale)),
    }
    if k_ is F32:
        fns["softplus"] = make_softplus_f32(k_, reduce, core, scale, reduced)
        fns["tanh"] = make_tanh_f32(k_, reduce, core)
        fns["sin"], fns["cos"] = make_sincos_f32(False), make_sincos_f32(True)
        fns["pow"] = make_pow_f32()
    else:
        fns["softplus"] = make_softplus_f64(k_, exp)
        fns["tanh"] = make_tanh_f64(k_, expm1, divide)
        fns["sin"], fns["cos"] = make_sincos_f64(False), make_sincos_f64(True)
        fns["pow"] = make_pow_f64(make_pow_special(k_), scale)
    return fns


def _publish(name: str, ft: type, impl, nargs: int):
    """The public dispatcher: casts its arguments to the dtype, then inlines impl."""
    if nargs == 1:

        def public(x):
            inline()
            return impl(ft(x))

    else:

        def public(x, y):
            inline()
            return impl(ft(x), ft(y))

    public.__name__ = public.__qualname__ = f"{name}_{_SUFFIX[ft]}"
    public.__doc__ = f"{name} for {ft.__name__} (tracegrad.codegen.vmath)."
    return jit(public)


_SUFFIX = {np.float32: "f32", np.float64: "f64"}
_ARITY = {"pow": 2, "minimum": 2, "maximum": 2, "sum_step": 2}


def _build_namespace() -> dict[str, Callable]:
    impls = {np.float32: _make_vmath(F32), np.float64: _make_vmath(F64)}
    out = {}
    for ft, suffix in _SUFFIX.items():
        chosen = impls[ft] if ENABLED else make_library(ft)
        chosen = {n: chosen[n] for n in FUNCTIONS}
        chosen.update(sqrt=sqrt, abs=fabs, floor=floor, minimum=minimum, maximum=maximum,
                      sum_step=reassoc_add)
        for name, impl in chosen.items():
            out[f"{name}_{suffix}"] = _publish(name, ft, impl, _ARITY.get(name, 1))
        out[f"sum_{suffix}"] = make_sum(ft, out[f"sum_step_{suffix}"])
    return out


globals().update(_build_namespace())


def get(name: str, dtype: str | type | np.dtype) -> Callable:
    """The dispatcher for `name` ('exp', 'sum_step', ...) and dtype ('f32', np.float32, ...)."""
    suffix = dtype if dtype in ("f32", "f64") else _SUFFIX[np.dtype(dtype).type]
    return globals()[f"{name}_{suffix}"]


CACHE_TOKEN: str = vmath_token(ENABLED)     # changes with the switch and with this package

__all__ = ["CACHE_TOKEN", "ENABLED", "FUNCTIONS", "INTRINSICS", "KERNEL_OPTIONS",
           "SINCOS_F32_LIMIT", "SINCOS_F64_LIMIT", "SUM_BLOCK", "get",
           *(name for name in _build_namespace.__globals__
             if name.endswith(("_f32", "_f64")) and not name.startswith("make_"))]
