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
from .schedule import schedule_body
from .source import SourceWriter

_VMATH = ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "softplus", "pow")
_FUNCTION = re.compile(r"\b(" + "|".join(_VMATH) + r"|sqrt)\(")
_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
SINGLE_LOWERINGS: dict[str, Callable[[Emitter, Node], None]] = {}
# Buffers this large are allocated by numpy outside the njit function: numpy asks the kernel
# for transparent huge pages (madvise), Numba's allocator gets 4 KiB pages from a fresh mmap
# (glibc maps every block over 32 MiB anew), so a first write faults on every page. Measured
# (2-core EPYC, x*c into a new float32 array of 1e7): 48 ms allocated in Numba, 10 ms by numpy;
# no difference at 4e6 and below (glibc reuses its heap). The entry point costs ~1 us.
HOIST_BYTES = 8 << 20


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

    def __init__(self, graph: Graph, writer: SourceWriter, names: dict[Value, str],
                 parallel: bool = False) -> None:
        self.graph, self.w, self.ir_names = graph, writer, names
        self.parallel = parallel            # large loops may use prange (options say parallel=True)
        self.var: dict[Value, str] = {}
        self.noncontiguous: set[Value] = set()
        self.constants: list[tuple[str, Any]] = []
        self.buffers: list[tuple[str, str]] = []   # (name, allocation) made by the caller

    # ---- names ----
    def bind(self, value: Value, name: str | None = None) -> str:
        self.var[value] = name or self.w.name(self.ir_names[value])
        return self.var[value]

    def note(self, node: Node) -> str:
        return f"{self.ir_names[node.out]} = {format_node(node, self.ir_names)}"

    def allocate(self, name: str, expression: str, nbytes: int) -> None:
        """`name = expression` in the kernel, or, for a buffer of HOIST_BYTES or more, an
        argument the module's Python entry point allocates with numpy (see emit.py)."""
        if nbytes >= HOIST_BYTES:
            self.buffers.append((name, expression))
        else:
            self.w.line(f"{name} = {expression}")

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
    """One loop group: allocations, the loops, loads, scalar expressions, stores, accumulations.

    Full float sums keep one partial per outer iteration: per block of SUM_BLOCK elements in a
    1-D (or flattened) loop, per row in a nest. Each partial uses vmath's reassociating add, so
    LLVM vectorizes it; the partials are added in order in float64 after the loop, so the
    result has the same bits serial or parallel, whatever the thread count. Under a parallel
    kernel the outer loop of a large group is a prange when no two of its iterations write the
    same element: elementwise maps, reductions that keep axis 0, and those partial sums."""

    def __init__(self, emitter: Emitter, group: Group) -> None:
        self.e, self.group, self.w = emitter, group, emitter.w
        self.shape = group.shape
        self.index = [f"i{k}" for k in range(len(self.shape))]
        self.scalars: dict[Value, str] = {}
        self.loads: dict[tuple[Value, str], str] = {}
        self.flat = self._flattenable()
        self.blocked = self._blocked_sums()
        self.partials: dict[Value, str] = {}       # full sum -> accumulator of this block/row
        self.outer_sums = self._outer_sums()       # full sum -> array of per-block/row partials
        self.inner_sums = self._inner_sums()       # sum over the innermost axis -> its target
        self.outer = "prange" if emitter.parallel and self._parallel_safe() else "range"

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
            with self.w.block(f"for i in {self.outer}({size}):"):
                self._body()
            self._unflatten()
        else:
            self._nest(0)
            self._add_partials(self.shape[0])

    # ---- structure ----
    def _reducers(self) -> list[Node]:
        return [n for n in self.group.nodes if not is_pointwise(n)]

    def _parallel_safe(self) -> bool:
        """Enough work to pay for prange (elements, a vmath call counting as VMATH_CALL_WEIGHT
        cheap elements), and no element written by two outer iterations."""
        from .options import PARALLEL_MIN_ELEMENTS, VMATH_CALL_WEIGHT
        calls = sum(n.op in _VMATH for n in self.group.nodes)
        work = math.prod(self.shape) * (1 + VMATH_CALL_WEIGHT * calls)
        if not self.shape or work < PARALLEL_MIN_ELEMENTS or self.shape[0] < 2:
            return False
        if self.blocked:
            return True
        if self.flat:
            return not self._reducers()
        return all(n.out in self.outer_sums or self._reduce_index(n).split(", ")[0] == "i0"
                   for n in self._reducers())

    def _blocked_sums(self) -> bool:
        """A 1-D (or flattened) loop whose reductions are all full float sums runs in blocks."""
        if not (len(self.shape) == 1 or self.flat):
            return False
        reducers = self._reducers()
        return bool(reducers) and all(_full_float_sum(n) for n in reducers)

    def _outer_sums(self) -> dict[Value, str]:
        if not (self.blocked or (len(self.shape) >= 2 and not self.flat)):
            return {}
        return {n.out: self.w.name(self.e.ir_names[n.out] + "_partials")
                for n in self._reducers() if _full_float_sum(n)}

    def _inner_sums(self) -> dict[Value, str]:
        """Float sums over a nest's innermost axis (rows of softmax, logsumexp, mean(axis=-1))
        accumulate each inner run in a local with vmath's reassociating add, so it vectorizes,
        then add it to their element once."""
        if self.flat or self.blocked or len(self.shape) < 2:
            return {}
        inner = self.index[-1]
        return {n.out: self._reduce_index(n) for n in self._reducers()
                if n.op in ("sum", "sum_to") and n.out not in self.outer_sums
                and n.out.type.dtype.is_floating_point
                and inner not in self._reduce_index(n).split(", ")}

    def _open_partials(self, suffix: str) -> None:
        for out in self.outer_sums:
            self.partials[out] = self.w.name(self.e.var[out] + suffix)
            self.w.line(f"{self.partials[out]} = {typed_literal(0, out.type.dtype)}")

    def _close_partials(self, index: str) -> None:
        for out, array in self.outer_sums.items():
            self.w.line(f"{array}[{index}] = {self.partials[out]}")

    def _add_partials(self, count: int) -> None:
        for out, array in self.outer_sums.items():
            name = self.e.var[out]
            with self.w.block(f"for b in range({count}):"):
                self.w.line(f"{name} += {array}[b]")
            self.w.line(f"{name} = {np_dtype(out.type.dtype)}({name})")

    def _emit_blocked(self) -> None:
        size, block = math.prod(self.shape), vmath_block()
        index = "i" if self.flat else self.index[0]
        if self.flat:
            self._flat_views()
        with self.w.block(f"for b in {self.outer}({self._blocks()}):"):
            self._open_partials("_block")
            with self.w.block(f"for {index} in range(b * {block}, min(b * {block} + {block}, "
                              f"{size})):"):
                self._body()
            self._close_partials("b")
        self._add_partials(self._blocks())
        if self.flat:
            self._unflatten()

    def _blocks(self) -> int:
        return -(-math.prod(self.shape) // vmath_block())

    def _nest(self, depth: int) -> None:
        if depth == len(self.shape):
            self._body()
            return
        innermost = depth == len(self.shape) - 1
        if innermost:
            for out in self.inner_sums:
                self.partials[out] = self.w.name(self.e.var[out] + "_run")
                self.w.line(f"{self.partials[out]} = {typed_literal(0, out.type.dtype)}")
        loop = self.outer if depth == 0 else "range"
        with self.w.block(f"for {self.index[depth]} in {loop}({self.shape[depth]}):"):
            if depth == 0:
                self._open_partials("_row")
            self._nest(depth + 1)
            if depth == 0:
                self._close_partials("i0")
        if innermost:
            for out, index in self.inner_sums.items():
                target = f"{self.e.var[out]}[{index}]" if out.type.shape else self.e.var[out]
                self.w.line(f"{target} += {self.partials[out]}")

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
                self.e.allocate(name, f"np.empty({size}, dtype={np_dtype(out.type.dtype)})",
                                out.type.nbytes)
            return
        name = self.e.bind(out)
        init = _reduction_identity(node.op, out.type.dtype)
        if out in self.outer_sums:
            count = self._blocks() if self.blocked else self.shape[0]
            self.w.line(f"{name} = 0.0")                     # float64 across blocks or rows
            self.w.line(f"{self.outer_sums[out]} = np.empty({count})")
        elif out.type.shape == ():
            self.w.line(f"{name} = {init}")
        else:
            self.w.line(f"{name} = np.full({out.type.shape}, {init}, dtype={np_dtype(out.type.dtype)})")

    def _body(self) -> None:
        for node in schedule_body(self.group.nodes, _calls_vmath):
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
        if node.op == "full":
            return typed_literal(node.attr_dict["value"], node.out.type.dtype)
        op_def = OPS[node.op]
        dtype = node.out.type.dtype
        literal_dtype = _literal_dtype(node)
        operands = [self._operand(x) if isinstance(x, Value) else
                    typed_literal(x, _exact_literal_dtype(x, literal_dtype)) for x in node.inputs]
        template = op_def.scalar(**node.attr_dict) if callable(op_def.scalar) else op_def.scalar
        if node.op == "pow" and _small_integer(node.inputs[1]):
            template = _power_by_multiplication(int(node.inputs[1]), typed_literal(1, dtype))
        elif node.op == "pow" and not dtype.is_floating_point:
            template = "({0} ** {1})"                 # integer power: exact, no vmath
        attrs = {k: typed_literal(v, dtype) for k, v in node.attrs if isinstance(v, (int, float))}
        text = template.format(*operands, z=typed_literal(0, literal_dtype), **attrs)
        text = _resolve_functions(text, literal_dtype)
        return _cast(text, node, dtype)


def _calls_vmath(node: Node) -> bool:
    """Whether the node's statement calls a vmath function (see schedule.py)."""
    return node.op in _VMATH and not (node.op == "pow" and _small_integer(node.inputs[1]))


def _exact_literal_dtype(literal: object, dtype: dt.DType) -> dt.DType:
    """A fractional literal next to an integer tensor stays float64 (numpy compares
    int32 2 == 2.5 as floats: False), instead of being truncated to the integer type."""
    fractional = isinstance(literal, float) and not float(literal).is_integer()
    return dt.float64 if fractional and not dtype.is_floating_point else dtype


def _full_float_sum(node: Node) -> bool:
    return node.op == "sum" and node.out.type.shape == () and node.out.type.dtype.is_floating_point


def _small_integer(exponent: object) -> bool:
    return (isinstance(exponent, (int, float)) and not isinstance(exponent, bool)
            and float(exponent).is_integer() and -4 <= exponent <= 4)


def _power_by_multiplication(n: int, one: str) -> str:
    """x**n for a literal integer n as products (vmath's pow costs ~8 ns per element; a
    product rounds at most |n|-1 times more, within 2 ulp for |n| <= 4)."""
    if n == 0:
        return one                      # pow(x, 0) = 1 even for NaN (C99)
    square = "({0} * {0})"
    positive = {1: "{0}", 2: square, 3: f"({square} * {{0}})", 4: f"({square} * {square})"}[abs(n)]
    return positive if n > 0 else f"({one} / {positive})"


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
