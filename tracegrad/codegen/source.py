"""SourceWriter: lines of Python with an indentation context manager, unique local names and
provenance comments. The only mutable object of codegen; `text()` freezes it."""

from __future__ import annotations

import contextlib
import keyword
import re
from collections.abc import Iterator

_NOTE_COLUMN = 56


class SourceWriter:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0
        self._used: set[str] = set()

    def line(self, text: str = "", note: str | None = None) -> None:
        code = "    " * self._depth + text if text else ""
        if note:
            code = f"{code:<{_NOTE_COLUMN}}  # {note}" if code else f"{'    ' * self._depth}# {note}"
        self._lines.append(code)

    @contextlib.contextmanager
    def block(self, header: str, note: str | None = None) -> Iterator[None]:
        self.line(header, note)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    @contextlib.contextmanager
    def indent(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def name(self, wanted: str) -> str:
        """A fresh legal identifier close to `wanted` (IR names like `%3` become `t3`)."""
        base = re.sub(r"\W", "_", wanted.replace("%", "t"))
        if not base or base[0].isdigit() or keyword.iskeyword(base):
            base = f"v_{base}"
        candidate, k = base, 0
        while candidate in self._used:
            k += 1
            candidate = f"{base}_{k}"
        self._used.add(candidate)
        return candidate

    def reserve(self, *names: str) -> None:
        self._used.update(names)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
