"""IR records: Value, Node, Graph (immutable), and `verify`, which checks their invariants.

Invariants (checked by `verify`):
- nodes are in topological order and each Value is defined exactly once (as a graph input or as
  one node's output); every operand is a defined Value or a Python scalar literal;
- each node's recorded output type equals its op's `infer` on the operand types;
- attrs are exactly the op's declared attrs, in declared order; values are hashable.
Values compare by identity (like a jaxpr Var); `hint` is the user's name, a suggestion only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TracegradError
from .ops import VARIADIC, op
from .types import TensorType

Literal = bool | int | float


@dataclass(frozen=True, eq=False, slots=True)
class Value:
    type: TensorType
    hint: str | None = None

    def __repr__(self) -> str:
        return f"Value({self.type}, {self.hint!r})"


@dataclass(frozen=True, slots=True)
class Node:
    op: str
    inputs: tuple[Value | Literal, ...]
    attrs: tuple[tuple[str, Any], ...]
    outputs: tuple[Value, ...]
    loc: str | None = None            # the user's file:line that created the node

    @property
    def out(self) -> Value:
        return self.outputs[0]

    @property
    def attr_dict(self) -> dict[str, Any]:
        return dict(self.attrs)

    @property
    def operand_values(self) -> tuple[Value, ...]:
        return tuple(x for x in self.inputs if isinstance(x, Value))


@dataclass(frozen=True, slots=True)
class Graph:
    name: str
    inputs: tuple[Value, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Value, ...]
    comments: tuple[tuple[int, str], ...] = ()    # (node index, text): printed before that node

    def producers(self) -> dict[Value, Node]:
        return {v: n for n in self.nodes for v in n.outputs}

    def users(self) -> dict[Value, list[Node]]:
        result: dict[Value, list[Node]] = {}
        for n in self.nodes:
            for v in n.operand_values:
                result.setdefault(v, []).append(n)
        return result

    def __str__(self) -> str:
        from .printer import format_graph
        return format_graph(self)


class VerifyError(TracegradError):
    """A graph breaks an IR invariant: a bug in whatever produced it."""


def verify(graph: Graph) -> Graph:
    """Check every invariant listed in the module docstring; return the graph unchanged."""
    defined: set[Value] = set()
    for v in graph.inputs:
        _define(v, defined, "graph input")
    for i, node in enumerate(graph.nodes):
        _verify_node(i, node, defined)
    for v in graph.outputs:
        if v not in defined:
            raise VerifyError(f"graph output {v} is not defined")
    return graph


def _define(v: Value, defined: set[Value], what: str) -> None:
    if not isinstance(v, Value):
        raise VerifyError(f"{what} is not a Value: {v!r}")
    if v in defined:
        raise VerifyError(f"{what} {v} is defined twice")
    defined.add(v)


def _verify_node(i: int, node: Node, defined: set[Value]) -> None:
    where = f"node {i} ({node.op})"
    try:
        op_def = op(node.op)
    except KeyError as e:
        raise VerifyError(f"{where}: {e.args[0]}") from None
    if op_def.arity != VARIADIC and len(node.inputs) != op_def.arity:
        raise VerifyError(f"{where}: expected {op_def.arity} operands, got {len(node.inputs)}")
    for x in node.inputs:
        if isinstance(x, Value):
            if x not in defined:
                raise VerifyError(f"{where}: operand {x} is used before it is defined")
        elif not isinstance(x, (bool, int, float)):
            raise VerifyError(f"{where}: operand {x!r} is neither a Value nor a scalar literal")
    names = tuple(k for k, _ in node.attrs)
    if names != op_def.attrs:
        raise VerifyError(f"{where}: attrs {names} differ from the op's declared {op_def.attrs}")
    for k, v in node.attrs:
        try:
            hash(v)
        except TypeError:
            raise VerifyError(f"{where}: attr {k}={v!r} is not hashable") from None
    operand_types = tuple(x.type if isinstance(x, Value) else x for x in node.inputs)
    try:
        expected = op_def.infer(*operand_types, **node.attr_dict)
    except (TracegradError, TypeError, ValueError) as e:
        raise VerifyError(f"{where}: the op's infer rejects its operands: {e}") from e
    if len(node.outputs) != 1 or node.out.type != expected:
        raise VerifyError(f"{where}: output type {[str(v.type) for v in node.outputs]} differs "
                          f"from infer's {expected}")
    _define(node.out, defined, f"{where} output")
