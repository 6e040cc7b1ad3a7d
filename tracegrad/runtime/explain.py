"""explain(): what a CompiledFunction compiled and what it cost, as readable text."""

from __future__ import annotations

from typing import Any

from ..ir.printer import value_names
from .guards import describe


def explain(compiled: Any) -> str:
    name = getattr(compiled, "__name__", "f")
    stats = compiled.stats
    lines = [f"tracegrad.compile({name}): {len(compiled._entries)} signature(s); cache: "
             f"{stats.memory_hits} memory hits, {stats.disk_hits} disk hits, {stats.misses} misses"]
    for key, entry in compiled._entries.items():
        lines += _entry_lines(key, entry)
    return "\n".join(lines)


def _entry_lines(key: tuple, entry: Any) -> list[str]:
    lines = [f"signature {describe(key)}"]
    lines.append("  time: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in entry.times.items()))
    lines.append("  nodes: " + "; ".join(f"{k} {v}" for k, v in entry.counts.items()))
    lines.append(f"  forward graph: {len(entry.graph.nodes)} nodes; kernel from "
                 f"{entry.forward.origin}: {entry.forward.path or 'memory'}")
    lines += [f"    fused: {g}" for g in entry.forward.source.groups]
    if entry.split is not None:
        lines.append(f"  joint graph: {len(entry.joint.nodes)} nodes after passes; backward "
                     f"graph: {len(entry.split.backward.nodes)} nodes; kernel from "
                     f"{entry.backward.origin}")
        lines += [f"    fused: {g}" for g in entry.backward.source.groups]
        names = value_names(entry.joint)
        total = sum(v.type.nbytes for v in entry.split.saved)
        saved = ", ".join(f"{names[v]} {v.type} ({v.type.nbytes} B)" for v in entry.split.saved)
        lines.append(f"  saved for backward ({total} bytes): {saved or 'nothing'}")
    return lines
