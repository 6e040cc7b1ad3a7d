"""trace(fn, *args): run `fn` on proxies and record its IR graph.

Tensor and numpy-array leaves of the arguments become graph inputs (named after the parameters);
Python scalars and other leaves are static: baked into the graph as constants and part of the
signature. Outputs may be nested containers of traced values, tensors or numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..errors import TraceError
from ..ir.builder import GraphBuilder, SymbolicTensor
from ..ir.graph import Graph, Value
from ..ir.tensor_api import TensorOps
from ..ir.types import TensorType
from .naming import capture_names
from .proxy import Proxy
from .pytree import TreeDef, flatten, leaf_paths, unflatten


@dataclass(frozen=True)
class TracedFunction:
    graph: Graph
    in_tree: TreeDef
    out_tree: TreeDef
    tensor_leaves: tuple[int, ...]     # positions of the argument leaves that are graph inputs


def is_array_like(x: Any) -> bool:
    return isinstance(x, (TensorOps, np.ndarray))


def concrete_array(x: Any) -> np.ndarray:
    """The data of a tensor or array argument (a tensor that requires grad included)."""
    if isinstance(x, TensorOps):
        return np.asarray(x._concrete())
    return np.asarray(x)


def leaf_type(x: Any) -> TensorType:
    """The IR type of a tensor or array argument."""
    if isinstance(x, TensorOps):
        return TensorType(tuple(x.shape), x.dtype)
    return TensorType(x.shape, dt.from_numpy_dtype(x.dtype))


def trace(fn: Callable, *args: Any, name: str | None = None, names_from: Callable | None = None,
          **kwargs: Any) -> TracedFunction:
    """Trace `fn(*args, **kwargs)` into a graph (see the module docstring).

    Graph inputs are named after the parameters of `names_from` (default: `fn`)."""
    leaves, in_tree = flatten((args, kwargs))
    names = _leaf_names(names_from or fn, args, kwargs)
    builder = GraphBuilder(name or _graph_name(fn), tensor_class=Proxy)
    tensor_leaves, traced = [], []
    for i, (leaf, hint) in enumerate(zip(leaves, names)):
        if is_array_like(leaf):
            tensor_leaves.append(i)
            traced.append(builder.add_input(leaf_type(leaf), hint))
        else:
            traced.append(leaf)
    call_args, call_kwargs = unflatten(in_tree, traced)
    with capture_names(builder):
        result = fn(*call_args, **call_kwargs)
    out_leaves, out_tree = flatten(result)
    outputs = [output_value(builder, leaf) for leaf in out_leaves]
    return TracedFunction(builder.finish(outputs), in_tree, out_tree, tuple(tensor_leaves))


def output_value(builder: GraphBuilder, leaf: Any) -> Value:
    """The graph value for an output leaf: a traced value, or a constant for anything else."""
    if isinstance(leaf, SymbolicTensor) and leaf.builder is builder:
        return leaf.value
    if isinstance(leaf, SymbolicTensor):
        raise TraceError("the traced function returned a value from another trace")
    if isinstance(leaf, TensorOps):
        return builder.constant(np.asarray(leaf._concrete()))
    if isinstance(leaf, (bool, int, float, np.ndarray, np.generic)):
        array = np.asarray(leaf)
        if not isinstance(leaf, np.ndarray):
            array = array.astype(dt.scalar_kind(leaf).np)
        return builder.constant(array)
    raise TraceError(f"a traced function must return tensors, numbers or containers of them; got "
                     f"{type(leaf).__name__}")


def _graph_name(fn: Callable) -> str:
    name = getattr(fn, "__name__", "f")
    return name if name.isidentifier() else "f"


def _leaf_names(fn: Callable, args: tuple, kwargs: dict) -> list[str]:
    """Parameter-derived names for every argument leaf (`x`, `params_w1`, `args_0`)."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        named = list(bound.arguments.items())
    except (TypeError, ValueError):
        named = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    by_position = []
    for pname, value in named:
        kind = _parameter_kind(fn, pname)
        if kind == inspect.Parameter.VAR_POSITIONAL:
            for i, item in enumerate(value):
                by_position += leaf_paths(item, f"{pname}_{i}")
        elif kind == inspect.Parameter.VAR_KEYWORD:
            for key, item in value.items():
                by_position += leaf_paths(item, str(key))
        else:
            by_position += leaf_paths(value, pname)
    leaves, _ = flatten((args, kwargs))
    if len(by_position) != len(leaves):
        return [f"in_{i}" for i in range(len(leaves))]
    return by_position


def _parameter_kind(fn: Callable, name: str) -> Any:
    try:
        return inspect.signature(fn).parameters[name].kind
    except (TypeError, ValueError, KeyError):
        return None
