"""Lowerings of ops that do not fuse into loops: matmul (BLAS), movement ops, sources. Each
writes statements that define the node's value in the kernel."""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, replace

from ..ir.graph import Graph, Node, Value
from .lowering import Emitter, lowering, np_dtype, typed_literal


@lowering("const")
def _const(e: Emitter, node: Node) -> None:
    name = e.bind(node.out)
    e.constants.append((name, node.attr_dict["value"].array))


@lowering("full")
def _full(e: Emitter, node: Node) -> None:
    attrs = node.attr_dict
    literal = typed_literal(attrs["value"], attrs["dtype"])
    name = e.bind(node.out)
    if attrs["shape"] == ():
        e.w.line(f"{name} = {literal}", e.note(node))
    else:
        e.w.line(f"{name} = np.full({attrs['shape']}, {literal}, dtype={np_dtype(attrs['dtype'])})",
                 e.note(node))


# ---- matmul ----
# Every matmul becomes `count` 2-D products C_b = A_b @ B_b written into a C-contiguous buffer:
# a 1-D operand is a 1-row (left) or 1-column (right) matrix, a batch is a loop. Operands are
# C or F views, never copies: a transpose of the last two axes of a C array is an F view, which
# BLAS takes as a flag, and a batch broadcast of one matrix reads that matrix. Float products
# call BLAS through tracegrad.codegen.blas.gemm; integer and bool products are loop nests.


@dataclass(frozen=True)
class _Stack:
    """A matmul operand as `count` matrices of `shape`, stored C-contiguously in `source`
    (count 1: one matrix shared by the whole batch). `transposed`: the operand's matrices are
    those matrices transposed."""
    source: str
    source_shape: tuple[int, ...]
    shape: tuple[int, int]
    count: int
    transposed: bool = False

    @property
    def matrix(self) -> tuple[int, int]:
        return self.shape[::-1] if self.transposed else self.shape


def _producer(graph: Graph, value: Value) -> Node | None:
    return next((n for n in graph.nodes if n.out is value), None)


def _swaps_last_two(perm: tuple[int, ...]) -> bool:
    n = len(perm)
    return n >= 2 and tuple(perm) == tuple(range(n - 2)) + (n - 1, n - 2)


def _stack(e: Emitter, value: Value, left: bool) -> _Stack:
    shape = value.type.shape
    if len(shape) == 1:
        matrix = (1, shape[0]) if left else (shape[0], 1)
        return _Stack(e.contiguous(value), shape, matrix, 1)
    node = _producer(e.graph, value)
    op = node.op if node is not None else None
    source = node.inputs[0] if op in ("transpose", "broadcast_to") else None
    if op == "transpose" and _swaps_last_two(node.attr_dict["perm"]):
        # a strided source is copied as it is laid out (cheaper than a transposing copy)
        return _Stack(e.contiguous(source), source.type.shape, source.type.shape[-2:],
                      math.prod(shape[:-2]), transposed=True)
    if op == "broadcast_to" and source.type.ndim >= 2 and source.type.shape[-2:] == shape[-2:] \
            and math.prod(source.type.shape[:-2]) == 1:
        return replace(_stack(e, source, left), count=1)
    return _Stack(e.contiguous(value), shape, shape[-2:], math.prod(shape[:-2]))


def _collapse(left: _Stack, right: _Stack, count: int) -> tuple[_Stack, _Stack, int]:
    """A batch of C matrices times one shared matrix is one product of a taller matrix."""
    if count > 1 and left.count == count and not left.transposed and right.count == 1:
        rows, cols = left.shape
        return replace(left, shape=(count * rows, cols), count=1), right, 1
    return left, right, count


def _matrices(e: Emitter, stack: _Stack) -> str:
    """Bind the operand's matrices to a local; returns the expression of matrix `b`."""
    shape = ((stack.count,) if stack.count > 1 else ()) + stack.shape
    name = stack.source
    if shape != stack.source_shape or not name.isidentifier():
        name = e.w.name("a3" if stack.count > 1 else "a2")
        reshape = f".reshape({shape})" if shape != stack.source_shape else ""
        e.w.line(f"{name} = {stack.source}{reshape}")
    item = f"{name}[b]" if stack.count > 1 else name
    return f"{item}.T" if stack.transposed else item


@lowering("matmul")
def _matmul(e: Emitter, node: Node) -> None:
    a, b = node.inputs
    out = node.out
    floating = out.type.dtype.is_floating_point
    if a.type.ndim == 1 and b.type.ndim == 1 and floating:
        e.w.line(f"{e.bind(out)} = np.dot({e.contiguous(a)}, {e.contiguous(b)})", e.note(node))
        return
    e.w.line(note=e.note(node))
    left, right = _stack(e, a, left=True), _stack(e, b, left=False)
    count = max(left.count, right.count)
    left, right, count = _collapse(left, right, count)
    m, n = left.matrix[0], right.matrix[1]
    a_b, b_b = _matrices(e, left), _matrices(e, right)
    name = e.bind(out)
    buffer = name if (m, n) == out.type.shape else e.w.name(name + "_mm")
    shape = ((count,) if count > 1 else ()) + (m, n)
    init = "empty" if floating else "zeros"
    e.w.line(f"{buffer} = np.{init}({shape}, dtype={np_dtype(out.type.dtype)})")
    c_b = f"{buffer}[b]" if count > 1 else buffer
    with e.w.block(f"for b in range({count}):") if count > 1 else contextlib.nullcontext():
        _product(e, a_b, b_b, c_b, (m, left.matrix[1], n), floating)
    if buffer != name and count * m * n != out.type.size:
        # both operands one matrix shared by the batch: one product, copied to every batch entry
        batch = e.w.name(name + "_batch")
        e.w.line(f"{name} = np.empty({out.type.shape}, dtype={np_dtype(out.type.dtype)})")
        e.w.line(f"{batch} = {name}.reshape(({out.type.size // (m * n)}, {m}, {n}))")
        with e.w.block(f"for b in range({out.type.size // (m * n)}):"):
            e.w.line(f"{batch}[b] = {buffer}")
    elif buffer != name:
        e.w.line(f"{name} = {buffer}.reshape({out.type.shape})" if out.type.shape else
                 f"{name} = {buffer}[0, 0]")


def _product(e: Emitter, a: str, b: str, c: str, mkn: tuple[int, int, int],
             floating: bool) -> None:
    """c = a @ b for 2-D views a and b (C or F) and a C-contiguous c of the right shape."""
    if floating:
        e.w.line(f"blas.gemm(1.0, {a}, {b}, 0.0, {c})")
        return
    m, k, n = mkn
    views = [e.w.name(x) for x in ("av", "bv", "cv")]
    e.w.line(f"{', '.join(views)} = {a}, {b}, {c}")
    v = e.w.name("v")
    with e.w.block(f"for i in range({m}):"):
        with e.w.block(f"for p in range({k}):"):
            e.w.line(f"{v} = {views[0]}[i, p]")
            with e.w.block(f"for j in range({n}):"):
                e.w.line(f"{views[2]}[i, j] += {v} * {views[1]}[p, j]")


@functools.cache
@lowering("reshape")
def _reshape(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    shape = node.out.type.shape
    name = e.bind(node.out)
    if x.type.shape == ():
        e.w.line(f"{name} = np.full({shape}, {e.var[x]}, dtype={np_dtype(x.type.dtype)})",
                 e.note(node))
    elif shape == ():
        e.w.line(f"{name} = {e.contiguous(x)}.reshape(1)[0]", e.note(node))
    else:
        e.w.line(f"{name} = {e.contiguous(x)}.reshape({shape})", e.note(node))


@lowering("transpose")
def _transpose(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    perm = node.attr_dict["perm"]
    name = e.bind(node.out)
    view = ".T" if tuple(perm) == (1, 0) else f".transpose({perm})"   # .T of C is F for Numba
    e.w.line(f"{name} = {e.var[x]}{view}", e.note(node))
    e.noncontiguous.add(node.out)


def _slices(starts, stops, steps) -> str:
    return ", ".join(f"{a}:{b}:{s}" if s != 1 else f"{a}:{b}" for a, b, s in zip(starts, stops, steps))


@lowering("slice")
def _slice(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    attrs = node.attr_dict
    name = e.bind(node.out)
    e.w.line(f"{name} = {e.var[x]}[{_slices(attrs['starts'], attrs['stops'], attrs['steps'])}]",
             e.note(node))
    e.noncontiguous.add(node.out)


@lowering("unslice")
def _unslice(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    attrs = node.attr_dict
    stops = [a + (n - 1) * s + 1 if n else a for a, n, s in zip(attrs["starts"], x.type.shape,
                                                               attrs["steps"])]
    name = e.bind(node.out)
    e.w.line(f"{name} = np.zeros({attrs['shape']}, dtype={np_dtype(x.type.dtype)})", e.note(node))
    e.w.line(f"{name}[{_slices(attrs['starts'], stops, attrs['steps'])}] = {e.var[x]}")


@lowering("concat")
def _concat(e: Emitter, node: Node) -> None:
    parts = ", ".join(e.var[x] for x in node.inputs)
    name = e.bind(node.out)
    e.w.line(f"{name} = np.concatenate(({parts},), axis={node.attr_dict['axis']})", e.note(node))


def _three_d(shape: tuple[int, ...], axis: int, middle: int) -> tuple[int, int, int]:
    return math.prod(shape[:axis]), middle, math.prod(shape[axis + 1:])


def _gather_scatter(e: Emitter, node: Node, source, idx, shape3: tuple[int, int, int],
                    out3_shape: tuple[int, int, int], statement: str, init: str) -> None:
    """take and scatter_add share one loop nest over (lead, index, trail) 3-D views;
    `statement` is the body, written over names src3, out3 and idx (loop indices p, j, q)."""
    count = idx.type.size
    name = e.bind(node.out)
    src3, i1, o3 = e.w.name("src3"), e.w.name("idx"), e.w.name("out3")
    e.w.line(f"{src3} = {e.contiguous(source)}.reshape({shape3})", e.note(node))
    e.w.line(f"{i1} = {e.contiguous(idx)}.reshape({count})")
    e.w.line(f"{o3} = np.{init}({out3_shape}, dtype={np_dtype(source.type.dtype)})")
    with e.w.block(f"for p in range({out3_shape[0]}):"):
        with e.w.block(f"for j in range({count}):"):
            with e.w.block(f"for q in range({out3_shape[2]}):"):
                e.w.line(statement.format(src3=src3, out3=o3, idx=i1))
    e.w.line(f"{name} = {o3}.reshape({node.out.type.shape})")


@lowering("take")
def _take(e: Emitter, node: Node) -> None:
    x, idx = node.inputs
    axis = node.attr_dict["axis"]
    lead, n, trail = _three_d(x.type.shape, axis, x.type.shape[axis])
    _gather_scatter(e, node, x, idx, (lead, n, trail), (lead, idx.type.size, trail),
                    "{out3}[p, j, q] = {src3}[p, {idx}[j], q]", "empty")


@lowering("scatter_add")
def _scatter_add(e: Emitter, node: Node) -> None:
    g, idx = node.inputs
    axis, size = node.attr_dict["axis"], node.attr_dict["size"]
    lead = math.prod(g.type.shape[:axis])
    trail = math.prod(g.type.shape[axis + idx.type.ndim:])
    _gather_scatter(e, node, g, idx, (lead, idx.type.size, trail), (lead, size, trail),
                    "{out3}[p, {idx}[j], q] += {src3}[p, j, q]", "zeros")


@lowering("argmax", "argmin")
def _arg_reduce(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    axis = node.attr_dict["axis"]
    fn = "np.argmax" if node.op == "argmax" else "np.argmin"
    name = e.bind(node.out)
    shape = node.out.type.shape
    if axis is None:
        flat = f"{fn}({e.contiguous(x)}.reshape({x.type.size}))"
        e.w.line(f"{name} = np.int64({flat})" if shape == () else
                 f"{name} = np.full({shape}, {flat}, dtype=np.int64)", e.note(node))
        return
    perm = tuple(i for i in range(x.type.ndim) if i != axis) + (axis,)
    rows = x.type.size // x.type.shape[axis]
    x2 = e.w.name("x2")
    e.w.line(f"{x2} = np.ascontiguousarray({e.var[x]}.transpose({perm})).reshape(({rows}, "
             f"{x.type.shape[axis]}))", e.note(node))
    flat = e.w.name(name + "_flat")
    e.w.line(f"{flat} = np.empty({rows}, dtype=np.int64)")
    with e.w.block(f"for r in range({rows}):"):
        e.w.line(f"{flat}[r] = {fn}({x2}[r])")
    e.w.line(f"{name} = {flat}.reshape({shape})" if shape != () else f"{name} = {flat}[0]")
