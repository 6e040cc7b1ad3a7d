"""simplify's outer-product rule: a matmul contracting an axis of size 1 becomes the broadcast
product, added to +0.0 as numpy's matmul sums it, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from support.random_programs import assert_results_identical

from tracegrad import dtypes as dt
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.passes import eliminate_dead_code
from tracegrad.ir.passes.simplify import simplify
from tracegrad.ir.tensor_api import full_like
from tracegrad.ir.types import TensorType

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.1, -3.5, 1e-45, -1e-300, 3e38, -3e38, np.inf, -np.inf, np.nan]


def build(fn, shapes, dtype):
    b = GraphBuilder("f", record_locations=False)
    xs = [b.add_input(TensorType(shape, dtype), name) for shape, name in zip(shapes, "ab")]
    return b.finish([fn(*xs).value])


def ops(graph, **options):
    return [n.op for n in eliminate_dead_code(simplify(graph, **options)).nodes]


def check_same_bits(graph, *arrays, **options):
    with np.errstate(all="ignore"):
        want = evaluate(graph, *arrays)[0]
        got = evaluate(simplify(graph, **options), *arrays)[0]
    assert want.shape == got.shape and want.dtype == got.dtype
    nan = np.isnan(want) if want.dtype.kind == "f" else np.zeros(want.shape, bool)
    assert np.array_equal(nan, np.isnan(got) if got.dtype.kind == "f" else nan)
    assert_results_identical([want[~nan]], [got[~nan]])


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_outer_product_is_bit_exact_with_signed_zeros_infinities_and_nan(np_dtype):
    """Every pair of special values: -1 * 0 gives +0.0 from matmul (a one-term sum from +0.0),
    not the product's -0.0; 0 * inf gives NaN on both sides."""
    n = len(SPECIAL)
    g = build(lambda a, b: a @ b, [(n, 1), (1, n)], dt.from_numpy_dtype(np_dtype))
    assert "matmul" not in ops(g) and ops(g) == ["broadcast_to", "broadcast_to", "mul", "add"]
    a = np.array(SPECIAL, np_dtype).reshape(n, 1)
    check_same_bits(g, a, a.reshape(1, n))
    with np.errstate(all="ignore"):
        assert np.signbit(evaluate(simplify(g), a, a.reshape(1, n))[0][SPECIAL.index(-1.0),
                                                                      SPECIAL.index(0.0)]) == 0


@pytest.mark.parametrize(("left", "right"), [((2, 3, 1), (1, 4)), ((3, 1), (2, 1, 4)),
                                             ((2, 1, 1), (2, 1, 5)), ((4, 1), (1, 1))])
def test_outer_product_broadcasts_batch_axes_as_matmul_does(left, right):
    g = build(lambda a, b: a @ b, [left, right], dt.float64)
    assert "matmul" not in ops(g)
    rng = np.random.default_rng(0)
    check_same_bits(g, rng.standard_normal(left), rng.standard_normal(right))


def test_a_unit_operand_drops_out():
    """The seed of a reverse pass, ones @ x^T: only the broadcast and the +0.0 remain."""
    g = build(lambda a, b: full_like(a, 1.0) @ b, [(3, 1), (1, 4)], dt.float32)
    assert ops(g) == ["broadcast_to", "add"]
    rng = np.random.default_rng(1)
    check_same_bits(g, rng.standard_normal((3, 1)).astype(np.float32),
                    np.array([[-0.0, 0.0, -2.0, np.inf]], np.float32))


def test_without_signed_zeros_the_product_alone_remains():
    g = build(lambda a, b: a @ b, [(3, 1), (1, 4)], dt.float64)
    assert ops(g, signed_zeros=False) == ["broadcast_to", "broadcast_to", "mul"]


def test_integer_outer_product_needs_no_zero():
    g = build(lambda a, b: a @ b, [(3, 1), (1, 4)], dt.int64)
    assert ops(g) == ["broadcast_to", "broadcast_to", "mul"]
    check_same_bits(g, np.array([[1], [-2], [3]]), np.array([[4, -5, 6, 0]]))


@pytest.mark.parametrize(("left", "right"), [((3, 2), (2, 4)), ((3,), (3,)), ((1,), (1,)),
                                             ((1, 1), (1,)), ((1,), (1, 4))])
def test_other_products_stay_matmul(left, right):
    """A real contraction, and 1-D operands (numpy's dot of length 1 keeps -0.0)."""
    g = build(lambda a, b: a @ b, [left, right], dt.float64)
    assert "matmul" in ops(g)


def test_seed_through_a_one_element_dot_is_elementwise():
    """The gradient of x @ x for x of shape (1,): no matmul is left in the reverse pass."""
    import tracegrad as tg
    from tracegrad.ir.autodiff import vjp_graph
    from tracegrad.ir.passes import optimize

    graph = tg.make_graph(lambda x: x @ x)(np.array([3.0]))
    joint = optimize(vjp_graph(graph, wrt=(0,), seed="inputs", outputs=(0,), name="f"))
    assert [n.op for n in joint.nodes].count("matmul") == 1        # the forward dot only
    for x in (np.array([3.0]), np.array([-0.0]), np.array([np.inf])):
        want = evaluate(vjp_graph(graph, wrt=(0,), seed="inputs", outputs=(0,), name="f"), x,
                        np.array(1.0))
        assert_results_identical(list(want), list(evaluate(joint, x, np.array(1.0))))
