"""Recover the user's variable names for traced values (hints only, never semantics).

While a function is traced, a profile hook sees every user frame (code outside tracegrad) as it
returns and names each unnamed value that one of its local variables holds. Inner frames return
first, so a helper's local names win for the values it computed and the caller names the rest.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from ..ir.builder import GraphBuilder, SymbolicTensor

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@contextlib.contextmanager
def capture_names(builder: GraphBuilder) -> Iterator[None]:
    """Name values of `builder` after the locals of user frames that return while active."""
    previous = sys.getprofile()
    if previous is not None and not callable(previous):
        # a C-level profiler (cProfile) is active: leave it alone; names are only cosmetic
        yield
        return

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and not _internal(frame):
            name_locals(builder, frame.f_locals)
        if previous is not None:
            previous(frame, event, arg)

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def name_locals(builder: GraphBuilder, local_vars: dict[str, Any]) -> None:
    for name, obj in local_vars.items():
        if name.startswith("_") or not isinstance(obj, SymbolicTensor) or obj.builder is not builder:
            continue
        value = obj.value
        if not value.hint and value not in builder.hints and value not in builder.inputs:
            builder.hints[value] = name


def _internal(frame: FrameType) -> bool:
    filename = frame.f_code.co_filename
    return filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen")
