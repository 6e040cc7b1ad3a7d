"""simplify's negation rules: neg moves out of products/quotients and into differences, exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support.random_programs import assert_results_identical

from tracegrad import dtypes as dt
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.passes import eliminate_common_subexpressions, eliminate_dead_code, optimize
from tracegrad.ir.passes.simplify import simplify
from tracegrad.ir.types import TensorType

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.1, -3.5, 1e-45, -1e-45, 3e38, -3e38, np.inf, -np.inf]


def build(fn, dtype=dt.float32, n=2):
    b = GraphBuilder("f", record_locations=False)
    xs = [b.add_input(TensorType((len(SPECIAL) ** 2,), dtype), name) for name in "xy"[:n]]
    outs = fn(*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    return b.finish([o.value for o in outs])


def pairs(np_dtype):
    a, b = zip(*itertools.product(SPECIAL, SPECIAL), strict=True)
    return np.array(a, dtype=np_dtype), np.array(b, dtype=np_dtype)


def ops(graph):
    return [n.op for n in eliminate_dead_code(simplify(graph)).nodes]


RULES = {
    "neg_a_mul_b": (lambda x, y: (-x) * y, ["mul", "neg"]),
    "a_mul_neg_b": (lambda x, y: x * (-y), ["mul", "neg"]),
    "neg_a_div_b": (lambda x, y: (-x) / y, ["div", "neg"]),
    "a_div_neg_b": (lambda x, y: x / (-y), ["div", "neg"]),
    "neg_a_mul_neg_b": (lambda x, y: (-x) * (-y), ["mul"]),
    "neg_a_div_neg_b": (lambda x, y: (-x) / (-y), ["div"]),
    "neg_a_mul_neg_a": (lambda x, y: (-x) * (-x), ["mul"]),
    "a_add_neg_b": (lambda x, y: x + (-y), ["sub"]),
    "neg_a_add_b": (lambda x, y: (-x) + y, ["sub"]),
    "a_sub_neg_b": (lambda x, y: x - (-y), ["add"]),
}


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("make", "expected"), RULES.values(), ids=RULES.keys())
def test_simplify_negation_rules_are_bit_exact(make, expected, np_dtype):
    """Signed zeros, infinities, subnormals and overflow give the same bits (0/0, inf-inf and
    0*inf give NaN on both sides: compared as NaN, as the sign of a NaN is not kept)."""
    g = build(make, dt.from_numpy_dtype(np_dtype))
    out = optimize(g)
    assert ops(g) == expected
    x, y = pairs(np_dtype)
    with np.errstate(all="ignore"):
        want, got = evaluate(g, x, y)[0], evaluate(out, x, y)[0]
    nan = np.isnan(want)
    assert np.array_equal(nan, np.isnan(got))
    assert_results_identical([want[~nan]], [got[~nan]])


def test_simplify_negation_lets_cse_share_products():
    """(-x) * x and x * x become one product; g * (-x) and -(g * x) one term."""
    g = build(lambda x, y: ((-x) * x + x * x, y * (-x) + (-(y * x))))
    out = eliminate_dead_code(eliminate_common_subexpressions(simplify(g)))
    assert [n.op for n in out.nodes] == ["mul", "sub", "mul", "neg", "sub"]


def test_simplify_negation_keeps_promoting_and_integer_nodes():
    """neg before a promotion (i32 -> f64) is not moved: -(-2**31) wraps in int32."""
    b = GraphBuilder("f", record_locations=False)
    i = b.add_input(TensorType((2,), dt.int32), "i")
    f = b.add_input(TensorType((2,), dt.float64), "f")
    g = b.finish([((-i) * f).value, ((-i) * i).value])
    assert [n.op for n in simplify(g).nodes] == [n.op for n in g.nodes]
