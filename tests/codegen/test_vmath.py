"""tracegrad.codegen.vmath: accuracy in ulps, special values, vectorization, reductions, switch.

One small map kernel per function and dtype is compiled once per session (cached below) and
reused by the accuracy, special-value and vectorization tests. References: float64 numpy for
float32 results; long double (80-bit on x86-64 Linux, libm's *l functions, whose sinl/cosl
reduce huge arguments exactly) for float64 ones. Samples mix ordinary lanes with lanes that
take the out-of-line slow paths (huge sin/cos arguments, pow's special cases), so the masked
vector calls of `vmath._rare` are exercised lane by lane.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest
import scipy.special
from llvmlite import binding as llvm
from numba import njit

from tracegrad.codegen import vmath

pytestmark = pytest.mark.numba

LD = np.longdouble
DTYPES = {"f32": np.float32, "f64": np.float64}
MAX_ULP = {"f32": 2.0, "f64": 4.0}
PI_LD = LD("3.14159265358979323846264338327950288")
needs_vmath = pytest.mark.skipif(not vmath.ENABLED, reason="TRACEGRAD_VMATH=0")
needs_avx2 = pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx2"),
                                reason="vector-width checks assume AVX2")


# ---- helpers ---------------------------------------------------------------------------------


@functools.cache
def map_kernel(name: str, suffix: str):
    fn = vmath.get(name, suffix)
    if name in ("pow", "minimum", "maximum"):

        @njit(error_model="numpy")
        def kernel2(x, y, out):
            for i in range(x.size):
                out[i] = fn(x[i], y[i])

        return kernel2

    @njit(error_model="numpy")
    def kernel(x, y, out):
        for i in range(x.size):
            out[i] = fn(x[i])

    return kernel


def apply(name: str, suffix: str, x, y=None) -> np.ndarray:
    x = np.asarray(x, dtype=DTYPES[suffix])
    y = x if y is None else np.asarray(y, dtype=DTYPES[suffix])
    out = np.empty_like(x)
    map_kernel(name, suffix)(x, y, out)
    return out


def ulp_error(y: np.ndarray, ref: np.ndarray, dtype: type) -> np.ndarray:
    """|y - ref| in ulps of ref rounded to dtype; matching NaNs and infinities count as 0."""
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        spacing = np.spacing(np.abs(rounded)).astype(ref.dtype)
        spacing = np.where(np.isinf(rounded), np.spacing(np.finfo(dtype).max), spacing)
        err = np.abs(y.astype(ref.dtype) - ref) / spacing
    same = (np.isnan(y) & np.isnan(ref)) | (y.astype(ref.dtype) == ref)
    same |= np.isinf(y) & (y.astype(ref.dtype) == rounded.astype(ref.dtype))
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))


def erf_longdouble(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-19: Taylor series below 2.5, the erfc continued fraction above."""
    a = np.abs(x.astype(LD))
    out = np.empty_like(a)
    low = a < 2.5
    s, term, x2 = a[low].copy(), a[low].copy(), a[low] ** 2
    for n in range(1, 70):  # 6.25**69 / 69! < 1e-25
        term = -term * x2 / n
        s += term / (2 * n + 1)
    out[low] = s * 2 / np.sqrt(PI_LD)
    b = np.minimum(a[~low], LD(30))
    frac = b.copy()
    for k in range(150, 0, -1):
        frac = b + (LD(k) / 2) / frac
    out[~low] = 1 - np.exp(-b * b) / (np.sqrt(PI_LD) * frac)
    return np.copysign(out, x.astype(LD))


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def reference(name: str, x: np.ndarray, y: np.ndarray | None, suffix: str) -> np.ndarray:
    wide = x.astype(np.float64 if suffix == "f32" else LD)
    with np.errstate(all="ignore"):
        if name == "pow":
            return np.power(wide, y.astype(wide.dtype))
        if name == "erf":
            return scipy.special.erf(wide) if suffix == "f32" else erf_longdouble(x)
        own = {"sigmoid": _sigmoid, "softplus": _softplus}
        return own[name](wide) if name in own else getattr(np, name)(wide)


def samples(name: str, dtype: type, n: int = 300_000) -> np.ndarray:
    """Dense grid and random points on the interesting range, magnitudes over the whole
    float range (both signs, subnormals included), and the named edges."""
    rng = np.random.default_rng(zlib.crc32(f"{name}{dtype.__name__}".encode()))
    fi = np.finfo(dtype)
    lo, hi = {"exp": (-760, 720), "expm1": (-50, 720), "log": (0, 4), "log1p": (-1, 4),
              "tanh": (-20, 20), "sigmoid": (-760, 760), "softplus": (-760, 760),
              "sin": (-100, 100), "cos": (-100, 100), "erf": (-7, 7)}[name]
    mags = np.exp(rng.uniform(np.log(float(fi.smallest_subnormal)), np.log(float(fi.max)), n))
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, float(fi.smallest_subnormal),
             float(fi.tiny), 1.0, -1.0, 0.5, 2.0, 88.72283, 88.72284, -87.33654, -103.97208,
             709.782712893384, 709.7828, -708.39641853226, -745.1332191019411, 9.01, 19.06,
             3.92, 5.93, 0.625, 0.75, 1.0 - 2**-24, -1.0 + 2**-24]
    parts = [np.linspace(lo, hi, n), rng.uniform(lo, hi, n), rng.uniform(-1, 1, n), mags, -mags,
             np.array(edges)]
    with np.errstate(over="ignore"):
        x = np.concatenate(parts).astype(dtype)
    return x


UNARY = [name for name in vmath.FUNCTIONS if name != "pow"]
CASES = [(name, s) for name in UNARY for s in DTYPES]


# ---- accuracy ----------------------------------------------------------------------------------


@needs_vmath
@pytest.mark.parametrize(("name", "suffix"), CASES, ids=[f"{n}_{s}" for n, s in CASES])
def test_vmath_unary_error_within_ulp_bound(name, suffix):
    x = samples(name, DTYPES[suffix])
    err = ulp_error(apply(name, suffix, x), reference(name, x, None, suffix), DTYPES[suffix])
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[suffix], f"{name}_{suffix}({x[worst]!r}): {err[worst]:.2f} ulp"


@needs_vmath
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_pow_error_within_ulp_bound(suffix):
    dtype, rng, n = DTYPES[suffix], np.random.default_rng(5), 300_000
    top = 300.0 if suffix == "f32" else 700.0
    x = np.concatenate([rng.uniform(0, 10, n), np.exp(rng.uniform(-top, top, n)),
                        rng.uniform(0.5, 2, n), -rng.uniform(0, 10, n)])
    y = np.concatenate([rng.uniform(-10, 10, n), rng.uniform(-1, 1, n),
                        rng.uniform(-top * 1.1, top * 1.1, n), np.round(rng.uniform(-30, 30, n))])
    with np.errstate(over="ignore"):
        x, y = x.astype(dtype), y.astype(dtype)
    err = ulp_error(apply("pow", suffix, x, y), reference("pow", x, y, suffix), dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[suffix], f"pow({x[worst]!r}, {y[worst]!r}): {err[worst]:.2f}"


@needs_vmath
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_vmath_sincos_f32_accurate_near_multiples_of_half_pi(name):
    # the hard cases for argument reduction: float32 values closest to k*pi/2, up to 2**20 * pi
    # (Cody-Waite in float32 below SINCOS_F32_LIMIT, the exact float64 reduction beyond)
    k = np.arange(1, 2**21, 7, dtype=np.float64)
    x = (k * (np.pi / 2)).astype(np.float32)
    err = ulp_error(apply(name, "f32", x), getattr(np, name)(x.astype(np.float64)), np.float32)
    assert err.max() <= MAX_ULP["f32"]


@needs_vmath
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_vmath_sincos_f64_huge_arguments_use_exact_reduction(name):
    # Payne-Hanek beyond SINCOS_F64_LIMIT, mixed with ordinary lanes (the masked slow path)
    rng = np.random.default_rng(7)
    limit = vmath.SINCOS_F64_LIMIT
    x = np.exp(rng.uniform(np.log(limit / 2), np.log(np.finfo(np.float64).max), 20_000))
    hard = [6381956970095103 * 2.0**797,  # the float64 nearest to a multiple of pi/2
            limit, np.nextafter(limit, 0), 2.0**1023, float(np.finfo(np.float64).max), 1e22]
    x = np.concatenate([x, hard, rng.uniform(-4, 4, 20_000)])
    x = np.concatenate([x, -x])
    rng.shuffle(x)
    err = ulp_error(apply(name, "f64", x), getattr(np, name)(x.astype(LD)), np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP["f64"], f"{name}_f64({x[worst]!r}): {err[worst]:.2f} ulp"


# ---- special values ----------------------------------------------------------------------------

INF, NAN = np.inf, np.nan
SPECIALS = {  # name: [(x, expected)], exact including the sign of zero
    "exp": [(-INF, 0.0), (INF, INF), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0), (-1e4, 0.0),
            (1e4, INF)],
    "expm1": [(-INF, -1.0), (INF, INF), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0), (-1e4, -1.0),
              (1e4, INF)],
    "log": [(0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-INF, NAN), (INF, INF), (NAN, NAN),
            (1.0, 0.0)],
    "log1p": [(-1.0, -INF), (-2.0, NAN), (-INF, NAN), (INF, INF), (NAN, NAN), (0.0, 0.0),
              (-0.0, -0.0)],
    "tanh": [(INF, 1.0), (-INF, -1.0), (30.0, 1.0), (-30.0, -1.0), (1e30, 1.0), (NAN, NAN),
             (0.0, 0.0), (-0.0, -0.0)],
    "sigmoid": [(INF, 1.0), (-INF, 0.0), (0.0, 0.5), (NAN, NAN), (1e4, 1.0), (-1e4, 0.0)],
    "softplus": [(INF, INF), (-INF, 0.0), (NAN, NAN), (1e4, 1e4), (-1e4, 0.0)],
    "sin": [(INF, NAN), (-INF, NAN), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0)],
    "cos": [(INF, NAN), (-INF, NAN), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0)],
    "erf": [(INF, 1.0), (-INF, -1.0), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0), (10.0, 1.0)],
}
SPECIAL_CASES = [(n, s) for n in SPECIALS for s in DTYPES]


@pytest.mark.parametrize(("name", "suffix"), SPECIAL_CASES,
                         ids=[f"{n}_{s}" for n, s in SPECIAL_CASES])
def test_vmath_special_values_follow_c99(name, suffix):
    x, expected = (np.array(v, dtype=DTYPES[suffix]) for v in zip(*SPECIALS[name]))
    got = apply(name, suffix, x)
    same = (got == expected) & (np.signbit(got) == np.signbit(expected))
    same |= np.isnan(got) & np.isnan(expected)
    assert same.all(), f"{name}_{suffix}: x={x[~same]}, got {got[~same]}, want {expected[~same]}"


@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_pow_special_values_match_numpy(suffix):
    # 1e-45 and -1e-45: y so tiny that y*log|x| saturates only through pow_f32's scaling of
    # log 0 and log inf
    values = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, -2.5, INF,
                       -INF, NAN, 1e-40, -1e-300, 1e30, 1e-45, -1e-45], dtype=DTYPES[suffix])
    x, y = (a.ravel() for a in np.meshgrid(values, values))
    got = apply("pow", suffix, x, y)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
        close = np.abs(got - want) <= 2 * np.spacing(np.abs(want))
    same = (got == want) & (np.signbit(got) == np.signbit(want))
    same |= np.isnan(got) & np.isnan(want)
    ok = same | (np.isfinite(want) & (want != 0) & close)
    assert ok.all(), list(zip(x[~ok], y[~ok], got[~ok], want[~ok]))


@needs_vmath
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_exp_subnormal_results_are_accurate(suffix):
    dtype = DTYPES[suffix]
    fi = np.finfo(dtype)
    lo, hi = math.log(float(fi.smallest_subnormal)), math.log(float(fi.tiny))
    x = np.linspace(lo - 0.5, hi, 200_001).astype(dtype)
    err = ulp_error(apply("exp", suffix, x), reference("exp", x, None, suffix), dtype)
    assert err.max() <= 1.0


def _pow_f64_hard_cases() -> tuple[np.ndarray, np.ndarray]:
    """Lanes that stress pow_f64: |y*log x| next to 708 (where the fast path hands over to the
    rare one) and to the overflow and underflow thresholds (subnormal results), x next to 1
    with huge y, x next to sqrt(2) and sqrt(1/2) (where the log's reduction switches and its
    tail is largest), exact integer powers, negative bases, subnormal x."""
    rng = np.random.default_rng(11)
    n = 20_000
    t = np.concatenate([rng.uniform(700, 709.9, n), rng.uniform(-745.2, -700, n),
                        rng.uniform(-710, -706, n), rng.uniform(706, 710, n)])
    x_t = np.exp(rng.uniform(-3, 3, t.size))
    ulps = rng.integers(1, 4000, n) * rng.choice([-1, 1], n)
    x_1 = 1 + ulps * 2.0**-52
    edges = np.repeat([math.sqrt(2), math.sqrt(0.5)], n // 2) * (1 + rng.uniform(-1e-3, 1e-3, n))
    x_e = np.concatenate([x_1, edges])
    t_e = rng.uniform(-700, 700, x_e.size)
    ints = np.array([2.0, 3.0, 0.5, 1.5, 10.0, 7.0, -2.0, -3.0, -1.5, -7.0, -0.5])
    x_i, y_i = (a.ravel() for a in np.meshgrid(ints, np.arange(-40.0, 41.0)))
    x_n = -rng.uniform(0.1, 10, n)  # negative base: integer y (sign) or not (NaN)
    y_n = np.where(rng.random(n) < 0.5, np.round(rng.uniform(-30, 30, n)),
                   rng.uniform(-30, 30, n))
    x_s = rng.integers(1, 2**52, n) * 5e-324  # subnormal x
    y_s = rng.uniform(-0.9, 0.9, n)
    x = np.concatenate([x_t, x_e, x_i, x_n, x_s])
    y = np.concatenate([t / np.log(x_t), t_e / np.log(x_e), y_i, y_n, y_s])
    order = rng.permutation(x.size)  # mix rare and common lanes in every vector
    return x[order], y[order]


@needs_vmath
def test_vmath_pow_f64_accurate_at_its_edges():
    x, y = _pow_f64_hard_cases()
    err = ulp_error(apply("pow", "f64", x, y), reference("pow", x, y, "f64"), np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP["f64"], f"pow({x[worst]!r}, {y[worst]!r}): {err[worst]:.2f}"


@needs_vmath
def test_vmath_log_f64_accurate_near_one_and_reduction_edges():
    k = np.arange(-5000.0, 5001.0)
    fi = np.finfo(np.float64)
    x = np.concatenate([1 + k * 2.0**-52, math.sqrt(2) * (1 + k * 2.0**-50),
                        math.sqrt(0.5) * (1 + k * 2.0**-50), np.abs(k) * 5e-324,
                        float(fi.tiny) * (1 + k * 2.0**-52)])
    err = ulp_error(apply("log", "f64", x), reference("log", x, None, "f64"), np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP["f64"], f"log_f64({x[worst]!r}): {err[worst]:.2f} ulp"


@needs_vmath
def test_vmath_sigmoid_f64_accurate_down_to_subnormal_results():
    # e/(1 + e) with e = exp(-|x|) subnormal or rounding to 0 (exp's two-step scaling)
    x = np.concatenate([np.linspace(-746.5, -700, 100_001), np.linspace(700, 750, 1001)])
    err = ulp_error(apply("sigmoid", "f64", x), reference("sigmoid", x, None, "f64"), np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP["f64"], f"sigmoid_f64({x[worst]!r}): {err[worst]:.2f} ulp"


@pytest.mark.parametrize("name", ["sqrt", "abs", "floor"])
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_intrinsic_functions_match_numpy_exactly(name, suffix):
    x = np.array([-2.5, -0.0, 0.0, 0.3, 1.0, 2.5, 1e30, INF, -INF, NAN, 5e-324],
                 dtype=DTYPES[suffix])
    with np.errstate(invalid="ignore"):
        want = {"sqrt": np.sqrt, "abs": np.abs, "floor": np.floor}[name](x)
    np.testing.assert_array_equal(apply(name, suffix, x), want)


@pytest.mark.parametrize("name", ["minimum", "maximum"])
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_minimum_maximum_propagate_nan_like_numpy(name, suffix):
    values = np.array([-1.0, 0.5, 2.0, INF, -INF, NAN], dtype=DTYPES[suffix])
    x, y = (a.ravel() for a in np.meshgrid(values, values))
    np.testing.assert_array_equal(apply(name, suffix, x, y), getattr(np, name)(x, y))


# ---- vectorization -----------------------------------------------------------------------------

VECTOR_WIDTH = {"f32": r"<8 x float>", "f64": r"<4 x double>"}
ALL_CASES = [(n, s) for n in vmath.FUNCTIONS + vmath.INTRINSICS for s in DTYPES]


def kernel_body(llvm_ir: str) -> str:
    """The LLVM IR of the map kernel's own function (not of helpers in the same module)."""
    starts = [m.start() for m in re.finditer(r"^define ", llvm_ir, flags=re.M)]
    for start, end in zip(starts, starts[1:] + [len(llvm_ir)]):
        head = llvm_ir[start:llvm_ir.index("\n", start)]
        if "map_kernel" in head and "cpython" not in head:
            return llvm_ir[start:end]
    raise AssertionError("map kernel not found in the LLVM IR")


@needs_vmath
@needs_avx2
@pytest.mark.parametrize(("name", "suffix"), ALL_CASES, ids=[f"{n}_{s}" for n, s in ALL_CASES])
def test_vmath_map_loop_vectorizes_without_calls(name, suffix):
    kernel = map_kernel(name, suffix)
    apply(name, suffix, [1.0])  # compile
    body = kernel_body(kernel.inspect_llvm(kernel.signatures[0]))
    assert re.search(VECTOR_WIDTH[suffix], body), f"{name}_{suffix}: loop not vectorized"
    # every vmath function is inlined: the kernel calls nothing but LLVM intrinsics, runtime
    # helpers and the rare slow paths (`_rare`), which the vector loop must call masked
    callees = set(re.findall(r"call [^@]*@([\w.$]+)\(", body))
    called = {c for c in callees if not c.startswith(("llvm.", "NRT_", "Py", "numba_"))}
    rare = {c for c in called if c.startswith("tracegrad.vmath.rare.")}
    assert not any("tracegrad" in c for c in called - rare), called
    if rare:  # the vector loop calls the masked variant of the full width
        width = 8 if suffix == "f32" else 4
        assert any(c.endswith(f".v{width}") for c in rare), f"{name}_{suffix}: {rare}"


@needs_vmath
@pytest.mark.skipif(not llvm.get_process_triple().startswith("x86_64"), reason="x86-64 only")
@pytest.mark.parametrize("name", ["pow", "sin"])
def test_vmath_rare_path_call_keeps_the_callers_registers(name):
    # the masked variant's convention is preserve_allcc, so the loop spills nothing around it
    apply(name, "f64", [1.0])
    kernel = map_kernel(name, "f64")
    body = kernel_body(kernel.inspect_llvm(kernel.signatures[0]))
    calls = re.findall(r"call (\w*) ?<\d+ x double> @\"?tracegrad\.vmath\.rare\.[\w.]+\.v\d", body)
    assert calls and set(calls) == {"preserve_allcc"}, calls


@needs_vmath
@needs_avx2
def test_vmath_exp_f32_loop_uses_packed_fma():
    kernel = map_kernel("exp", "f32")
    apply("exp", "f32", [1.0])
    asm = kernel.inspect_asm(kernel.signatures[0])
    assert re.search(r"vfn?madd\w*ps\s+[^\n]*%ymm", asm), "no packed FMA on ymm registers"


@needs_avx2
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_sum_loop_vectorizes_with_reassoc_only_on_the_add(suffix):
    vmath.get("sum", suffix)(np.ones(8, DTYPES[suffix]))
    dispatcher = vmath.get("sum", suffix)
    llvm_ir = dispatcher.inspect_llvm(dispatcher.signatures[0])
    assert re.search(r"fadd reassoc " + VECTOR_WIDTH[suffix], llvm_ir)
    assert "fast" not in re.findall(r"f(?:add|mul|sub) (\w+)", llvm_ir)


# ---- reductions --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, vmath.SUM_BLOCK - 1, vmath.SUM_BLOCK,
                               vmath.SUM_BLOCK + 1, 100_003])
@pytest.mark.parametrize("suffix", DTYPES)
def test_vmath_sum_within_stated_bound(suffix, n):
    dtype = DTYPES[suffix]
    x = np.random.default_rng(n).standard_normal(n).astype(dtype) * dtype(1e3)
    got = vmath.get("sum", suffix)(x)
    exact = math.fsum(x.astype(np.float64).tolist())
    u = np.finfo(dtype).eps / 2
    bound = (vmath.SUM_BLOCK + 8 + n / vmath.SUM_BLOCK * 2**-29) * u * np.abs(x).sum(
        dtype=np.float64) + np.spacing(dtype(abs(exact)))
    assert abs(float(got) - exact) <= bound
    assert float(got) == float(dtype(got))  # rounded to the dtype


def test_vmath_sum_f32_beats_serial_float32_accumulation():
    x = np.random.default_rng(1).uniform(0, 1, 1_000_000).astype(np.float32)
    exact = math.fsum(x.astype(np.float64).tolist())
    serial = float(np.cumsum(x, dtype=np.float32)[-1])  # cumsum adds in order
    blocked = float(vmath.sum_f32(x))
    assert abs(blocked - exact) * 10 < abs(serial - exact)
    assert abs(blocked - exact) / exact < 1e-6


@needs_avx2
def test_vmath_maximum_is_a_vectorizable_reduction_step():
    @njit(error_model="numpy")
    def max_reduce(x):
        acc = np.float32(-np.inf)
        for i in range(x.size):
            acc = vmath.maximum_f32(acc, x[i])
        return acc

    x = np.random.default_rng(2).standard_normal(10_001).astype(np.float32)
    assert max_reduce(x) == x.max()
    x[5000] = np.nan
    assert np.isnan(max_reduce(x))
    assert "llvm.vector.reduce.fmaximum" in max_reduce.inspect_llvm(max_reduce.signatures[0])


# ---- API, switch and plain-Python paths --------------------------------------------------------


def test_vmath_public_names_are_dispatchers_callable_from_python():
    for name in vmath.FUNCTIONS + vmath.INTRINSICS:
        for suffix, dtype in DTYPES.items():
            fn = vmath.get(name, suffix)
            assert fn is getattr(vmath, f"{name}_{suffix}") is vmath.get(name, dtype)
            assert hasattr(fn, "py_func")
    assert vmath.exp_f32(1.0) == vmath.exp_f32(np.float32(1.0))  # the argument is cast
    assert isinstance(vmath.exp_f32(1.0), float) and abs(vmath.exp_f32(1.0) - math.e) < 3e-7


def _run_python(code: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120, check=True)
    return result.stdout


POINTS = (-3.7, -0.4, 1e-3, 0.6, 2.2, 9.5)
_PROBE = f"""
import warnings; warnings.simplefilter("ignore")
import numpy as np
from tracegrad.codegen import vmath
print(vmath.ENABLED, vmath.CACHE_TOKEN)
for name in vmath.FUNCTIONS:
    for s in ("f32", "f64"):
        f, t = vmath.get(name, s), np.float32 if s == "f32" else np.float64
        args = [(t(abs(p)), t(p)) if name == "pow" else (t(p),) for p in {POINTS!r}]
        print(name, s, *[repr(float(f(*a))) for a in args])
"""


def _parse_probe(out: str) -> tuple[str, dict]:
    head, *lines = out.strip().splitlines()
    return head, {tuple(ln.split()[:2]): np.array(ln.split()[2:], float) for ln in lines}


def test_vmath_plain_python_agrees_with_compiled():
    """NUMBA_DISABLE_JIT=1 runs the same algorithms in Python (numpy scalars, no FMA)."""
    _, python = _parse_probe(_run_python(_PROBE, NUMBA_DISABLE_JIT="1"))
    for (name, s), values in python.items():
        dtype = DTYPES[s]
        x = np.array(POINTS, dtype)
        compiled = apply(name, s, np.abs(x), x) if name == "pow" else apply(name, s, x)
        err = ulp_error(values.astype(dtype), compiled.astype(np.float64 if s == "f32" else LD),
                        dtype)
        assert err.max() <= 2, (name, s, values, compiled)


def test_vmath_switch_off_uses_library_calls():
    head, library = _parse_probe(_run_python(_PROBE, TRACEGRAD_VMATH="0"))
    enabled, token = head.split()
    assert enabled == "False" and token.startswith("vmath-off-") and token != vmath.CACHE_TOKEN
    x = np.array(POINTS)
    for (name, s), values in library.items():
        ref = reference(name, np.abs(x), x, "f32") if name == "pow" else reference(
            name, x, None, "f32")
        np.testing.assert_allclose(values, ref, rtol=1e-5 if s == "f32" else 1e-13, atol=1e-30)
