"""tracegrad's exception hierarchy and the helper that finds the user's line.

Every message says what was expected, what was given and where: the first stack frame outside
the tracegrad package. Eager-mode errors subclass RuntimeError too, because PyTorch raises
RuntimeError for the same mistakes and user code catches that.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class TracegradError(Exception):
    """Base class of every error tracegrad raises on purpose."""


class ShapeError(TracegradError, RuntimeError):
    """Operand shapes do not fit the op."""


class DTypeError(TracegradError, RuntimeError):
    """Operand dtypes do not fit the op."""


class TraceError(TracegradError):
    """The traced function did something a static graph cannot record."""


class AutodiffError(TracegradError, RuntimeError):
    """A differentiation request that cannot be met (non-scalar output, unused input, ...)."""


class UnsupportedError(TracegradError, NotImplementedError):
    """A feature tracegrad does not implement (yet)."""


def user_frame(skip_internal: bool = True) -> FrameType | None:
    """The innermost frame whose code lives outside the tracegrad package."""
    frame = sys._getframe(1)
    while frame is not None and skip_internal and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_location() -> str:
    """'file.py:LINE' of the user's code that called into tracegrad, or '<unknown>'."""
    frame = user_frame()
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _is_internal(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR) or filename.startswith("<frozen")
