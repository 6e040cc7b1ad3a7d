"""The decorator generated kernels use: Numba's njit, or nothing when TRACEGRAD_JIT=0.

Kernels import `njit`, `prange` and `vm` (vectorizable math) from here, so the same generated
file runs compiled or as plain Python and numpy (for debugging and coverage), chosen when the
module is imported. Under TRACEGRAD_JIT=0, `vm` holds numpy scalar functions with the same names
and dtypes as vmath's, so no Numba code runs at all.
Kernel options are fixed here: error_model='numpy' (Python's division checks stop LLVM from
vectorizing), no fastmath on whole kernels, nogil, and Numba's on-disk cache.

Warm start: a kernel found in Numba's disk cache runs without anything only a compile needs.
`vm` is a stand-in module that imports vmath when Numba first types one of its attributes (a
cache miss), and `KernelDiskCache` loads a hit without Numba's refresh of its typing and target
contexts and without compiling NRT's LLVM helpers. On the first kernel of a process the refresh
imports about a hundred Numba modules, and scipy.linalg through numba.np.arraymath: 0.4-0.5 s of
a 0.5 s load (benchmarks/workloads.py, W6). A hit whose object code links against a symbol not
registered yet gets Numba's full set-up first, as before.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
import types
from collections.abc import Callable
from typing import Any

import numpy as np


def jit_enabled() -> bool:
    return os.environ.get("TRACEGRAD_JIT", "1").strip() != "0"


def _quiet(fn: Callable) -> Callable:
    """Plain-Python kernel: numpy's floating-point warnings off, as compiled kernels have none."""
    @functools.wraps(fn)
    def kernel(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args)
    return kernel


def _identity(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return _quiet(args[0])
    return _quiet


if jit_enabled():
    from llvmlite import binding as llvm
    from numba import njit as _numba_njit
    from numba import prange
    from numba.core import config
    from numba.core.caching import FunctionCache
    from numba.core.runtime import _nrt_python as _nrt
    from numba.core.runtime import rtsys

    _HELPERS_REGISTERED: list[bool] = []

    class KernelDiskCache(FunctionCache):
        """Numba's on-disk cache of one kernel; a hit loads without the context refresh.

        `loads` counts this kernel's hits by way: "light" (no refresh) or "refreshed" (its
        object code needs a symbol only the refresh registers)."""

        def __init__(self, py_func: Callable) -> None:
            super().__init__(py_func)
            self.loads = {"light": 0, "refreshed": 0}

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            _register_runtime_helpers()
            if not self._enabled:
                return None
            data = self._cache_file.load(self._index_key(sig, target_context.codegen()))
            if data is None:
                return None                              # a miss: Numba's compiler refreshes
            reload_init = data[7] if len(data) == 9 else ()     # CompileResult._reduce's layout
            for init in reload_init:                     # e.g. parfors' thread pool symbols
                init()
            light = len(data) == 9 and _links(data[0], target_context.codegen())
            if not light:
                target_context.refresh()
            self.loads["light" if light else "refreshed"] += 1
            return self._impl.rebuild(target_context, data)

    def _register_runtime_helpers() -> None:
        """NRT's C functions under the names rtsys.initialize gives them, without the LLVM
        helpers it also compiles (~30 ms): cached kernels call the C ones. A kernel needing
        anything else fails `_links`, and the refresh initialises NRT in full."""
        if rtsys._init or _HELPERS_REGISTERED:
            return
        if config.NRT_STATS:                             # rtsys.initialize switches them on
            _nrt.memsys_enable_stats()
        for name, address in _nrt.c_helpers.items():
            llvm.add_symbol(name if name.startswith("_") else f"NRT_{name}", address)
        _HELPERS_REGISTERED.append(True)

    def _links(library: Any, codegen: Any) -> bool:
        """Whether every external symbol of a cached library resolves in this process now
        (False for anything unexpected: Numba's own set-up and loading then run as usual)."""
        name, kind, data = library
        if kind != "object":
            return False
        try:
            symbols = _elf_undefined(data[0])
        except (struct.error, ValueError):
            return False
        if symbols is None:                              # not ELF: read the library's bitcode
            module = llvm.parse_bitcode(data[1])
            symbols = [v.name for v in itertools.chain(module.functions, module.global_variables)
                       if v.is_declaration and not v.name.startswith("llvm.")]
        engine = codegen._engine       # (".numba.unresolved$" symbols need NRT's LLVM helpers)
        return all((engine.is_symbol_defined(s) or llvm.address_of_symbol(s))
                   and not s.startswith(".numba.unresolved$") for s in symbols)

    def _elf_undefined(obj: bytes) -> list[str] | None:
        """The undefined symbols of a 64-bit little-endian ELF object, or None for any other
        format (~0.1 ms for a W2 kernel, where parsing the library's bitcode takes ~10 ms)."""
        if obj[:4] != b"\x7fELF" or obj[4:6] != b"\x02\x01":
            return None
        (table,), (entry, count) = struct.unpack_from("<Q", obj, 0x28), struct.unpack_from(
            "<HH", obj, 0x3A)
        names = []
        for header in range(table, table + entry * count, entry):
            if struct.unpack_from("<I", obj, header + 4)[0] != 2:          # SHT_SYMTAB
                continue
            start, size, link = struct.unpack_from("<QQI", obj, header + 24)
            strings = struct.unpack_from("<Q", obj, table + link * entry + 24)[0]
            for at in range(start, start + size, 24):                     # Elf64_Sym
                offset, section = struct.unpack_from("<I2xH", obj, at)
                if section == 0 and offset:                               # SHN_UNDEF
                    begin = strings + offset
                    names.append(obj[begin:obj.index(b"\0", begin)].decode())
        return names

    def _with_disk_cache(dispatcher: Any) -> Any:
        if hasattr(dispatcher, "py_func"):               # not under NUMBA_DISABLE_JIT=1
            dispatcher._cache = KernelDiskCache(dispatcher.py_func)   # = enable_caching()
        return dispatcher

    def njit(*args: Any, **kwargs: Any) -> Callable:
        options = {"nogil": True, "error_model": "numpy", **kwargs, "cache": False}
        if args:
            return _with_disk_cache(_numba_njit(*args, **options))
        return lambda fn: _with_disk_cache(_numba_njit(fn, **options))
else:
    njit = _identity
    prange = range


def _sigmoid(x: Any) -> Any:
    if x >= 0:
        return 1 / (1 + np.exp(-x))
    e = np.exp(x)
    return e / (1 + e)


def _python_vmath() -> types.SimpleNamespace:
    """vmath's names as numpy scalar functions of the named dtype (the reference semantics)."""
    import math
    table = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
             "sin": np.sin, "cos": np.cos, "sqrt": np.sqrt, "abs": np.abs, "floor": np.floor,
             "sigmoid": _sigmoid, "softplus": lambda x: np.logaddexp(0, x),
             "erf": lambda x: math.erf(x), "pow": np.power, "minimum": np.minimum,
             "maximum": np.maximum, "sum_step": lambda acc, v: acc + v}
    space = types.SimpleNamespace()
    for short, kind in (("f32", np.float32), ("f64", np.float64)):
        for name, fn in table.items():
            def typed(*args: Any, _fn: Callable = fn, _kind: type = kind) -> Any:
                with np.errstate(all="ignore"):
                    return _kind(_fn(*(_kind(a) for a in args)))
            setattr(space, f"{name}_{short}", typed)
    return space


class _LazyVmath(types.ModuleType):
    """Stands for tracegrad.codegen.vmath in kernel modules and imports it on first attribute
    use. Numba types a module global by the module object, so a kernel typed against this one
    resolves `vm.exp_f32` to vmath's dispatcher; a cache hit never asks."""

    def __getattr__(self, name: str) -> Any:
        from . import vmath
        return getattr(vmath, name)


if not jit_enabled():
    vm = _python_vmath()
else:
    vm = _LazyVmath("tracegrad.codegen.vmath")

__all__ = ["jit_enabled", "njit", "prange", "vm"]
