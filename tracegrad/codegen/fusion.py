"""Group a graph's nodes into kernels' loop nests.

A loop group iterates over one shape: it holds pointwise nodes (elementwise ops, broadcast_to
and full) of that output shape, and reductions (sum, max, min, sum_to) whose input has that
shape, fused with their producers. Values that only feed nodes of the same group stay scalars
inside the loop; the rest are materialized. Every other node (matmul, reshape, transpose, slice,
concat, take, ...) is a group of its own.

Nodes are list-scheduled: among ready nodes the one that fits the open group goes first, so
independent work (a matmul) does not split an elementwise chain; when a group closes, ready
stand-alone nodes (reshapes, matmuls) go before the next loop opens, so that the loop can take
in everything that depends on them. Groups are emitted in order,
and a group only reads values of earlier groups, so the order is a valid schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Node, Value
from ..ir.ops import OPS, Kind

REDUCERS = frozenset({"sum", "max", "min", "sum_to"})


@dataclass(frozen=True)
class Group:
    kind: str                      # "loop" or "single"
    nodes: tuple[Node, ...]
    shape: tuple[int, ...]         # iteration shape of a loop group
    outputs: tuple[Value, ...]     # values this group materializes

    def describe(self, names: dict[Value, str]) -> str:
        ops = ", ".join(f"{names[n.out]}={n.op}" for n in self.nodes)
        shape = "x".join(map(str, self.shape)) or "scalar"
        return f"{self.kind}[{shape}]: {ops}" if self.kind == "loop" else f"single: {ops}"


def is_pointwise(node: Node) -> bool:
    """Nodes whose element i depends only on element i (or a broadcast one) of the operands;
    `full` counts (a literal in the loop), so a folded constant never becomes an array."""
    return OPS[node.op].kind is Kind.ELEMENTWISE or node.op in ("broadcast_to", "full")


def iteration_shape(node: Node) -> tuple[int, ...] | None:
    """The loop shape a node can join, or None for nodes that stand alone."""
    if is_pointwise(node):
        return node.out.type.shape
    if node.op in REDUCERS:
        return node.inputs[0].type.shape
    return None


def fuse(graph: Graph) -> list[Group]:
    """Partition `graph.nodes` into groups, in an order that respects dependencies."""
    order = {n.out: i for i, n in enumerate(graph.nodes)}
    pending = list(graph.nodes)
    available: set[Value] = set(graph.inputs)
    groups: list[list[Node]] = []
    shapes: list[tuple[int, ...] | None] = []
    scalar_values: set[Value] = set()          # pointwise values of the open group
    finished_later: set[Value] = set()         # reductions of the open group: ready after it
    while pending:
        ready = [n for n in pending if all(x in available or x in scalar_values
                                           for x in n.operand_values)]
        fits = [n for n in ready if shapes and shapes[-1] is not None
                and iteration_shape(n) == shapes[-1]]
        if fits:
            node = min(fits, key=lambda n: order[n.out])
        else:
            available |= scalar_values | finished_later
            scalar_values, finished_later = set(), set()
            node = min((n for n in pending if all(x in available for x in n.operand_values)),
                       key=lambda n: (iteration_shape(n) is not None, order[n.out]))
            groups.append([])
            shapes.append(iteration_shape(node))
        groups[-1].append(node)
        pending.remove(node)
        if shapes[-1] is None:
            available.add(node.out)
        elif is_pointwise(node):
            scalar_values.add(node.out)
        else:
            finished_later.add(node.out)
    return [_finish(g, s, graph) for g, s in zip(groups, shapes)]


def _finish(nodes: list[Node], shape: tuple[int, ...] | None, graph: Graph) -> Group:
    inside = {n.out for n in nodes}
    needed_outside = set(graph.outputs)
    for node in graph.nodes:
        if node.out not in inside:
            needed_outside.update(node.operand_values)
    outputs = tuple(n.out for n in nodes
                    if n.out in needed_outside or not is_pointwise(n) or shape is None)
    if shape is None:
        return Group("single", tuple(nodes), (), outputs)
    return Group("loop", tuple(nodes), shape, outputs)
