"""The IR text dump: golden dumps of the seed functions, naming rules, literal and attribute
formatting, column alignment, comment lines, verbose mode and byte-for-byte determinism."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import seed_functions as seeds
from support.golden import assert_golden
from support.locations import line_of

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.ir.graph import Graph, Node, Value
from tracegrad.ir.ops.creation import ArrayConst
from tracegrad.ir.printer import format_graph, format_literal, value_names
from tracegrad.ir.types import TensorType

F2 = TensorType((2,), dt.float64)


# ---- golden dumps of the seed functions ----

FORWARD = {
    "seed000_dot_forward": (seeds.dot, seeds.dot_args),
    "seed002_add_mul_forward": (seeds.add_mul, seeds.add_mul_args),
    "seed002_two_layer_forward": (seeds.two_layer_loss, seeds.two_layer_args),
    "architecture_tanh_forward": (seeds.tanh_net, seeds.tanh_net_args),
}


@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_dump_matches_golden(name, update_golden):
    fn, args = FORWARD[name]
    assert_golden(f"ir/{name}.txt", format_graph(tg.make_graph(fn)(*args())), update_golden)


# ---- naming at the printer level (hand-built graphs) ----

def chain(hints, output_count=1, input_hints=("x",)):
    """x -> exp -> exp -> ... with the given hints; the last `output_count` values returned."""
    inputs = tuple(Value(F2, h) for h in input_hints)
    values, nodes = [inputs[0]], []
    for hint in hints:
        v = Value(F2, hint)
        nodes.append(Node("exp", (values[-1],), (), (v,)))
        values.append(v)
    return Graph("g", inputs, tuple(nodes), tuple(values[-output_count:]))


def printed_names(graph):
    names = value_names(graph)
    return [names[v] for v in graph.inputs], [names[n.out] for n in graph.nodes]


def test_names_hints_temporaries_and_single_output():
    assert printed_names(chain(["h", None, None])) == (["x"], ["h", "%0", "out"])


def test_names_several_unnamed_outputs_are_numbered():
    _, nodes = printed_names(chain([None, None, None], output_count=2))
    assert nodes == ["%0", "out_0", "out_1"]


def test_names_collisions_get_suffixes():
    _, nodes = printed_names(chain(["y", "y", "x", "y_1", None]))
    assert nodes == ["y", "y_1", "x_1", "y_1_1", "out"]


def test_names_unnamed_inputs_and_input_outputs():
    graph = chain([None], input_hints=(None, None))
    graph = Graph("g", graph.inputs, graph.nodes, (graph.inputs[1], graph.nodes[0].out))
    inputs, nodes = printed_names(graph)
    assert inputs == ["in_0", "in_1"]
    assert nodes == ["out"]           # an input returned as is does not take an `out` name


def test_names_are_unique_within_a_graph():
    graph = tg.make_graph(tg.hessian(seeds.tanh_net, argnums=1))(*seeds.tanh_net_args())
    names = list(value_names(graph).values())
    assert len(names) == len(set(names))


# ---- literals, attributes, layout ----

@pytest.mark.parametrize("value, text", [
    (2.0, "2.0"), (1e-08, "1e-08"), (0.1, "0.1"), (-0.0, "-0.0"), (float("inf"), "inf"),
    (3, "3"), (True, "True"), (None, "None"), ((0, 1), "(0, 1)"), ((0,), "(0,)"), ((), "()"),
    (dt.float32, "f32"), (dt.bool_, "bool"), (dt.int64, "i64"),
])
def test_format_literal(value, text):
    assert format_literal(value) == text


def test_floats_round_trip_exactly():
    for value in (0.1, 1 / 3, 2.5e-300, 123456789.125):
        assert float(format_literal(value)) == value


def test_array_constants_print_type_and_short_digest():
    const = ArrayConst(np.arange(6.0).reshape(2, 3))
    text = format_literal(const)
    assert text == f"<f64[2,3] {const.digest[:8]}>"
    assert format_literal(const, anonymous=True) == f"<f64[2,3] {const.digest}>"


def test_literal_operands_and_attrs_in_declared_order():
    def f(x):
        return (x.clamp(min=-1.5, max=2) * 1e-08).sum(1, keepdim=True).reshape(2)

    text = format_graph(tg.make_graph(f)(np.ones((2, 3))))
    assert "clamp(x, min=-1.5, max=2.0)" in text
    assert "mul(%0, 1e-08)" in text
    assert "sum(%1, axes=(1,), keepdims=True)" in text
    assert "reshape(%2, shape=(2,))" in text


def test_names_and_types_are_column_aligned():
    lines = format_graph(tg.make_graph(seeds.two_layer_loss)(*seeds.two_layer_args())).splitlines()
    body = [line for line in lines[1:-2] if not line.lstrip().startswith("#")]
    assert len({line.index(" : ") for line in body}) == 1
    assert len({line.index(" = ") for line in body}) == 1


def test_empty_graph():
    text = format_graph(tg.make_graph(lambda x: x)(np.ones(2)))
    assert text == "graph f(x: f64[2]) {\n  return x\n}"


def test_adjoint_comment_line_comes_before_the_seed():
    lines = format_graph(tg.make_graph(tg.grad(seeds.tanh_net))(*seeds.tanh_net_args()))
    lines = lines.splitlines()
    at = lines.index("  # -- adjoints of out with respect to (x) --")
    assert lines[at + 1].lstrip().startswith("grad_out ")
    assert lines[at - 1].lstrip().startswith("out ")


# ---- verbose mode ----

def test_verbose_appends_file_line_and_use_counts():
    def f(x):
        y = x * x               # @verbose-mul
        return y + y            # @verbose-add

    graph = tg.make_graph(f)(np.ones(2))
    lines = format_graph(graph, verbose=True).splitlines()
    plain = format_graph(graph).splitlines()
    assert lines[1] == plain[1] + f"  # test_printer.py:{line_of(__file__, '@verbose-mul')}  uses=2"
    assert lines[2] == plain[2] + f"  # test_printer.py:{line_of(__file__, '@verbose-add')}  uses=1"
    assert lines[0] == plain[0] and lines[-2:] == plain[-2:]


def test_verbose_without_location_prints_question_mark():
    text = format_graph(chain(["h"]), verbose=True)
    assert "# ?  uses=1" in text


# ---- determinism ----

def test_printing_is_deterministic_within_a_process():
    args = seeds.two_layer_args()
    g1 = tg.make_graph(tg.grad(seeds.two_layer_loss, argnums=(2, 3)))(*args)
    g2 = tg.make_graph(tg.grad(seeds.two_layer_loss, argnums=(2, 3)))(*args)
    assert format_graph(g1) == format_graph(g1) == format_graph(g2)


_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import tracegrad as tg
from support import seed_functions as seeds
f = tg.grad(seeds.two_layer_loss, argnums=(2, 3))
print(tg.make_graph(f)(*seeds.two_layer_args()), end="")
"""


def test_printing_is_byte_identical_across_processes():
    tests = str(Path(__file__).resolve().parent.parent)
    run = subprocess.run([sys.executable, "-c", _SCRIPT.format(tests=tests)], capture_output=True,
                         text=True, check=True, env={"PYTHONHASHSEED": "random", "PATH": ""})
    graph = tg.make_graph(tg.grad(seeds.two_layer_loss, argnums=(2, 3)))(*seeds.two_layer_args())
    assert run.stdout == format_graph(graph)


@given(st.lists(st.sampled_from(["exp", "tanh", "neg", "relu", "sin"]), min_size=1, max_size=6),
       st.permutations(["a", "b", "c"]))
def test_printing_random_chains_is_deterministic(ops, order):
    def f(x):
        parts = {}
        for name in order:
            y = x
            for op in ops:
                y = getattr(y, op)()
            parts[name] = y * {"a": 1.0, "b": 2.0, "c": 3.0}[name]
        return parts["a"] + parts["b"] + parts["c"]

    first = format_graph(tg.make_graph(f)(np.ones(2)))
    assert first == format_graph(tg.make_graph(f)(np.ones(2)))
    assert "0x" not in first and " at " not in first


def test_assert_golden_fails_with_a_unified_diff_and_updates_on_request(tmp_path, monkeypatch):
    from support import golden
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    with pytest.raises(AssertionError, match="does not exist; run pytest --update-golden"):
        assert_golden("ir/new.txt", "a\nb\n")
    assert_golden("ir/new.txt", "a\nb", update=True)
    assert (tmp_path / "ir" / "new.txt").read_text() == "a\nb\n"
    assert_golden("ir/new.txt", "a\nb\n")
    with pytest.raises(AssertionError) as info:
        assert_golden("ir/new.txt", "a\nc\n")
    assert "-b\n+c" in str(info.value) and "--update-golden" in str(info.value)
