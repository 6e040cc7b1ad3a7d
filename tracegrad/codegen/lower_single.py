"""Lowerings of ops that do not fuse into loops: matmul (BLAS through np.dot), movement ops,
sources. Each writes statements that define the node's value in the kernel."""

from __future__ import annotations

import math

from ..errors import UnsupportedError
from ..ir.graph import Node
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


@lowering("matmul")
def _matmul(e: Emitter, node: Node) -> None:
    a, b = node.inputs
    if not node.out.type.dtype.is_floating_point:
        raise UnsupportedError("codegen: matmul of integer tensors (BLAS needs float32 or float64)")
    name = e.bind(node.out)
    if a.type.ndim <= 2 and b.type.ndim <= 2:
        e.w.line(f"{name} = np.dot({e.contiguous(a)}, {e.contiguous(b)})", e.note(node))
        return
    batch = node.out.type.shape[:-2]
    count = math.prod(batch)
    a3 = f"{e.contiguous(a)}.reshape(({count},) + {a.type.shape[-2:]})"
    b3 = f"{e.contiguous(b)}.reshape(({count},) + {b.type.shape[-2:]})"
    out3 = e.w.name(name + "_3d")
    rows, cols = node.out.type.shape[-2:]
    e.w.line(f"{out3} = np.empty(({count}, {rows}, {cols}), dtype={np_dtype(node.out.type.dtype)})",
             e.note(node))
    la, lb = e.w.name("a3"), e.w.name("b3")
    e.w.line(f"{la} = {a3}")
    e.w.line(f"{lb} = {b3}")
    with e.w.block(f"for b in range({count}):"):
        e.w.line(f"{out3}[b] = np.dot({la}[b], {lb}[b])")
    e.w.line(f"{name} = {out3}.reshape({node.out.type.shape})")


@lowering("reshape")
def _reshape(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    shape = node.out.type.shape
    name = e.bind(node.out)
    if x.type.shape == ():
        e.w.line(f"{name} = np.full({shape}, {e.var[x]})", e.note(node))
    elif shape == ():
        e.w.line(f"{name} = {e.contiguous(x)}.reshape(1)[0]", e.note(node))
    else:
        e.w.line(f"{name} = {e.contiguous(x)}.reshape({shape})", e.note(node))


@lowering("transpose")
def _transpose(e: Emitter, node: Node) -> None:
    (x,) = node.inputs
    name = e.bind(node.out)
    e.w.line(f"{name} = {e.var[x]}.transpose({node.attr_dict['perm']})", e.note(node))
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
