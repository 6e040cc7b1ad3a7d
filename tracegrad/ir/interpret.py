"""The reference interpreter: evaluate a graph with each op's numpy `compute`.

Results carry exactly the dtype each node's type records, so the interpreter agrees with eager
mode bit for bit (both run the same `compute`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from .graph import Graph, Value
from .ops import OPS


def evaluate(graph: Graph, *arrays: Any) -> list[np.ndarray]:
    """Run `graph` on numpy arrays (one per graph input); return one array per output."""
    if len(arrays) != len(graph.inputs):
        raise TypeError(f"graph {graph.name} takes {len(graph.inputs)} inputs, got {len(arrays)}")
    env: dict[Value, np.ndarray] = {}
    for value, array in zip(graph.inputs, arrays):
        env[value] = _check_input(value, np.asarray(array))
    for node in graph.nodes:
        operands = [env[x] if isinstance(x, Value) else x for x in node.inputs]
        result = OPS[node.op].compute(*operands, **node.attr_dict)
        env[node.out] = np.asarray(result, dtype=node.out.type.dtype.np)
    return [env[v] for v in graph.outputs]


def _check_input(value: Value, array: np.ndarray) -> np.ndarray:
    if array.shape != value.type.shape:
        raise ShapeError(f"input {value.hint or '?'} expects shape {list(value.type.shape)}, got "
                         f"{list(array.shape)}")
    return array.astype(value.type.dtype.np, copy=False)

