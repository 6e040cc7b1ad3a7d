"""Guards: the signature a compiled function specializes on. Two calls with equal signatures
run the same kernels; anything else retraces."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.tensor_api import TensorOps
from ..tracer.pytree import TreeDef


def leaf_signature(leaf: Any) -> tuple:
    if isinstance(leaf, TensorOps):
        return ("tensor", tuple(leaf.shape), leaf.dtype.name, bool(getattr(leaf, "requires_grad", False)))
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype.str, False)
    return ("static", type(leaf).__name__, repr(leaf))


def signature(leaves: list[Any], tree: TreeDef, grad_enabled: bool) -> tuple:
    """(structure, per-leaf shapes/dtypes/requires_grad or static values, grad mode)."""
    return tree, tuple(leaf_signature(x) for x in leaves), grad_enabled


def describe(sig: tuple) -> str:
    parts = []
    for leaf in sig[1]:
        if leaf[0] == "static":
            parts.append(leaf[2])
        else:
            grad = "+grad" if leaf[3] else ""
            parts.append(f"{leaf[2]}{list(leaf[1])}{grad}")
    return f"({', '.join(parts)}){' grad-mode' if sig[2] else ''}"
