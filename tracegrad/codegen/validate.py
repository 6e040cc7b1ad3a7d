"""Check a graph is within what codegen supports before any source is written, so a user
reads an error naming the op and their line, never a Numba traceback."""

from __future__ import annotations

from .. import dtypes as dt
from ..errors import UnsupportedError
from ..ir.graph import Graph
from .fusion import REDUCERS, is_pointwise
from .lowering import SINGLE_LOWERINGS

_KERNEL_DTYPES = (dt.bool_, dt.int32, dt.int64, dt.float32, dt.float64)


def check_supported(graph: Graph, call_site: str | None = None) -> None:
    """Raise UnsupportedError for an op or dtype kernels cannot take. `call_site` ('file:line'
    of the user's call) locates errors about inputs, which no node's line does."""
    for value in graph.inputs:
        _check_dtype(value.type.dtype, f"input {value.hint or '?'}", call_site)
    for node in graph.nodes:
        where = f" (at {node.loc})" if node.loc else ""
        if not (is_pointwise(node) or node.op in REDUCERS or node.op in SINGLE_LOWERINGS):
            raise UnsupportedError(f"codegen cannot lower op {node.op!r}{where}")
        _check_dtype(node.out.type.dtype, f"op {node.op!r}", node.loc)


def _check_dtype(dtype: dt.DType, what: str, loc: str | None) -> None:
    if dtype not in _KERNEL_DTYPES:
        where = f" (at {loc})" if loc else ""
        raise UnsupportedError(f"codegen does not support dtype {dtype.name} for {what}{where}; "
                               f"supported: {', '.join(d.name for d in _KERNEL_DTYPES)}")
