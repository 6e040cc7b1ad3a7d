"""Write generated kernel source into the cache directory atomically and import it.

Each module is a real file `<dir>/<key[:2]>/<key>.py` (Numba caches beside real files, and
tracebacks and inspect.getsource work). Writes go to a temp file then `os.replace`, so no reader
ever sees half a file. A module whose text does not match what we would write is treated as
corrupt: reported, deleted and rebuilt. The module is put in sys.modules under its name before
it is executed, or Numba's cache records it as '<dynamic>' and fails in the next process.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType


def module_path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.py"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with_suppressed_unlink(tmp)
        raise


def with_suppressed_unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def load_module(directory: Path, key: str, text: str) -> tuple[ModuleType, bool]:
    """Import the module for `key`, writing `text` first unless an identical file exists.

    Returns the module and whether the file was already on disk (a disk-cache hit)."""
    path = module_path(directory, key)
    hit = False
    if path.exists():
        try:
            hit = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            hit = False
        if not hit:
            warnings.warn(f"tracegrad: kernel cache entry {path} is corrupt or stale; rebuilding it",
                          RuntimeWarning, stacklevel=3)
    if not hit:
        write_atomic(path, text)
    return _import(path, f"tracegrad_kernel_{key}"), hit


def _import(path: Path, name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
