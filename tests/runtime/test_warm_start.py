"""Warm start: a new process whose kernel caches are warm loads its kernels without compiling
anything, without Numba's compiler set-up (the typing/target context refresh, which imports
scipy.linalg), and the loaded kernels behave as compiled ones do: same numbers, errors raised
from inside, and a later compile in the same process still works. Asserted with the cache's
counters and sys.modules, never with timings. Also: the pieces this rests on (the symbol check
that decides whether a hit may skip the refresh, the vmath token computed without vmath)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from llvmlite import binding as llvm

from tracegrad.codegen import jit
from tracegrad.runtime import cache

pytestmark = pytest.mark.skipif(not jit.jit_enabled(), reason="TRACEGRAD_JIT=0: no Numba kernels")

_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tracegrad as tg
    from tracegrad.runtime.cache import default_cache

    def loss(x, w1, w2):
        return (x.mm(w1).relu().mm(w2) ** 2).sum()

    rng = np.random.default_rng(0)
    x = tg.from_numpy(rng.standard_normal((8, 5)).astype(np.float32))
    w1 = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    w2 = tg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    f = tg.compile(loss)
    value = f(x, w1, w2)
    value.backward()
    kernels = list(default_cache().memory.values())
    numba = [k.fn.stats for k in kernels]          # small shapes: each fn is the njit kernel
    loads = {way: sum(k.fn._cache.loads[way] for k in kernels) for way in ("light", "refreshed")}
    numba_hits = sum(sum(s.cache_hits.values()) for s in numba)
    numba_misses = sum(sum(s.cache_misses.values()) for s in numba)
    set_up = "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules
    from numba.core.runtime import rtsys
    nrt_compiled = rtsys._init                      # NRT's LLVM helpers: not needed either
    forward = next(k.fn for k in kernels if k.source.function.endswith("forward"))
    try:                                            # raised inside the loaded kernel (gemm)
        forward(np.ones((8, 5), np.float32), np.ones((3, 4), np.float32),
                np.ones((4, 3), np.float32))
        raised = ""
    except ValueError as error:
        raised = str(error)
    scale = float(sys.argv[1])                      # a new function per process: compiled
    later = tg.compile(lambda a: (a * scale + 1.0).sum())(tg.ones(7, dtype=tg.float64))
    stats = default_cache().stats
    print(json.dumps({
        "disk_hits": stats.disk_hits, "misses": stats.misses, "numba_hits": numba_hits,
        "numba_misses": numba_misses, "loads": loads, "compiler_set_up": set_up,
        "nrt_compiled": nrt_compiled,
        "value": value.item(), "grads": [w1.grad.numpy().tolist(), w2.grad.numpy().tolist()],
        "raised": raised, "later": later.item()}))
""")


def _run_child(tmp_path, scale: float) -> dict:
    env = {**os.environ, "TRACEGRAD_CACHE_DIR": str(tmp_path / "kernels"),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    run = subprocess.run([sys.executable, "-c", _CHILD, str(scale)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_warm_start_second_process_loads_kernels_without_numba_compiler_setup(tmp_path):
    cold, warm = _run_child(tmp_path, 3.0), _run_child(tmp_path, 5.0)
    assert (cold["disk_hits"], cold["misses"]) == (0, 3)    # forward, backward, `later`
    assert cold["numba_hits"] == 0 and cold["compiler_set_up"]
    # The warm process: both kernel modules from disk, Numba loads instead of compiling, and
    # no load needed the context refresh; then `later` (new in this process) compiles.
    assert (warm["disk_hits"], warm["misses"]) == (2, 1)
    assert warm["numba_misses"] == 0 and warm["numba_hits"] >= 1
    assert warm["loads"]["refreshed"] == 0 and warm["loads"]["light"] >= 1
    assert not warm["compiler_set_up"] and not warm["nrt_compiled"]
    assert (warm["value"], warm["grads"]) == (cold["value"], cold["grads"])
    assert "operand shapes do not match" in warm["raised"]      # raised from the loaded code
    assert (cold["later"], warm["later"]) == (28.0, 42.0)


# ---- the symbol check behind a light load ----


def _object_calling(symbol: str) -> tuple[bytes, bytes]:
    """A tiny compiled library (object code, bitcode) that calls `symbol`."""
    from numba.core.registry import cpu_target
    codegen = cpu_target.target_context.codegen()
    module = llvm.parse_assembly(
        f'declare double @"{symbol}"(double)\n'
        f'define double @"tg_test_caller"(double %x) {{\n'
        f'  %y = call double @"{symbol}"(double %x)\n  ret double %y\n}}\n')
    module.triple = llvm.get_process_triple()
    return codegen._tm.emit_object(module), module.as_bitcode()


def test_symbol_check_reads_undefined_symbols_of_the_object_code():
    obj, _ = _object_calling("tg_test_not_registered_anywhere")
    if jit._elf_undefined(obj) is None:
        pytest.skip("object code is not ELF on this platform")
    assert jit._elf_undefined(obj) == ["tg_test_not_registered_anywhere"]


@pytest.mark.parametrize("via", ["object", "bitcode"])
def test_symbol_check_refuses_an_unregistered_symbol(via):
    from numba.core.registry import cpu_target
    codegen = cpu_target.target_context.codegen()
    for symbol, resolvable in (("tg_test_not_registered_anywhere", False), ("PyFloat_FromDouble",
                                                                            True)):
        obj, bitcode = _object_calling(symbol)
        library = ("lib", "object", (obj if via == "object" else b"not elf", bitcode))
        assert jit._links(library, codegen) is resolvable, symbol


def test_symbol_check_refuses_other_serializations():
    from numba.core.registry import cpu_target
    assert not jit._links(("lib", "bitcode", b""), cpu_target.target_context.codegen())


# ---- vmath stays unimported until a kernel needs it ----


def test_vmath_token_without_importing_vmath_matches_vmath(monkeypatch):
    from tracegrad.codegen import vmath
    monkeypatch.delitem(sys.modules, "tracegrad.codegen.vmath")
    assert cache._vmath_token() == vmath.CACHE_TOKEN
    monkeypatch.setenv("TRACEGRAD_VMATH", "0")
    off = cache._vmath_token()
    assert off.startswith("vmath-off-") and off.rsplit("-", 1)[1] == \
        vmath.CACHE_TOKEN.rsplit("-", 1)[1]


def test_kernel_vm_is_a_lazy_stand_in_for_vmath():
    from tracegrad.codegen import vmath
    assert isinstance(jit.vm, jit._LazyVmath)
    assert jit.vm.sum_step_f32 is vmath.sum_step_f32 and jit.vm.SUM_BLOCK == vmath.SUM_BLOCK


# ---- a hit in this process: light, or refreshed when a symbol would be missing ----


@pytest.fixture
def kernel_module(tmp_path):
    """A kernel-like module on disk whose function is compiled once (so Numba caches it)."""
    import importlib.util

    import numpy as np
    path = tmp_path / "tg_warm_start_kernel.py"
    path.write_text("from tracegrad.codegen.jit import njit\n\n\n"
                    "@njit\ndef twice(x):\n    return x * 2.0\n")
    spec = importlib.util.spec_from_file_location("tg_warm_start_kernel", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.twice(np.ones(3))
    yield module
    del sys.modules[spec.name]


@pytest.mark.parametrize("links", [True, False], ids=["light", "refreshed"])
def test_cache_hit_refreshes_numba_only_when_a_symbol_is_missing(kernel_module, monkeypatch,
                                                                 links):
    import numpy as np
    from numba.core.registry import cpu_target
    context = cpu_target.target_context
    refreshes = []
    monkeypatch.setattr(jit, "_links", lambda library, codegen: links)
    monkeypatch.setattr(context, "refresh", lambda: refreshes.append(1))
    fresh = jit.njit(kernel_module.twice.py_func)            # a new dispatcher: loads from disk
    np.testing.assert_array_equal(fresh(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert sum(fresh.stats.cache_hits.values()) == 1 and not fresh.stats.cache_misses
    assert fresh._cache.loads == {"light": int(links), "refreshed": int(not links)}
    assert len(refreshes) == int(not links)
