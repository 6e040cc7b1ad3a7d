"""vmath's cache token, computed without importing vmath (importing it builds its Numba
intrinsics, about 50 ms; a warm start that loads cached kernels needs none of that)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


@functools.cache
def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "vmath").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def vmath_token(enabled: bool | None = None) -> str:
    """Changes with the TRACEGRAD_VMATH switch (or `enabled`) and with any source file of the
    vmath package: kernels compiled under one must not be reused under another."""
    if enabled is None:
        enabled = os.environ.get("TRACEGRAD_VMATH", "1").strip() != "0"
    return f"vmath-{'on' if enabled else 'off'}-{_sources_digest()}"
