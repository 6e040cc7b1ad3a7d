"""Constant folding: evaluate at compile time the nodes whose tensor operands are all constants.

A constant is the output of a `full` or `const` node. A foldable node is evaluated with its
op's `compute` (the reference semantics, exactly what the interpreter would run) and replaced,
in place (same output Value), by
- `full(value, shape, dtype)` when every element of the result has the same bits (so `-0.0`
  and `0.0` never merge), or the result is empty;
- `const(value=ArrayConst)` when the result is small (<= MAX_CONST_ELEMENTS elements);
- nothing otherwise: the node stays and is computed at run time.

Shortcuts that never materialize large arrays: an elementwise op whose tensor operands are all
`full` is computed on one-element arrays; reshape/broadcast_to/transpose/slice of a `full` is a
`full` of the new shape. Other nodes are evaluated only when every operand and the result have
at most MAX_EVAL_ELEMENTS elements. A `compute` that raises leaves its node alone: the error
belongs to run time. The now-unused constant operands are left for dead-code elimination.
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Value
from ..ops import OPS, Kind
from ..ops.creation import ArrayConst
from .rewrite import GraphRewriter, rewrite_nodes

MAX_CONST_ELEMENTS = 4096
MAX_EVAL_ELEMENTS = 1 << 20
CONSTANT_OPS = frozenset({"full", "const"})
_SHAPE_ONLY_OPS = frozenset({"reshape", "broadcast_to", "transpose", "slice"})


def fold_constants(graph: Graph) -> Graph:
    """`graph` with every node computable from constants replaced by its value."""
    return rewrite_nodes(graph, _fold_node)


def _fold_node(node: Node, rewriter: GraphRewriter) -> Node:
    if OPS[node.op].kind is Kind.SOURCE:
        return node
    sources = [rewriter.producer(v) for v in node.operand_values]
    if not sources or not all(s is not None and s.op in CONSTANT_OPS for s in sources):
        return node
    if all(s.op == "full" for s in sources):
        folded = _fold_uniform(node, sources)
        if folded is not None:
            return folded
    array = _evaluate(node, rewriter)
    folded = None if array is None else constant_node(array, node)
    return folded or node


def _fold_uniform(node: Node, sources: list[Node]) -> Node | None:
    """Fold without materializing: uniform in, uniform out."""
    if node.op in _SHAPE_ONLY_OPS:
        return _full_node(sources[0].attr_dict["value"], node)
    if OPS[node.op].kind is not Kind.ELEMENTWISE:
        return None
    fulls = iter(sources)
    operands = [_source_array(next(fulls), (1,)) if isinstance(x, Value) else x
                for x in node.inputs]
    array = _compute(node, operands)
    return None if array is None else _full_node(array.reshape(-1)[0].item(), node)


def _evaluate(node: Node, rewriter: GraphRewriter) -> np.ndarray | None:
    sizes = [v.type.size for v in node.operand_values] + [node.out.type.size]
    if max(sizes) > MAX_EVAL_ELEMENTS:
        return None
    operands = [_source_array(rewriter.producer(x)) if isinstance(x, Value) else x
                for x in node.inputs]
    return _compute(node, operands)


def _source_array(source: Node, shape: tuple[int, ...] | None = None) -> np.ndarray:
    attrs = source.attr_dict
    if shape is not None:                      # a `full`, sampled at a smaller shape
        attrs["shape"] = shape
    return np.asarray(OPS[source.op].compute(**attrs), dtype=source.out.type.dtype.np)


def _compute(node: Node, operands: list) -> np.ndarray | None:
    try:
        with np.errstate(all="ignore"):
            result = OPS[node.op].compute(*operands, **node.attr_dict)
    except (ArithmeticError, TypeError, ValueError):
        return None
    return np.asarray(result, dtype=node.out.type.dtype.np)


def constant_node(array: np.ndarray, node: Node) -> Node | None:
    """A source node defining `node`'s output as `array`, or None when too large to embed."""
    if is_uniform(array):
        value = array.reshape(-1)[0].item() if array.size else np.zeros((), array.dtype).item()
        return _full_node(value, node)
    if array.size <= MAX_CONST_ELEMENTS:
        return Node("const", (), (("value", ArrayConst(array)),), node.outputs, node.loc)
    return None


def is_uniform(array: np.ndarray) -> bool:
    """True when all elements have identical bits (vacuously for an empty array)."""
    if array.size == 0:
        return True
    rows = np.ascontiguousarray(array).reshape(array.size, 1).view(np.uint8)
    return bool((rows == rows[:1]).all())


def _full_node(value: bool | int | float, node: Node) -> Node:
    out = node.out.type
    attrs = (("value", value), ("shape", out.shape), ("dtype", out.dtype))
    return Node("full", (), attrs, node.outputs, node.loc)
