"""Where does `prange` start to pay? Times generated kernels serial and parallel by loop size.

Run: python benchmarks/parallel_threshold.py [--quick]

For three loop kinds that codegen emits (a cheap elementwise map, a transcendental map, a fused
full sum), it builds the same graph's kernel twice through tracegrad's codegen, with options ""
and "parallel=True" (every loop allowed to use prange, whatever its size), and prints the
minimum time over repeats for sizes 2**10 ... 2**20, plus the smallest size from which the
parallel kernel stays faster. The results set codegen/options.py PARALLEL_MIN_ELEMENTS (the
cheap map's crossover) and VMATH_CALL_WEIGHT (how much earlier a loop of vmath calls wins).

Min, not median: on a shared machine a busy core shows up as multi-millisecond stalls of the
parallel kernel (its worker thread waits for a time slice), and a size whose parallel minimum
still loses is measured again (up to RETRIES more rounds) before it counts as a loss. The stalls
are real, though: with other processes on every core, parallel=False is the faster setting.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import tracegrad as tg
from tracegrad.codegen import options
from tracegrad.codegen.build import load_module
from tracegrad.codegen.emit import emit_module
from tracegrad.ir.passes import optimize

REPEATS = 30 if "--quick" in sys.argv else 200
RETRIES = 3
SIZES = [2**k for k in range(10, 21)]
KINDS = {
    "cheap map 2*x+1": lambda x: 2.0 * x + 1.0,
    "tanh*sigmoid map": lambda x: x.tanh() * x.sigmoid(),
    "sum(x*x)": lambda x: (x * x).sum(),
}


def kernel(fn, x: np.ndarray, opts: str, directory: Path):
    graph = optimize(tg.make_graph(fn)(x))
    key = f"{abs(hash((graph.name, x.size, opts, fn.__code__.co_code))):032x}{x.size:08x}"
    text, source = emit_module(graph, "forward", key, opts)
    module, _ = load_module(directory, key, text)
    return getattr(module, source.function)


def min_us(fn, repeats: int = REPEATS) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    configured = options.PARALLEL_MIN_ELEMENTS
    options.PARALLEL_MIN_ELEMENTS = 0           # let every loop use prange
    directory = Path(tempfile.mkdtemp(prefix="tracegrad-threshold-"))
    print(f"{os.cpu_count()} cores, numba {numba.__version__} threads "
          f"{numba.config.NUMBA_NUM_THREADS} ({numba.config.THREADING_LAYER} layer); load "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; min of {REPEATS}, float32")
    for name, fn in KINDS.items():
        print(f"\n{name}\n{'elements':>9} {'serial us':>10} {'parallel us':>12} {'ratio':>6}")
        wins = []
        for n in SIZES:
            x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
            serial, parallel = (kernel(fn, x, o, directory) for o in ("", "parallel=True"))
            t_s, t_p = min_us(lambda: serial(x)), min_us(lambda: parallel(x))
            for _ in range(RETRIES):
                if t_p < t_s:
                    break
                t_s = min(t_s, min_us(lambda: serial(x)))
                t_p = min(t_p, min_us(lambda: parallel(x)))
            wins.append(t_p < t_s)
            print(f"{n:9d} {t_s:10.1f} {t_p:12.1f} {t_p / t_s:6.2f}", flush=True)
        first = next((n for k, n in enumerate(SIZES) if all(wins[k:])), None)
        print(f"parallel faster from {first} elements on")
    print(f"\ncodegen/options.py: PARALLEL_MIN_ELEMENTS = {configured}, VMATH_CALL_WEIGHT = "
          f"{options.VMATH_CALL_WEIGHT} (a loop goes parallel from {configured} elements, "
          f"{configured // (1 + 2 * options.VMATH_CALL_WEIGHT)} with two vmath calls)")


if __name__ == "__main__":
    main()
