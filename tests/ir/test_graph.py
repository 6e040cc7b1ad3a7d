"""IR records and verify(): valid graphs pass unchanged, and each broken invariant is caught
with a message naming the node."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.ir.graph import Graph, Node, Value, VerifyError, verify
from tracegrad.ir.types import TensorType

F2 = TensorType((2,), dt.float64)
F3 = TensorType((3,), dt.float64)
SCALAR = TensorType((), dt.float64)


def sum_attrs(axes=(0,), keepdims=False):
    return (("axes", axes), ("keepdims", keepdims))


def good_graph():
    """g(x, y) = sum(exp(x) * y + 1.5)"""
    x, y = Value(F2, "x"), Value(F2, "y")
    a, b, c, s = Value(F2), Value(F2), Value(F2), Value(SCALAR)
    nodes = (Node("exp", (x,), (), (a,)),
             Node("mul", (a, y), (), (b,)),
             Node("add", (b, 1.5), (), (c,)),
             Node("sum", (c,), sum_attrs(), (s,)))
    return Graph("g", (x, y), nodes, (s,))


def replace_node(graph, i, node):
    nodes = list(graph.nodes)
    nodes[i] = node
    return dataclasses.replace(graph, nodes=tuple(nodes))


def test_verify_accepts_a_valid_graph_and_returns_it():
    graph = good_graph()
    assert verify(graph) is graph


def test_verify_accepts_every_traced_and_differentiated_graph():
    def f(x, w):
        return ((x @ w).relu() * 2).mean()

    args = (np.ones((2, 3)), np.ones((3, 4)))
    verify(tg.make_graph(f)(*args))
    verify(tg.make_graph(tg.grad(f, argnums=(0, 1)))(*args))
    verify(tg.make_graph(tg.hessian(lambda x: (x.sin() ** 2).sum()))(np.ones(3)))


def test_value_identity_semantics():
    a, b = Value(F2, "v"), Value(F2, "v")
    assert a != b and a == a
    assert len({a, b}) == 2


def test_records_are_frozen():
    graph = good_graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.name = "h"
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.nodes[0].op = "log"
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.inputs[0].hint = "z"


def test_producers_and_users():
    graph = good_graph()
    producers, users = graph.producers(), graph.users()
    assert producers[graph.outputs[0]] is graph.nodes[3]
    assert [n.op for n in users[graph.inputs[1]]] == ["mul"]
    assert graph.inputs[0] not in producers


def broken(kind):
    g = good_graph()
    x, y = g.inputs
    a, b, c, s = (n.out for n in g.nodes)
    if kind == "use_before_def":
        return replace_node(g, 1, Node("mul", (c, y), (), (b,)))
    if kind == "undefined_operand":
        return replace_node(g, 1, Node("mul", (Value(F2), y), (), (b,)))
    if kind == "defined_twice":
        return replace_node(g, 1, Node("mul", (a, y), (), (a,)))
    if kind == "redefines_input":
        return replace_node(g, 0, Node("exp", (x,), (), (y,)))
    if kind == "duplicate_input":
        return dataclasses.replace(g, inputs=(x, x))
    if kind == "wrong_type":
        return replace_node(g, 0, Node("exp", (x,), (), (Value(F3),)))
    if kind == "wrong_dtype":
        return replace_node(g, 0, Node("exp", (x,), (), (Value(TensorType((2,), dt.float32)),)))
    if kind == "wrong_arity":
        return replace_node(g, 1, Node("mul", (a,), (), (b,)))
    if kind == "missing_attr":
        return replace_node(g, 3, Node("sum", (c,), (("axes", (0,)),), (s,)))
    if kind == "attr_order":
        return replace_node(g, 3, Node("sum", (c,), tuple(reversed(sum_attrs())), (s,)))
    if kind == "unhashable_attr":
        return replace_node(g, 3, Node("sum", (c,), sum_attrs(axes=[0]), (s,)))
    if kind == "bad_operand":
        return replace_node(g, 2, Node("add", (b, "1.5"), (), (c,)))
    if kind == "array_operand":
        return replace_node(g, 2, Node("add", (b, np.ones(2)), (), (c,)))
    if kind == "two_outputs":
        return replace_node(g, 0, Node("exp", (x,), (), (a, Value(F2))))
    if kind == "unknown_op":
        return replace_node(g, 0, Node("expp", (x,), (), (a,)))
    if kind == "infer_rejects_shapes":
        z = Value(F3, "z")
        return dataclasses.replace(replace_node(g, 1, Node("mul", (a, z), (), (b,))),
                                   inputs=(x, z))
    if kind == "undefined_output":
        return dataclasses.replace(g, outputs=(Value(SCALAR),))
    if kind == "input_not_value":
        return dataclasses.replace(g, inputs=(x, "y"))
    raise AssertionError(kind)


BROKEN = {
    "use_before_def": r"node 1 \(mul\): operand .* is used before it is defined",
    "undefined_operand": r"node 1 \(mul\): operand .* is used before it is defined",
    "defined_twice": r"node 1 \(mul\) output Value\(f64\[2\], None\) is defined twice",
    "redefines_input": r"node 0 \(exp\) output Value\(f64\[2\], 'y'\) is defined twice",
    "duplicate_input": r"graph input Value\(f64\[2\], 'x'\) is defined twice",
    "wrong_type": r"node 0 \(exp\): output type \['f64\[3\]'\] differs from infer's f64\[2\]",
    "wrong_dtype": r"node 0 \(exp\): output type \['f32\[2\]'\] differs from infer's f64\[2\]",
    "wrong_arity": r"node 1 \(mul\): expected 2 operands, got 1",
    "missing_attr": r"node 3 \(sum\): attrs \('axes',\) differ from the op's declared "
                    r"\('axes', 'keepdims'\)",
    "attr_order": r"node 3 \(sum\): attrs \('keepdims', 'axes'\) differ",
    "unhashable_attr": r"node 3 \(sum\): attr axes=\[0\] is not hashable",
    "bad_operand": r"node 2 \(add\): operand '1.5' is neither a Value nor a scalar literal",
    "array_operand": r"node 2 \(add\): operand array\(.*\) is neither a Value nor a scalar",
    "two_outputs": r"node 0 \(exp\): output type \['f64\[2\]', 'f64\[2\]'\] differs",
    "unknown_op": r"node 0 \(expp\): unknown op 'expp'; known ops: .*exp",
    "infer_rejects_shapes": r"node 1 \(mul\): the op's infer rejects its operands",
    "undefined_output": r"graph output Value\(f64\[\], None\) is not defined",
    "input_not_value": r"graph input is not a Value: 'y'",
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_verify_catches_broken_graph(kind):
    with pytest.raises(VerifyError, match=BROKEN[kind]):
        verify(broken(kind))


def test_verify_error_is_a_tracegrad_error():
    assert issubclass(VerifyError, tg.TracegradError)


def test_graph_str_is_its_dump():
    text = str(good_graph())
    assert text.splitlines()[0] == "graph g(x: f64[2], y: f64[2]) {"
    assert text.splitlines()[-2:] == ["  return out", "}"]
