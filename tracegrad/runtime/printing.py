"""PyTorch-identical tensor reprs: `tensor(<data>, <suffixes>)` laid out from a numpy array.

Invariants: the output is byte-for-byte what PyTorch prints for the same values, options and
suffixes, except that dtype suffixes say `tracegrad.` where PyTorch says `torch.`; line-wrap
decisions are made as if they said `torch.`, so line breaks never differ from PyTorch's.
One element format (notation and width) is chosen per tensor, measured (as PyTorch does) on
the nonzero finite values among the elements shown; every element is right-aligned to it.
The print options are the module's only state and are replaced whole, never mutated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "PrintOptions",
    "format_tensor",
    "get_printoptions",
    "set_printoptions",
    "shows_dtype",
]

_PREFIX = "tensor("
_INDENT = len(_PREFIX)


@dataclass(frozen=True, slots=True)
class PrintOptions:
    precision: int = 4  # digits after the point in fixed and scientific notation
    threshold: float = 1000  # more elements than this are summarized with `...`
    edgeitems: int = 3  # elements kept at each end of a summarized dimension
    linewidth: int = 80  # characters per line before rows and suffixes wrap
    sci_mode: bool | None = None  # None: choose per tensor, as PyTorch does


_PROFILES = {
    "default": PrintOptions(),
    "short": PrintOptions(precision=2, edgeitems=2),
    "full": PrintOptions(threshold=math.inf),
}
_options = PrintOptions()


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set how tensors print, with PyTorch's semantics.

    A known `profile` ("default", "short", "full") first resets precision, threshold, edgeitems
    and linewidth (an unknown one is ignored, as in PyTorch); the other arguments then override.
    Like PyTorch, every call sets `sci_mode`, so omitting it restores automatic notation.

        >>> set_printoptions(precision=2)
        >>> get_printoptions()["precision"]
        2
        >>> set_printoptions(profile="default")
    """
    global _options
    base = _PROFILES.get(profile, _options) if profile is not None else _options
    given = {
        "precision": precision,
        "threshold": threshold,
        "edgeitems": edgeitems,
        "linewidth": linewidth,
    }
    _options = replace(base, **{k: v for k, v in given.items() if v is not None}, sci_mode=sci_mode)


def get_printoptions() -> dict[str, Any]:
    """The current print options as a dict, keyed like PyTorch's."""
    return asdict(_options)


def format_tensor(array: np.ndarray, suffixes: Sequence[str] = ()) -> str:
    """Return PyTorch's repr text: 'tensor(<data>[, <suffix>, ...])'.

    `suffixes` are the caller's (dtype, grad_fn, requires_grad) in PyTorch's order; a `size=`
    suffix is put first when PyTorch would add one (empty tensors that are not 1-D, and every
    non-empty tensor when edgeitems is 0).

        >>> format_tensor(np.full((2, 2), 4.5, np.float32))
        'tensor([[4.5000, 4.5000],\\n        [4.5000, 4.5000]])'
        >>> format_tensor(np.array([6.0]), ["dtype=tracegrad.float64"])
        'tensor([6.], dtype=tracegrad.float64)'
    """
    opts = _options
    array = np.asarray(array)
    size_suffix = [f"size={tuple(array.shape)}"] if _shows_size(array, opts) else []
    data = "[]" if array.size == 0 else _format_data(array, opts)
    return _add_suffixes(_PREFIX + data, [*size_suffix, *suffixes], opts.linewidth)


def shows_dtype(array: np.ndarray) -> bool:
    """Whether PyTorch's repr names the dtype: not for float32, nor for int64/bool unless empty."""
    hidden = {np.dtype(np.float32)}
    if array.size:
        hidden |= {np.dtype(np.int64), np.dtype(np.bool_)}
    return array.dtype not in hidden


def _shows_size(array: np.ndarray, opts: PrintOptions) -> bool:
    if array.size == 0:
        return array.ndim != 1
    return not opts.edgeitems


def _format_data(array: np.ndarray, opts: PrintOptions) -> str:
    if array.dtype == np.float16:
        array = array.astype(np.float32)  # PyTorch formats half as float
    summarize = array.size > opts.threshold
    shown = _summarized(array, opts.edgeitems) if summarize else array
    layout = _Layout(_choose_format(shown, opts), opts, summarize)
    return layout.format(array, _INDENT)


def _summarized(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """The elements a summarized print shows: `edgeitems` at each end of every long dimension."""
    if array.ndim > 1 and not edgeitems:
        return array[(slice(0, 0),) * array.ndim]
    for axis, n in enumerate(array.shape):
        if n > 2 * edgeitems and edgeitems:
            kept = np.r_[0:edgeitems, n - edgeitems : n]
            array = np.take(array, kept, axis=axis)
    return array


# ---- element format: one per tensor ----


@dataclass(frozen=True, slots=True)
class _ElementFormat:
    width: int
    floating: bool = False
    integral: bool = True  # every shown finite float is a whole number: print `27.`
    sci: bool = False
    precision: int = 4

    def format(self, value: Any) -> str:
        return self._text(value).rjust(self.width)

    def _text(self, value: Any) -> str:
        if not self.floating:
            return f"{value}"
        if self.sci:
            return f"{value:.{self.precision}e}"
        if self.integral:
            return f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        return f"{value:.{self.precision}f}"


def _choose_format(shown: np.ndarray, opts: PrintOptions) -> _ElementFormat:
    """Pick notation and width as PyTorch does; floats measure only their nonzero finite values."""
    if shown.dtype.kind == "f":
        return _choose_float_format(shown.ravel(), opts)
    width = max((len(f"{v}") for v in shown.ravel().tolist()), default=1)
    return _ElementFormat(width=max(width, 1))


def _choose_float_format(flat: np.ndarray, opts: PrintOptions) -> _ElementFormat:
    values = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
    if values.size == 0:  # only zeros, nan and inf: PyTorch keeps width 1 and ignores sci_mode
        return _ElementFormat(width=1, floating=True, precision=opts.precision)
    magnitude = np.abs(values)
    low, high = float(magnitude.min()), float(magnitude.max())
    integral = bool(np.all(values == np.ceil(values)))
    sci = high / low > 1000.0 or high > 1.0e8 or (not integral and low < 1.0e-4)
    if opts.sci_mode is not None:
        sci = opts.sci_mode
    probe = _ElementFormat(1, True, integral, sci, opts.precision)
    width = max(len(probe._text(v)) for v in values.tolist())
    return replace(probe, width=width)


# ---- layout: nested brackets, row wrapping, summarization ----


@dataclass(frozen=True, slots=True)
class _Layout:
    element: _ElementFormat
    opts: PrintOptions
    summarize: bool

    def format(self, array: np.ndarray, indent: int) -> str:
        if array.ndim == 0:
            return self.element.format(array.item())
        if self.summarize and not self.opts.edgeitems:
            return "[...]"
        if array.ndim == 1:
            return self._row(array, indent)
        parts = [
            self.format(sub, indent + 1) if sub is not None else "..." for sub in self._kept(array)
        ]
        separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
        return "[" + separator.join(parts) + "]"

    def _row(self, array: np.ndarray, indent: int) -> str:
        items = [self.element.format(v) if v is not None else " ..." for v in self._kept(array)]
        per_line = max(1, (self.opts.linewidth - indent) // (self.element.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    def _kept(self, array: np.ndarray) -> list[Any]:
        """Sub-arrays (or scalars) along axis 0, with None where the `...` goes."""
        e, n = self.opts.edgeitems, len(array)
        items = array.tolist() if array.ndim == 1 else list(array)
        if not self.summarize or n <= 2 * e:
            return items
        return [*items[:e], None, *items[n - e :]]


# ---- suffixes ----


def _add_suffixes(text: str, suffixes: Sequence[str], linewidth: int) -> str:
    """Append `, suffix` per suffix, wrapping to a new indented line when it would not fit.

    PyTorch over-counts the last line by 2 characters; kept so that wraps happen where its do.
    """
    out = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        width = _torch_width(suffix)
        if last_line + width + 2 > linewidth:
            out.append(",\n" + " " * _INDENT + suffix)
            last_line = _INDENT + width
        else:
            out.append(", " + suffix)
            last_line += width + 2
    return "".join(out) + ")"


def _torch_width(suffix: str) -> int:
    """The suffix's length as PyTorch spells it, so `tracegrad.` never moves a line break."""
    return len(suffix.replace("tracegrad.", "torch."))
