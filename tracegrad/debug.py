"""The TRACEGRAD_DEBUG ladder (see STYLE.md): 1 events, 2 graphs, 3 passes and fusion, 4 kernel
source, 5 Numba signatures. Messages are built lazily, so level 0 costs nothing.
TRACEGRAD_DUMP_DIR writes the same artifacts to files."""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

_LEVEL: contextvars.ContextVar[int] = contextvars.ContextVar(
    "tracegrad_debug", default=int(os.environ.get("TRACEGRAD_DEBUG", "0") or 0))


def level() -> int:
    return _LEVEL.get()


@contextlib.contextmanager
def debug(new_level: int) -> Iterator[None]:
    """`with tracegrad.debug(2): ...` raises the debug level for a region."""
    token = _LEVEL.set(new_level)
    try:
        yield
    finally:
        _LEVEL.reset(token)


def log(at: int, message: str | Callable[[], str]) -> None:
    """Print `message` (or its thunk's result) to stderr when the level is at least `at`."""
    if _LEVEL.get() >= at:
        text = message() if callable(message) else message
        print(f"[tracegrad] {text}", file=sys.stderr)


def dump(name: str, text: str | Callable[[], str]) -> None:
    """Write an artifact to TRACEGRAD_DUMP_DIR/<name> when that variable is set."""
    directory = os.environ.get("TRACEGRAD_DUMP_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text() if callable(text) else text, encoding="utf-8")
