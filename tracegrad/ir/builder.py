"""GraphBuilder and SymbolicTensor: build graphs by running tensor methods on symbolic values.

SymbolicTensor inherits the shared TensorOps mixin, so VJP rules and user code written with
tensor methods append nodes here exactly as they compute in eager mode. The builder is the only
mutable piece; `finish()` freezes it into a Graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..dtypes import from_numpy_dtype
from ..errors import user_location
from .graph import Graph, Node, Value
from .ops import OPS
from .ops.creation import ArrayConst
from .tensor_api import TensorOps
from .types import TensorType


class GraphBuilder:
    """Accumulates nodes in topological order; knows which builder a symbolic value belongs to."""

    def __init__(self, name: str, *, record_locations: bool = True,
                 tensor_class: type | None = None) -> None:
        self.name = name
        self.tensor_class = tensor_class or SymbolicTensor
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.comments: list[tuple[int, str]] = []
        self.hints: dict[Value, str] = {}     # names decided after a value was created
        self.fallback_hints: dict[Value, str] = {}   # used only where no other name is found
        self._loc: str | None = None
        self._record_locations = record_locations
        self._constants: dict[ArrayConst, Value] = {}

    # ---- construction ----
    def add_input(self, tensor_type: TensorType, hint: str | None = None) -> SymbolicTensor:
        value = Value(tensor_type, hint)
        self.inputs.append(value)
        return self.wrap(value)

    def wrap(self, value: Value) -> SymbolicTensor:
        return self.tensor_class(value, self)

    def append(self, op_name: str, operands: Sequence[Any], attrs: dict[str, Any],
               hint: str | None = None) -> Value:
        op_def = OPS[op_name]
        types = tuple(x.type if isinstance(x, Value) else x for x in operands)
        out_type = op_def.infer(*types, **attrs)
        value = Value(out_type, hint)
        ordered = tuple((k, attrs[k]) for k in op_def.attrs)
        self.nodes.append(Node(op_name, tuple(operands), ordered, (value,), self._location()))
        return value

    def constant(self, array: np.ndarray) -> Value:
        array = np.asarray(array)
        if array.ndim == 0:
            # A 0-d constant is a `full` with an inline literal: readable in dumps, and it keeps
            # its shape (ArrayConst stores a contiguous copy, which numpy makes at least 1-d).
            dtype = from_numpy_dtype(array.dtype)
            return self.append("full", (), {"value": array.item(), "shape": (), "dtype": dtype})
        const = ArrayConst(array)
        if const not in self._constants:
            self._constants[const] = self.append("const", (), {"value": const})
        return self._constants[const]

    def comment(self, text: str) -> None:
        self.comments.append((len(self.nodes), text))

    @contextlib.contextmanager
    def location(self, loc: str | None) -> Iterator[None]:
        """Nodes appended inside carry `loc` (adjoints carry their forward node's line)."""
        previous, self._loc = self._loc, loc
        try:
            yield
        finally:
            self._loc = previous

    def _location(self) -> str | None:
        if self._loc is not None:
            return self._loc
        return user_location() if self._record_locations else None

    def finish(self, outputs: Sequence[Value]) -> Graph:
        graph = Graph(self.name, tuple(self.inputs), tuple(self.nodes), tuple(outputs),
                      tuple(self.comments))
        hints = {**self.fallback_hints, **self.hints}
        return rename(graph, hints) if hints else graph

    @classmethod
    def from_graph(cls, graph: Graph, name: str | None = None, **options: Any) -> GraphBuilder:
        """A builder that continues `graph`: same inputs and nodes, ready to append."""
        b = cls(name or graph.name, **options)
        b.inputs, b.nodes, b.comments = list(graph.inputs), list(graph.nodes), list(graph.comments)
        for node in graph.nodes:
            if node.op == "const":
                b._constants[node.attr_dict["value"]] = node.out
        return b


def rename(graph: Graph, hints: dict[Value, str]) -> Graph:
    """The same graph with new hints on some values (Values are immutable: rebuild them)."""
    mapping: dict[Value, Value] = {}

    def new(v: Any) -> Any:
        if not isinstance(v, Value):
            return v
        if v not in mapping:
            mapping[v] = Value(v.type, hints[v]) if v in hints and not v.hint else v
        return mapping[v]

    inputs = tuple(new(v) for v in graph.inputs)
    nodes = tuple(Node(n.op, tuple(new(x) for x in n.inputs), n.attrs,
                       tuple(new(v) for v in n.outputs), n.loc) for n in graph.nodes)
    return Graph(graph.name, inputs, nodes, tuple(new(v) for v in graph.outputs), graph.comments)


class SymbolicTensor(TensorOps):
    """A tensor whose operations append IR nodes to a GraphBuilder."""

    __slots__ = ("value", "builder")
    _priority = 2

    def __init__(self, value: Value, builder: GraphBuilder) -> None:
        self.value, self.builder = value, builder

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.type.shape

    @property
    def dtype(self) -> Any:
        return self.value.type.dtype

    @property
    def type(self) -> TensorType:
        return self.value.type

    def _apply(self, op: str, *operands: Any, **attrs: Any) -> SymbolicTensor:
        values = [self._operand(x) for x in operands]
        return self.builder.wrap(self.builder.append(op, values, attrs))

    def _operand(self, x: Any) -> Any:
        if isinstance(x, SymbolicTensor):
            if x.builder is not self.builder:
                return self._foreign(x)
            return x.value
        if isinstance(x, TensorOps):                 # an eager tensor captured by the function
            return self.builder.constant(np.asarray(x._concrete()))
        return x

    def _foreign(self, x: SymbolicTensor) -> Value:
        from ..errors import TraceError
        raise TraceError(f"{user_location()}: a value from another trace was used here; pass it "
                         "to the traced function as an argument instead")

    def _constant(self, array: np.ndarray) -> SymbolicTensor:
        return self.builder.wrap(self.builder.constant(array))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value.type}, {self.value.hint or '?'})"
