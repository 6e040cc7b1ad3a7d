"""structural_key: blind to names, hints, locations and comments; sensitive to everything that
changes what a graph computes (ops, attributes, literals, types, constants, wiring)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from support.random_programs import programs

import tracegrad as tg
from tracegrad.ir.builder import rename
from tracegrad.ir.graph import Graph, Node, Value
from tracegrad.ir.hashing import structural_key
from tracegrad.tracer import trace


def key_of(fn, *args):
    return structural_key(trace(fn, *args).graph)


def all_values(graph):
    return list(graph.inputs) + [v for n in graph.nodes for v in n.outputs]


def strip_hints(graph: Graph, hint=lambda i: None) -> Graph:
    """The same graph with every value rebuilt under a new hint."""
    mapping = {v: Value(v.type, hint(i)) for i, v in enumerate(all_values(graph))}

    def new(x):
        return mapping.get(x, x) if isinstance(x, Value) else x

    nodes = tuple(Node(n.op, tuple(new(x) for x in n.inputs), n.attrs,
                       tuple(new(v) for v in n.outputs), None) for n in graph.nodes)
    return Graph("renamed", tuple(new(v) for v in graph.inputs), nodes,
                 tuple(new(v) for v in graph.outputs))


def test_key_is_a_sha256_hex_digest():
    key = key_of(lambda x: x + 1, np.ones(2))
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_ignores_variable_parameter_and_graph_names():
    def f(x, w):
        hidden = x @ w
        return hidden.tanh().sum()

    def another_name(inputs, weights):
        h = inputs @ weights
        activation = h.tanh()
        return activation.sum()

    args = (np.ones((2, 3)), np.ones((3, 4)))
    assert key_of(f, *args) == key_of(another_name, *args)


def test_key_ignores_locations_and_comments():
    graph = tg.make_graph(tg.grad(lambda x: (x * x).sum()))(np.ones(2))
    moved = dataclasses.replace(graph, nodes=tuple(dataclasses.replace(n, loc="elsewhere.py:1")
                                                   for n in graph.nodes), comments=())
    assert graph.comments and structural_key(moved) == structural_key(graph)


def test_key_ignores_hints_set_by_rename():
    graph = trace(lambda x: (x + 1) * 2, np.ones(2)).graph
    hints = {n.out: f"v{i}" for i, n in enumerate(graph.nodes)}
    assert structural_key(rename(graph, hints)) == structural_key(graph)


CHANGES = {
    "op": (lambda x: x.exp().sum(), lambda x: x.log().sum()),
    "sum_axes": (lambda x: x.sum(0), lambda x: x.sum(1)),
    "keepdims": (lambda x: x.sum(0), lambda x: x.sum(0, keepdim=True).reshape(3)),
    "reshape_shape": (lambda x: x.reshape(3, 2), lambda x: x.reshape(6, 1)),
    "clamp_min": (lambda x: x.clamp(min=0.0), lambda x: x.clamp(min=0.5)),
    "literal": (lambda x: x * 2.0, lambda x: x * 3.0),
    "literal_side": (lambda x: x - 1.0, lambda x: 1.0 - x),
    "operand_order": (lambda x: x.exp() - x, lambda x: x - x.exp()),
    "wiring": (lambda x: (x + 1) * x, lambda x: (x + 1) * (x + 1)),
    "cast_dtype": (lambda x: x.float(), lambda x: x.half()),
    "transpose": (lambda x: x.T.sum(0), lambda x: x.sum(0)),
    "output_count": (lambda x: (x + 1,), lambda x: (x + 1, x + 1)),
    "output_order": (lambda x: (x + 1, x * 2), lambda x: (x * 2, x + 1)),
}


def test_key_changes_with_what_the_graph_computes():
    x = np.ones((2, 3))
    for name, (f, g) in CHANGES.items():
        assert key_of(f, x) != key_of(g, x), name


def test_key_changes_with_input_types():
    f = lambda x: x + 1   # noqa: E731
    keys = {key_of(f, np.ones(2)), key_of(f, np.ones(3)), key_of(f, np.ones(2, np.float32)),
            key_of(f, np.ones((2, 1)))}
    assert len(keys) == 4


def test_key_changes_with_constant_data_not_identity():
    a, b, c = np.arange(3.0), np.arange(3.0), np.arange(3.0) + 1
    assert key_of(lambda x: x + tg.from_numpy(a), np.ones(3)) == \
        key_of(lambda x: x + tg.from_numpy(b), np.ones(3))
    assert key_of(lambda x: x + tg.from_numpy(a), np.ones(3)) != \
        key_of(lambda x: x + tg.from_numpy(c), np.ones(3))


def test_key_changes_when_only_an_attribute_of_a_node_changes():
    graph = trace(lambda x: x.clamp(min=0.0), np.ones(3)).graph
    (node,) = graph.nodes
    edited = dataclasses.replace(node, attrs=(("min", 0.25), ("max", None)))
    assert structural_key(dataclasses.replace(graph, nodes=(edited,))) != structural_key(graph)


@given(programs(), st.integers(0, 2**16))
def test_key_is_invariant_under_renaming_random_graphs(program_and_args, salt):
    program, arrays = program_and_args
    graph = trace(program, *arrays).graph
    renamed = strip_hints(graph, lambda i: f"n{(i * 7919 + salt) % 1000}")
    anonymous = strip_hints(graph)
    assert structural_key(renamed) == structural_key(anonymous) == structural_key(graph)


@given(programs())
def test_key_is_stable_across_retraces(program_and_args):
    program, arrays = program_and_args
    assert key_of(program, *arrays) == key_of(program, *arrays)


@given(programs(), st.sampled_from([0.5, 2.0, -1.0]))
def test_key_changes_when_a_literal_changes(program_and_args, literal):
    program, arrays = program_and_args
    base = key_of(program, *arrays)
    changed = key_of(lambda *xs: program(*xs) * literal, *arrays)
    same = key_of(lambda *xs: program(*xs) * literal, *arrays)
    assert changed != base and changed == same
