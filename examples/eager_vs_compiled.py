"""Eager vs compiled: the seed's two-layer network trained both ways from the same weights.

The network is seed 002's (N=64, D_in=1000, H=100, D_out=10, float32, `x.mm(w1).clamp(min=0)
.mm(w2)`, summed squared error, SGD with learning rate 1e-6). The training step is written once;
the eager run passes it the plain loss function, which records a tape op by op, and the compiled
run passes `tracegrad.compile(loss)`, which runs one fused Numba forward kernel and records ONE
autograd node whose backward is one Numba backward kernel.

The example checks that both runs compute the same gradients and losses at every step (it exits
non-zero if not), prints the time per step of each (compile excluded) and of the first call, then
shows what was compiled: the forward and backward graphs, the generated kernel source and
`explain()` (stage times, cache hits, fusion groups, saved values).

Usage: python examples/eager_vs_compiled.py [--steps N]   (default 50; `make demo` runs it)
Kernels are cached on disk (TRACEGRAD_CACHE_DIR), so a second run's first call skips compiling.
"""

import argparse
import statistics
import sys
import time

import numpy as np

import tracegrad as tg

N, D_IN, H, D_OUT = 64, 1000, 100, 10
LEARNING_RATE = 1e-6
# float32 sums of 64,000 products: the kernel and numpy's BLAS add them in different orders.
RTOL = 1e-4
ATOL_SCALE = 1e-4  # atol = ATOL_SCALE * max|gradient|


def two_layer_loss(x, y, w1, w2):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    return (y_pred - y).pow(2).sum()


def train_step(loss_fn, x, y, w1, w2):
    """One SGD step, as the seed writes it; returns the loss and the gradients it used."""
    loss = loss_fn(x, y, w1, w2)
    loss.backward()
    grads = (w1.grad.numpy().copy(), w2.grad.numpy().copy())
    with tg.no_grad():
        w1 -= LEARNING_RATE * w1.grad
        w2 -= LEARNING_RATE * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
    return loss.item(), grads


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def agree(got: np.ndarray, want: np.ndarray) -> bool:
    return np.allclose(got, want, rtol=RTOL, atol=ATOL_SCALE * float(np.abs(want).max()))


def train_both(steps: int, x, y, w1_init, w2_init, compiled_loss):
    """Steps both models in lockstep; returns per-step seconds and the list of disagreements."""
    weights = {
        name: [w.clone().requires_grad_(True) for w in (w1_init, w2_init)]
        for name in ("eager", "compiled")
    }
    loss_fns = {"eager": two_layer_loss, "compiled": compiled_loss}
    seconds = {name: [] for name in loss_fns}
    problems = []
    print(f"{'step':>4}  {'eager loss':>14}  {'compiled loss':>14}  max rel grad diff")
    for t in range(steps):
        results = {}
        for name, loss_fn in loss_fns.items():
            results[name], took = timed(train_step, loss_fn, x, y, *weights[name])
            seconds[name].append(took)
        (loss_e, grads_e), (loss_c, grads_c) = results["eager"], results["compiled"]
        pairs = list(zip(grads_c, grads_e, strict=True))
        diff = max(float(np.abs(c - e).max() / np.abs(e).max()) for c, e in pairs)
        if t % 10 == 0 or t == steps - 1:
            print(f"{t:4d}  {loss_e:14.6g}  {loss_c:14.6g}  {diff:.1e}")
        if not all(agree(c, e) for c, e in pairs):
            problems.append(f"step {t}: gradients differ (max relative difference {diff:.1e})")
        if not np.isclose(loss_c, loss_e, rtol=RTOL):
            problems.append(f"step {t}: losses differ ({loss_e} eager, {loss_c} compiled)")
    return seconds, problems


def report_times(seconds: dict) -> None:
    print(
        f"\n== time per step (median of steps 1..{len(seconds['eager']) - 1}; the first call "
        "separately: for compiled it includes tracing, autodiff, codegen and Numba compiling "
        "or loading from the disk cache)"
    )
    for name, times in seconds.items():
        later = statistics.median(times[1:]) if len(times) > 1 else float("nan")
        print(f"{name:9} first call {times[0] * 1e3:9.1f} ms   per step {later * 1e3:7.2f} ms")


def show_compiled(compiled_loss, args) -> None:
    print("\n== forward graph: compiled_loss.graph(x, y, w1, w2) (outputs, then saved values)")
    print(compiled_loss.graph(*args))
    print("\n== backward graph: compiled_loss.backward_graph(x, y, w1, w2)")
    print(compiled_loss.backward_graph(*args))
    print("\n== generated kernels: compiled_loss.source(x, y, w1, w2)")
    print(compiled_loss.source(*args))
    print("\n== compiled_loss.explain()")
    print(compiled_loss.explain())


def main(steps: int) -> int:
    tg.manual_seed(0)
    x, y = tg.randn(N, D_IN), tg.randn(N, D_OUT)
    w1_init, w2_init = tg.randn(D_IN, H), tg.randn(H, D_OUT)
    compiled_loss = tg.compile(two_layer_loss)
    print(
        f"== the seed's two-layer network, {steps} SGD steps each way from the same weights "
        f"(x {tuple(x.shape)}, w1 {tuple(w1_init.shape)}, w2 {tuple(w2_init.shape)}, float32)"
    )
    seconds, problems = train_both(steps, x, y, w1_init, w2_init, compiled_loss)
    tolerance = f"np.allclose(rtol={RTOL:g}, atol={ATOL_SCALE:g} * max|grad|)"
    if problems:
        print("\n".join(["", f"MISMATCH ({tolerance}):", *problems]), file=sys.stderr)
        return 1
    print(f"\ngradients and losses agree at every step: {tolerance}")
    report_times(seconds)
    show_compiled(
        compiled_loss, (x, y, *(w.clone().requires_grad_(True) for w in (w1_init, w2_init)))
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="SGD steps each way (default 50)")
    sys.exit(main(parser.parse_args().steps))
