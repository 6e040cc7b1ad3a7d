"""Shape arithmetic shared by the op rules and the tensor layer: broadcasting and axes.

Pure functions of shapes; errors use PyTorch's wording."""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError


def normalize_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """None → all axes; an int or a sequence → sorted, non-negative, unique axes."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {a})")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"dim {tuple(axes)} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return keepdims_shape(shape, axes)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's broadcasting of shapes, with PyTorch's error text."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            raise ShapeError(f"The size of tensor a ({a}) must match the size of tensor b ({b}) "
                             f"at non-singleton dimension {ndim + i}; shapes "
                             + " and ".join(str(list(s)) for s in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
