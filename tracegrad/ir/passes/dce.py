"""Dead-code elimination: drop every node that no graph output needs.

Invariants: graph inputs are all kept (they are the signature, used or not); outputs are
unchanged; the surviving nodes keep their order, Values and hints. No op has side effects, so
"needed" is exactly "reachable backwards from an output". The sweep is iterative (one reverse
pass over the node list), so graph depth never meets Python's recursion limit.
"""

from __future__ import annotations

from ..graph import Graph, Node, Value
from .rewrite import GraphRewriter, rewrite_nodes


def eliminate_dead_code(graph: Graph) -> Graph:
    """`graph` without the nodes whose outputs no graph output depends on."""
    needed = needed_values(graph)
    if all(any(v in needed for v in node.outputs) for node in graph.nodes):
        return graph

    def visit(node: Node, rewriter: GraphRewriter) -> Node | None:
        return node if any(v in needed for v in node.outputs) else None

    return rewrite_nodes(graph, visit)


def needed_values(graph: Graph) -> set[Value]:
    """The values some graph output depends on (graph inputs included)."""
    needed = set(graph.outputs)
    for node in reversed(graph.nodes):
        if any(v in needed for v in node.outputs):
            needed.update(node.operand_values)
    return needed
