"""Per-op sample inputs for the op-table test, and the "worlds" that run an op on them.

`SAMPLES[op_name]` is a list of `Case`s: operands (numpy arrays, or Python scalars for inline
literals) and attrs, exactly as `OpDef.infer`/`OpDef.compute` take them. Cases cover 0-d and
size-1 dims, several shapes, negative values, integer and bool operands where the op accepts
them. A case with `grad=True` has float64 operands placed away from kinks and outside bad
domains (relu/abs/clamp away from 0 and the bounds, log/sqrt on positives, distinct values for
max/min), so finite differences are valid there.

A world runs one op on one case and returns a numpy array: `run_eager` today; the IR
interpreter and compiled kernels join as `run_interpreted` / `run_compiled` in `WORLDS`.
Gradient worlds live in `support/gradcheck.py`; `op_function` builds the function of the
differentiable operands that they check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tracegrad
from tracegrad import dtypes as dt
from tracegrad.ir.ops import OPS
from tracegrad.ir.ops.creation import ArrayConst
from tracegrad.ir.types import TensorType

_RNG = np.random.default_rng(20240611)


@dataclass(frozen=True)
class Case:
    """One sample of one op: `OPS[op].compute(*operands, **attrs)` is its reference."""

    op: str
    operands: tuple[Any, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    grad: bool = False     # finite-difference gradient checks are valid at this point

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label or describe(self.operands, self.attrs)}"

    @property
    def diff_indices(self) -> tuple[int, ...]:
        """Positions of the operands that gradients are taken with respect to (float arrays)."""
        return tuple(i for i, x in enumerate(self.operands)
                     if isinstance(x, np.ndarray) and x.dtype.kind == "f")

    def types(self) -> tuple[Any, ...]:
        return tuple(type_of(x) for x in self.operands)

    def reference(self) -> np.ndarray:
        return np.asarray(OPS[self.op].compute(*self.operands, **self.attrs))


def append_case(builder: Any, case: Case, arrays: list[np.ndarray]) -> Any:
    """The case's op appended to `builder` (a GraphBuilder) on fresh graph inputs, one per array
    operand (collected in `arrays`), with the other operands inline as literals."""
    operands = []
    for x in case.operands:
        if isinstance(x, np.ndarray):
            operands.append(builder.add_input(TensorType(x.shape, dt.from_numpy_dtype(x.dtype))).value)
            arrays.append(x)
        else:
            operands.append(x)
    return builder.append(case.op, operands, dict(case.attrs))


def type_of(x: Any) -> Any:
    """A TensorType for an array operand; a literal stays a Python scalar."""
    if isinstance(x, np.ndarray):
        return TensorType(x.shape, dt.from_numpy_dtype(x.dtype))
    return x


def describe(operands: tuple[Any, ...], attrs: Mapping[str, Any]) -> str:
    parts = [str(type_of(x)) if isinstance(x, np.ndarray) else repr(x) for x in operands]
    parts += [f"{k}={_attr_text(v)}" for k, v in attrs.items()]
    return ",".join(parts).replace(" ", "")


def _attr_text(v: Any) -> str:
    if isinstance(v, dt.DType):
        return v.short
    if isinstance(v, ArrayConst):
        return str(v.type)
    return repr(v)


# ---- value generators ----

def normal(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(_RNG.standard_normal(shape), dtype=dtype)


def uniform(lo: float, hi: float, *shape: int, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(_RNG.uniform(lo, hi, shape), dtype=dtype)


def away(*shape: int, points: tuple[float, ...] = (0.0,), margin: float = 0.2,
         dtype: Any = np.float64) -> np.ndarray:
    """Normal values pushed at least `margin` away from each kink in `points`."""
    x = np.asarray(_RNG.standard_normal(shape) * 1.5)
    for p in points:
        near = np.abs(x - p) < margin
        x = np.where(near, p + np.where(x >= p, margin, -margin) * 1.5, x)
    return x.astype(dtype)


def distinct(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    """A shuffled grid with gaps of 0.25, so max/min have no ties even under a 1e-6 nudge."""
    n = int(np.prod(shape))
    return (_RNG.permutation(n) * 0.25 - n * 0.1).reshape(shape).astype(dtype)


def ints(lo: int, hi: int, *shape: int, dtype: Any = np.int64) -> np.ndarray:
    return _RNG.integers(lo, hi, shape).astype(dtype)


def bools(*shape: int) -> np.ndarray:
    return _RNG.random(shape) < 0.5


def _c(op: str, *operands: Any, label: str = "", grad: bool = False, **attrs: Any) -> Case:
    return Case(op, tuple(operands), dict(attrs), label, grad)


# ---- elementwise ----

def _unary_float(op: str, gen: Callable[..., np.ndarray]) -> list[Case]:
    return [
        _c(op, gen(), grad=True),
        _c(op, gen(1), grad=True),
        _c(op, gen(3, 4), grad=True),
        _c(op, gen(2, 1, 3), grad=True),
        _c(op, gen(3, 4, dtype=np.float32)),
        _c(op, gen(5, dtype=np.float16)),
    ]


_FLOAT_UNARY = {
    "exp": lambda *s, dtype=np.float64: uniform(-2.0, 2.0, *s, dtype=dtype),
    "log": lambda *s, dtype=np.float64: uniform(0.3, 3.0, *s, dtype=dtype),
    "log1p": lambda *s, dtype=np.float64: uniform(-0.7, 3.0, *s, dtype=dtype),
    "sin": normal,
    "cos": normal,
    "tanh": normal,
    "sqrt": lambda *s, dtype=np.float64: uniform(0.3, 4.0, *s, dtype=dtype),
    "sigmoid": lambda *s, dtype=np.float64: uniform(-4.0, 4.0, *s, dtype=dtype),
    "softplus": lambda *s, dtype=np.float64: uniform(-4.0, 4.0, *s, dtype=dtype),
}


def _elementwise_cases() -> dict[str, list[Case]]:
    s: dict[str, list[Case]] = {op: _unary_float(op, gen) for op, gen in _FLOAT_UNARY.items()}
    s["exp"].append(_c("exp", np.array([-800.0, 0.0, 800.0]), label="overflow"))
    s["log"].append(_c("log", np.array([0.0, -1.0, 1.0]), label="domain_edges"))
    s["sigmoid"].append(_c("sigmoid", np.array([-800.0, 0.0, 800.0], np.float32),
                           label="saturated"))
    s["softplus"].append(_c("softplus", np.array([-100.0, 0.0, 100.0]), label="saturated"))

    s["neg"] = [*_unary_float("neg", normal),
                _c("neg", ints(-5, 5, 4)), _c("neg", ints(-5, 5, 2, 2, dtype=np.int32))]
    s["relu"] = [*_unary_float("relu", away), _c("relu", ints(-5, 5, 6)),
                 _c("relu", np.array([-1.0, 0.0, 2.0]), label="at_zero")]
    s["abs"] = [*_unary_float("abs", away), _c("abs", ints(-5, 5, 6, dtype=np.int32))]
    s["sign"] = [_c("sign", np.array([-2.0, 0.0, 3.0])), _c("sign", normal(3, 4)),
                 _c("sign", ints(-3, 3, 7)), _c("sign", np.array(-0.5))]

    bounds = (-0.5, 0.7)
    s["clamp"] = [
        _c("clamp", away(3, 4, points=bounds), min=-0.5, max=0.7, grad=True),
        _c("clamp", away(5, points=bounds), min=-0.5, max=None, grad=True),
        _c("clamp", away(2, 1, 3, points=bounds), min=None, max=0.7, grad=True),
        _c("clamp", np.array(1.25), min=-0.5, max=0.7, grad=True),
        _c("clamp", away(3, 4, points=bounds, dtype=np.float32), min=-0.5, max=0.7),
        _c("clamp", ints(-9, 9, 8), min=-2, max=3),
        _c("clamp", ints(-9, 9, 8, dtype=np.int32), min=None, max=0),
        _c("clamp", np.array([-0.5, 0.0, 0.7]), min=-0.5, max=0.7, label="at_bounds"),
    ]
    s.update(_binary_cases())
    s.update(_comparison_cases())
    s["where"] = [
        _c("where", bools(3, 4), normal(3, 4), normal(3, 4), grad=True),
        _c("where", np.array(True), normal(), normal(), grad=True),
        _c("where", bools(2, 1, 3), normal(2, 1, 3), 0.0, grad=True),
        _c("where", bools(5), 1.5, normal(5), grad=True),
        _c("where", bools(4), ints(-3, 3, 4), ints(-3, 3, 4)),
        _c("where", bools(4), bools(4), bools(4)),
        _c("where", bools(2, 3), normal(2, 3, dtype=np.float32), -1.0),
    ]
    s["cast"] = [
        _c("cast", normal(3, 4), dtype=dt.float64, grad=True),
        _c("cast", normal(3, 4), dtype=dt.float32),
        _c("cast", normal(2, 3, dtype=np.float32), dtype=dt.float64),
        _c("cast", normal(2, 3, dtype=np.float32), dtype=dt.float16),
        _c("cast", normal(5) * 3, dtype=dt.int64),
        _c("cast", ints(-5, 5, 4, dtype=np.int32), dtype=dt.float32),
        _c("cast", ints(-5, 5, 4), dtype=dt.int32),
        _c("cast", bools(2, 2), dtype=dt.float32),
        _c("cast", np.array([0.0, -1.5, 2.0]), dtype=dt.bool_),
        _c("cast", np.array(7, np.int64), dtype=dt.float64),
    ]
    s["stop_gradient"] = [_c("stop_gradient", normal(3, 4)), _c("stop_gradient", normal()),
                          _c("stop_gradient", ints(0, 5, 3))]
    return s


def _binary_cases() -> dict[str, list[Case]]:
    s: dict[str, list[Case]] = {}
    for op in ("add", "sub", "mul"):
        s[op] = [
            _c(op, normal(3, 4), normal(3, 4), grad=True),
            _c(op, normal(), normal(), grad=True),
            _c(op, normal(2, 1, 3), 2.5, grad=True),
            _c(op, -1.5, normal(4), grad=True),
            _c(op, normal(3, 4, dtype=np.float32), normal(3, 4, dtype=np.float32)),
            _c(op, ints(-9, 9, 3, 4), ints(-9, 9, 3, 4)),
            _c(op, ints(-9, 9, 5, dtype=np.int32), 3),
            _c(op, 7, ints(-9, 9, 5)),
        ]
    s["add"].append(_c("add", bools(4), bools(4)))
    nonzero = dict(points=(0.0,), margin=0.5)
    s["div"] = [
        _c("div", normal(3, 4), away(3, 4, **nonzero), grad=True),
        _c("div", normal(), away(**nonzero), grad=True),
        _c("div", normal(2, 1, 3), 2.5, grad=True),
        _c("div", 1.5, away(4, **nonzero), grad=True),
        _c("div", normal(3, dtype=np.float32), away(3, dtype=np.float32, **nonzero)),
        _c("div", np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 0.0]), label="by_zero"),
    ]
    s["pow"] = [
        _c("pow", uniform(0.3, 2.0, 3, 4), normal(3, 4), grad=True),
        _c("pow", uniform(0.3, 2.0), normal(), grad=True),
        _c("pow", normal(2, 3), 2.0, grad=True),
        _c("pow", normal(5), 3.0, grad=True),
        _c("pow", uniform(0.3, 2.0, 4), 0.5, grad=True),
        _c("pow", uniform(0.3, 2.0, 4), -1.5, grad=True),
        _c("pow", 2.0, normal(2, 2), grad=True),
        _c("pow", 0.5, normal(3), grad=True),
        _c("pow", normal(4, dtype=np.float32), 2.0),
        _c("pow", ints(-4, 4, 5), 2),
        _c("pow", ints(1, 4, 5), ints(0, 4, 5)),
        _c("pow", np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0]), label="zeros"),
    ]
    return s


def _comparison_cases() -> dict[str, list[Case]]:
    s: dict[str, list[Case]] = {}
    x = np.array([1.0, 2.0, 3.0, -1.0])
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        s[op] = [
            _c(op, x, np.array([1.0, 3.0, 2.0, -1.0])),
            _c(op, normal(3, 4), normal(3, 4)),
            _c(op, normal(), 0.0),
            _c(op, 2.0, x),
            _c(op, ints(0, 3, 2, 3), ints(0, 3, 2, 3)),
            _c(op, ints(0, 5, 4, dtype=np.int32), 2.5),
            _c(op, bools(5), bools(5)),
            _c(op, normal(2, 2, dtype=np.float32), normal(2, 2, dtype=np.float32)),
        ]
    return s


# ---- reductions ----

def _reduce_cases(op: str) -> list[Case]:
    gen = distinct if op in ("max", "min") else normal
    cases = [
        _c(op, gen(3, 4), axes=(0, 1), keepdims=False, grad=True),
        _c(op, gen(3, 4), axes=(1,), keepdims=False, grad=True),
        _c(op, gen(3, 4), axes=(0,), keepdims=True, grad=True),
        _c(op, gen(2, 3, 4), axes=(0, 2), keepdims=False, grad=True),
        _c(op, gen(2, 1, 3), axes=(1,), keepdims=True, grad=True),
        _c(op, gen(3, 4), axes=(), keepdims=False, grad=True),
        _c(op, gen(), axes=(), keepdims=False, grad=True),
        _c(op, gen(1), axes=(0,), keepdims=False, grad=True),
        _c(op, gen(3, 4, dtype=np.float32), axes=(1,), keepdims=True),
        _c(op, ints(-9, 9, 3, 4), axes=(0,), keepdims=False),
        _c(op, ints(-9, 9, 3, 4, dtype=np.int32), axes=(0, 1), keepdims=True),
    ]
    if op == "sum":
        cases.append(_c(op, np.zeros((0, 3)), axes=(0,), keepdims=False, label="empty"))
    return cases


def _arg_cases(op: str) -> list[Case]:
    return [
        _c(op, distinct(3, 4), axis=None, keepdims=False),
        _c(op, distinct(3, 4), axis=1, keepdims=False),
        _c(op, distinct(3, 4), axis=0, keepdims=True),
        _c(op, distinct(3, 4), axis=None, keepdims=True),
        _c(op, distinct(2, 3, 4), axis=2, keepdims=False),
        _c(op, np.array([1.0, 3.0, 3.0, 1.0]), axis=0, keepdims=False, label="ties"),
        _c(op, ints(0, 3, 5), axis=0, keepdims=False),
        _c(op, np.array(2.5), axis=None, keepdims=False),
    ]


def _reduction_samples() -> dict[str, list[Case]]:
    s = {op: _reduce_cases(op) for op in ("sum", "max", "min")}
    s["argmax"], s["argmin"] = _arg_cases("argmax"), _arg_cases("argmin")
    s["sum_to"] = [
        _c("sum_to", normal(3, 4), shape=(4,), grad=True),
        _c("sum_to", normal(3, 4), shape=(1, 4), grad=True),
        _c("sum_to", normal(3, 4), shape=(3, 1), grad=True),
        _c("sum_to", normal(2, 3, 4), shape=(3, 1), grad=True),
        _c("sum_to", normal(2, 3), shape=(), grad=True),
        _c("sum_to", normal(2, 3), shape=(2, 3), grad=True),
        _c("sum_to", ints(-5, 5, 3, 4), shape=(1, 4)),
        _c("sum_to", ints(-5, 5, 2, 3, dtype=np.int32), shape=(3,)),
        _c("sum_to", normal(3, 4, dtype=np.float32), shape=(4,)),
    ]
    return s


# ---- movement, linalg, sources ----

def _movement_samples() -> dict[str, list[Case]]:
    s: dict[str, list[Case]] = {}
    s["reshape"] = [
        _c("reshape", normal(3, 4), shape=(4, 3), grad=True),
        _c("reshape", normal(2, 3, 4), shape=(6, 4), grad=True),
        _c("reshape", normal(), shape=(1, 1), grad=True),
        _c("reshape", normal(1), shape=(), grad=True),
        _c("reshape", ints(0, 9, 6), shape=(2, 3)),
        _c("reshape", bools(2, 3), shape=(6,)),
    ]
    s["broadcast_to"] = [
        _c("broadcast_to", normal(4), shape=(3, 4), grad=True),
        _c("broadcast_to", normal(), shape=(2, 3), grad=True),
        _c("broadcast_to", normal(3, 1), shape=(3, 4), grad=True),
        _c("broadcast_to", normal(1), shape=(2, 1, 5), grad=True),
        _c("broadcast_to", normal(2, 3), shape=(2, 3), grad=True),
        _c("broadcast_to", ints(0, 9, 1, 3), shape=(2, 2, 3)),
        _c("broadcast_to", bools(3), shape=(2, 3)),
    ]
    s["transpose"] = [
        _c("transpose", normal(3, 4), perm=(1, 0), grad=True),
        _c("transpose", normal(2, 3, 4), perm=(2, 0, 1), grad=True),
        _c("transpose", normal(2, 3, 4), perm=(0, 2, 1), grad=True),
        _c("transpose", normal(1, 3), perm=(1, 0), grad=True),
        _c("transpose", normal(), perm=(), grad=True),
        _c("transpose", ints(0, 9, 2, 3), perm=(1, 0)),
    ]
    s["slice"] = [
        _c("slice", normal(5, 4), starts=(1, 0), stops=(4, 4), steps=(1, 2), grad=True),
        _c("slice", normal(6), starts=(0,), stops=(6,), steps=(3,), grad=True),
        _c("slice", normal(2, 3, 4), starts=(1, 0, 1), stops=(2, 3, 3), steps=(1, 1, 1), grad=True),
        _c("slice", normal(3, 4), starts=(1, 0), stops=(1, 4), steps=(1, 1), label="empty"),
        _c("slice", ints(0, 9, 7), starts=(2,), stops=(7,), steps=(2,)),
    ]
    s["unslice"] = [
        _c("unslice", normal(3, 2), starts=(1, 0), steps=(1, 2), shape=(5, 4), grad=True),
        _c("unslice", normal(2), starts=(0,), steps=(3,), shape=(6,), grad=True),
        _c("unslice", normal(1, 3, 2), starts=(1, 0, 1), steps=(1, 1, 1), shape=(2, 3, 4),
           grad=True),
        _c("unslice", ints(0, 9, 3), starts=(2,), steps=(2,), shape=(7,)),
    ]
    s["concat"] = [
        _c("concat", normal(2, 3), normal(4, 3), axis=0, grad=True),
        _c("concat", normal(2, 3), normal(2, 1), normal(2, 2), axis=1, grad=True),
        _c("concat", normal(3), axis=0, grad=True),
        _c("concat", normal(1, 2, 2), normal(1, 2, 2), axis=2, grad=True),
        _c("concat", ints(0, 9, 2), ints(0, 9, 3), axis=0),
        _c("concat", bools(1, 2), bools(2, 2), axis=0),
    ]
    s["take"] = [
        _c("take", normal(5, 3), np.array([0, 2, 2, 4]), axis=0, grad=True),
        _c("take", normal(3, 4), np.array([[3, 0], [1, 3]]), axis=1, grad=True),
        _c("take", normal(4), np.array(2), axis=0, grad=True),
        _c("take", normal(2, 3, 4), np.array([1, 1, 0]), axis=1, grad=True),
        _c("take", normal(3), np.array([], dtype=np.int64), axis=0, label="no_indices"),
        _c("take", ints(0, 9, 5), np.array([4, 0], dtype=np.int32), axis=0),
    ]
    s["scatter_add"] = [
        _c("scatter_add", normal(4, 3), np.array([0, 2, 2, 4]), axis=0, size=5, grad=True),
        _c("scatter_add", normal(3, 2, 2), np.array([[3, 0], [1, 3]]), axis=1, size=4, grad=True),
        _c("scatter_add", normal(), np.array(2), axis=0, size=4, grad=True),
        _c("scatter_add", ints(0, 9, 3), np.array([1, 1, 0]), axis=0, size=2),
    ]
    return s


def _linalg_samples() -> dict[str, list[Case]]:
    pairs = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)), ((1, 1), (1, 1)),
             ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4,)),
             ((4,), (2, 4, 3))]
    cases = [_c("matmul", normal(*a), normal(*b), grad=True) for a, b in pairs]
    cases += [_c("matmul", normal(3, 4, dtype=np.float32), normal(4, 2, dtype=np.float32)),
              _c("matmul", ints(-3, 3, 2, 3), ints(-3, 3, 3, 2))]
    return {"matmul": cases}


def _source_samples() -> dict[str, list[Case]]:
    return {
        "full": [_c("full", value=1.5, shape=(2, 3), dtype=dt.float32),
                 _c("full", value=0.0, shape=(), dtype=dt.float64),
                 _c("full", value=-2, shape=(3,), dtype=dt.int64),
                 _c("full", value=True, shape=(1, 2), dtype=dt.bool_)],
        "const": [_c("const", value=ArrayConst(normal(2, 3))),
                  _c("const", value=ArrayConst(ints(0, 5, 4, dtype=np.int32))),
                  _c("const", value=ArrayConst(np.array(True)))],
    }


def _build() -> dict[str, list[Case]]:
    samples: dict[str, list[Case]] = {}
    for part in (_elementwise_cases(), _reduction_samples(), _movement_samples(),
                 _linalg_samples(), _source_samples()):
        samples.update(part)
    order = list(OPS) + sorted(set(samples) - set(OPS))      # registry order; strays last
    return {name: samples[name] for name in order if name in samples}


SAMPLES: dict[str, list[Case]] = _build()


def all_cases() -> list[Case]:
    return [case for cases in SAMPLES.values() for case in cases]


def grad_cases() -> list[Case]:
    return [c for c in all_cases() if c.grad and OPS[c.op].vjp is not None]


# ---- worlds: run one op on one case, return numpy ----

def run_eager(op: str, case: Case) -> np.ndarray:
    """`Tensor._apply(op, ...)` on the case: the eager world."""
    return eager_apply(op, case)._data


def eager_apply(op: str, case: Case, requires_grad: bool = False) -> Any:
    """The eager output tensor; float operands require grad when asked."""
    operands = [_eager_operand(x, requires_grad) for x in case.operands]
    anchor = next((x for x in operands if isinstance(x, tracegrad.Tensor)), None)
    if anchor is None:                     # a source op: any tensor can apply it
        anchor = tracegrad.tensor(0.0)
    return anchor._apply(op, *operands, **case.attrs)


def _eager_operand(x: Any, requires_grad: bool) -> Any:
    if not isinstance(x, np.ndarray):
        return x
    t = tracegrad.from_numpy(x.copy())
    return t.requires_grad_(True) if requires_grad and x.dtype.kind == "f" else t


WORLDS: dict[str, Callable[[str, Case], np.ndarray]] = {"eager": run_eager}


def op_function(case: Case) -> Callable[..., Any]:
    """The case's op as a function of its differentiable operands, written in tensor methods
    only so that any world (eager tensors, IR symbolic tensors) can run and differentiate it.
    The other operands (integer indices, bool conditions, literals) are fixed constants."""
    diff = case.diff_indices

    def fn(*tensors: Any) -> Any:
        by_position = dict(zip(diff, tensors))
        anchor = tensors[0]
        operands = [by_position[i] if i in by_position else
                    anchor._constant(x) if isinstance(x, np.ndarray) else x
                    for i, x in enumerate(case.operands)]
        return anchor._apply(case.op, *operands, **case.attrs)

    fn.__name__ = case.op
    return fn


def diff_operands(case: Case) -> list[np.ndarray]:
    return [case.operands[i] for i in case.diff_indices]


def tolerance(dtype: np.dtype) -> dict[str, float]:
    """Comparison tolerances per result dtype: exact for integers and bools."""
    return {np.dtype(np.float16): dict(rtol=2e-3, atol=2e-3),
            np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
            np.dtype(np.float64): dict(rtol=1e-12, atol=1e-14)}.get(np.dtype(dtype),
                                                                     dict(rtol=0, atol=0))
