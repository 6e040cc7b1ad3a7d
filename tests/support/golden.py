"""Golden text files: `assert_golden("ir/seed_forward.txt", text, update)` compares `text` with
`tests/golden/ir/seed_forward.txt` and fails with a unified diff; with `update` (pytest
`--update-golden`, the `update_golden` fixture) it rewrites the file instead, and a reviewer reads
the change in the commit."""

from __future__ import annotations

import difflib
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


def assert_golden(relative_path: str, text: str, update: bool = False) -> None:
    path = GOLDEN_DIR / relative_path
    text = text.rstrip("\n") + "\n"
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"golden file tests/golden/{relative_path} does not exist; run "
                             "pytest --update-golden to create it, then review it")
    expected = path.read_text(encoding="utf-8")
    if expected != text:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"tests/golden/{relative_path} (expected)", tofile="actual"))
        raise AssertionError(f"output differs from tests/golden/{relative_path} (run pytest "
                             f"--update-golden to accept the new text):\n{diff}")
