"""Workloads W1-W5 of the codegen issue: eager, compiled and hand-written numpy, median times and
ratios to the numpy row. Run: `python benchmarks/workloads.py [--quick]` (part of `make bench`).
Compile time is excluded here (warm-up calls); W6 (first-call latency) is measured separately."""

from __future__ import annotations

import os
import platform
import sys
import time

import numba
import numpy as np

import tracegrad as tg
import tracegrad.nn.functional as F

REPEATS = 5 if "--quick" in sys.argv else 21


def median_ms(fn, repeats=REPEATS):
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def eager_and_compiled(fn, make_inputs, wrt):
    compiled = tg.compile(fn)

    def run(f):
        def step():
            args = make_inputs()
            f(*args).backward()
            return [args[i].grad for i in wrt]
        return step
    return run(fn), run(compiled)


def w1():
    x = tg.tensor([3.0], dtype=tg.float64, requires_grad=True)
    fn = lambda x: x @ x  # noqa: E731
    eager, compiled = eager_and_compiled(fn, lambda: (x,), [0])
    xn = x.detach().numpy()
    return eager, compiled, lambda: (xn @ xn, 2 * xn)


def w2():
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal(s).astype(np.float32) for s in ((64, 1000), (64, 10)))
    w1n, w2n = (rng.standard_normal(s).astype(np.float32) for s in ((1000, 100), (100, 10)))
    xt, yt = tg.from_numpy(x), tg.from_numpy(y)
    a, b = tg.tensor(w1n, requires_grad=True), tg.tensor(w2n, requires_grad=True)

    def loss(x, w1, w2, y):
        return ((x.mm(w1).relu().mm(w2) - y) ** 2).sum()
    compiled = tg.compile(loss)

    def step(f):
        def run():
            f(xt, a, b, yt).backward()
            with tg.no_grad():
                a.sub_(1e-6 * a.grad)
                b.sub_(1e-6 * b.grad)
                a.grad = None
                b.grad = None
        return run

    def numpy_step():
        h = x @ w1n
        hr = np.maximum(h, 0)
        d = 2.0 * (hr @ w2n - y)
        g2 = hr.T @ d
        g1 = x.T @ ((d @ w2n.T) * (h > 0))
        w1n.__isub__(1e-6 * g1)
        w2n.__isub__(1e-6 * g2)
    return step(loss), step(compiled), numpy_step


def w3(n):
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    xt = tg.tensor(x, requires_grad=True)

    def fn(x):
        return (x.tanh() * x.sigmoid() + 0.5 * x ** 2 + (-x * x).exp()).sum()

    def make():
        xt.grad = None
        return (xt,)
    eager, compiled = eager_and_compiled(fn, make, [0])

    def numpy_fn():
        t, s, e = np.tanh(x), 1 / (1 + np.exp(-x)), np.exp(-x * x)
        value = (t * s + 0.5 * x * x + e).sum()
        return value, (1 - t * t) * s + t * s * (1 - s) + x - 2 * x * e
    return eager, compiled, numpy_fn


def w4():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 512)).astype(np.float32)
    y = (rng.random((4096, 64)) > 0.5).astype(np.float32)
    w = (rng.standard_normal((512, 64)) * 0.05).astype(np.float32)
    b = np.zeros(64, np.float32)
    xt, yt = tg.from_numpy(x), tg.from_numpy(y)
    wt, bt = tg.tensor(w, requires_grad=True), tg.tensor(b, requires_grad=True)

    def fn(x, w, b, y):
        return F.binary_cross_entropy_with_logits(x @ w + b, y)

    def make():
        wt.grad = bt.grad = None
        return (xt, wt, bt, yt)
    eager, compiled = eager_and_compiled(fn, make, [1, 2])

    def numpy_fn():
        z = x @ w + b
        loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
        dz = (1 / (1 + np.exp(-z)) - y) / z.size
        return loss, x.T @ dz, dz.sum(0)
    return eager, compiled, numpy_fn


def w5():
    x = np.random.default_rng(0).standard_normal(1_000_000)
    xt = tg.tensor(x, requires_grad=True)

    def f(x):
        return (x.sin() * x ** 3).sum()

    def eager():
        (g,) = tg.autograd.grad(f(xt), xt, create_graph=True)
        return tg.autograd.grad(g.sum(), xt)
    compiled_fn = tg.compile(tg.grad(lambda x: tg.grad(f)(x).sum()))

    def compiled():
        return compiled_fn(x)

    def numpy_fn():
        s, c = np.sin(x), np.cos(x)
        return -s * x ** 3 + 6 * x * x * c + 6 * x * s
    return eager, compiled, numpy_fn


def main():
    load = os.getloadavg()[0]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.2f}; "
          f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    rows = [("W1 tiny x@x", w1), ("W2 two-layer step", w2), ("W3 elementwise 1e6", lambda: w3(10**6)),
            ("W3 elementwise 1e7", lambda: w3(10**7)), ("W4 logistic layer", w4),
            ("W5 second order", w5)]
    print(f"{'workload':22} {'numpy ms':>10} {'eager ms':>10} {'compiled ms':>12} "
          f"{'eager/np':>9} {'compiled/np':>12}")
    for name, make in rows:
        eager, compiled, numpy_fn = make()
        t_np, t_eager, t_comp = median_ms(numpy_fn), median_ms(eager), median_ms(compiled)
        print(f"{name:22} {t_np:10.3f} {t_eager:10.3f} {t_comp:12.3f} {t_eager / t_np:9.2f} "
              f"{t_comp / t_np:12.2f}", flush=True)


if __name__ == "__main__":
    main()
