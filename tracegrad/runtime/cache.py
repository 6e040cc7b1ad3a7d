"""KernelCache: compiled kernels in memory, in front of generated modules on disk.

Keys: the graph's structural key and its named dump (kernel text carries the IR names), the phase, codegen options and the versions of tracegrad,
numba and numpy. The disk directory (TRACEGRAD_CACHE_DIR, default the user's cache directory)
is created private (0700); a directory other users can write, or owned by someone else, is
never loaded from: the cache then stays in memory and says why once.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..debug import log as debug_log
from ..codegen.build import load_module
from ..codegen.emit import KernelSource, emit_module
from ..codegen.jit import jit_enabled
from ..codegen.vmath_token import vmath_token
from ..ir.graph import Graph
from ..ir.hashing import structural_key
from ..ir.printer import format_graph


def _codegen_fingerprint() -> str:
    """A digest of codegen's own source: a change to how kernels are written changes every key."""
    from .. import codegen
    digest = hashlib.sha256()
    for path in sorted(Path(codegen.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_FINGERPRINT = _codegen_fingerprint()


def _vmath_token() -> str:
    """vmath.CACHE_TOKEN, without importing vmath when nothing has imported it yet."""
    vmath = sys.modules.get("tracegrad.codegen.vmath")
    if vmath is not None and hasattr(vmath, "CACHE_TOKEN"):
        return vmath.CACHE_TOKEN
    return vmath_token()


def default_directory() -> Path:
    configured = os.environ.get("TRACEGRAD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tracegrad" / "kernels"


@dataclass
class Kernel:
    fn: Any                     # the njit dispatcher (or plain function when TRACEGRAD_JIT=0)
    source: KernelSource
    module_text: str
    path: Path | None
    origin: str                 # "memory", "disk" or "new"
    seconds: float


@dataclass
class CacheStats:
    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    events: list[str] = field(default_factory=list)


class KernelCache:
    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        self.memory: dict[str, Kernel] = {}
        self.stats = CacheStats()
        self._private: bool | None = None

    def key(self, graph: Graph, phase: str, options: str) -> str:
        from .. import __version__
        from ..codegen.blas import CACHE_TOKEN as BLAS_TOKEN
        named = hashlib.sha256(format_graph(graph).encode()).hexdigest()   # names reach the text
        parts = (structural_key(graph), named, phase, options, __version__, _FINGERPRINT,
                 _vmath_token(), BLAS_TOKEN, numba.__version__, np.__version__,
                 str(jit_enabled()))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def kernel(self, graph: Graph, phase: str, options: str = "",
               stats: CacheStats | None = None, saved: int = 0) -> Kernel:
        """The kernel for one phase of `graph`; events count in `self.stats` and, when given,
        in `stats` too (a compiled function's own counters). `saved`: how many trailing
        outputs are saved for the backward (the header lists them)."""
        counters = (self.stats,) if stats is None else (self.stats, stats)
        key = self.key(graph, phase, f"{options}|saved={saved}")
        if key in self.memory:
            self._event(counters, "memory_hits", f"memory hit {graph.name} {phase}")
            return self.memory[key]
        start = time.perf_counter()
        text, source = emit_module(graph, phase, key, options, saved)
        if self._disk_ok():
            module, on_disk = load_module(self.directory, key, text)
            path = Path(module.__file__)
        else:
            module, on_disk, path = _load_in_memory(key, text), False, None
        fn = getattr(module, source.function)
        origin = "disk" if on_disk else "new"
        kernel = Kernel(fn, source, text, path, origin, time.perf_counter() - start)
        self.memory[key] = kernel
        self._event(counters, "disk_hits" if on_disk else "misses",
                    f"{'disk hit' if on_disk else 'miss'} {graph.name} {phase} "
                    f"({kernel.seconds * 1e3:.1f} ms to load)")
        debug_log(4, lambda: text)
        return kernel

    @staticmethod
    def _event(counters: tuple[CacheStats, ...], kind: str, text: str) -> None:
        for stats in counters:
            setattr(stats, kind, getattr(stats, kind) + 1)
            stats.events.append(text)
        debug_log(1, f"cache {text}")

    def _disk_ok(self) -> bool:
        if self._private is None:
            self._private = _make_private(self.directory)
        return self._private


def _make_private(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = directory.stat()
    except OSError as error:
        warnings.warn(f"tracegrad: cannot use kernel cache directory {directory}: {error}; "
                      "kernels are cached in memory only", RuntimeWarning, stacklevel=4)
        return False
    unsafe = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_uid != os.getuid()
    if unsafe:
        warnings.warn(f"tracegrad: kernel cache directory {directory} can be written by other "
                      "users (or is not yours); not loading kernels from it", RuntimeWarning,
                      stacklevel=4)
        return False
    return True


def _load_in_memory(key: str, text: str) -> Any:
    import tempfile
    directory = Path(tempfile.mkdtemp(prefix="tracegrad-private-"))
    module, _ = load_module(directory, key, text)
    return module


_DEFAULT: list[KernelCache] = []


def default_cache() -> KernelCache:
    if not _DEFAULT:
        _DEFAULT.append(KernelCache())
    return _DEFAULT[0]


def set_default_cache(cache: KernelCache) -> KernelCache:
    """Swap the process-wide cache (tests use a fresh one); returns the previous one."""
    previous = default_cache()
    _DEFAULT[0] = cache
    return previous
