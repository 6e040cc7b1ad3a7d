"""Loop-body scheduling: a valid order of the same statements, with fewer values live at calls."""

from __future__ import annotations

from tracegrad import dtypes as dt
from tracegrad.codegen.lowering import _calls_vmath
from tracegrad.codegen.schedule import _peak, schedule_body
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.passes import optimize
from tracegrad.ir.types import TensorType


def w3_body():
    """W3's fused forward body: value and gradient of sum(tanh*sigmoid + 0.5x^2 + exp(-x*x))."""
    b = GraphBuilder("w3", record_locations=False)
    x = b.add_input(TensorType((8,), dt.float32), "x")
    t, s, e = x.tanh(), x.sigmoid(), (-x * x).exp()
    grad = (s * (1.0 - t * t) + t * (s * (1.0 - s))) + (x - 2.0 * x * e)
    return optimize(b.finish([(t * s + 0.5 * (x * x) + e).sum().value, grad.value])).nodes


def test_schedule_keeps_the_statements_in_a_valid_order():
    nodes = w3_body()
    order = schedule_body(nodes, _calls_vmath)
    assert sorted(map(id, order)) == sorted(map(id, nodes))
    seen = set()
    for node in order:
        produced = {n.out for n in nodes}
        assert all(v in seen for v in node.operand_values if v in produced)
        seen.add(node.out)


def test_schedule_runs_the_hungriest_call_first_and_lowers_the_peak():
    nodes = w3_body()
    order = schedule_body(nodes, _calls_vmath)
    calls = [n.op for n in order if _calls_vmath(n)]
    assert calls == ["sigmoid", "tanh", "exp"]
    demand = {n: (5 if n.op == "sigmoid" else 4 if n.op == "tanh" else 3)
              if _calls_vmath(n) else 0 for n in nodes}
    assert _peak(order, demand) <= _peak(nodes, demand)


def test_schedule_leaves_bodies_without_calls_alone():
    b = GraphBuilder("f", record_locations=False)
    x = b.add_input(TensorType((8,), dt.float32), "x")
    nodes = b.finish([((x * x + 1.0) * x).value]).nodes
    assert schedule_body(nodes, _calls_vmath) == list(nodes)
