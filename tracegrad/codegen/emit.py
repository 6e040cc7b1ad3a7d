"""Assemble a kernel module: provenance header, imports, one @njit function per graph phase.

Text is deterministic: the same graph and options give byte-identical source, so the disk cache
hits across processes. Names follow the IR dump, so the two can be read side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ir.graph import Graph, Value
from ..ir.hashing import structural_key
from ..ir.printer import value_names
from . import lower_single  # noqa: F401  (registers the single-op lowerings)
from .fusion import Group, fuse
from .lowering import Emitter
from .options import is_parallel
from .source import SourceWriter


@dataclass(frozen=True)
class KernelSource:
    function: str                         # the module's entry point (njit, or a Python function
                                          # allocating large buffers around an njit one)
    text: str                             # the function's source (no module header)
    constants: tuple[Any, ...]            # arrays passed after the graph inputs, in order
    groups: tuple[str, ...]               # one line per fused group, for explain()


def emit_function(graph: Graph, function: str, options: str = "") -> KernelSource:
    """The source of one njit function computing `graph`'s outputs from its inputs."""
    names = value_names(graph)
    w = SourceWriter()
    w.reserve("np", "math", "vm", "blas", "njit", "prange", "i", "b", "p", "j", "q", "r")
    e = Emitter(graph, w, names, parallel=is_parallel(options))
    params = [e.bind(v) for v in graph.inputs]
    groups = fuse(graph)
    with w.indent():
        for group in groups:
            e.emit_group(group)
        w.line(f"return ({''.join(e.var[v] + ', ' for v in graph.outputs)})")
    params += [name for name, _ in e.constants]
    decorator = f"@njit({options})" if options else "@njit"
    if not e.buffers:
        text = f"{decorator}\ndef {function}({', '.join(params)}):\n" + w.text()
    else:
        text = _with_entry_point(function, decorator, params, e.buffers, w.text())
    return KernelSource(function, text, tuple(a for _, a in e.constants),
                        tuple(g.describe(names) for g in groups))


def _with_entry_point(function: str, decorator: str, params: list[str],
                      buffers: list[tuple[str, str]], body: str) -> str:
    """A plain Python `function` that allocates the large buffers with numpy and calls the
    njit `<function>_loops`, which takes them as arguments (see lowering.HOIST_BYTES)."""
    inner = f"{function}_loops"
    arguments = ", ".join(params + [name for name, _ in buffers])
    entry = SourceWriter()
    with entry.block(f"def {function}({', '.join(params)}):",
                     note="allocates the large buffers with numpy"):
        for name, allocation in buffers:
            entry.line(f"{name} = {allocation}")
        entry.line(f"return {inner}({arguments})")
    return f"{decorator}\ndef {inner}({arguments}):\n{body}\n\n{entry.text()}"


def module_header(graph_name: str, phase: str, key: str, inputs: list[tuple[str, Value]],
                  saved: list[tuple[str, Value]] = ()) -> str:
    lines = [f"# tracegrad kernel | graph {graph_name} | {phase} | key {key[:12]}",
             "# " + "  ".join(f"{n}: {v.type}" for n, v in inputs)]
    if saved:
        lines.append("# saved for backward: " + ", ".join(f"{n} {v.type}" for n, v in saved))
    lines += ["import math", "", "import numpy as np", "",
              "from tracegrad.codegen import blas",
              "from tracegrad.codegen.jit import njit, prange, vm", "", ""]
    return "\n".join(lines)


def emit_module(graph: Graph, phase: str, key: str, options: str = "",
                saved: int = 0) -> tuple[str, KernelSource]:
    """A whole module for one phase of `graph`; its function is `<graph>_<phase>`.

    `options` are extra njit keyword arguments as source text (e.g. "parallel=True"); `saved`
    says how many trailing outputs are saved for the backward (listed in the header). The
    header names the graph's structural key; `key` (the cache's) names the file."""
    kernel = emit_function(graph, f"{graph.name}_{phase}", options)
    names = value_names(graph)
    kept = graph.outputs[len(graph.outputs) - saved:] if saved else ()
    header = module_header(graph.name, phase, structural_key(graph),
                           [(names[v], v) for v in graph.inputs], [(names[v], v) for v in kept])
    return header + kernel.text, kernel


__all__ = ["KernelSource", "Group", "emit_function", "emit_module", "module_header"]
