"""ir.passes: each rewrite on hand-built graphs (expected dumps), the pipeline on a joint graph,
and properties on random op graphs through the interpreter: results preserved, `verify` holds,
passes are deterministic and idempotent, inputs keep their identity and outputs their types."""

from __future__ import annotations

import functools
import math
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.random_programs import assert_results_close, assert_results_identical, random_programs

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.debug import debug
from tracegrad.ir.autodiff import vjp_graph
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.graph import Graph, Node, Value, VerifyError, verify
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.ops.creation import ArrayConst
from tracegrad.ir.passes import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    optimize,
    optimize_with_report,
    pass_name,
    simplify,
)
from tracegrad.ir.passes.fold import MAX_CONST_ELEMENTS
from tracegrad.ir.printer import format_graph
from tracegrad.ir.tensor_api import full_like, where
from tracegrad.ir.types import TensorType

F64, I64 = dt.float64, dt.int64
DEFAULT_PASSES = [eliminate_dead_code, eliminate_common_subexpressions, fold_constants, simplify,
                  optimize]
UNSIGNED_ZEROS = functools.partial(simplify, signed_zeros=False)
PASSES = [*DEFAULT_PASSES, UNSIGNED_ZEROS]
PASS_IDS = ["dce", "cse", "fold", "simplify", "optimize", "simplify_unsigned_zeros"]


def build(fn, *shapes, dtype=F64, names="xyz"):
    """A graph `f` whose inputs x, y, z have `shapes`; `fn` returns one tensor or a tuple."""
    b = GraphBuilder("f", record_locations=False)
    xs = [b.add_input(TensorType(tuple(s), dtype), n) for s, n in zip(shapes, names, strict=False)]
    outs = fn(*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    return b.finish([o.value for o in outs])


def raw(x, op, *operands, **attrs):
    """Append `op` exactly as given (tensor methods skip no-op reshapes and friends)."""
    return x._apply(op, x, *operands, **attrs)


def assert_dump(graph, expected):
    verify(graph)
    assert format_graph(graph) == textwrap.dedent(expected).strip()


def tidy(pass_, graph, **options):
    """Run one pass, then DCE, so the expected dump shows only what is still needed."""
    return eliminate_dead_code(pass_(graph, **options))


# ---- dead-code elimination ----

def test_dce_drops_nodes_no_output_needs():
    def f(x):
        x.exp().sum()                      # dead
        return (x * 2.0).sin()
    assert_dump(eliminate_dead_code(build(f, (3,))), """
        graph f(x: f64[3]) {
          %0  : f64[3] = mul(x, 2.0)
          out : f64[3] = sin(%0)
          return out
        }""")


def test_dce_keeps_every_input_and_the_output_order():
    g = build(lambda x, y: (y.exp(), x, y.exp()), (2,), (3,))
    out = eliminate_dead_code(g)
    assert out.inputs == g.inputs and all(a is b for a, b in zip(out.inputs, g.inputs, strict=True))
    assert out.outputs[1] is g.inputs[0]
    assert [str(v.type) for v in out.outputs] == ["f64[3]", "f64[2]", "f64[3]"]


def test_dce_returns_its_input_when_nothing_is_dead():
    g = build(lambda x: x.exp(), (3,))
    assert eliminate_dead_code(g) is g


def test_passes_handle_long_chains_without_recursion():
    def f(x):
        for _ in range(20_000):
            x = -x
        return x
    out = optimize(build(f, (2,)))
    assert out.nodes == () and out.outputs[0] is out.inputs[0]


# ---- common-subexpression elimination ----

def test_cse_merges_repeated_subexpressions_through_chains():
    g = build(lambda x, y: (x * 2.0).exp() + (x * 2.0).exp() * y, (3,), (3,))
    assert_dump(eliminate_common_subexpressions(g), """
        graph f(x: f64[3], y: f64[3]) {
          %0  : f64[3] = mul(x, 2.0)
          %1  : f64[3] = exp(%0)
          %2  : f64[3] = mul(%1, y)
          out : f64[3] = add(%1, %2)
          return out
        }""")


@pytest.mark.parametrize(("a", "b", "merged"), [
    (1, 1.0, False), (1.0, True, False), (1, True, False), (0.0, -0.0, False),
    (2.0, 2.0, True), (math.nan, math.nan, True), (-0.0, -0.0, True), (3, 3, True),
], ids=["int-float", "float-bool", "int-bool", "zero-negzero", "equal", "nan", "negzero", "int"])
def test_cse_compares_literals_by_type_and_bits(a, b, merged):
    g = build(lambda x: (raw(x, "mul", a), raw(x, "mul", b)), (2,))
    out = eliminate_common_subexpressions(g)
    assert (out.outputs[0] is out.outputs[1]) == merged
    assert len(out.nodes) == (1 if merged else 2)


def test_cse_merges_equal_constants_and_fills_but_not_different_ones():
    b = GraphBuilder("f", record_locations=False)
    arrays = [np.arange(3.0), np.arange(3.0), np.arange(3.0).astype(np.float32)]
    consts = [b.append("const", (), {"value": ArrayConst(a)}) for a in arrays]
    fills = [b.append("full", (), {"value": v, "shape": (2,), "dtype": F64})
             for v in (0.0, 0.0, -0.0)]
    out = eliminate_common_subexpressions(b.finish(consts + fills))
    assert len(out.nodes) == 4
    assert out.outputs[0] is out.outputs[1] and out.outputs[2] is not out.outputs[0]
    assert out.outputs[3] is out.outputs[4] and out.outputs[5] is not out.outputs[3]


def test_cse_keeps_operand_order_and_moves_a_merged_hint_to_the_survivor():
    b = GraphBuilder("f", record_locations=False)
    x, y = (b.add_input(TensorType((2,), F64), n).value for n in "xy")
    first = b.append("add", (x, y), {})
    swapped = b.append("add", (y, x), {})
    named = b.append("add", (x, y), {}, hint="grad_y")
    assert_dump(eliminate_common_subexpressions(b.finish([swapped, named, first])), """
        graph f(x: f64[2], y: f64[2]) {
          grad_y : f64[2] = add(x, y)
          out    : f64[2] = add(y, x)
          return out, grad_y, grad_y
        }""")


# ---- constant folding ----

def test_fold_replaces_uniform_results_by_full():
    g = build(lambda x: full_like(x, 2.0) * 3.0 + 1.0 + x, (2, 3))
    assert_dump(tidy(fold_constants, g), """
        graph f(x: f64[2,3]) {
          %0  : f64[2,3] = full(value=7.0, shape=(2, 3), dtype=f64)
          out : f64[2,3] = add(%0, x)
          return out
        }""")


def test_fold_replaces_small_results_by_const():
    g = build(lambda x: x._constant(np.array([[1.0, 2.0, 3.0]])) * 2.0 + x, (2, 3))
    out = tidy(fold_constants, g)
    assert [n.op for n in out.nodes] == ["const", "add"]
    np.testing.assert_array_equal(out.nodes[0].attr_dict["value"].array, [[2, 4, 6]] * 2)
    x = np.ones((2, 3))
    np.testing.assert_array_equal(evaluate(out, x)[0], evaluate(g, x)[0])


def test_fold_leaves_large_non_uniform_results_to_run_time():
    n = MAX_CONST_ELEMENTS + 1
    g = build(lambda x: x._constant(np.arange(float(n))) + 1.0 + x, (n,))
    assert [node.op for node in fold_constants(g).nodes] == ["const", "add", "add"]


def test_fold_never_materializes_large_uniform_values():
    g = build(lambda x: full_like(x, 1.5).exp().broadcast_to((1000, 2000, 3000)), (2000, 3000))
    out = tidy(fold_constants, g)
    assert [n.op for n in out.nodes] == ["full"]
    assert out.nodes[0].attr_dict["value"] == math.exp(1.5)


def test_fold_compares_elements_by_bits():
    signed = build(lambda x: (full_like(x, -0.0) * 1.0, x._constant(np.array([0.0, -0.0])),
                              full_like(x, -1.0).log()), (2,))
    values = [n.attr_dict["value"] for n in tidy(fold_constants, signed).nodes]
    assert math.copysign(1.0, values[0]) == -1.0          # -0.0 survives as a full
    assert isinstance(values[1], ArrayConst)              # 0.0 and -0.0 are not uniform
    assert math.isnan(values[2])


def test_fold_leaves_nodes_whose_compute_raises():
    g = build(lambda x: -full_like(x, True), (2,), dtype=dt.bool_)   # numpy refuses bool negation
    assert [n.op for n in fold_constants(g).nodes] == ["full", "neg"]


# ---- simplification: identities that vanish ----

IDENTITIES = {
    "mul_one": lambda x: x * 1.0,
    "one_mul": lambda x: 1.0 * x,
    "mul_full_one": lambda x: x * full_like(x, 1.0),
    "mul_true": lambda x: raw(x, "mul", True),
    "div_one": lambda x: x / 1.0,
    "add_negative_zero": lambda x: x + (-0.0),
    "negative_zero_add": lambda x: -0.0 + x,
    "sub_zero": lambda x: x - 0.0,
    "sub_int_zero": lambda x: raw(x, "sub", 0),
    "neg_neg": lambda x: x.neg().neg(),
    "pow_one": lambda x: x ** 1.0,
    "reshape_same": lambda x: raw(x, "reshape", shape=(2, 3)),
    "reshape_there_and_back": lambda x: raw(raw(x, "reshape", shape=(6,)), "reshape", shape=(2, 3)),
    "broadcast_same": lambda x: raw(x, "broadcast_to", shape=(2, 3)),
    "sum_to_same": lambda x: raw(x, "sum_to", shape=(2, 3)),
    "transpose_identity": lambda x: raw(x, "transpose", perm=(0, 1)),
    "transpose_twice": lambda x: raw(raw(x, "transpose", perm=(1, 0)), "transpose", perm=(1, 0)),
    "cast_same": lambda x: raw(x, "cast", dtype=F64),
    "slice_whole": lambda x: raw(x, "slice", starts=(0, 0), stops=(2, 3), steps=(1, 1)),
    "where_same": lambda x: where(x > 0, x, x),
    "where_constant": lambda x: where(full_like(x, True, dt.bool_), x, 2.0),
    "max_no_axes": lambda x: raw(x, "max", axes=(), keepdims=False),
}


@pytest.mark.parametrize("make", IDENTITIES.values(), ids=IDENTITIES.keys())
def test_simplify_removes_exact_identities(make):
    g = build(make, (2, 3))
    out = tidy(simplify, g)
    assert out.nodes == () and out.outputs[0] is g.inputs[0]


@pytest.mark.parametrize("make", [
    lambda x: x + 0, lambda x: x * True, lambda x: x - 0, lambda x: x ** 1,
    lambda x: raw(x, "sum", axes=(), keepdims=True)],
                         ids=["add_zero", "mul_true", "sub_zero", "pow_one", "sum_no_axes"])
def test_simplify_removes_integer_identities(make):
    g = build(make, (2, 3), dtype=I64)
    assert tidy(simplify, g).outputs[0] is g.inputs[0]


KEPT = {
    "add_zero": lambda x: x + 0.0,                  # -0.0 + 0.0 is +0.0
    "zero_add": lambda x: 0.0 + x,
    "sub_negative_zero": lambda x: x - (-0.0),
    "mul_zero": lambda x: x * 0.0,                  # inf * 0 is nan
    "mul_full_zero": lambda x: x * full_like(x, 0.0),
    "mul_near_one": lambda x: x * 1.0000000000000002,
    "transpose_square": lambda x: raw(x[:, :2], "transpose", perm=(1, 0)),   # same type, moves data
    "replicating_sum_to": lambda x: raw(raw(x, "broadcast_to", shape=(4, 2, 3)), "sum_to",
                                        shape=(2, 3)),
    "where_different": lambda x: where(x > 0, x, -x),
}


@pytest.mark.parametrize("make", KEPT.values(), ids=KEPT.keys())
def test_simplify_keeps_what_is_not_exact(make):
    g = tidy(lambda g: g, build(make, (2, 3)))
    assert format_graph(tidy(simplify, g)) == format_graph(g)


@pytest.mark.parametrize("literal", [1.0, 0.0], ids=["mul_one", "add_zero"])
def test_simplify_keeps_literals_wider_than_the_tensor(literal):
    op = "mul" if literal else "add"          # i64 * 1.0 computes in float64: not exact
    g = build(lambda x: raw(x, op, literal), (2,), dtype=I64)
    assert len(simplify(g).nodes) == 1


@pytest.mark.parametrize(("op", "zero", "signed_zeros", "removed"), [
    ("add", 0.0, True, False), ("add", -0.0, True, True), ("sub", 0.0, True, True),
    ("sub", -0.0, True, False), ("add", 0.0, False, True), ("sub", -0.0, False, True),
])
def test_simplify_signed_zero_policy(op, zero, signed_zeros, removed):
    g = build(lambda x: raw(x, op, zero), (4,))
    out = simplify(g, signed_zeros=signed_zeros)
    assert (out.outputs[0] is g.inputs[0]) == removed
    if signed_zeros:                          # the default is bit-exact, -0.0 included
        x = np.array([-0.0, 0.0, -np.inf, np.nan])
        assert_results_identical(evaluate(g, x), evaluate(out, x))


def test_simplify_composes_reshapes_and_transposes():
    def f(x):
        r = raw(raw(x, "reshape", shape=(6, 4)), "reshape", shape=(4, 3, 2))
        t = raw(raw(x, "transpose", perm=(1, 0, 2)), "transpose", perm=(0, 2, 1))
        return r, t
    g = build(f, (2, 3, 4))
    out = tidy(simplify, g)
    assert_dump(out, """
        graph f(x: f64[2,3,4]) {
          out_0 : f64[4,3,2] = reshape(x, shape=(4, 3, 2))
          out_1 : f64[3,4,2] = transpose(x, perm=(1, 2, 0))
          return out_0, out_1
        }""")
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_results_identical(evaluate(g, x), evaluate(out, x))


def test_simplify_rewrites_powers_two_and_zero():
    g = build(lambda x: (x ** 2.0, x ** 0.0), (2, 3))
    assert_dump(tidy(simplify, g), """
        graph f(x: f64[2,3]) {
          out_0 : f64[2,3] = mul(x, x)
          out_1 : f64[2,3] = full(value=1.0, shape=(2, 3), dtype=f64)
          return out_0, out_1
        }""")
    x = np.array([[-0.0, np.nan, np.inf], [-3.5, 1e-200, 7.0]])
    assert_results_identical(evaluate(g, x), evaluate(simplify(g), x))


def test_simplify_sum_to_of_a_size_one_broadcast_adds_numpys_zero():
    g = build(lambda x: raw(raw(x, "broadcast_to", shape=(1, 3)), "sum_to", shape=(3,)), (3,))
    assert_dump(tidy(simplify, g), """
        graph f(x: f64[3]) {
          out : f64[3] = add(x, 0.0)
          return out
        }""")
    x = np.array([-0.0, 1.0, np.nan])
    assert np.signbit(evaluate(g, x)[0][0]) == np.False_      # numpy's sum starts from +0.0
    assert_results_identical(evaluate(g, x), evaluate(simplify(g), x))
    assert simplify(g, signed_zeros=False).outputs[0] is g.inputs[0]


def test_simplify_moves_the_hint_of_a_removed_value_to_its_replacement():
    b = GraphBuilder("f", record_locations=False)
    x = b.add_input(TensorType((2,), F64), "x").value
    t = b.append("exp", (x,), {})
    grad_w = b.append("mul", (t, 1.0), {}, hint="grad_w")
    assert_dump(tidy(simplify, b.finish([grad_w])), """
        graph f(x: f64[2]) {
          grad_w : f64[2] = exp(x)
          return grad_w
        }""")


# ---- the pipeline ----

def joint_graph():
    """ARCHITECTURE.md's example: f(x, w) = sum(tanh(x @ w) ** 2), differentiated w.r.t. w."""
    b = GraphBuilder("f", record_locations=False)
    x = b.add_input(TensorType((4, 3), F64), "x")
    w = b.add_input(TensorType((3, 2), F64), "w")
    h = x @ w
    y = h.tanh()
    b.hints.update({h.value: "h", y.value: "y"})
    return vjp_graph(b.finish([(y * y).sum().value]), wrt=[1])


def test_optimize_cleans_up_a_joint_graph():
    joint = joint_graph()
    out = optimize(joint)
    assert_dump(out, """
        graph grad_f(x: f64[4,3], w: f64[3,2]) {
          h      : f64[4,2] = matmul(x, w)
          y      : f64[4,2] = tanh(h)
          %0     : f64[4,2] = mul(y, y)
          out    : f64[]    = sum(%0, axes=(0, 1), keepdims=False)
          # -- adjoints of out with respect to (w) --
          grad_y : f64[4,2] = add(y, y)
          %1     : f64[4,2] = sub(1.0, %0)
          grad_h : f64[4,2] = mul(grad_y, %1)
          %2     : f64[3,4] = transpose(x, perm=(1, 0))
          grad_w : f64[3,2] = matmul(%2, grad_h)
          return out, grad_w
        }""")
    args = np.random.default_rng(0).standard_normal((4, 3)), np.ones((3, 2))
    assert_results_identical(evaluate(joint, *args), evaluate(out, *args))


def test_optimize_report_counts_nodes_before_and_after_each_pass():
    joint = joint_graph()
    out, report = optimize_with_report(joint)
    assert (report.nodes_before, report.nodes_after) == (len(joint.nodes), len(out.nodes))
    assert report.converged and report.rounds == len(report.stats) // 4
    counts = [(s.nodes_before, s.nodes_after) for s in report.stats]
    assert all(a[1] == b[0] for a, b in zip(counts, counts[1:], strict=False))
    text = report.format()
    rounds = report.rounds
    assert text.splitlines()[0] == f"optimize grad_f: 15 -> 9 nodes, {rounds} round(s), fixed point"
    assert "round 1  eliminate_common_subexpressions     15 -> 13    (-2)" in text
    assert "ms" not in text and "ms" in report.format(times=True)


def test_optimize_stops_at_the_round_limit():
    _, report = optimize_with_report(joint_graph(), max_rounds=1)
    assert report.rounds == 1 and not report.converged and "round limit" in str(report)


def _breaks_types(graph: Graph) -> Graph:
    node = graph.nodes[0]
    bad = Node(node.op, node.inputs, node.attrs, (Value(TensorType((7,), F64)),), node.loc)
    return Graph(graph.name, graph.inputs, (bad,), (bad.out,))


def test_optimize_verifies_after_each_pass_when_checks_are_on(monkeypatch):
    g = build(lambda x: x.exp(), (2,))
    monkeypatch.setenv("TRACEGRAD_CHECKS", "0")
    optimize(g, [_breaks_types], max_rounds=1)                    # unchecked: no error
    monkeypatch.setenv("TRACEGRAD_CHECKS", "1")
    with pytest.raises(VerifyError, match="after pass _breaks_types: node 0 .exp.: output type"):
        optimize(g, [_breaks_types], max_rounds=1)


def test_optimize_logs_each_pass_at_debug_level_3(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TRACEGRAD_DUMP_DIR", str(tmp_path))
    with debug(3):
        optimize(joint_graph())
    err = capsys.readouterr().err
    assert "pass simplify (round 1): 15 -> 15 nodes (+0)" in err
    assert "pass eliminate_dead_code (round 1): 13 -> 11 nodes (-2)" in err
    assert "optimize grad_f: 15 -> 9 nodes, 3 round(s), fixed point\ngraph grad_f(" in err
    dumps = sorted(p.name for p in tmp_path.iterdir())
    assert dumps[:2] == ["grad_f.opt1.0-simplify.txt", "grad_f.opt1.1-fold_constants.txt"]
    assert (tmp_path / "grad_f.opt1.3-eliminate_dead_code.txt").read_text().startswith("graph")
    with debug(0):
        optimize(joint_graph())
    assert capsys.readouterr().err == ""                          # level 0: silent


def test_pass_names_see_through_partials():
    assert pass_name(functools.partial(simplify, signed_zeros=False)) == "simplify"
    assert pass_name(eliminate_dead_code) == "eliminate_dead_code"


# ---- properties on random graphs (interpreter only) ----

@pytest.mark.parametrize("dtype", [F64, I64], ids=["f64", "i64"])
@pytest.mark.parametrize("pass_", PASSES, ids=PASS_IDS)
@given(data=st.data())
def test_pass_preserves_results_inputs_and_output_types(pass_, dtype, data):
    program = data.draw(random_programs(dtype=dtype), label="program")
    g = program.graph
    out = verify(pass_(g))
    assert len(out.inputs) == len(g.inputs)
    assert all(a is b for a, b in zip(out.inputs, g.inputs, strict=True))
    assert [v.type for v in out.outputs] == [v.type for v in g.outputs]
    expected = evaluate(g, *program.inputs)
    assert_results_close(expected, evaluate(out, *program.inputs), program.scale,
                         signed_zeros=pass_ is not UNSIGNED_ZEROS)


@pytest.mark.parametrize("pass_", [eliminate_dead_code, eliminate_common_subexpressions],
                         ids=["dce", "cse"])
@given(program=random_programs(dtype=F64))
def test_dce_and_cse_are_bit_exact(pass_, program):
    expected = evaluate(program.graph, *program.inputs)
    assert_results_identical(expected, evaluate(pass_(program.graph), *program.inputs))


@given(program=random_programs(dtype=dt.float32))
def test_optimize_preserves_float32_results(program):
    out = verify(optimize(program.graph))
    assert_results_close(evaluate(program.graph, *program.inputs),
                         evaluate(out, *program.inputs), program.scale)


@pytest.mark.parametrize("pass_", PASSES, ids=PASS_IDS)
@given(program=random_programs(dtype=F64))
def test_pass_is_deterministic_and_idempotent(pass_, program):
    once = pass_(program.graph)
    assert format_graph(pass_(program.graph)) == format_graph(once)
    assert format_graph(pass_(once)) == format_graph(once)


@given(program=random_programs(dtype=F64))
def test_every_pass_returns_its_input_at_the_fixed_point(program):
    out = optimize(program.graph)
    for pass_ in DEFAULT_PASSES:
        assert pass_(out) is out


# ---- the random-graph helper: its programs replay in other worlds ----

@given(program=random_programs(dtype=F64))
def test_random_programs_replay_on_eager_tensors_like_the_interpreter(program):
    eager = program(*[tg.from_numpy(a.copy()) for a in program.inputs])
    assert_results_identical(evaluate(program.graph, *program.inputs),
                             [np.asarray(t.numpy()) for t in eager])
