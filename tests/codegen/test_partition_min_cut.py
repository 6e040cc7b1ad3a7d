"""The min-cut partition: the backward recomputes cheap forward values, and the values saved are
a minimum set of bytes (checked against networkx's minimum cut), with the same numbers as saving
everything the backward reads."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from support.random_programs import random_programs

import tracegrad as tg
from tracegrad.codegen import partition as partition_module
from tracegrad.codegen.partition import partition
from tracegrad.ir.autodiff import vjp_graph
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.passes import optimize


def joint_of(graph):
    floats = tuple(j for j, v in enumerate(graph.outputs) if v.type.dtype.is_floating_point)
    joint = optimize(vjp_graph(graph, wrt=range(len(graph.inputs)), seed="inputs",
                               outputs=floats, name=graph.name))
    return joint, len(graph.inputs), len(graph.outputs), floats


def run(split, arrays, cotangents, n_out):
    forward = evaluate(split.forward, *arrays)
    return forward[:n_out], evaluate(split.backward, *forward[n_out:], *cotangents)


def saved_bytes(split, graph):
    return sum(v.type.nbytes for v in split.saved if v not in graph.inputs)


def layer(x, w1, w2, w3):
    return (x @ w1 + x @ w2 + x @ w3).exp()


def layer_inputs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s) * 0.3 for s in ((5, 4), (4, 6), (4, 6), (4, 6))]


def test_one_value_is_saved_where_three_boundary_values_would_be():
    """exp(a + b + c) of three products: its backward reads only exp's output; saving the sum
    (one array) beats saving a, b and c to recompute it; exp is recomputed from the sum."""
    arrays = layer_inputs()
    graph = optimize(tg.make_graph(layer)(*arrays))
    joint, n_in, n_out, _ = joint_of(graph)
    cut = partition(joint, n_in, n_out, fold_seed=False)
    everything = partition(joint, n_in, n_out, fold_seed=False, recompute=False)
    assert saved_bytes(cut, graph) == 5 * 6 * 8
    assert [n.op for n in cut.backward.nodes].count("exp") == 1
    assert saved_bytes(everything, graph) >= saved_bytes(cut, graph)
    u = np.random.default_rng(1).standard_normal((5, 6))
    want = evaluate(joint, *arrays, u)
    values, grads = run(cut, arrays, [u], n_out)
    np.testing.assert_array_equal(values[0], want[0])
    for got, expected in zip(grads, want[n_out:]):
        np.testing.assert_array_equal(got, expected)


def test_cheap_chains_from_the_inputs_are_recomputed():
    x, y = np.random.default_rng(2).standard_normal((2, 16))
    graph = optimize(tg.make_graph(lambda x, y: x.tanh() * y.sigmoid())(x, y))
    joint, n_in, n_out, _ = joint_of(graph)
    cut = partition(joint, n_in, n_out, fold_seed=False)
    assert saved_bytes(cut, graph) == 0
    assert {"tanh", "sigmoid"} <= {n.op for n in cut.backward.nodes}


def nx_cut_value(capacity, source, sink):
    g = nx.DiGraph()
    for u, edges in capacity.items():
        for v, c in edges.items():
            g.add_edge(u, v, capacity=c)
    g.add_node(source)
    g.add_node(sink)
    return nx.minimum_cut_value(g, source, sink)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n + 1), st.integers(0, n + 1),
                                   st.integers(0, 20)), max_size=4 * n))))
def test_max_flow_finds_a_minimum_cut(network):
    """Random networks: the cut `_max_flow` returns (edges leaving the source side) has
    networkx's minimum cut value."""
    n, edges = network
    source, sink = 0, n + 1
    capacity = {v: {} for v in range(n + 2)}
    for u, v, c in edges:
        if u != v and u != sink and v != source:
            capacity[u][v] = capacity[u].get(v, 0) + c
    original = {u: dict(e) for u, e in capacity.items()}
    reached = partition_module._max_flow(capacity, source, sink)
    assert source in reached and sink not in reached
    cut = sum(c for u, e in original.items() for v, c in e.items()
              if u in reached and v not in reached)
    assert cut == nx_cut_value(original, source, sink)


@settings(max_examples=40, deadline=None)
@given(random_programs(max_steps=8))
def test_min_cut_saves_no_more_and_computes_the_same_numbers(program):
    graph = program.graph
    joint, n_in, n_out, floats = joint_of(graph)
    if not floats:
        return
    rng = np.random.default_rng(5)
    outs = evaluate(graph, *program.inputs)
    cotangents = [rng.standard_normal(outs[j].shape) for j in floats]
    want = evaluate(joint, *program.inputs, *cotangents)
    cut = partition(joint, n_in, n_out, fold_seed=False)
    everything = partition(joint, n_in, n_out, fold_seed=False, recompute=False)
    assert saved_bytes(cut, graph) <= saved_bytes(everything, graph)
    with np.errstate(all="ignore"):
        values, grads = run(cut, program.inputs, cotangents, n_out)
    for got, expected in zip([*values, *grads], want):
        np.testing.assert_array_equal(got, expected, err_msg=repr(program))
