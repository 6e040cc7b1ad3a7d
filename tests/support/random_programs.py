"""Random tensor programs for hypothesis: functions written with tensor methods only, so the same
program runs eager, traced into a graph, or differentiated by either engine.

A program is a list of instructions over a pool of values (the inputs first). Each instruction
reads pool entries and appends its result: elementwise math, broadcasting binary ops, reductions,
matmul, transposes and basic indexing. Shapes are tracked while drawing, so every program is
well-typed. The function returns the sum of the last values, a scalar, so `grad` applies.
Values stay moderate (smooth squashing ops, division by 1 + y*y), so float64 comparisons of
gradients are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

UNARY = ("tanh", "sin", "cos", "sigmoid", "softplus", "neg", "relu", "abs", "exp_tanh", "square")
BINARY = ("add", "sub", "mul", "safe_div")


@dataclass(frozen=True)
class Program:
    steps: tuple[tuple, ...]
    n_inputs: int
    n_outputs: int

    def __call__(self, *xs: Any) -> Any:
        pool = list(xs)
        for step in self.steps:
            pool.append(_run(step, pool))
        total = pool[-1].sum()
        for v in pool[-self.n_outputs:-1]:
            total = total + v.sum()
        return total

    def __repr__(self) -> str:
        return f"Program(inputs={self.n_inputs}, steps={list(self.steps)})"


def _run(step: tuple, pool: list) -> Any:
    kind, *args = step
    if kind == "unary":
        name, i = args
        x = pool[i]
        if name == "exp_tanh":
            return x.tanh().exp()
        if name == "square":
            return x * x
        return getattr(x, name)()
    if kind == "binary":
        name, i, j = args
        x, y = pool[i], pool[j]
        if name == "safe_div":
            return x / (y * y + 1.0)
        return getattr(x, {"add": "__add__", "sub": "__sub__", "mul": "__mul__"}[name])(y)
    if kind == "scale":
        i, c = args
        return pool[i] * c + c
    if kind == "sum":
        i, axis, keepdims = args
        return pool[i].sum(axis, keepdim=keepdims)
    if kind == "mean":
        i, axis = args
        return pool[i].mean(axis)
    if kind == "max":
        i, axis = args
        return pool[i].amax(axis)
    if kind == "matmul":
        i, j = args
        return pool[i] @ pool[j]
    if kind == "transpose":
        (i,) = args
        return pool[i].T
    if kind == "index":
        i, k = args
        return pool[i][k]
    raise AssertionError(kind)


def _shape(step: tuple, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The result shape of a step, by running numpy on zeros of the operand shapes."""
    zeros = [np.zeros(s) for s in shapes]
    kind, *args = step
    if kind in ("unary", "scale"):
        return shapes[args[1] if kind == "unary" else args[0]]
    if kind == "binary":
        return np.broadcast_shapes(shapes[args[1]], shapes[args[2]])
    if kind == "sum":
        return np.sum(zeros[args[0]], axis=args[1], keepdims=args[2]).shape
    if kind in ("mean", "max"):
        return np.sum(zeros[args[0]], axis=args[1]).shape
    if kind == "matmul":
        return np.matmul(zeros[args[0]], zeros[args[1]]).shape
    if kind == "transpose":
        return zeros[args[0]].T.shape
    if kind == "index":
        return zeros[args[0]][args[1]].shape
    raise AssertionError(kind)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


@st.composite
def _step(draw: Any, shapes: list[tuple[int, ...]], allow_max: bool) -> tuple:
    n = len(shapes)
    i = draw(st.integers(0, n - 1))
    s = shapes[i]
    options = ["unary", "binary", "scale"]
    if s:
        options += ["sum", "mean", "transpose", "index"] + (["max"] if allow_max else [])
    partners = [j for j in range(n) if len(s) >= 1 and len(shapes[j]) >= 1
                and (shapes[j][0] if len(shapes[j]) == 1 else shapes[j][-2]) == s[-1]
                and (len(s) <= 2 and len(shapes[j]) <= 2)]
    if partners:
        options.append("matmul")
    kind = draw(st.sampled_from(options))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), i)
    if kind == "binary":
        js = [j for j in range(n) if _broadcastable(s, shapes[j])]
        return ("binary", draw(st.sampled_from(BINARY)), i, draw(st.sampled_from(js)))
    if kind == "scale":
        return ("scale", i, draw(st.sampled_from([0.5, -1.5, 2.0])))
    if kind == "sum":
        axis = draw(st.one_of(st.none(), st.integers(-len(s), len(s) - 1)))
        return ("sum", i, axis, draw(st.booleans()))
    if kind in ("mean", "max"):
        return (kind, i, draw(st.one_of(st.none(), st.integers(-len(s), len(s) - 1))))
    if kind == "matmul":
        return ("matmul", i, draw(st.sampled_from(partners)))
    if kind == "transpose":
        return ("transpose", i)
    keys = [st.integers(0, s[0] - 1).map(lambda v: (v,)), st.just((slice(None, None, 2),))]
    if s[-1] >= 2:                          # never an empty result
        keys.append(st.just((Ellipsis, slice(1, None))))
    return ("index", i, draw(st.one_of(*keys)))


@st.composite
def programs(draw: Any, max_inputs: int = 3, max_steps: int = 6,
             allow_max: bool = False) -> tuple[Program, list[np.ndarray]]:
    """A random program and float64 inputs for it (shapes broadcast against each other)."""
    n_inputs = draw(st.integers(1, max_inputs))
    shapes_drawn = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_inputs, min_dims=0,
                                                          max_dims=3, min_side=1, max_side=3))
    shapes = list(shapes_drawn.input_shapes)
    arrays = [draw(hnp.arrays(np.float64, s, elements=st.floats(-2, 2, width=64)))
              for s in shapes]
    steps: list[tuple] = []
    for _ in range(draw(st.integers(1, max_steps))):
        step = draw(_step(shapes, allow_max))
        shapes.append(_shape(step, shapes))
        steps.append(step)
    n_outputs = draw(st.integers(1, min(2, len(steps))))
    return Program(tuple(steps), n_inputs, n_outputs), arrays
