"""trace(): arguments and outputs of every supported kind, Python control flow on static facts,
in-place ops turned pure, source locations on every node, and trace + interpret == eager."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from support.locations import loc_of

import tracegrad as tg
from tracegrad.ir.graph import verify
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.printer import format_graph
from tracegrad.tracer import Proxy, trace
from tracegrad.tracer.trace import concrete_array

HERE = __file__


def run(fn, *args, **kwargs):
    """Trace `fn`, check the graph, and evaluate it on the array leaves of the arguments."""
    traced = trace(fn, *args, **kwargs)
    verify(traced.graph)
    leaves = tg.tracer.flatten((args, kwargs))[0]
    arrays = [concrete_array(leaves[i]) for i in traced.tensor_leaves]
    outs = evaluate(traced.graph, *arrays)
    return traced, tg.tracer.unflatten(traced.out_tree, outs)


def ops_of(graph):
    return [n.op for n in graph.nodes]


# ---- arguments ----

def test_trace_numpy_array_arguments_become_typed_inputs():
    traced, out = run(lambda x, w: x @ w, np.ones((2, 3)), np.ones((3, 4), np.float32))
    assert [str(v.type) for v in traced.graph.inputs] == ["f64[2,3]", "f32[3,4]"]
    assert [v.hint for v in traced.graph.inputs] == ["x", "w"]
    assert ops_of(traced.graph) == ["cast", "matmul"]          # f32 promoted to f64, explicitly
    np.testing.assert_array_equal(out, np.full((2, 4), 3.0))


def test_trace_eager_tensor_arguments_become_inputs_with_their_dtype():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    traced, out = run(lambda x: x * 2, x)
    assert str(traced.graph.inputs[0].type) == "f32[1,2]"
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[2.0, 4.0]])


def test_trace_python_scalars_are_baked_in_as_literals():
    traced, out = run(lambda x, scale, n: x * scale + n, np.ones(3), 2.5, 4)
    assert len(traced.graph.inputs) == 1 and traced.tensor_leaves == (0,)
    text = format_graph(traced.graph)
    assert "mul(x, 2.5)" in text and "add(%0, 4.0)" in text
    np.testing.assert_array_equal(out, [6.5, 6.5, 6.5])


def test_trace_python_scalar_is_part_of_the_cache_signature():
    calls = []

    def f(x, scale):
        calls.append(scale)
        return (x * scale).sum()

    g = tg.grad(f)
    x = np.ones(3)
    np.testing.assert_array_equal(g(x, 2.0).numpy(), [2.0] * 3)
    np.testing.assert_array_equal(g(x, 3.0).numpy(), [3.0] * 3)     # a new value: a new graph
    np.testing.assert_array_equal(g(x, 2.0).numpy(), [2.0] * 3)     # cached
    np.testing.assert_array_equal(g(np.ones(4), 2.0).numpy(), [2.0] * 4)   # a new shape
    assert calls == [2.0, 3.0, 4 * 0 + 2.0]


def test_trace_nested_tuple_list_dict_arguments():
    def f(params, batch, *, opts):
        (x, y), w = batch, params["layers"][0]["w"]
        z = (x @ w - y) * opts["scale"]
        return (z * z).sum()

    params = {"layers": [{"w": np.ones((3, 2))}]}
    batch = (np.ones((4, 3)), np.zeros((4, 2)))
    traced, out = run(f, params, batch, opts={"scale": 0.5})
    assert [v.hint for v in traced.graph.inputs] == ["params_layers_0_w", "batch_0", "batch_1"]
    assert out == pytest.approx(4 * 2 * 1.5 ** 2)


def test_trace_namedtuple_argument_and_output():
    from collections import namedtuple
    Pair = namedtuple("Pair", ["a", "b"])
    traced, out = run(lambda p: Pair(p.b, p.a * 2), Pair(np.ones(2), np.zeros(2)))
    assert isinstance(out, Pair)
    np.testing.assert_array_equal(out.a, [0, 0])
    np.testing.assert_array_equal(out.b, [2, 2])


def test_trace_nested_outputs_keep_their_structure():
    def f(x):
        return {"sum": x.sum(), "parts": [x * 2, (x + 1, 3.0)], "same": x}

    traced, out = run(f, np.arange(3.0))
    assert set(out) == {"sum", "parts", "same"}
    assert out["sum"] == 3.0
    np.testing.assert_array_equal(out["parts"][0], [0, 2, 4])
    np.testing.assert_array_equal(out["parts"][1][0], [1, 2, 3])
    assert out["parts"][1][1].shape == () and out["parts"][1][1] == 3.0
    np.testing.assert_array_equal(out["same"], [0, 1, 2])
    assert traced.graph.outputs[-1] is traced.graph.inputs[0]       # an input returned as is


def test_trace_python_number_output_is_a_0d_constant():
    traced, out = run(lambda x: (x, 3.0, 2, True), np.ones(1))
    types = [str(v.type) for v in traced.graph.outputs[1:]]
    assert types == ["f32[]", "i64[]", "bool[]"]
    assert [o.item() for o in out[1:]] == [3.0, 2, True]


def test_trace_captured_eager_tensor_and_array_constant():
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64)
    traced, out = run(lambda x: x @ w, np.ones((1, 2)))
    assert ops_of(traced.graph) == ["const", "matmul"]
    np.testing.assert_array_equal(out, [[4.0, 6.0]])


def test_trace_keyword_arguments_are_inputs_named_after_the_parameter():
    traced, out = run(lambda x, *, bias: x + bias, np.ones(2), bias=np.full(2, 3.0))
    assert [v.hint for v in traced.graph.inputs] == ["x", "bias"]
    np.testing.assert_array_equal(out, [4.0, 4.0])


def test_trace_varargs_are_named_by_position():
    traced, _ = run(lambda *xs: xs[0] + xs[1], np.ones(2), np.ones(2))
    assert [v.hint for v in traced.graph.inputs] == ["xs_0", "xs_1"]


# ---- Python control flow on static facts ----

def test_trace_loop_over_shape_unrolls():
    def f(x):
        total = x[0]
        for i in range(1, x.shape[0]):
            total = total + x[i]
        return total

    traced, out = run(f, np.arange(12.0).reshape(4, 3))
    assert ops_of(traced.graph).count("add") == 3
    np.testing.assert_array_equal(out, np.arange(12.0).reshape(4, 3).sum(0))


def test_trace_iterating_a_proxy_unrolls_over_the_first_axis():
    traced, out = run(lambda x: sum(row * i for i, row in enumerate(x)), np.ones((3, 2)))
    np.testing.assert_array_equal(out, [3.0, 3.0])
    assert len(trace(lambda x: len(x), np.ones((5, 2))).graph.nodes) == 1   # len() is static


def test_trace_branches_on_shape_dtype_and_constants():
    def f(x, mode):
        if x.ndim == 2 and x.shape[1] > 1:
            x = x.sum(1)
        if x.dtype == tg.float32:
            x = x.double()
        if mode == "square":
            return x * x
        return x

    traced, out = run(f, np.ones((2, 3), np.float32), "square")
    assert ops_of(traced.graph) == ["sum", "cast", "mul"]
    np.testing.assert_array_equal(out, [9.0, 9.0])
    traced, out = run(f, np.ones(2), "identity")
    assert ops_of(traced.graph) == []
    assert traced.graph.outputs == traced.graph.inputs


def test_trace_each_call_records_a_fresh_graph():
    def f(x):
        return x + 1

    g1 = trace(f, np.ones(2)).graph
    g2 = trace(f, np.ones(3)).graph
    assert str(g1.inputs[0].type) == "f64[2]" and str(g2.inputs[0].type) == "f64[3]"


# ---- in-place operations become pure ops ----

def test_trace_inplace_arithmetic_is_pure():
    def f(x):
        y = x * 1.0
        y += 1
        y *= x
        y -= 0.5
        y /= 2
        y.add_(x, alpha=2).clamp_(min=0.0)
        return x, y

    x = np.array([-3.0, 1.0, 2.0])
    traced, (x_out, y) = run(f, x)
    assert traced.graph.outputs[0] is traced.graph.inputs[0]     # x itself was not changed
    expected = np.maximum(((x + 1) * x - 0.5) / 2 + 2 * x, 0)
    np.testing.assert_allclose(y, expected)
    np.testing.assert_array_equal(x_out, x)
    assert len({v for n in traced.graph.nodes for v in n.outputs}) == len(traced.graph.nodes)


def test_trace_inplace_on_an_input_rebinds_only_the_proxy():
    def f(x):
        before = x
        x += 1                     # the caller's array is untouched: the proxy names a new value
        return before, x

    arg = np.zeros(2)
    traced, (before, after) = run(f, arg)
    np.testing.assert_array_equal(arg, [0, 0])
    np.testing.assert_array_equal(before, [1, 1])    # `before` is the same proxy object, rebound
    np.testing.assert_array_equal(after, [1, 1])


def test_trace_inplace_matches_eager():
    def f(x):
        y = x * 1.0
        y[0] = 5.0
        y[1:, 0] = x[0, 1:]
        y.fill_(0.0) if y.shape[0] > 10 else None
        y.zero_() if y.shape[0] > 10 else None
        y.mul_(x).sub_(1.0).div_(2.0)
        return y

    x = np.arange(9.0).reshape(3, 3) - 4
    _, out = run(f, x)
    np.testing.assert_array_equal(out, f(tg.from_numpy(x.copy())).numpy())


def test_trace_setitem_forms_match_numpy():
    def f(x, v):
        y = x * 1.0
        y[0, 0] = 7.0                       # integer index
        y[1] = v                            # a row from a traced tensor
        y[:, 2] = -1.0                      # a column
        y[[0, 2], 1] = 9.0                  # a list index
        y[y.shape[0] - 1, :2] = v[:2] * 2   # static arithmetic on shapes
        return y

    x, v = np.arange(12.0).reshape(3, 4), np.array([10.0, 20.0, 30.0, 40.0])
    expected = x.copy()
    expected[0, 0] = 7.0
    expected[1] = v
    expected[:, 2] = -1.0
    expected[[0, 2], 1] = 9.0
    expected[2, :2] = v[:2] * 2
    traced, out = run(f, x, v)
    np.testing.assert_array_equal(out, expected)
    assert {"where", "scatter_add"} <= set(ops_of(traced.graph))


def test_trace_setitem_with_traced_bool_mask_becomes_where():
    def f(x):
        y = x * 1.0
        y[x < 0] = 0.0
        return y

    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    traced, out = run(f, x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    assert "where" in ops_of(traced.graph)


def test_setitem_gradient_matches_eager():
    def f(x):
        y = x * x
        y[0] = 5.0
        y[1:, 0] = x[0, 1:] * 3
        return (y * y).sum()

    x = np.arange(9.0).reshape(3, 3) - 4
    xt = tg.tensor(x, dtype=tg.float64, requires_grad=True)
    f(xt).backward()
    np.testing.assert_allclose(tg.grad(f)(x).numpy(), xt.grad.numpy())


# ---- source locations ----

def test_every_node_records_the_users_line():
    def f(x, w):
        h = x @ w               # @loc-matmul
        y = h.tanh()            # @loc-tanh
        return (y * y).sum()    # @loc-loss

    graph = trace(f, np.ones((2, 3)), np.ones((3, 2))).graph
    locs = [n.loc for n in graph.nodes]
    assert locs == [loc_of(HERE, "@loc-matmul"), loc_of(HERE, "@loc-tanh"),
                    loc_of(HERE, "@loc-loss"), loc_of(HERE, "@loc-loss")]


def test_nodes_made_inside_tracegrad_carry_the_calling_users_line():
    def f(x):
        # mean is a composite (sum, div) built inside tracegrad
        return x.mean(0)        # @loc-mean

    graph = trace(f, np.ones((4, 3))).graph
    assert len(graph.nodes) >= 2
    assert {n.loc for n in graph.nodes} == {loc_of(HERE, "@loc-mean")}


def test_verbose_dump_shows_file_and_line():
    def f(x):
        return x.exp()          # @loc-exp

    text = format_graph(trace(f, np.ones(2)).graph, verbose=True)
    line = loc_of(HERE, "@loc-exp").rpartition(":")[2]
    assert f"# test_trace.py:{line}  uses=1" in text


def test_adjoint_nodes_carry_the_line_of_the_forward_node():
    def f(x, w):
        h = x @ w               # @adj-matmul
        y = h.tanh()            # @adj-tanh
        return (y * y).sum()    # @adj-loss

    graph = tg.make_graph(tg.grad(f, argnums=1))(np.ones((2, 3)), np.ones((3, 2)))
    by_name = {v.hint: n for n in graph.nodes for v in n.outputs if v.hint}
    assert by_name["grad_w"].loc == loc_of(HERE, "@adj-matmul")
    assert by_name["grad_h"].loc == loc_of(HERE, "@adj-tanh")
    assert by_name["grad_y"].loc == loc_of(HERE, "@adj-loss")
    assert by_name["grad_out"].loc == loc_of(HERE, "@adj-loss")    # the seed: the output's line
    start = graph.comments[0][0]
    allowed = {loc_of(HERE, m) for m in ("@adj-matmul", "@adj-tanh", "@adj-loss")}
    assert all(n.loc in allowed for n in graph.nodes[start:])


# ---- trace + interpret == eager ----

_UNARY = ["exp", "tanh", "sin", "relu", "abs", "sigmoid", "neg"]


@given(data=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                       elements=st.floats(-3, 3)),
       ops=st.lists(st.sampled_from(_UNARY), min_size=1, max_size=4),
       axis=st.sampled_from([None, 0, -1]))
def test_trace_then_interpret_equals_eager(data, ops, axis):
    def f(x):
        y = x
        for name in ops:
            y = getattr(y, name)() * 0.5 + y
        return y.sum(axis) if (axis is None or y.ndim) else y

    _, out = run(f, data)
    np.testing.assert_allclose(out, f(tg.from_numpy(data.copy())).numpy(), rtol=1e-12, atol=1e-12)


def test_proxy_is_what_the_function_receives():
    seen = []
    trace(lambda x: seen.append(type(x)) or x, np.ones(1))
    assert seen == [Proxy]


def test_data_assignment_rebinds_to_a_detached_value():
    def f(w):
        w.data -= 0.25 * w          # as seed 004's update: changed without recording
        v = w * 1.0
        v.data = 2.0
        return (w * w).sum(), v

    traced, (loss, v) = run(f, np.array([1.0, 2.0]))
    assert loss == pytest.approx(0.75 ** 2 * 5)
    np.testing.assert_array_equal(v, [2.0, 2.0])
    # detached: no gradient flows to the argument through the update
    with pytest.raises(tg.errors.AutodiffError, match="appears to not have been used"):
        tg.grad(lambda w: f(w)[0])(np.ones(2))


def test_grad_is_taken_with_respect_to_the_argument_even_after_inplace_rebinding():
    def f(x):
        x *= 3                      # rebinds the proxy `x` to 3 x
        x += x.detach()             # and again, through a detached value
        return (x * x).sum()        # = (3x + 3x)^2 summed, only the first 3x carries gradient

    g = tg.grad(f)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.numpy(), 2 * 6 * np.array([1.0, 2.0]) * 3)
    xt = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    f(xt * 1.0).backward()
    np.testing.assert_allclose(g.numpy(), xt.grad.numpy())


def test_grad_attribute_inside_a_trace_is_a_trace_error():
    from tracegrad.errors import TraceError
    with pytest.raises(TraceError, match=r"\.grad is not available inside a traced function"):
        trace(lambda w: w.grad, np.ones(1))
