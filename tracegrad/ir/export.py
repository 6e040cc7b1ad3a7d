"""Views of a Graph for other tools: networkx, Graphviz DOT (and rendered SVG/PNG), JSON.

Every view is derived from the same Graph and the printer's names, so a label always reads
exactly like the corresponding dump line (without the column padding). All outputs are
deterministic: nodes in graph order, no ids or addresses.

JSON schema (`{"schema": "tracegrad.ir", "version": 1, ...}`): values are numbered in order of
definition (inputs, then node outputs); each definition carries its type and hint; an operand
is `{"value": id}` or a literal; literals and attrs are one-key objects naming their type:
`{"float": "nan"}` (repr text, so nan, inf and -0.0 survive; NaN payloads do not), `{"int": 3}`,
`{"bool": true}`, `{"none": null}`, `{"str": ...}`, `{"tuple": [...]}`, `{"dtype": "f32"}`,
`{"array": {"dtype", "shape", "data"}}` (little-endian C-order bytes in base64). Never pickle.
Round trips keep `structural_key`, the dump (names come from hints) and node locations;
`from_json` rejects other schemas and versions with GraphFormatError, then `verify`s the graph.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from functools import singledispatch
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ..dtypes import DType, as_dtype, from_numpy_dtype
from ..errors import TracegradError
from .graph import Graph, Node, Value, verify
from .ops.creation import ArrayConst
from .printer import format_node, value_names
from .types import TensorType

SCHEMA = "tracegrad.ir"
VERSION = 1
RENDER_FORMATS = ("svg", "png", "pdf")


class GraphFormatError(TracegradError, ValueError):
    """A JSON document is not a graph this version of tracegrad can read."""


class RenderError(TracegradError, RuntimeError):
    """Graphviz could not render a graph."""


class GraphvizNotFoundError(RenderError):
    """Graphviz's `dot` program is not installed (or not on PATH)."""


# ---- labels ----

def node_label(node: Node, names: dict[Value, str]) -> str:
    """A node's dump line without column padding: `%0 : f64[4,2] = matmul(x, w)`."""
    return f"{names[node.out]} : {node.out.type} = {format_node(node, names)}"


def input_label(value: Value, names: dict[Value, str]) -> str:
    """A graph input as the dump's signature writes it: `x: f64[4,3]`."""
    return f"{names[value]}: {value.type}"


# ---- networkx ----

def to_networkx(graph: Graph) -> nx.DiGraph:
    """A DiGraph keyed by printed names: one node per graph input and per IR node.

    Node attributes: op ("input" for graph inputs), type (str), attrs (dict), label (dump
    line), index, loc. Edges run producer -> consumer with `position` (the first operand slot)
    and `positions` (all slots: `mul(y, y)` is one edge with positions (0, 1)). Graph
    attributes: name, inputs and outputs (node keys, in order), comments.
    """
    names = value_names(graph)
    result = nx.DiGraph(name=graph.name, inputs=[names[v] for v in graph.inputs],
                        outputs=[names[v] for v in graph.outputs], comments=list(graph.comments))
    for i, v in enumerate(graph.inputs):
        result.add_node(names[v], op="input", type=str(v.type), attrs={},
                        label=input_label(v, names), index=i, loc=None)
    for i, node in enumerate(graph.nodes):
        key = names[node.out]
        result.add_node(key, op=node.op, type=str(node.out.type), attrs=dict(node.attrs),
                        label=node_label(node, names), index=i, loc=node.loc)
        for position, x in enumerate(node.inputs):
            if isinstance(x, Value):
                _add_edge(result, names[x], key, position)
    return result


def _add_edge(result: nx.DiGraph, source: str, target: str, position: int) -> None:
    if result.has_edge(source, target):
        result.edges[source, target]["positions"] += (position,)
    else:
        result.add_edge(source, target, position=position, positions=(position,))


# ---- DOT ----

def to_dot(graph: Graph) -> str:
    """Graphviz DOT text: boxes labelled with dump lines, operand positions on edges."""
    names = value_names(graph)
    ids = {v: f"in{i}" for i, v in enumerate(graph.inputs)}
    ids.update({node.out: f"n{i}" for i, node in enumerate(graph.nodes)})
    lines = [f"digraph {dot_quote(graph.name)} {{",
             f"  graph [label={dot_quote('graph ' + graph.name)}, labelloc=t, "
             'fontname="monospace"];',
             '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="monospace", fontsize=10];']
    lines += [f"  {ids[v]} [label={dot_quote(input_label(v, names))}, shape=ellipse];"
              for v in graph.inputs]
    comments = dict(graph.comments)
    for i, node in enumerate(graph.nodes):
        if i in comments:
            lines.append(f"  // {' '.join(comments[i].split())}")
        lines.append(f"  {ids[node.out]} [label={dot_quote(node_label(node, names))}];")
        lines += _dot_edges(node, ids)
    lines += _dot_return(graph, names, ids)
    return "\n".join(lines + ["}"]) + "\n"


def _dot_edges(node: Node, ids: dict[Value, str]) -> list[str]:
    labelled = len(node.inputs) > 1
    return [f"  {ids[x]} -> {ids[node.out]}" + (f' [label="{i}"]' if labelled else "") + ";"
            for i, x in enumerate(node.inputs) if isinstance(x, Value)]


def _dot_return(graph: Graph, names: dict[Value, str], ids: dict[Value, str]) -> list[str]:
    text = "return " + ", ".join(names[v] for v in graph.outputs)
    lines = [f"  ret [label={dot_quote(text)}, shape=plaintext];"]
    lines += [f'  {ids[v]} -> ret [label="{i}", style=dashed];'
              for i, v in enumerate(graph.outputs)]
    return lines


def dot_quote(text: str) -> str:
    """A DOT double-quoted string showing `text` literally (backslashes would be escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'


def render(graph: Graph, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Render with Graphviz's `dot` to SVG, PNG or PDF (from the extension unless `format`).

    The file is written atomically (temp file + rename). Raises GraphvizNotFoundError when
    `dot` is not on PATH.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in RENDER_FORMATS:
        raise ValueError(f"render() writes {', '.join(RENDER_FORMATS)}; got format {fmt!r} "
                         f"for {path} (pass format= or use a .svg/.png/.pdf name)")
    data = _run_dot(to_dot(graph), fmt)
    write_atomic(path, data)
    return path


def _run_dot(dot_text: str, fmt: str) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError(
            "render() needs Graphviz's `dot` program, which was not found on PATH. Install "
            "Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install "
            "graphviz`; conda: `conda install -c conda-forge graphviz`), or save to_dot(graph) "
            "to a .dot file and render it elsewhere.")
    done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RenderError(f"`dot -T{fmt}` failed with exit code {done.returncode}: "
                          f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, then rename it into place."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---- JSON: encoding ----

def to_json(graph: Graph) -> str:
    """The graph as versioned JSON text (schema in the module docstring); deterministic."""
    ids: dict[Value, int] = {}
    doc = {"schema": SCHEMA, "version": VERSION, "name": graph.name,
           "inputs": [_define(v, ids) for v in graph.inputs],
           "nodes": [_encode_node(n, ids) for n in graph.nodes],
           "outputs": [ids[v] for v in graph.outputs],
           "comments": [[i, text] for i, text in graph.comments]}
    return _dumps(doc)


def _define(v: Value, ids: dict[Value, int]) -> dict[str, Any]:
    ids[v] = len(ids)
    return {"id": ids[v], "type": {"dtype": v.type.dtype.short, "shape": list(v.type.shape)},
            "hint": v.hint}


def _encode_node(node: Node, ids: dict[Value, int]) -> dict[str, Any]:
    inputs = [{"value": ids[x]} if isinstance(x, Value) else encode_literal(x)
              for x in node.inputs]
    return {"op": node.op, "inputs": inputs,
            "attrs": [[k, encode_literal(v)] for k, v in node.attrs],
            "outputs": [_define(v, ids) for v in node.outputs], "loc": node.loc}


def _dumps(doc: dict[str, Any]) -> str:
    """Pretty but compact: one line per input and per node."""
    parts = []
    for key, value in doc.items():
        if key in ("inputs", "nodes") and value:
            items = ",\n    ".join(json.dumps(item, allow_nan=False) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


@singledispatch
def encode_literal(x: Any) -> dict[str, Any]:
    """A literal operand or attr value as a one-key JSON object naming its type."""
    raise GraphFormatError(f"cannot encode {type(x).__name__} value {x!r} in tracegrad.ir JSON")


@encode_literal.register(bool)
def _(x: bool) -> dict[str, Any]:
    return {"bool": x}


@encode_literal.register(int)
def _(x: int) -> dict[str, Any]:
    return {"int": int(x)}


@encode_literal.register(float)
def _(x: float) -> dict[str, Any]:
    return {"float": repr(float(x))}


@encode_literal.register(type(None))
def _(x: None) -> dict[str, Any]:
    return {"none": None}


@encode_literal.register(str)
def _(x: str) -> dict[str, Any]:
    return {"str": x}


@encode_literal.register(tuple)
def _(x: tuple) -> dict[str, Any]:
    return {"tuple": [encode_literal(v) for v in x]}


@encode_literal.register(DType)
def _(x: DType) -> dict[str, Any]:
    return {"dtype": x.short}


@encode_literal.register(np.generic)
def _(x: np.generic) -> dict[str, Any]:
    return encode_literal(x.item())       # numpy scalars travel as Python scalars


@encode_literal.register(ArrayConst)
def _(x: ArrayConst) -> dict[str, Any]:
    array = x.array
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {"array": {"dtype": _array_dtype_name(array.dtype), "shape": list(array.shape),
                      "data": base64.b64encode(little.tobytes()).decode("ascii")}}


def _array_dtype_name(dtype: np.dtype) -> str:
    """The tracegrad short name when the dtype is one of ours, else numpy's own spelling."""
    try:
        ours = from_numpy_dtype(dtype)
    except TypeError:
        ours = None
    return ours.short if ours is not None and ours.np == dtype else dtype.str


# ---- JSON: decoding ----

def from_json(text: str) -> Graph:
    """The graph written by `to_json`; raises GraphFormatError for other documents."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise GraphFormatError(f"not a JSON document: {e}") from None
    _check_header(doc)
    try:
        graph = _decode_graph(doc)
    except GraphFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise GraphFormatError(f"malformed {SCHEMA} document: {type(e).__name__}: {e}") from e
    return verify(graph)


def _check_header(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise GraphFormatError(f"expected a {SCHEMA!r} document, got schema {found!r}")
    version = doc.get("version")
    if version != VERSION:
        raise GraphFormatError(f"{SCHEMA} version {version!r} is not supported: this tracegrad "
                               f"reads version {VERSION} (a newer tracegrad wrote it?)")


def _decode_graph(doc: dict[str, Any]) -> Graph:
    values: dict[int, Value] = {}
    inputs = tuple(_decode_value(d, values) for d in doc["inputs"])
    nodes = tuple(_decode_node(d, values) for d in doc["nodes"])
    outputs = tuple(values[i] for i in doc["outputs"])
    comments = tuple((_expect(i, int), _expect(t, str)) for i, t in doc.get("comments", []))
    return Graph(_expect(doc["name"], str), inputs, nodes, outputs, comments)


def _decode_value(d: dict[str, Any], values: dict[int, Value]) -> Value:
    key = _expect(d["id"], int)
    if key in values:
        raise GraphFormatError(f"value id {key} is defined twice")
    t = d["type"]
    shape = tuple(_expect(n, int) for n in t["shape"])
    hint = d.get("hint")
    values[key] = Value(TensorType(shape, _decode_dtype(t["dtype"])),
                        None if hint is None else _expect(hint, str))
    return values[key]


def _decode_node(d: dict[str, Any], values: dict[int, Value]) -> Node:
    inputs = tuple(values[_expect(x["value"], int)] if "value" in x else decode_literal(x)
                   for x in d["inputs"])
    attrs = tuple((_expect(k, str), decode_literal(v)) for k, v in d["attrs"])
    outputs = tuple(_decode_value(v, values) for v in d["outputs"])
    loc = d.get("loc")
    return Node(_expect(d["op"], str), inputs, attrs, outputs,
                None if loc is None else _expect(loc, str))


def decode_literal(obj: Any) -> Any:
    """The inverse of `encode_literal`."""
    if not isinstance(obj, dict) or len(obj) != 1:
        raise GraphFormatError(f"expected a one-key literal object, got {obj!r}")
    ((tag, payload),) = obj.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise GraphFormatError(f"unknown literal type {tag!r} (known: {', '.join(_DECODERS)})")
    return decoder(payload)


def _expect(x: Any, kind: type) -> Any:
    if not isinstance(x, kind) or (kind is int and isinstance(x, bool)):
        raise GraphFormatError(f"expected {kind.__name__}, got {x!r}")
    return x


def _decode_dtype(name: Any) -> DType:
    dtype = as_dtype(_expect(name, str))
    if dtype.short != name:
        raise GraphFormatError(f"unknown dtype {name!r}")
    return dtype


def _decode_array(d: dict[str, Any]) -> ArrayConst:
    name = _expect(d["dtype"], str)
    try:
        dtype = _decode_dtype(name).np
    except (GraphFormatError, TypeError):
        dtype = np.dtype(name)
    shape = tuple(_expect(n, int) for n in d["shape"])
    raw = base64.b64decode(_expect(d["data"], str), validate=True)
    flat = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    if flat.size != int(np.prod(shape)):
        raise GraphFormatError(f"array data holds {flat.size} elements, shape {list(shape)} "
                               "needs " + str(int(np.prod(shape))))
    return ArrayConst(flat.astype(dtype).reshape(shape))


_DECODERS: dict[str, Any] = {
    "bool": lambda p: _expect(p, bool),
    "int": lambda p: _expect(p, int),
    "float": lambda p: float(_expect(p, str)),
    "none": lambda p: None,
    "str": lambda p: _expect(p, str),
    "tuple": lambda p: tuple(decode_literal(v) for v in _expect(p, list)),
    "dtype": _decode_dtype,
    "array": _decode_array,
}
