"""Common-subexpression elimination: a node equal to an earlier one becomes an alias of it.

Two nodes are equal when they have the same op, the same operands after substitution (Values
by identity, literals by `literal_key`) and the same attrs (also by `literal_key`). Every op is
pure and deterministic, so the earlier result can serve the later uses. The first occurrence
survives (forward nodes come before adjoints, so the backward reuses the forward's values); a
merged value's hint moves to the survivor when that has none.

Literal equality is stricter than Python's `==`: the type is part of the key (`1`, `1.0`, `True`
and `np.float64(1.0)` compute differently under numpy's promotion rules), floats compare by
their bits (`-0.0` differs from `0.0`; a NaN literal equals the same NaN), tuples element by
element. `ArrayConst` compares by dtype, shape and bytes, so equal `const` nodes merge.
Commutative operands are not reordered: `add(a, b)` and `add(b, a)` stay two nodes.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from typing import Any

from ..graph import Graph, Node, Value
from .rewrite import GraphRewriter, rewrite_nodes


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """`graph` with each repeated computation replaced by its first occurrence."""
    seen: dict[Hashable, Value] = {}

    def visit(node: Node, rewriter: GraphRewriter) -> Node | Value:
        key = node_key(node)
        if key in seen:
            return seen[key]
        seen[key] = node.out
        return node

    return rewrite_nodes(graph, visit)


def node_key(node: Node) -> Hashable:
    """What makes two nodes compute the same value: op, operands and attrs."""
    operands = tuple(x if isinstance(x, Value) else literal_key(x) for x in node.inputs)
    attrs = tuple((name, literal_key(v)) for name, v in node.attrs)
    return node.op, operands, attrs


def literal_key(x: Any) -> Hashable:
    """A hashable key equal only for literals that behave identically (see module docstring)."""
    if isinstance(x, float):
        return type(x), struct.pack("<d", x)
    if isinstance(x, tuple):
        return type(x), tuple(literal_key(v) for v in x)
    return type(x), x
