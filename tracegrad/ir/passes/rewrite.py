"""Rebuilding a graph node by node: the one loop every pass shares.

A pass walks the old graph's nodes in topological order. Each node arrives with its operands
already substituted, and the pass answers with one of:
- the node itself, or a replacement `Node` that defines the *same* output Values (so a value keeps
  its identity, its hint and its type: `verify` checks the type against the new op's `infer`);
- a `Value` already defined (a graph input or an earlier output) of the same type: an alias; the
  node is dropped and every later use, graph outputs included, reads that value;
- `None`: the node is dropped; only valid when nothing uses its output (dead code).
A pass may also emit new nodes with fresh outputs (`emit_new`) before answering.

Invariants of the result:
- nodes stay in topological order and each Value is defined once;
- the graph inputs are the same Value objects in the same order (unused ones included);
- outputs keep their order and types; an output may become an earlier value or an input;
- a dropped value's hint moves to its replacement when that has none and is not a graph input
  (so `grad_w = mul(t, 1.0)` still prints as `grad_w`); the first hint wins;
- a comment moves to the first node emitted at or after its old position; comments that end up
  after the last node, or share a position with a later comment, are dropped;
- when nothing changes, the input graph object itself is returned, so callers detect a fixed
  point with `is`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..builder import rename
from ..graph import Graph, Node, Value, VerifyError

Visit = Callable[[Node, "GraphRewriter"], "Node | Value | None"]


class GraphRewriter:
    """The mutable state of one rewrite: confined to a single pass call, then frozen by finish()."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[Node] = []
        self.producers: dict[Value, Node] = {}    # new-graph producer of each emitted value
        self._env: dict[Value, Value] = {}        # aliased value -> its replacement
        self._hints: dict[Value, str] = {}
        self._inputs = frozenset(graph.inputs)
        self._starts: list[int] = []              # len(self.nodes) when old node i was visited
        self.changed = False

    def producer(self, x: object) -> Node | None:
        """The node defining operand `x` in the new graph (None for inputs and literals)."""
        return self.producers.get(x) if isinstance(x, Value) else None

    def substitute(self, node: Node) -> Node:
        inputs = tuple(self._env.get(x, x) if isinstance(x, Value) else x for x in node.inputs)
        if all(a is b for a, b in zip(inputs, node.inputs, strict=True)):
            return node
        return Node(node.op, inputs, node.attrs, node.outputs, node.loc)

    def step(self, node: Node, visit: Visit) -> None:
        self._starts.append(len(self.nodes))
        current = self.substitute(node)
        result = visit(current, self)
        if isinstance(result, Node):
            self._emit(result)
            self.changed |= result is not node
        elif result is None:
            self.changed = True
        else:
            self._alias(current, result)
            self.changed = True

    def emit_new(self, op: str, inputs: tuple, like: Node, attrs: tuple = ()) -> Value:
        """Emit a new node of `like`'s output type and location before the node being visited
        (for rewrites into two nodes); returns its output."""
        value = Value(like.out.type)
        self._emit(Node(op, inputs, attrs, (value,), like.loc))
        self.changed = True
        return value

    def _emit(self, node: Node) -> None:
        self.nodes.append(node)
        for v in node.outputs:
            self.producers[v] = node

    def _alias(self, node: Node, value: Value) -> None:
        old = node.out
        if value is old or value.type != old.type:
            raise VerifyError(f"a pass replaced {node.op}'s output {old} by {value}: the "
                              "replacement must be an earlier value of the same type")
        self._env[old] = value
        if old.hint and not value.hint and value not in self._inputs:
            self._hints.setdefault(value, old.hint)

    def finish(self) -> Graph:
        if not self.changed:
            return self.graph
        outputs = tuple(self._env.get(v, v) for v in self.graph.outputs)
        graph = Graph(self.graph.name, self.graph.inputs, tuple(self.nodes), outputs,
                      self._comments())
        return rename(graph, self._hints) if self._hints else graph

    def _comments(self) -> tuple[tuple[int, str], ...]:
        moved: dict[int, str] = {}
        for index, text in self.graph.comments:
            at = self._starts[index] if index < len(self._starts) else len(self.nodes)
            if at < len(self.nodes):
                moved[at] = text
        return tuple(sorted(moved.items()))


def rewrite_nodes(graph: Graph, visit: Visit) -> Graph:
    """Rebuild `graph`, asking `visit` what becomes of each (operand-substituted) node."""
    rewriter = GraphRewriter(graph)
    for node in graph.nodes:
        rewriter.step(node, visit)
    return rewriter.finish()
