"""Find the line of a marker comment in a source file, so that tests can assert that errors and
IR nodes name the user's line without hard-coding line numbers."""

from __future__ import annotations

from pathlib import Path


def line_of(path: str, marker: str) -> int:
    """The 1-based number of the only line of `path` that ends with the comment `# <marker>`."""
    hits = [i for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
            if line.rstrip().endswith(f"# {marker}")]
    if len(hits) != 1:
        raise LookupError(f"marker '# {marker}' found {len(hits)} times in {path}, expected once")
    return hits[0]


def loc_of(path: str, marker: str) -> str:
    """`path:LINE` as nodes and error messages record it."""
    return f"{path}:{line_of(path, marker)}"
