"""Benchmark tracegrad.codegen.vmath: ns per element against Numba's libm calls and numpy.

Run: python benchmarks/vmath.py [--quick]

Table 1, per function and dtype on 1e6 elements (the minimum of repeated timings, taken in
turns after a warm-up call that compiles: on a shared machine the minimum is the least
disturbed, and turns spread the disturbance evenly): the vectorized vmath kernel, the same loop calling Numba's library function
(`math.exp`, ...), and numpy's ufunc (scipy.special for expit/erf, np.logaddexp(0, x) for
softplus). Targets: vmath <= 1.5x numpy per element and >= 3x faster than the library call.

Table 2, the W3 fused kernel on 1e6 float32: y = sum(tanh(x)*sigmoid(x) + 0.5*x**2 +
exp(-x*x)) with dy/dx, written by hand as codegen would emit it (blocked sum, see vmath's
docstring), single-threaded and with prange on all cores, next to numpy eager, the same loop
with library calls, and the memory-bandwidth bound (bytes moved / STREAM-triad bandwidth).
Target: <= 1.5 ms single-threaded, faster with 2 threads. Then where the time goes: the same
kernel with one function at a time replaced by a multiply (the difference is that function's
share), in ns and in cycles per element at the CPU's nominal clock (/proc/cpuinfo).
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable

import llvmlite
import numba
import numpy as np
import scipy
import scipy.special
from numba import njit, prange

from tracegrad.codegen import vmath

N = 1_000_000
REPEATS = 7 if "--quick" in sys.argv else 21
F32 = np.float32


def timings(fn: Callable[[], object], repeats: int = REPEATS) -> np.ndarray:
    fn()  # compile / warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.array(times)


def min_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    return float(timings(fn, repeats).min())


def interleaved_min_seconds(fns: list[Callable[[], object]], repeats: int = REPEATS) -> list[float]:
    """The minimum time of each fn, run in turns, so that load from other processes hits all
    of them alike (the ratios are what the targets are about)."""
    for fn in fns:
        fn()  # compile / warm caches
    best = [math.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


# ---- per-function kernels ----------------------------------------------------------------------


def map_kernel(fn: Callable, arity: int) -> Callable:
    if arity == 1:

        @njit(error_model="numpy")
        def kernel(x, y, out):
            for i in range(x.size):
                out[i] = fn(x[i])

    else:

        @njit(error_model="numpy")
        def kernel(x, y, out):
            for i in range(x.size):
                out[i] = fn(x[i], y[i])

    return kernel


def library_functions(ft: type) -> dict[str, Callable]:
    """The loop bodies a naive kernel has: Numba's math library calls."""
    one, zero = ft(1), ft(0)
    return {
        "exp": njit(lambda x: math.exp(x)),
        "expm1": njit(lambda x: math.expm1(x)),
        "log": njit(lambda x: math.log(x)),
        "log1p": njit(lambda x: math.log1p(x)),
        "tanh": njit(lambda x: math.tanh(x)),
        "sigmoid": njit(lambda x: one / (one + math.exp(-x))),
        "softplus": njit(lambda x: (x if x > zero else zero) + math.log1p(math.exp(-abs(x)))),
        "sin": njit(lambda x: math.sin(x)),
        "cos": njit(lambda x: math.cos(x)),
        "pow": njit(lambda x, y: x**y),
        "erf": njit(lambda x: math.erf(x)),
    }


NUMPY = {
    "exp": lambda x, y, o: np.exp(x, out=o),
    "expm1": lambda x, y, o: np.expm1(x, out=o),
    "log": lambda x, y, o: np.log(x, out=o),
    "log1p": lambda x, y, o: np.log1p(x, out=o),
    "tanh": lambda x, y, o: np.tanh(x, out=o),
    "sigmoid": lambda x, y, o: scipy.special.expit(x, out=o),
    "softplus": lambda x, y, o: np.logaddexp(x.dtype.type(0), x, out=o),
    "sin": lambda x, y, o: np.sin(x, out=o),
    "cos": lambda x, y, o: np.cos(x, out=o),
    "pow": lambda x, y, o: np.power(x, y, out=o),
    "erf": lambda x, y, o: scipy.special.erf(x, out=o),
}


def inputs(name: str, ft: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lo, hi = {"log": (1e-3, 1e3), "log1p": (-0.9, 1e3), "pow": (1e-2, 1e2),
              "sin": (-100, 100), "cos": (-100, 100)}.get(name, (-10, 10))
    x = rng.uniform(lo, hi, N).astype(ft)
    return x, rng.uniform(-5, 5, N).astype(ft)


def function_rows() -> list[tuple]:
    rows = []
    for ft, suffix in ((np.float32, "f32"), (np.float64, "f64")):
        library = library_functions(ft)
        for name in vmath.FUNCTIONS:
            arity = 2 if name == "pow" else 1
            x, y = inputs(name, ft)
            out = np.empty_like(x)
            fast = map_kernel(vmath.get(name, suffix), arity)
            slow = map_kernel(library[name], arity)
            seconds = interleaved_min_seconds([lambda: fast(x, y, out), lambda: slow(x, y, out),
                                               lambda: NUMPY[name](x, y, out)])
            rows.append((f"{name}_{suffix}", *(s / N * 1e9 for s in seconds)))
    return rows


# ---- W3 ----------------------------------------------------------------------------------------


# Written as codegen emits a fused reduction: blocks of SUM_BLOCK elements, the block loop in
# the same function (an njit helper per block measured 5x slower: the inner loop lost its
# vector form), a float32 block sum with `reassoc`, float64 across blocks.


def make_w3(skip: str = "") -> Callable:
    """The W3 kernel, single-threaded; `skip` ('tanh', 'sigmoid', 'exp' or 'all') replaced by a
    multiply, to measure each function's share."""
    no_t, no_s, no_e = (skip in (name, "all") for name in ("tanh", "sigmoid", "exp"))

    @njit(error_model="numpy")
    def w3(x, grad):
        n, total = x.size, 0.0
        for b in range(0, n, vmath.SUM_BLOCK):
            acc = F32(0)
            for i in range(b, min(b + vmath.SUM_BLOCK, n)):
                v = x[i]
                t = v * F32(0.3) if no_t else vmath.tanh_f32(v)  # closure constants: folded
                s = v * F32(0.4) if no_s else vmath.sigmoid_f32(v)
                e = v * F32(0.7) if no_e else vmath.exp_f32(-v * v)
                acc = vmath.sum_step_f32(acc, t * s + F32(0.5) * v * v + e)
                grad[i] = (F32(1) - t * t) * s + t * s * (F32(1) - s) + v - F32(2) * v * e
            total += acc
        return F32(total)

    return w3


w3_single = make_w3()


@njit(error_model="numpy", parallel=True)
def w3_parallel(x, grad):
    n = x.size
    blocks = (n + vmath.SUM_BLOCK - 1) // vmath.SUM_BLOCK
    partial = np.empty(blocks)
    for j in prange(blocks):
        acc = F32(0)
        for i in range(j * vmath.SUM_BLOCK, min((j + 1) * vmath.SUM_BLOCK, n)):
            v = x[i]
            t = vmath.tanh_f32(v)
            s = vmath.sigmoid_f32(v)
            e = vmath.exp_f32(-v * v)
            acc = vmath.sum_step_f32(acc, t * s + F32(0.5) * v * v + e)
            grad[i] = (F32(1) - t * t) * s + t * s * (F32(1) - s) + v - F32(2) * v * e
        partial[j] = acc
    return F32(partial.sum())


@njit(error_model="numpy")
def w3_library(x, grad):
    acc = 0.0
    for i in range(x.size):
        v = x[i]
        t = math.tanh(v)
        s = F32(1) / (F32(1) + math.exp(-v))
        e = math.exp(-v * v)
        acc += t * s + F32(0.5) * v * v + e
        grad[i] = (F32(1) - t * t) * s + t * s * (F32(1) - s) + v - F32(2) * v * e
    return F32(acc)


def w3_numpy(x, grad):
    t = np.tanh(x)
    s = scipy.special.expit(x)
    e = np.exp(-x * x)
    grad[:] = (1 - t * t) * s + t * s * (1 - s) + x - 2 * x * e
    return np.sum(t * s + F32(0.5) * x * x + e)


@njit(error_model="numpy", parallel=True)
def _triad(a, b, c, s):
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(threads: int) -> float:
    """STREAM triad bytes/s on arrays well beyond the caches (3 x 16 MB)."""
    numba.set_num_threads(threads)
    a, b, c = (np.ones(4 * N) for _ in range(3))
    seconds = min_seconds(lambda: _triad(a, b, c, 3.0))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return 3 * a.nbytes / seconds


def w3_rows() -> list[tuple[str, float, float]]:
    """(label, median seconds, min seconds); min shows what a quiet machine gives."""
    x = np.random.default_rng(0).standard_normal(N).astype(F32)
    grad = np.empty_like(x)
    threads = numba.config.NUMBA_NUM_THREADS
    cases = [("vmath fused, 1 thread", lambda: w3_single(x, grad)),
             (f"vmath fused, prange {threads} threads", lambda: w3_parallel(x, grad)),
             ("library calls fused, 1 thread", lambda: w3_library(x, grad)),
             ("numpy eager", lambda: w3_numpy(x, grad))]
    rows = []
    for label, fn in cases:
        t = timings(fn)
        rows.append((label, float(np.median(t)), float(t.min())))
    moved = x.nbytes + grad.nbytes
    for n in (1, threads):
        rows.append((f"bandwidth bound, {n} thread(s)", moved / triad_bandwidth(n), float("nan")))
    return rows


def w3_breakdown() -> list[tuple[str, float]]:
    """(part, min seconds): each function's share of w3_single, and the rest."""
    x = np.random.default_rng(0).standard_normal(N).astype(F32)
    grad = np.empty_like(x)
    kernels = {skip: make_w3(skip) for skip in ("tanh", "sigmoid", "exp", "all")}
    full = float(timings(lambda: w3_single(x, grad)).min())
    rows = [(f"{skip}_f32", full - float(timings(lambda k=k: k(x, grad)).min()))
            for skip, k in kernels.items() if skip != "all"]
    rest = float(timings(lambda: kernels["all"](x, grad)).min())
    return [*rows, ("loads, stores, sum, gradient", rest)]


def nominal_hz() -> float:
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6
    return float("nan")


# ---- report ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "?"
    if os.path.exists("/proc/cpuinfo"):
        names = [ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if "model name" in ln]
        cpu = names[0] if names else cpu
    flags = llvmlite.binding.get_host_cpu_features()
    simd = " ".join(f for f in ("avx2", "fma", "avx512f") if flags.get(f))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, LLVM cpu {llvmlite.binding.get_host_cpu_name()} "
            f"({simd}); load average {load}\n"
            f"python {platform.python_version()}, numpy {np.__version__}, numba "
            f"{numba.__version__}, llvmlite {llvmlite.__version__}, scipy {scipy.__version__}; "
            f"vmath.ENABLED={vmath.ENABLED}, N={N}, min (W3: also median) of {REPEATS}")


def main() -> None:
    print(machine())
    print()
    head = (f"{'function':<14}{'vmath':>8}{'library':>9}{'numpy':>8}{'vm/np':>8}{'lib/vm':>8}"
            "  targets")
    print("ns per element, min of runs  (targets: vm/np <= 1.5, lib/vm >= 3)")
    print(head)
    for name, t_vm, t_lib, t_np in function_rows():
        ok = ("ok" if t_vm <= 1.5 * t_np else "SLOW vs numpy") + (
            ", ok" if t_lib >= 3 * t_vm else ", <3x library")
        print(f"{name:<14}{t_vm:8.2f}{t_lib:9.2f}{t_np:8.2f}{t_vm / t_np:8.2f}"
              f"{t_lib / t_vm:8.1f}  {ok}")
    print()
    print("W3: y = sum(tanh(x)*sigmoid(x) + 0.5*x**2 + exp(-x*x)) and dy/dx, 1e6 float32")
    print(f"  {'':<34}{'median':>11}{'min':>11}")
    for label, med, low in w3_rows():
        low_text = "" if math.isnan(low) else f"{low * 1e3:8.3f} ms"
        print(f"  {label:<34}{med * 1e3:8.3f} ms{low_text}")
    print("  target: vmath fused <= 1.5 ms on 1 thread, faster with 2")
    hz = nominal_hz()
    print(f"  where the time goes (1 thread, min; cycles at the nominal {hz / 1e9:.2f} GHz):")
    for part, seconds in w3_breakdown():
        print(f"    {part:<32}{seconds / N * 1e9:6.2f} ns/element {seconds / N * hz:6.1f} cycles")


if __name__ == "__main__":
    main()
