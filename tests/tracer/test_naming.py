"""Names in dumps: the user's variable names captured while tracing, `out`/`out_N` for unnamed
outputs, `grad_<name>` for adjoints, `%N` for the rest, `_1` suffixes on collisions."""

from __future__ import annotations

import sys

import numpy as np

import tracegrad as tg
from tracegrad.ir.printer import value_names
from tracegrad.tracer import trace


def names(fn, *args):
    graph = trace(fn, *args).graph
    table = value_names(graph)
    return [table[n.out] for n in graph.nodes], [table[v] for v in graph.outputs]


def test_locals_name_the_values_they_hold():
    def f(x, w):
        h = x @ w
        h_relu = h.relu()
        return (h_relu * 2).sum()

    nodes, outs = names(f, np.ones((2, 3)), np.ones((3, 4)))
    assert nodes == ["h", "h_relu", "%0", "out"]
    assert outs == ["out"]


def test_unnamed_outputs_are_out_n_and_named_outputs_keep_their_name():
    def f(x):
        loss = x.sum()
        return loss, x * 2, x + 1

    nodes, outs = names(f, np.ones(2))
    assert outs == ["loss", "out_0", "out_1"]


def test_intermediates_without_names_are_numbered_in_order():
    nodes, _ = names(lambda x: ((x + 1) * 2 - 3).exp(), np.ones(2))
    assert nodes == ["%0", "%1", "%2", "out"]


def test_a_rebound_name_names_its_last_value():
    # Names are read from the frame's locals when it returns, so earlier bindings stay %N.
    def f(x):
        y = x + 1
        for _ in range(2):
            y = y * y
        return y.sum()

    nodes, _ = names(f, np.ones(2))
    assert nodes == ["%0", "%1", "y", "out"]


def test_loop_in_a_helper_names_each_value_once():
    def layer(x, w):
        h = x @ w
        return h.tanh()

    def net(x, w):
        for _ in range(2):
            x = layer(x, w)
        return x.sum()

    nodes, _ = names(net, np.ones((2, 2)), np.ones((2, 2)))
    assert nodes == ["h", "x_1", "h_1", "x_2", "out"]


def test_helper_local_names_win_for_the_values_it_computed():
    def normalize(v):
        centered = v - v.mean()
        return centered

    def f(x):
        y = normalize(x)
        return y * 2

    nodes, outs = names(f, np.ones(3))
    assert "centered" in nodes and "y" not in nodes
    assert outs == ["out"]


def test_private_locals_and_the_inputs_are_not_renamed():
    def f(x):
        _tmp = x + 1
        alias = x           # an input keeps its parameter name
        return _tmp * alias

    graph = trace(f, np.ones(2)).graph
    table = value_names(graph)
    assert table[graph.inputs[0]] == "x"
    assert [table[n.out] for n in graph.nodes] == ["%0", "out"]


def test_user_name_out_collides_with_unnamed_output():
    def f(x):
        out = x + 1
        return out, out * 2

    _, outs = names(f, np.ones(1))
    assert outs == ["out", "out_1"]


def test_names_of_nested_arguments():
    graph = trace(lambda params, xs: params["w"] * xs[0] + xs[1],
                  {"w": np.ones(2)}, [np.ones(2), np.ones(2)]).graph
    assert [v.hint for v in graph.inputs] == ["params_w", "xs_0", "xs_1"]


def test_gradient_values_are_grad_of_their_primal():
    def f(x, w):
        h = x @ w
        y = h.tanh()
        return (y * y).sum()

    graph = tg.make_graph(tg.grad(f, argnums=(0, 1)))(np.ones((2, 3)), np.ones((3, 2)))
    table = value_names(graph)
    named = {table[n.out] for n in graph.nodes}
    assert {"out", "grad_out", "grad_y", "grad_h", "grad_x", "grad_w"} <= named
    assert [table[v] for v in graph.outputs] == ["grad_x", "grad_w"]


def test_second_order_names_are_grad_grad():
    def f(x):
        y = x.sin()
        return (y * y).sum()

    graph = tg.make_graph(tg.grad(lambda x: tg.grad(f)(x).sum()))(np.ones(2))
    named = {value_names(graph)[n.out] for n in graph.nodes}
    assert {"grad_x", "grad_grad_x"} <= named
    assert any(name.startswith("grad_y") for name in named)


def test_name_capture_restores_the_previous_profiler():
    calls = []

    def profiler(frame, event, arg):
        calls.append(event)

    sys.setprofile(profiler)
    try:
        trace(lambda x: x + 1, np.ones(1))
    finally:
        current = sys.getprofile()
        sys.setprofile(None)
    assert current is profiler
    assert calls                     # the outer profiler kept seeing events during the trace
