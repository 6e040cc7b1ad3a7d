"""ir.export: networkx and DOT views (labels are dump lines), rendering through Graphviz (with a
clear error when `dot` is missing), versioned JSON round trips, and the structural hash."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import textwrap

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from support.random_programs import assert_results_identical, random_programs

from tracegrad import dtypes as dt
from tracegrad.errors import TracegradError
from tracegrad.ir import export
from tracegrad.ir.autodiff import vjp_graph
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.graph import Value, VerifyError
from tracegrad.ir.hashing import structural_key
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.ops.creation import ArrayConst
from tracegrad.ir.passes.cse import literal_key
from tracegrad.ir.printer import format_graph, value_names
from tracegrad.ir.tensor_api import full_like, where
from tracegrad.ir.types import TensorType

F64 = dt.float64
needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="fake `dot` is a shell script")
needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


def raw(x, op, *operands, **attrs):
    return x._apply(op, x, *operands, **attrs)


def forward(names=("x", "w", "h", "y"), keepdims=False):
    """f(x, w) = sum(tanh(x @ w) ** 2) with the given value names."""
    b = GraphBuilder("f", record_locations=False)
    x = b.add_input(TensorType((4, 3), F64), names[0])
    w = b.add_input(TensorType((3, 2), F64), names[1])
    h = x @ w
    y = h.tanh()
    b.hints.update({h.value: names[2], y.value: names[3]})
    return b.finish([(y * y).sum(keepdim=keepdims).value])


def joint_graph():
    return vjp_graph(forward(), wrt=[1])


def node_lines(graph):
    """The dump's node lines with the column padding collapsed."""
    lines = format_graph(graph).splitlines()[1:-2]
    lines = [line.strip() for line in lines if not line.strip().startswith("#")]
    return [re.sub(r" {2,}", " ", line) for line in lines]


# ---- networkx ----

def test_networkx_has_one_node_per_input_and_per_ir_node():
    g = joint_graph()
    view = export.to_networkx(g)
    assert isinstance(view, nx.DiGraph) and nx.is_directed_acyclic_graph(view)
    assert view.number_of_nodes() == len(g.inputs) + len(g.nodes)
    names = value_names(g)
    pairs = {(names[x], names[n.out]) for n in g.nodes for x in n.operand_values}
    assert set(view.edges) == pairs
    assert view.graph["inputs"] == ["x", "w"] and view.graph["outputs"] == ["out", "grad_w"]
    for _, data in view.nodes(data=True):
        assert {"op", "type", "attrs", "label", "index", "loc"} <= data.keys()


def test_networkx_attributes_and_operand_positions():
    view = export.to_networkx(joint_graph())
    assert view.nodes["x"] | {} == {"op": "input", "type": "f64[4,3]", "attrs": {},
                                    "label": "x: f64[4,3]", "index": 0, "loc": None}
    assert view.nodes["out"]["attrs"] == {"axes": (0, 1), "keepdims": False}
    assert view.nodes["out"]["label"] == "out : f64[] = sum(%0, axes=(0, 1), keepdims=False)"
    assert view.edges["y", "%0"]["positions"] == (0, 1)          # mul(y, y): one edge, two slots
    assert view.edges["grad_h", "grad_w"] == {"position": 1, "positions": (1,)}


def test_networkx_labels_are_the_dump_lines():
    g = joint_graph()
    view = export.to_networkx(g)
    ir_labels = [d["label"] for _, d in sorted(view.nodes(data=True), key=lambda kv: kv[1]["index"])
                 if d["op"] != "input"]
    assert ir_labels == node_lines(g)


@given(program=random_programs())
def test_networkx_view_of_random_graphs_is_acyclic_with_matching_counts(program):
    g = program.graph
    view = export.to_networkx(g)
    assert nx.is_directed_acyclic_graph(view)
    assert view.number_of_nodes() == len(g.inputs) + len(g.nodes)
    operands = sum(len(n.operand_values) for n in g.nodes)
    assert sum(len(d["positions"]) for *_, d in view.edges(data=True)) == operands


# ---- DOT ----

def test_dot_is_deterministic_and_labels_every_node_with_its_dump_line():
    g = joint_graph()
    text = export.to_dot(g)
    assert text == export.to_dot(joint_graph())
    assert text.startswith('digraph "grad_f" {\n') and text.endswith("}\n")
    for line in node_lines(g):
        assert f'[label="{line}"];' in text
    assert 'in0 [label="x: f64[4,3]", shape=ellipse];' in text
    assert "  // -- adjoints of out with respect to (w) --" in text
    assert 'n1 -> n2 [label="0"];\n  n1 -> n2 [label="1"];' in text    # mul(y, y)
    assert "  n0 -> n1;" in text                                       # unary: unlabelled
    assert 'ret [label="return out, grad_w", shape=plaintext];' in text


def escaping_graph():
    b = GraphBuilder('say "hi"\\', record_locations=False)
    x = b.add_input(TensorType((2,), F64), 'a"b\\c')
    b.comment("two\nlines")
    return b.finish([x.exp().value])


def test_dot_escapes_quotes_backslashes_and_newlines():
    text = export.to_dot(escaping_graph())
    assert 'digraph "say \\"hi\\"\\\\" {' in text
    assert 'in0 [label="a\\"b\\\\c: f64[2]", shape=ellipse];' in text
    assert "// two lines" in text
    assert export.dot_quote("a\nb\r\nc") == '"a\\nb\\nc"'
    unquoted = re.sub(r'"(?:[^"\\\n]|\\.)*"', "", text)   # every string literal is well formed
    assert '"' not in unquoted and "\\" not in unquoted


# ---- rendering ----

def test_render_without_dot_raises_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-dir"))
    target = tmp_path / "g.svg"
    with pytest.raises(export.GraphvizNotFoundError) as info:
        export.render(joint_graph(), target)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, TracegradError)
    message = str(info.value)
    assert "`dot`" in message and "not found on PATH" in message
    assert "apt-get install graphviz" in message
    assert not target.exists()


def test_render_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="svg, png, pdf; got format 'txt'"):
        export.render(joint_graph(), tmp_path / "g.txt")


def fake_dot(tmp_path, monkeypatch, script):
    """Put a shell script named `dot` first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "dot"
    program.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return bin_dir


@needs_posix
def test_render_feeds_the_dot_text_to_dot_and_writes_its_output(monkeypatch, tmp_path):
    bin_dir = fake_dot(tmp_path, monkeypatch, f"""
        echo "$@" > {tmp_path}/args
        cat > {tmp_path}/stdin
        printf '<svg>fake</svg>'
        """)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    g = joint_graph()
    assert export.render(g, out_dir / "g.png", format="SVG") == out_dir / "g.png"
    assert (out_dir / "g.png").read_bytes() == b"<svg>fake</svg>"
    assert (tmp_path / "args").read_text().strip() == "-Tsvg"
    assert (tmp_path / "stdin").read_text() == export.to_dot(g)
    assert [p.name for p in out_dir.iterdir()] == ["g.png"] and bin_dir.exists()


@needs_posix
def test_render_reports_dot_failures_and_leaves_no_file(monkeypatch, tmp_path):
    fake_dot(tmp_path, monkeypatch, """
        echo "syntax error in line 1" >&2
        exit 3
        """)
    target = tmp_path / "g.svg"
    with pytest.raises(export.RenderError, match="exit code 3: syntax error in line 1"):
        export.render(joint_graph(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


@needs_graphviz
@pytest.mark.parametrize(("name", "magic"), [("g.svg", b"<svg"), ("g.png", b"\x89PNG")])
def test_render_with_graphviz(tmp_path, name, magic):
    path = export.render(joint_graph(), tmp_path / name)
    data = path.read_bytes()
    assert magic in data[:400]
    if name.endswith(".svg"):
        assert "matmul(x, w)" in data.decode() and "grad_w" in data.decode()
    export.render(escaping_graph(), tmp_path / "escaped.svg")


# ---- JSON ----

def special_graph():
    """Literals and attrs of every kind, locations, a comment, a constant, an input output."""
    b = GraphBuilder("special")
    x = b.add_input(TensorType((2, 3), F64), "x")
    i = b.add_input(TensorType((3,), dt.int32), "i")
    outs = [raw(x, "mul", math.nan), raw(x, "add", math.inf), raw(x, "sub", -math.inf),
            raw(x, "mul", -0.0), raw(x, "add", 5e-324), raw(x, "mul", 1e-08)]
    b.comment("-- integers and attrs --")
    outs += [raw(i, "add", 2 ** 20), raw(i, "mul", True), x.clamp(min=-1.0),
             x.to(dt.float32), x.sum(axis=(0, 1)), x.reshape(3, 2), full_like(x, -0.0),
             where(x._constant(np.array([[True, False, True]] * 2)), x, 0.0),
             i._constant(np.arange(3, dtype=np.int32)) + i]
    graph = b.finish([o.value for o in outs] + [x.value, outs[0].value])
    return graph


def test_json_round_trip_keeps_key_dump_locations_and_results():
    g = special_graph()
    text = export.to_json(g)
    back = export.from_json(text)
    assert structural_key(back) == structural_key(g)
    assert format_graph(back) == format_graph(g)
    assert format_graph(back, verbose=True) == format_graph(g, verbose=True)
    assert back.comments == g.comments and back.outputs[-2] is back.inputs[0]
    assert export.to_json(back) == text
    args = np.array([[-0.0, 1.5, -2.0], [0.0, np.inf, 3.0]]), np.array([1, -2, 3], np.int32)
    with np.errstate(all="ignore"):
        assert_results_identical(evaluate(g, *args), evaluate(back, *args))


def test_json_is_strict_json_with_explicitly_typed_literals():
    text = export.to_json(special_graph())
    doc = json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard {token}"))
    assert (doc["schema"], doc["version"], doc["name"]) == ("tracegrad.ir", 1, "special")
    operands = [x for node in doc["nodes"] for x in node["inputs"]]
    for literal in ("nan", "inf", "-inf", "-0.0", "5e-324", "1e-08"):
        assert {"float": literal} in operands
    assert {"int": 2 ** 20} in operands and {"bool": True} in operands
    attrs = {node["op"]: node["attrs"] for node in doc["nodes"]}
    assert attrs["clamp"] == [["min", {"float": "-1.0"}], ["max", {"none": None}]]
    assert attrs["cast"] == [["dtype", {"dtype": "f32"}]]
    assert attrs["sum"] == [["axes", {"tuple": [{"int": 0}, {"int": 1}]}],
                            ["keepdims", {"bool": False}]]
    assert doc["inputs"][0] == {"id": 0, "type": {"dtype": "f64", "shape": [2, 3]}, "hint": "x"}
    assert text.count("\n") == len(doc["inputs"]) + len(doc["nodes"]) + 11   # a line per node


LITERALS = [True, False, 0, -7, 2 ** 70, 1.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1e-08,
            None, (), (1,), (True, 1, 1.5, None), ((1, 2), (3,)), dt.float16, dt.bool_, "text",
            ArrayConst(np.arange(6, dtype=np.float32).reshape(2, 3)),
            ArrayConst(np.array([True, False])), ArrayConst(np.zeros((0, 2), np.int32)),
            ArrayConst(np.array([-0.0, np.nan, np.inf])), ArrayConst(np.arange(3, dtype=np.uint8))]


@pytest.mark.parametrize("value", LITERALS, ids=[repr(v) for v in LITERALS])
def test_literal_encoding_round_trips_type_and_bits(value):
    encoded = export.encode_literal(value)
    decoded = export.decode_literal(json.loads(json.dumps(encoded, allow_nan=False)))
    assert literal_key(decoded) == literal_key(value)


def test_numpy_scalars_are_encoded_as_python_scalars():
    assert export.encode_literal(np.float32(1.5)) == {"float": "1.5"}
    assert export.encode_literal(np.int64(3)) == {"int": 3}
    assert export.encode_literal(np.bool_(True)) == {"bool": True}
    with pytest.raises(export.GraphFormatError, match="cannot encode complex"):
        export.encode_literal(1j)


def _edit(doc, path, value):
    *parents, last = path
    for key in parents:
        doc = doc[key]
    if value is KeyError:
        del doc[last]
    else:
        doc[last] = value


@pytest.mark.parametrize(("path", "value", "message"), [
    (["version"], 2, "version 2 is not supported: this tracegrad reads version 1"),
    (["version"], KeyError, "version None is not supported"),
    (["schema"], "other", "expected a 'tracegrad.ir' document, got schema 'other'"),
    (["nodes", 0, "inputs", 1], {"complex": "1j"}, "unknown literal type 'complex'"),
    (["nodes", 0, "inputs", 1], {"float": 2.0}, "expected str, got 2.0"),
    (["nodes"], KeyError, "malformed tracegrad.ir document: KeyError"),
    (["inputs", 0, "type", "dtype"], "float", "unknown dtype 'float'"),
    (["outputs", 0], 99, "malformed tracegrad.ir document: KeyError: 99"),
    (["inputs", 1, "id"], 0, "value id 0 is defined twice"),
], ids=["newer-version", "no-version", "schema", "literal-tag", "literal-payload", "missing",
        "dtype", "dangling-output", "duplicate-id"])
def test_from_json_rejects_documents_it_cannot_read(path, value, message):
    doc = json.loads(export.to_json(special_graph()))
    _edit(doc, path, value)
    with pytest.raises(export.GraphFormatError, match=re.escape(message)) as info:
        export.from_json(json.dumps(doc))
    assert isinstance(info.value, ValueError) and isinstance(info.value, TracegradError)


@pytest.mark.parametrize("text", ["{", "[]", "3"], ids=["truncated", "list", "number"])
def test_from_json_rejects_non_documents(text):
    with pytest.raises(export.GraphFormatError, match="JSON document|expected a 'tracegrad.ir'"):
        export.from_json(text)


def test_from_json_verifies_the_graph():
    doc = json.loads(export.to_json(forward()))
    doc["nodes"][0]["outputs"][0]["type"]["shape"] = [4, 5]
    with pytest.raises(VerifyError, match="node 0 .matmul.: output type"):
        export.from_json(json.dumps(doc))


@given(program=random_programs())
def test_json_round_trips_random_graphs(program):
    g = program.graph
    back = export.from_json(export.to_json(g))
    assert structural_key(back) == structural_key(g)
    assert format_graph(back) == format_graph(g)
    assert_results_identical(evaluate(g, *program.inputs), evaluate(back, *program.inputs))


# ---- structural hash ----

def test_structural_key_ignores_names():
    a, b = forward(), forward(("p", "q", "hidden", "act"))
    assert format_graph(a) != format_graph(b)
    assert structural_key(a) == structural_key(b)


VARIANTS = {
    "literal_value": (lambda x: x * 2.0, lambda x: x * 3.0),
    "literal_type": (lambda x: raw(x, "mul", 2.0), lambda x: raw(x, "mul", 2)),
    "signed_zero": (lambda x: raw(x, "add", 0.0), lambda x: raw(x, "add", -0.0)),
    "axes": (lambda x: x.sum(0), lambda x: x.sum(1)),
    "keepdims": (lambda x: x.sum(0), lambda x: x.sum(0, keepdim=True).reshape(4)),
    "dtype": (lambda x: x.to(dt.float32), lambda x: x.to(dt.float16).to(dt.float32)),
    "perm": (lambda x: x.reshape(2, 2, 4).permute(1, 0, 2),
             lambda x: x.reshape(2, 2, 4).permute(0, 1, 2).reshape(2, 2, 4)),
    "const_bytes": (lambda x: x + x._constant(np.arange(16.0).reshape(4, 4)),
                    lambda x: x + x._constant(np.arange(1.0, 17.0).reshape(4, 4))),
}


def _one_input(fn):
    b = GraphBuilder("g", record_locations=False)
    x = b.add_input(TensorType((4, 4), F64), "x")
    return b.finish([fn(x).value])


@pytest.mark.parametrize("pair", VARIANTS.values(), ids=VARIANTS.keys())
def test_structural_key_changes_when_an_attribute_or_literal_changes(pair):
    first, second = (_one_input(fn) for fn in pair)
    assert structural_key(first) == structural_key(_one_input(pair[0]))
    assert structural_key(first) != structural_key(second)


def test_structural_key_sees_value_identity_not_just_types():
    b = GraphBuilder("g", record_locations=False)
    x, y = (b.add_input(TensorType((2,), F64), n).value for n in "xy")
    same = b.finish([b.append("add", (x, x), {})])
    b = GraphBuilder("g", record_locations=False)
    x, y = (b.add_input(TensorType((2,), F64), n).value for n in "xy")
    other = b.finish([b.append("add", (x, y), {})])
    assert isinstance(same.outputs[0], Value)
    assert structural_key(same) != structural_key(other)
