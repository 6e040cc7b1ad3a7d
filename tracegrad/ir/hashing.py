"""structural_key: a sha256 of a graph's anonymous dump, blind to names, hints and locations.

The printer is the canonicaliser (one code path to keep correct): anonymous mode numbers values
by position and prints array constants by the digest of their bytes."""

from __future__ import annotations

import hashlib

from .graph import Graph
from .printer import format_graph


def structural_key(graph: Graph) -> str:
    return hashlib.sha256(format_graph(graph, anonymous=True).encode()).hexdigest()
