"""Random tensor programs for hypothesis, written with tensor methods only, so one draw runs
eager, traced into a graph, interpreted, compiled, or differentiated by either engine.

Two strategies, one per use:

- `programs(...)` draws `(Program, arrays)`: float64, scalar-valued (the sum of the last
  values), so `grad` applies. Instructions: smooth elementwise math, broadcasting binary ops,
  reductions, matmul, transposes, basic indexing. Values stay moderate (squashing ops, division
  by 1 + y*y), so float64 comparisons of first and second derivatives are meaningful.
- `random_programs(dtype=...)` draws a `RandomProgram`: a multi-output straight-line program,
  the Graph it records (`.graph`) and sample inputs (`.inputs`), in any float or integer dtype.
  It covers more of the op table: literal operands (the identities simplify targets: `* 1.0`,
  `+ -0.0`, `** 0/1/2`), sum/amax/amin/sum_to, matmul, reshape/broadcast_to/transpose/slice/
  concat (also to the same shape, and chained), where, casts, `full`/`const` constants,
  explicit duplicates (for CSE) and dead values. Each pool entry carries a bound of |value| and
  steps beyond MAX_SCALE are not drawn; there is no division by values near zero, no log/sqrt
  of negatives, and comparisons read graph inputs only (a condition never flips with
  rounding). Hence `assert_results_close(..., scale=program.scale)`; integer programs use exact
  ops only and must match bit for bit.

Both replay their steps on a pool of earlier results, so `program(*tensors)` runs on any
TensorOps world (eager Tensors, tracer Proxies, SymbolicTensors).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tracegrad import dtypes as dt
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.graph import Graph
from tracegrad.ir.printer import format_graph
from tracegrad.ir.tensor_api import concat, full_like, maximum, minimum, where
from tracegrad.ir.types import TensorType


def _broadcastable(*shapes: Sequence[int]) -> bool:
    try:
        np.broadcast_shapes(*(tuple(s) for s in shapes))
    except ValueError:
        return False
    return True


# ==== programs(): scalar-valued float64 programs for gradient tests ====

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


@st.composite
def _instruction(draw: Any, shapes: list[tuple[int, ...]], allow_max: bool) -> tuple:
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
        step = draw(_instruction(shapes, allow_max))
        shapes.append(_shape(step, shapes))
        steps.append(step)
    n_outputs = draw(st.integers(1, min(2, len(steps))))
    return Program(tuple(steps), n_inputs, n_outputs), arrays


# ==== random_programs(): multi-output op graphs of any dtype ====

MAX_SCALE = 1e4


@dataclass(frozen=True)
class Step:
    """One recipe: `run(pool)` returns a new tensor made from earlier pool entries."""

    text: str
    run: Callable[[list[Any]], Any]


@dataclass(frozen=True, repr=False)
class RandomProgram:
    input_types: tuple[TensorType, ...]
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]             # pool indices (inputs come first in the pool)
    graph: Graph
    inputs: tuple[np.ndarray, ...]       # sample arrays, one per graph input
    scale: float                         # bound of |value| over every step (floats)

    def __call__(self, *tensors: Any) -> tuple[Any, ...]:
        pool = list(tensors)
        for step in self.steps:
            pool.append(step.run(pool))
        return tuple(pool[i] for i in self.outputs)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:    # how hypothesis prints draws
        printer.text(repr(self))

    def __repr__(self) -> str:
        steps = "\n".join(f"  {s.text}" for s in self.steps)
        return (f"RandomProgram(scale={self.scale:g})\n{steps}\n{format_graph(self.graph)}\n"
                f"inputs={[a.tolist() for a in self.inputs]}")


@dataclass
class _Entry:
    tensor: Any
    scale: float
    is_input: bool = False


@dataclass
class _State:
    draw: Callable[[st.SearchStrategy], Any]
    dtype: dt.DType
    pool: list[_Entry]
    steps: list[Step]

    @property
    def floating(self) -> bool:
        return self.dtype.is_floating_point

    def pick(self, accept: Callable[[_Entry], bool] = lambda e: True) -> int | None:
        candidates = [i for i, e in enumerate(self.pool) if accept(e)]
        return self.draw(st.sampled_from(candidates)) if candidates else None

    def pick_broadcastable(self, i: int) -> int | None:
        return self.pick(lambda e: _broadcastable(self.pool[i].tensor.shape, e.tensor.shape))


# ---- step makers: each returns (text, run, scale) or None when it does not apply ----

_FLOAT_UNARY = {"neg": 1, "abs": 1, "relu": 1, "tanh": 0, "sin": 0, "cos": 0, "sigmoid": 0,
                "exp": -1}      # 1: keeps the bound, 0: bound 1, -1: exp
_INT_UNARY = {"neg": 1, "abs": 1, "relu": 1}


def _unary(s: _State) -> tuple | None:
    i = s.pick()
    name = s.draw(st.sampled_from(sorted(_FLOAT_UNARY if s.floating else _INT_UNARY)))
    bound = s.pool[i].scale
    kind = (_FLOAT_UNARY if s.floating else _INT_UNARY)[name]
    if kind == -1 and bound > 4:
        return None
    scale = bound if kind == 1 else (1.0 if kind == 0 else math.exp(bound))
    return f"{name}(%{i})", lambda p: getattr(p[i], name)(), scale


_BINARY = {"add": (operator.add, lambda a, b: a + b), "sub": (operator.sub, lambda a, b: a + b),
           "mul": (operator.mul, lambda a, b: a * b), "maximum": (maximum, max),
           "minimum": (minimum, max)}


def _binary(s: _State) -> tuple | None:
    i = s.pick()
    j = s.pick_broadcastable(i)
    name = s.draw(st.sampled_from(sorted(_BINARY)))
    fn, bound = _BINARY[name]
    return f"{name}(%{i}, %{j})", lambda p: fn(p[i], p[j]), bound(s.pool[i].scale, s.pool[j].scale)


_FLOAT_LITERALS = [("add", 0.0), ("add", -0.0), ("radd", 0.0), ("sub", 0.0), ("sub", -0.0),
                   ("rsub", 1.0), ("mul", 1.0), ("rmul", 1.0), ("mul", -0.5), ("mul", 2.0),
                   ("truediv", 1.0), ("truediv", 2.0), ("pow", 0.0), ("pow", 1.0), ("pow", 2.0),
                   ("add", 1.5)]
_INT_LITERALS = [("add", 0), ("radd", 0), ("sub", 0), ("rsub", 2), ("mul", 1), ("rmul", 1),
                 ("mul", -3), ("pow", 0), ("pow", 1), ("pow", 2)]


def _literal(s: _State) -> tuple | None:
    i = s.pick()
    name, c = s.draw(st.sampled_from(_FLOAT_LITERALS if s.floating else _INT_LITERALS))
    scale = _literal_scale(name, c, s.pool[i].scale)
    if name.startswith("r"):
        fn = getattr(operator, name[1:])
        return f"{name[1:]}({c!r}, %{i})", lambda p: fn(c, p[i]), scale
    fn = getattr(operator, name)
    return f"{name}(%{i}, {c!r})", lambda p: fn(p[i], c), scale


def _literal_scale(name: str, c: float, bound: float) -> float:
    if name == "pow":
        return bound ** c if c else 1.0
    if name in ("mul", "rmul"):
        return bound * abs(c)
    return bound / abs(c) if name == "truediv" else bound + abs(c)


def _positive(s: _State) -> tuple | None:
    """sqrt/log of x*x + 1 and x / (y*y + 1): float math on safe domains."""
    if not s.floating:
        return None
    i = s.pick()
    j = s.pick_broadcastable(i)
    name = s.draw(st.sampled_from(["sqrt", "log", "div"]))
    a = s.pool[i].scale
    if name == "div":
        return f"%{i} / (%{j}*%{j} + 1)", lambda p: p[i] / (p[j] * p[j] + 1.0), a
    return (f"{name}(%{i}*%{i} + 1)", lambda p: getattr(p[i] * p[i] + 1.0, name)(),
            math.sqrt(a * a + 1) if name == "sqrt" else math.log(a * a + 1))


def _reduce(s: _State) -> tuple | None:
    i = s.pick()
    x = s.pool[i].tensor
    axes = tuple(s.draw(st.sets(st.integers(0, max(x.ndim - 1, 0)), max_size=x.ndim)))
    axes = tuple(sorted(a for a in axes if a < x.ndim))
    keep = s.draw(st.booleans())
    name = s.draw(st.sampled_from(["sum", "amax", "amin"]))
    dim = s.draw(st.sampled_from([axes, None])) if axes else None
    count = math.prod(x.shape[a] for a in (axes if dim is not None else range(x.ndim)))
    scale = s.pool[i].scale * (count if name == "sum" else 1)
    text = f"%{i}.{name}(dim={dim}, keepdim={keep})"
    return text, lambda p: getattr(p[i], name)(dim, keep), scale


def _sum_to(s: _State) -> tuple | None:
    i = s.pick()
    x = s.pool[i].tensor
    lead = s.draw(st.integers(0, x.ndim))
    target = tuple(1 if s.draw(st.booleans()) else n for n in x.shape[lead:])
    scale = s.pool[i].scale * (math.prod(x.shape) / max(math.prod(target), 1))
    return (f"sum_to(%{i}, {target})", lambda p: p[i]._apply("sum_to", p[i], shape=target),
            scale)


def _broadcast_target(s: _State, shape: tuple[int, ...]) -> tuple[int, ...]:
    lead = tuple(s.draw(st.lists(st.integers(1, 3), max_size=1)))
    return lead + tuple(s.draw(st.integers(1, 3)) if n == 1 else n for n in shape)


def _broadcast(s: _State) -> tuple | None:
    i = s.pick()
    target = _broadcast_target(s, tuple(s.pool[i].tensor.shape))
    return (f"broadcast_to(%{i}, {target})",
            lambda p: p[i]._apply("broadcast_to", p[i], shape=target), s.pool[i].scale)


def _broadcast_sum_to(s: _State) -> tuple | None:
    """sum_to(broadcast_to(x, t), x.shape): the adjoint pair autodiff emits."""
    i = s.pick()
    shape = tuple(s.pool[i].tensor.shape)
    target = _broadcast_target(s, shape)

    def run(p: list[Any]) -> Any:
        wide = p[i]._apply("broadcast_to", p[i], shape=target)
        return wide._apply("sum_to", wide, shape=shape)

    ratio = math.prod(target) / max(math.prod(shape), 1)
    return f"sum_to(broadcast_to(%{i}, {target}), {shape})", run, s.pool[i].scale * ratio


def _reshape_target(s: _State, shape: tuple[int, ...]) -> tuple[int, ...]:
    size = math.prod(shape)
    choices = [shape, (size,), tuple(reversed(shape)), tuple(n for n in shape if n != 1),
               shape[:1] + (1,) + shape[1:]]
    return s.draw(st.sampled_from(choices))


def _reshape(s: _State) -> tuple | None:
    i = s.pick()
    first = _reshape_target(s, tuple(s.pool[i].tensor.shape))
    second = _reshape_target(s, first) if s.draw(st.booleans()) else None

    return _once_or_twice(s, i, "reshape", "shape", first, second)


def _transpose(s: _State) -> tuple | None:
    i = s.pick()
    axes = list(range(s.pool[i].tensor.ndim))
    first = tuple(s.draw(st.permutations(axes)))
    second = tuple(s.draw(st.permutations(axes))) if s.draw(st.booleans()) else None

    return _once_or_twice(s, i, "transpose", "perm", first, second)


def _once_or_twice(s: _State, i: int, op: str, attr: str, first: Any, second: Any) -> tuple:
    """`op` of operand i with `attr=first`, then again with `attr=second` unless it is None."""
    def run(p: list[Any]) -> Any:
        y = p[i]._apply(op, p[i], **{attr: first})
        return y if second is None else y._apply(op, y, **{attr: second})

    return f"{op}(%{i}, {first}, then {second})", run, s.pool[i].scale


def _slice(s: _State) -> tuple | None:
    i = s.pick()
    shape = tuple(s.pool[i].tensor.shape)
    whole = s.draw(st.booleans())
    starts = tuple(0 if whole else s.draw(st.integers(0, n - 1)) for n in shape)
    stops = tuple(n if whole else s.draw(st.integers(a + 1, n))
                  for a, n in zip(starts, shape, strict=True))
    steps = tuple(1 if whole else s.draw(st.integers(1, 2)) for _ in shape)
    return (f"slice(%{i}, {starts}, {stops}, {steps})",
            lambda p: p[i]._apply("slice", p[i], starts=starts, stops=stops, steps=steps),
            s.pool[i].scale)


def _concat(s: _State) -> tuple | None:
    i = s.pick(lambda e: e.tensor.ndim > 0)
    if i is None:
        return None
    x = s.pool[i].tensor
    axis = s.draw(st.integers(0, x.ndim - 1))
    j = s.pick(lambda e: e.tensor.ndim == x.ndim and all(
        a == b for k, (a, b) in enumerate(zip(e.tensor.shape, x.shape, strict=True)) if k != axis))
    scale = max(s.pool[i].scale, s.pool[j].scale)
    return f"concat([%{i}, %{j}], {axis})", lambda p: concat([p[i], p[j]], axis), scale


def _matmul(s: _State) -> tuple | None:
    i = s.pick(lambda e: e.tensor.ndim > 0)
    if i is None:
        return None
    a = s.pool[i].tensor
    j = s.pick(lambda e: _matmul_ok(a.shape, e.tensor.shape))
    k = a.shape[-1]
    if j is None or s.draw(st.booleans()):       # a @ a.T (or a dot a for vectors)
        scale = s.pool[i].scale ** 2 * k
        return f"%{i} @ %{i}.mT", lambda p: p[i] @ (p[i].mT if p[i].ndim > 1 else p[i]), scale
    return f"%{i} @ %{j}", lambda p: p[i] @ p[j], s.pool[i].scale * s.pool[j].scale * k


def _matmul_ok(a: Sequence[int], b: Sequence[int]) -> bool:
    if not b or b[-2 if len(b) > 1 else 0] != a[-1]:
        return False
    return _broadcastable(tuple(a[:-2]), tuple(b[:-2]))


def _where(s: _State) -> tuple | None:
    c = s.pick(lambda e: e.is_input or not s.floating)     # conditions never depend on rounding
    a = s.pick_broadcastable(c)
    b = a if s.draw(st.booleans()) else s.pick(
        lambda e: _broadcastable(s.pool[c].tensor.shape, s.pool[a].tensor.shape, e.tensor.shape))
    threshold = 0.0 if s.floating else 0
    scale = max(s.pool[a].scale, s.pool[b].scale)
    return (f"where(%{c} > {threshold}, %{a}, %{b})",
            lambda p: where(p[c] > threshold, p[a], p[b]), scale)


def _cast(s: _State) -> tuple | None:
    i = s.pick()
    other = {dt.float64: dt.float32, dt.float32: dt.float64}.get(s.dtype, dt.float64)
    if s.draw(st.booleans()):
        return f"cast(%{i}, same)", lambda p: p[i]._apply("cast", p[i], dtype=p[i].dtype), \
            s.pool[i].scale
    return f"cast(cast(%{i}, {other.short}))", lambda p: p[i].to(other).to(p[i].dtype), \
        s.pool[i].scale


def _constant(s: _State) -> tuple | None:
    i = s.pick()
    x = s.pool[i].tensor
    if s.draw(st.booleans()):
        value = s.draw(st.sampled_from([0.0, -0.0, 1.0, 2.5] if s.floating else [0, 1, 3]))
        return f"full_like(%{i}, {value!r})", lambda p: full_like(p[i], value), abs(value)
    array = s.draw(_arrays(s.dtype, tuple(x.shape)))
    return f"const({array.tolist()})", lambda p: p[i]._constant(array), 4.0


def _repeat(s: _State) -> tuple | None:
    """Re-run an earlier step on the same operands: a guaranteed common subexpression."""
    if not s.steps:
        return None
    k = s.draw(st.integers(0, len(s.steps) - 1))
    step = s.steps[k]
    entry = s.pool[len(s.pool) - len(s.steps) + k]
    return f"repeat[{step.text}]", step.run, entry.scale


_MAKERS = {"unary": _unary, "binary": _binary, "literal": _literal, "positive": _positive,
           "reduce": _reduce, "sum_to": _sum_to, "broadcast": _broadcast,
           "broadcast_sum_to": _broadcast_sum_to, "reshape": _reshape, "transpose": _transpose,
           "slice": _slice, "concat": _concat, "matmul": _matmul, "where": _where,
           "cast": _cast, "constant": _constant, "repeat": _repeat}


# ---- the strategy ----

def _elements(dtype: dt.DType) -> st.SearchStrategy:
    if dtype.is_floating_point:       # special values often: signed zeros, exact ones
        special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5])
        return st.one_of(special, st.floats(-1.0, 1.0, width=8 * dtype.itemsize))
    return st.integers(-4, 4)


def _arrays(dtype: dt.DType, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype.np, shape, elements=_elements(dtype))


@st.composite
def random_programs(draw: Callable, dtype: dt.DType = dt.float64, max_steps: int = 10,
                    max_inputs: int = 3, max_outputs: int = 3,
                    kinds: Sequence[str] = tuple(_MAKERS)) -> RandomProgram:
    """A random straight-line tensor program over 1..max_inputs inputs of dtype `dtype`."""
    shapes = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=draw(st.integers(1, max_inputs)), min_dims=0, max_dims=3, max_side=4))
    types = tuple(TensorType(tuple(shape), dtype) for shape in shapes.input_shapes)
    builder = GraphBuilder("random", record_locations=False)
    pool = [_Entry(builder.add_input(t, f"x{i}"), 1.0 if dtype.is_floating_point else 4.0, True)
            for i, t in enumerate(types)]
    state = _State(draw, dtype, pool, [])
    for _ in range(draw(st.integers(1, max_steps))):
        _add_step(state, draw(st.sampled_from(sorted(kinds))))
    outputs = _outputs(draw, len(pool), max_outputs)
    graph = builder.finish([pool[i].tensor.value for i in outputs])
    inputs = tuple(draw(_arrays(dtype, t.shape)) for t in types)
    scale = max(e.scale for e in pool)
    return RandomProgram(types, tuple(state.steps), outputs, graph, inputs, scale)


def _add_step(state: _State, kind: str) -> None:
    made = _MAKERS[kind](state)
    if made is None or made[2] > MAX_SCALE:
        return
    text, run, scale = made
    step = Step(f"%{len(state.pool)} = {text}", run)
    tensor = run([e.tensor for e in state.pool])
    state.pool.append(_Entry(tensor, scale))
    state.steps.append(step)


def _outputs(draw: Callable, size: int, max_outputs: int) -> tuple[int, ...]:
    extra = draw(st.lists(st.integers(0, size - 1), max_size=max_outputs - 1))
    return (size - 1, *extra)


# ---- comparing evaluations ----

def assert_results_close(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray],
                         scale: float = 1.0, signed_zeros: bool = True) -> None:
    """Same shapes and dtypes; integers and bools equal; floats within a tolerance relative to
    `scale` (the program's value bound), since reordered sums and BLAS kernels round
    differently, and (unless `signed_zeros` is False) where both are zero, with the same sign:
    rounding never flips the sign of an exact zero, only a rewrite that ignores it does."""
    for e, a in zip(expected, actual, strict=True):
        _assert_same_type(e, a)
        if e.dtype.kind != "f":
            np.testing.assert_array_equal(a, e)
            continue
        tol = (1e-9 if e.dtype.itemsize >= 8 else 1e-3) * max(scale, 1.0)
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol, equal_nan=True)
        if not signed_zeros:
            continue
        zeros = (a == 0) & (e == 0)
        np.testing.assert_array_equal(np.signbit(a[zeros]), np.signbit(e[zeros]),
                                      err_msg="signed zeros differ")


def assert_results_identical(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray]) -> None:
    """Bit-for-bit equality (signed zeros and NaN payloads included)."""
    for e, a in zip(expected, actual, strict=True):
        _assert_same_type(e, a)
        assert np.ascontiguousarray(e).tobytes() == np.ascontiguousarray(a).tobytes(), (e, a)


def _assert_same_type(e: np.ndarray, a: np.ndarray) -> None:
    assert (e.shape, e.dtype) == (a.shape, a.dtype), \
        f"expected {e.shape} {e.dtype}, got {a.shape} {a.dtype}"


__all__ = ["Program", "programs", "RandomProgram", "Step", "random_programs",
           "assert_results_close", "assert_results_identical", "MAX_SCALE"]
