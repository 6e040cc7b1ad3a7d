"""Gradient checks in float64 against central finite differences, for any "world".

The dot-product test (autograd's and JAX's): for random `u` shaped like the output and `v`
shaped like an input, the analytic `<v, VJP(u)>` must equal the numerical
`<u, (f(x + eps v) - f(x - eps v)) / 2 eps>`. Order n recurses on the function
`(x, u) -> VJP(u)`, which is itself differentiated by the same world; so a VJP rule that leaves
the op table (a numpy call, a helper without a VJP) fails at order 2. For tiny inputs,
`check_jacobian` also builds the full Jacobian column by column.

A world is anything with the three methods of `GradWorld`. A *tensor function* takes and
returns tensors of that world and is written with tensor methods only, so the same function
runs in every world. `EagerWorld` drives eager autograd; the IR's `grad` will be a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

import tracegrad

TensorFunction = Callable[..., Any]


class GradWorld(Protocol):
    name: str

    def evaluate(self, fn: TensorFunction, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs of `fn` at the float64 arrays `xs` (a tuple output gives several)."""

    def vjp(self, fn: TensorFunction, xs: Sequence[np.ndarray],
            us: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per input, the gradient of `sum_k <u_k, out_k>`; zeros where an input is unused."""

    def vjp_function(self, fn: TensorFunction, n_inputs: int) -> TensorFunction:
        """A tensor function `(x_1..x_n, u_1..u_m) -> (VJP_1..VJP_n)` of this world."""


class GradcheckFailure(AssertionError):
    pass


def check_vjp(world: GradWorld, fn: TensorFunction, xs: Sequence[np.ndarray], *,
              order: int = 1, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7,
              seed: int = 0, _level: int = 1) -> None:
    """Dot-product test of `fn` at `xs`, then of its VJP function up to derivative `order`."""
    rng = np.random.default_rng(seed + _level)
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    outs = world.evaluate(fn, xs)
    us = [rng.standard_normal(o.shape) for o in outs]
    grads = world.vjp(fn, xs, us)
    for i, (x, grad) in enumerate(zip(xs, grads)):
        if np.shape(grad) != x.shape:
            raise GradcheckFailure(f"order {_level}: gradient {i} has shape {np.shape(grad)}, "
                                   f"input has {x.shape}")
        v = rng.standard_normal(x.shape)
        analytic = float(np.sum(v * grad))
        plus = world.evaluate(fn, _replace(xs, i, x + eps * v))
        minus = world.evaluate(fn, _replace(xs, i, x - eps * v))
        numeric = sum(float(np.sum(u * (p - m))) for u, p, m in zip(us, plus, minus)) / (2 * eps)
        scale = float(np.sum(np.abs(v * grad)))
        if not abs(analytic - numeric) <= atol + rtol * max(scale, abs(numeric)):
            raise GradcheckFailure(
                f"{world.name}: order-{_level} dot-product test failed for input {i} of "
                f"{getattr(fn, '__name__', fn)}: analytic <v, VJP(u)> = {analytic!r}, "
                f"numerical = {numeric!r}")
    if order > _level:
        check_vjp(world, world.vjp_function(fn, len(xs)), xs + us, order=order, eps=eps,
                  rtol=rtol, atol=atol, seed=seed, _level=_level + 1)


def check_jacobian(world: GradWorld, fn: TensorFunction, xs: Sequence[np.ndarray], *,
                   eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Full Jacobian: numerical columns (one nudge per input element) against analytic rows
    (one VJP per output element). Use for tiny inputs only."""
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    outs = world.evaluate(fn, xs)
    numeric = np.concatenate([_numerical_columns(world, fn, xs, i, eps) for i in range(len(xs))],
                             axis=1)
    rows = []
    for k, out in enumerate(outs):
        for r in range(out.size):
            us = [np.zeros(o.shape) for o in outs]
            us[k].reshape(-1)[r] = 1.0
            rows.append(np.concatenate([g.reshape(-1) for g in world.vjp(fn, xs, us)]))
    analytic = np.stack(rows) if rows else np.zeros_like(numeric)
    if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
        raise GradcheckFailure(f"{world.name}: Jacobian mismatch for "
                               f"{getattr(fn, '__name__', fn)}\nanalytic:\n{analytic}\n"
                               f"numerical:\n{numeric}")


def _numerical_columns(world: GradWorld, fn: TensorFunction, xs: list[np.ndarray], i: int,
                       eps: float) -> np.ndarray:
    columns = []
    for j in range(xs[i].size):
        step = np.zeros(xs[i].shape)
        step.reshape(-1)[j] = eps
        plus = world.evaluate(fn, _replace(xs, i, xs[i] + step))
        minus = world.evaluate(fn, _replace(xs, i, xs[i] - step))
        columns.append(np.concatenate([((p - m) / (2 * eps)).reshape(-1)
                                       for p, m in zip(plus, minus)]))
    total = sum(o.size for o in world.evaluate(fn, xs))
    return np.stack(columns, axis=1) if columns else np.zeros((total, 0))


def _replace(xs: list[np.ndarray], i: int, value: np.ndarray) -> list[np.ndarray]:
    return [value if j == i else x for j, x in enumerate(xs)]


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


class EagerWorld:
    """Eager tensors and `tracegrad.autograd.grad(..., create_graph=True)`."""

    name = "eager"

    def _leaves(self, xs: Sequence[Any]) -> list[Any]:
        return [tracegrad.tensor(np.asarray(x), dtype=tracegrad.float64, requires_grad=True)
                for x in xs]

    def evaluate(self, fn: TensorFunction, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        # Grad mode stays on: a VJP function differentiates `fn` inside.
        return [np.array(o.detach().numpy()) for o in _as_list(fn(*self._leaves(xs)))]

    def vjp(self, fn: TensorFunction, xs: Sequence[np.ndarray],
            us: Sequence[np.ndarray]) -> list[np.ndarray]:
        leaves = self._leaves(xs)
        outs = _as_list(fn(*leaves))
        cotangents = [_constant_like(u, o) for u, o in zip(us, outs)]
        return [np.array(g.detach().numpy()) for g in _pullback(outs, leaves, cotangents, False)]

    def vjp_function(self, fn: TensorFunction, n_inputs: int) -> TensorFunction:
        def vjp_of(*args: Any) -> tuple[Any, ...]:
            xs, us = args[:n_inputs], args[n_inputs:]
            return tuple(_pullback(_as_list(fn(*xs)), list(xs), list(us), True))
        vjp_of.__name__ = f"vjp_{getattr(fn, '__name__', 'fn')}"
        return vjp_of


def _constant_like(u: np.ndarray, out: Any) -> Any:
    return tracegrad.tensor(np.asarray(u), dtype=out.dtype)


def _pullback(outs: list[Any], inputs: list[Any], cotangents: list[Any],
              create_graph: bool) -> list[Any]:
    pairs = [(o, u) for o, u in zip(outs, cotangents) if o.requires_grad]
    grads: Sequence[Any] = [None] * len(inputs)
    if pairs:
        grads = tracegrad.autograd.grad([o for o, _ in pairs], inputs, [u for _, u in pairs],
                                        create_graph=create_graph, allow_unused=True)
    return [g if g is not None else tracegrad.zeros(tuple(x.shape), dtype=x.dtype)
            for g, x in zip(grads, inputs)]


EAGER = EagerWorld()
GRAD_WORLDS: dict[str, GradWorld] = {"eager": EAGER}
