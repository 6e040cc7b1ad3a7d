"""The reference interpreter: one-node graphs agree with eager mode on every op sample, random
traced programs agree with eager, dtypes are exactly the recorded ones, bad inputs are clear
errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from support.random_programs import programs
from support.samples import Case, all_cases, append_case, run_eager, tolerance

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.errors import ShapeError
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.graph import Graph, Node, Value, verify
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.types import TensorType
from tracegrad.tracer import trace


def one_node_graph(case: Case) -> tuple[Graph, list[np.ndarray]]:
    """`case.op` applied to graph inputs (its array operands) and inline literals."""
    b = GraphBuilder(case.op, record_locations=False)
    arrays: list[np.ndarray] = []
    out = append_case(b, case, arrays)
    return verify(b.finish([out])), arrays


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_interpreter_agrees_with_eager_on_every_op_sample(case):
    graph, arrays = one_node_graph(case)
    (got,) = evaluate(graph, *arrays)
    expected = run_eager(case.op, case)
    assert got.dtype == graph.outputs[0].type.dtype.np == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **tolerance(got.dtype), equal_nan=True)


@given(programs(allow_max=True))
def test_trace_then_interpret_equals_eager_on_random_programs(program_and_args):
    program, arrays = program_and_args
    graph = verify(trace(program, *arrays).graph)
    (got,) = evaluate(graph, *arrays)
    expected = program(*(tg.from_numpy(a.copy()) for a in arrays)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_results_keep_the_recorded_dtype():
    graph = trace(lambda x: (x * 0.5 + 1).sum(), np.ones(3, np.float32)).graph
    (out,) = evaluate(graph, np.ones(3, np.float32))
    assert out.dtype == np.float32 and out == 4.5


def test_constants_and_fills_evaluate():
    w = tg.tensor([[1.0, 2.0]], dtype=tg.float64)
    graph = trace(lambda x: (x + w, 2.5, 7), np.ones((1, 2))).graph
    a, b, c = evaluate(graph, np.ones((1, 2)))
    np.testing.assert_array_equal(a, [[2.0, 3.0]])
    assert b.shape == () and b == 2.5 and b.dtype == np.float32
    assert c.shape == () and c == 7 and c.dtype == np.int64


def test_an_input_returned_as_is():
    graph = trace(lambda x, y: (y, x), np.ones(1), np.zeros(1)).graph
    y, x = evaluate(graph, np.ones(1), np.zeros(1))
    assert y == 0 and x == 1


def test_inputs_are_cast_to_the_declared_dtype():
    graph = trace(lambda x: x / 2, np.ones(2)).graph
    (out,) = evaluate(graph, np.array([1, 3]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.5, 1.5])


def test_wrong_number_of_inputs():
    graph = trace(lambda x, y: x + y, np.ones(2), np.ones(2)).graph
    with pytest.raises(TypeError, match="graph f takes 2 inputs, got 1"):
        evaluate(graph, np.ones(2))


def test_wrong_input_shape_names_the_input():
    graph = trace(lambda x, weights: x @ weights, np.ones(2), np.ones((2, 3))).graph
    with pytest.raises(ShapeError, match=r"input weights expects shape \[2, 3\], got \[3, 2\]"):
        evaluate(graph, np.ones(2), np.ones((3, 2)))


def test_the_interpreter_does_not_write_to_its_inputs():
    x = np.arange(4.0)
    graph = trace(lambda x: x.exp() + x, x).graph
    evaluate(graph, x)
    np.testing.assert_array_equal(x, np.arange(4.0))


def test_hand_built_graph():
    x = Value(TensorType((2, 2), dt.float64), "x")
    t, s = Value(TensorType((2, 2), dt.float64)), Value(TensorType((2,), dt.float64))
    nodes = (Node("transpose", (x,), (("perm", (1, 0)),), (t,)),
             Node("sum", (t,), (("axes", (1,)), ("keepdims", False)), (s,)))
    graph = verify(Graph("g", (x,), nodes, (s,)))
    (out,) = evaluate(graph, np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(out, [4.0, 6.0])
