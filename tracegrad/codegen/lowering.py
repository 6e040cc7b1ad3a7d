"""Lower fused groups to Python statements for Numba: loop nests for elementwise chains and
reductions, per-op lowerings for everything else.

Conventions of the generated code: static shapes are literals; loop indices are i0, i1, ...;
a value of shape () is a scalar local; arrays are C-contiguous unless a view op made them
otherwise (tracked in `noncontiguous`); every scalar result is cast to its node's dtype and
every literal is typed, so float32 kernels stay float32; functions in templates resolve to
`vm.<fn>_<dtype>` (vectorizable math) or LLVM intrinsics (sqrt, abs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .. import dtypes as dt
from ..errors import UnsupportedError
from ..ir.graph import Graph, Node, Value
from ..ir.ops import OPS
from ..ir.printer import format_node
from .fusion import Group, is_pointwise
from .source import SourceWriter

_VMATH = ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "softplus", "pow")
_FUNCTION = re.compile(r"\b(" + "|".join(_VMATH) + r"|sqrt)\(")
_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
SINGLE_LOWERINGS: dict[str, Callable[[Emitter, Node], None]] = {}


def lowering(*ops: str) -> Callable:
    """Register the lowering of ops that do not fuse into loops."""
    def register(fn: Callable) -> Callable:
        for name in ops:
            SINGLE_LOWERINGS[name] = fn
        return fn
    return register


def typed_literal(value: Any, dtype: dt.DType) -> str:
    if dtype is dt.bool_:
        return repr(bool(value))
    if dtype.is_floating_point:
        v = float(value)
        text = "np.nan" if v != v else ("np.inf" if v == math.inf else (
            "-np.inf" if v == -math.inf else repr(v)))
        return f"np.{dtype.np.name}({text})"
    return f"np.{dtype.np.name}({int(value)})"


def np_dtype(dtype: dt.DType) -> str:
    return f"np.{dtype.np.name}"


class Emitter:
    """Writes one kernel function's body; owns the names of the graph's values in the kernel."""

    def __init__(self, graph: Graph, writer: SourceWriter, names: dict[Value, str]) -> None:
        self.graph, self.w, self.ir_names = graph, writer, names
        self.var: dict[Value, str] = {}
        self.noncontiguous: set[Value] = set()
        self.constants: list[tuple[str, Any]] = []

    # ---- names ----
    def bind(self, value: Value, name: str | None = None) -> str:
        self.var[value] = name or self.w.name(self.ir_names[value])
        return self.var[value]

    def note(self, node: Node) -> str:
        return f"{self.ir_names[node.out]} = {format_node(node, self.ir_names)}"

    def contiguous(self, value: Value) -> str:
        name = self.var[value]
        return f"np.ascontiguousarray({name})" if value in self.noncontiguous else name

    # ---- groups ----
    def emit_group(self, group: Group) -> None:
        if group.kind == "single":
            node = group.nodes[0]
            if node.op not in SINGLE_LOWERINGS:
                raise UnsupportedError(f"codegen has no lowering for op {node.op!r}")
            SINGLE_LOWERINGS[node.op](self, node)
        else:
            LoopNest(self, group).emit()


class LoopNest:
    """One loop group: allocations, the loops, loads, scalar expressions, stores, accumulations."""

    def __init__(self, emitter: Emitter, group: Group) -> None:
        self.e, self.group, self.w = emitter, group, emitter.w
        self.shape = group.shape
        self.index = [f"i{k}" for k in range(len(self.shape))]
        self.scalars: dict[Value, str] = {}
        self.loads: dict[tuple[Value, str], str] = {}
        self.flat = self._flattenable()
        self.blocked = self._blocked_sums()
        self.partials: dict[Value, str] = {}

    def emit(self) -> None:
        self.w.line(note=f"fused loop over [{','.join(map(str, self.shape))}]: "
                    + ", ".join(self.e.ir_names[n.out] for n in self.group.nodes))
        for node in self.group.nodes:
            self._allocate(node)
        if not self.shape:
            self._body()
        elif self.blocked:
            self._emit_blocked()
        elif self.flat:
            size = math.prod(self.shape)
            self._flat_views()
            with self.w.block(f"for i in range({size}):"):
                self._body()
            self._unflatten()
        else:
            self._nest(0)

    # ---- structure ----
    def _blocked_sums(self) -> bool:
        """Full float sums over a 1-D (or flattened) loop run in blocks: each block's partial
        sum uses vmath's reassociating add, so LLVM vectorizes it; blocks add up in float64."""
        if not (len(self.shape) == 1 or self.flat):
            return False
        reducers = [n for n in self.group.nodes if not is_pointwise(n)]
        return bool(reducers) and all(
            n.op == "sum" and n.out.type.shape == () and n.out.type.dtype.is_floating_point
            for n in reducers)

    def _emit_blocked(self) -> None:
        size, block = math.prod(self.shape), vmath_block()
        index = "i" if self.flat else self.index[0]
        if self.flat:
            self._flat_views()
        reducers = [n for n in self.group.nodes if not is_pointwise(n)]
        with self.w.block(f"for b in range(0, {size}, {block}):"):
            for node in reducers:
                self.partials[node.out] = self.w.name(self.e.var[node.out] + "_block")
                self.w.line(f"{self.partials[node.out]} = {typed_literal(0, node.out.type.dtype)}")
            with self.w.block(f"for {index} in range(b, min(b + {block}, {size})):"):
                self._body()
            for node in reducers:
                self.w.line(f"{self.e.var[node.out]} += {self.partials[node.out]}")
        for node in reducers:
            name = self.e.var[node.out]
            self.w.line(f"{name} = {np_dtype(node.out.type.dtype)}({name})")
        if self.flat:
            self._unflatten()

    def _nest(self, depth: int) -> None:
        if depth == len(self.shape):
            self._body()
            return
        with self.w.block(f"for {self.index[depth]} in range({self.shape[depth]}):"):
            self._nest(depth + 1)

    def _flattenable(self) -> bool:
        if len(self.shape) < 2:
            return False
        for node in self.group.nodes:
            if node.op in ("sum", "max", "min", "sum_to") and node.out.type.shape != ():
                return False
            if node.op == "broadcast_to":
                return False
            for x in node.operand_values:
                if x in self.e.var and x.type.shape not in ((), self.shape):
                    return False
                if x in self.e.noncontiguous:
                    return False
        return True

    def _flat_views(self) -> None:
        for node in self.group.nodes:
            for x in node.operand_values:
                if x.type.shape == self.shape and x in self.e.var and (x, "flat") not in self.loads:
                    name = self.w.name(self.e.var[x] + "_flat")
                    self.w.line(f"{name} = {self.e.var[x]}.reshape({math.prod(self.shape)})")
                    self.loads[(x, "flat")] = name

    def _unflatten(self) -> None:
        for node in self.group.nodes:
            if node.out in self.group.outputs and is_pointwise(node):
                name = self.e.var[node.out]
                self.w.line(f"{name} = {name}.reshape({self.shape})")

    # ---- allocation and accumulation ----
    def _allocate(self, node: Node) -> None:
        out = node.out
        if is_pointwise(node):
            if out in self.group.outputs and self.shape:
                name = self.e.bind(out)
                size = math.prod(self.shape) if self.flat else self.shape
                self.w.line(f"{name} = np.empty({size}, dtype={np_dtype(out.type.dtype)})")
            return
        name = self.e.bind(out)
        init = _reduction_identity(node.op, out.type.dtype)
        if self.blocked:
            self.w.line(f"{name} = 0.0")                     # float64 across blocks
        elif out.type.shape == ():
            self.w.line(f"{name} = {init}")
        else:
            self.w.line(f"{name} = np.full({out.type.shape}, {init}, dtype={np_dtype(out.type.dtype)})")

    def _body(self) -> None:
        for node in self.group.nodes:
            if is_pointwise(node):
                self._pointwise(node)
            else:
                self._accumulate(node)

    def _pointwise(self, node: Node) -> None:
        out = node.out
        expr = self._expression(node)
        stored = out in self.group.outputs
        if not self.shape:
            self.scalars[out] = self.e.bind(out)
            self.w.line(f"{self.scalars[out]} = {expr}", self.e.note(node))
            return
        local = self.w.name(self.e.ir_names[out] + ("_v" if stored else ""))
        self.scalars[out] = local
        self.w.line(f"{local} = {expr}", self.e.note(node))
        if stored:
            self.w.line(f"{self.e.var[out]}[{self._full_index()}] = {local}")

    def _accumulate(self, node: Node) -> None:
        x = node.inputs[0]
        value = self._operand(x)
        target = self.e.var[node.out]
        if node.out.type.shape != ():
            target = f"{target}[{self._reduce_index(node)}]"
        if node.out in self.partials:
            partial = self.partials[node.out]
            step = f"vm.sum_step_{node.out.type.dtype.short}"
            self.w.line(f"{partial} = {step}({partial}, {value})", self.e.note(node))
        elif node.op in ("sum", "sum_to"):
            self.w.line(f"{target} += {value}", self.e.note(node))
        else:
            better = ">" if node.op == "max" else "<"
            v = self.w.name("v")
            self.w.line(f"{v} = {value}", self.e.note(node))
            self.w.line(f"{target} = {v} if ({v} {better} {target} or {v} != {v}) else {target}")

    # ---- indices and operands ----
    def _full_index(self) -> str:
        return "i" if self.flat else ", ".join(self.index)

    def _broadcast_index(self, shape: tuple[int, ...]) -> str:
        lead = len(self.shape) - len(shape)
        parts = ["0" if n == 1 and self.shape[lead + j] != 1 else self.index[lead + j]
                 for j, n in enumerate(shape)]
        return ", ".join(parts)

    def _reduce_index(self, node: Node) -> str:
        if node.op == "sum_to":
            return self._broadcast_index(node.out.type.shape)
        attrs = node.attr_dict
        axes, keep = attrs["axes"], attrs["keepdims"]
        parts = [("0" if keep else None) if k in axes else self.index[k] for k in range(len(self.shape))]
        return ", ".join(p for p in parts if p is not None)

    def _operand(self, x: Value) -> str:
        if x in self.scalars:
            return self.scalars[x]
        name = self.e.var[x]
        if x.type.shape == ():
            return name
        if self.flat:
            return f"{self.loads[(x, 'flat')]}[i]"
        key = (x, self._broadcast_index(x.type.shape))
        if key not in self.loads:
            self.loads[key] = f"{name}[{key[1]}]"
        return self.loads[key]

    def _expression(self, node: Node) -> str:
        if node.op == "broadcast_to":
            return self._operand(node.inputs[0])
        op_def = OPS[node.op]
        dtype = node.out.type.dtype
        literal_dtype = _literal_dtype(node)
        operands = [self._operand(x) if isinstance(x, Value) else typed_literal(x, literal_dtype)
                    for x in node.inputs]
        template = op_def.scalar(**node.attr_dict) if callable(op_def.scalar) else op_def.scalar
        attrs = {k: typed_literal(v, dtype) for k, v in node.attrs if isinstance(v, (int, float))}
        text = template.format(*operands, z=typed_literal(0, literal_dtype), **attrs)
        text = _resolve_functions(text, literal_dtype)
        return _cast(text, node, dtype)


def vmath_block() -> int:
    from .vmath import SUM_BLOCK
    return SUM_BLOCK


def _literal_dtype(node: Node) -> dt.DType:
    if node.op in _COMPARISONS or node.op == "cast":
        tensors = node.operand_values
        return tensors[0].type.dtype if tensors else node.out.type.dtype
    return node.out.type.dtype


def _resolve_functions(text: str, dtype: dt.DType) -> str:
    def replace(match: re.Match) -> str:
        fn = match.group(1)
        if fn == "sqrt":
            return "np.sqrt("
        if not dtype.is_floating_point:
            raise UnsupportedError(f"codegen: {fn} of a {dtype.name} value")
        return f"vm.{fn}_{dtype.short}("
    return _FUNCTION.sub(replace, text)


def _cast(text: str, node: Node, dtype: dt.DType) -> str:
    if dtype is dt.bool_:
        return f"({text} != 0)" if node.op == "cast" else text
    return f"{np_dtype(dtype)}({text})"


def _reduction_identity(op: str, dtype: dt.DType) -> str:
    if op in ("sum", "sum_to"):
        return typed_literal(0, dtype)
    if dtype is dt.bool_:
        return "False" if op == "max" else "True"
    if not dtype.is_floating_point:
        info = "min" if op == "max" else "max"
        return f"np.iinfo({np_dtype(dtype)}).{info}"
    return typed_literal(-math.inf if op == "max" else math.inf, dtype)
