"""The IR text dump: one typed node per line, user names where known, column-aligned.

Naming (the one place these templates live): a value takes its hint (the user's variable name,
or `grad_<name>` for an adjoint); unnamed graph outputs are `out` (`out_0`, `out_1`, ... when
several); everything else is `%0, %1, ...` in order of appearance. Collisions get `_1, _2`.
Anonymous mode replaces every name by its position and prints constants in full: it is the
canonical form hashed by `structural_key`. The output has no ids, addresses or timestamps.
"""

from __future__ import annotations

import os
from typing import Any

from ..dtypes import DType
from .graph import Graph, Node, Value
from .ops.creation import ArrayConst

GRAD_PREFIX = "grad_"
SAVED_PREFIX = "saved_"
TEMP_PREFIX = "%"
OUTPUT_NAME = "out"


def value_names(graph: Graph) -> dict[Value, str]:
    """The printed name of every value of `graph`."""
    names: dict[Value, str] = {}
    used: set[str] = set()
    inputs = set(graph.inputs)
    unnamed_outputs = [v for v in dict.fromkeys(graph.outputs) if not v.hint and v not in inputs]
    output_names = {v: OUTPUT_NAME if len(unnamed_outputs) == 1 else f"{OUTPUT_NAME}_{i}"
                    for i, v in enumerate(unnamed_outputs)}
    counter = 0
    for i, v in enumerate(graph.inputs):
        names[v] = _unique(v.hint or f"in_{i}", used)
    for node in graph.nodes:
        for v in node.outputs:
            if v in names:
                continue
            if v.hint or v in output_names:
                names[v] = _unique(v.hint or output_names[v], used)
            else:
                names[v] = f"{TEMP_PREFIX}{counter}"
                counter += 1
    return names


def _unique(name: str, used: set[str]) -> str:
    candidate, k = name, 0
    while candidate in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate)
    return candidate


def format_literal(value: Any, anonymous: bool = False) -> str:
    """Python-literal text of an operand or attribute; floats round-trip through repr."""
    if isinstance(value, DType):
        return value.short
    if isinstance(value, ArrayConst):
        return f"<{value.type} {value.digest if anonymous else value.digest[:8]}>"
    if isinstance(value, tuple):
        inner = ", ".join(format_literal(v, anonymous) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def format_node(node: Node, names: dict[Value, str], anonymous: bool = False) -> str:
    """`op(operand, ..., attr=literal, ...)`."""
    parts = [names[x] if isinstance(x, Value) else format_literal(x) for x in node.inputs]
    parts += [f"{k}={format_literal(v, anonymous)}" for k, v in node.attrs]
    return f"{node.op}({', '.join(parts)})"


def format_graph(graph: Graph, verbose: bool = False, anonymous: bool = False) -> str:
    """The text dump of `graph` (format in ARCHITECTURE.md)."""
    names = _anonymous_names(graph) if anonymous else value_names(graph)
    signature = ", ".join(f"{names[v]}: {v.type}" for v in graph.inputs)
    header = f"graph {'_' if anonymous else graph.name}({signature}) {{"
    rows = [(names[n.out], str(n.out.type), format_node(n, names, anonymous), n)
            for n in graph.nodes]
    width_name = max((len(r[0]) for r in rows), default=0)
    width_type = max((len(r[1]) for r in rows), default=0)
    comments = {} if anonymous else dict(graph.comments)
    uses = _use_counts(graph) if verbose else {}
    lines = [header]
    for i, (name, type_text, body, node) in enumerate(rows):
        if i in comments:
            lines.append(f"  # {comments[i]}")
        line = f"  {name:<{width_name}} : {type_text:<{width_type}} = {body}"
        if verbose:
            line += f"  # {_short_loc(node.loc)}  uses={uses.get(node.out, 0)}"
        lines.append(line)
    lines.append(f"  return {', '.join(names[v] for v in graph.outputs)}")
    lines.append("}")
    return "\n".join(lines)


def _anonymous_names(graph: Graph) -> dict[Value, str]:
    names = {v: f"%i{i}" for i, v in enumerate(graph.inputs)}
    for i, node in enumerate(graph.nodes):
        names[node.out] = f"%{i}"
    return names


def _use_counts(graph: Graph) -> dict[Value, int]:
    counts: dict[Value, int] = {}
    for node in graph.nodes:
        for v in node.operand_values:
            counts[v] = counts.get(v, 0) + 1
    for v in graph.outputs:
        counts[v] = counts.get(v, 0) + 1
    return counts


def _short_loc(loc: str | None) -> str:
    if not loc:
        return "?"
    path, _, line = loc.rpartition(":")
    return f"{os.path.basename(path)}:{line}"
