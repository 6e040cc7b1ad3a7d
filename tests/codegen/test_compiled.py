"""@compile end to end: compiled == eager == interpreter, first and second order, the disk
cache across processes, corrupt entries, retracing and clear errors. Kernels are few and small
(each Numba compile costs seconds); the session cache directory comes from conftest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.ir.interpret import evaluate
from tracegrad.runtime.cache import KernelCache


def two_layer_loss(x, w1, w2, y):
    return ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()


def elementwise(x):
    return (x.tanh() * x.sigmoid() + 0.5 * x ** 2 + (-x * x).exp()).sum()


def _net_inputs(dtype):
    rng = np.random.default_rng(0)
    x, y = (tg.tensor(rng.standard_normal(s), dtype=dtype) for s in ((8, 20), (8, 3)))
    w1 = tg.tensor(rng.standard_normal((20, 6)), dtype=dtype, requires_grad=True)
    w2 = tg.tensor(rng.standard_normal((6, 3)), dtype=dtype, requires_grad=True)
    return x, w1, w2, y


def _eager_grads(fn, args, wrt):
    loss = fn(*args)
    grads = tg.autograd.grad(loss, wrt)
    return loss.item(), [g.numpy() for g in grads]


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64], ids=["f32", "f64"])
def test_compiled_two_layer_net_matches_eager_and_accumulates(dtype):
    x, w1, w2, y = _net_inputs(dtype)
    compiled = tg.compile(two_layer_loss)
    value, (g1, g2) = _eager_grads(two_layer_loss, (x, w1, w2, y), [w1, w2])
    loss = compiled(x, w1, w2, y)
    assert loss.dtype is dtype
    assert loss.grad_fn.name() == "CompiledFunctionBackward"
    loss.backward()
    compiled(x, w1, w2, y).backward()        # a second call accumulates, as eager does
    rtol = 1e-5 if dtype is tg.float32 else 1e-12
    np.testing.assert_allclose(loss.item(), value, rtol=rtol)
    np.testing.assert_allclose(w1.grad.numpy(), 2 * g1, rtol=rtol * 10, atol=rtol)
    np.testing.assert_allclose(w2.grad.numpy(), 2 * g2, rtol=rtol * 10, atol=rtol)


def test_compiled_elementwise_matches_eager_and_interpreter():
    x = tg.tensor(np.linspace(-3, 3, 101), dtype=tg.float64, requires_grad=True)
    compiled = tg.compile(elementwise)
    out = compiled(x)
    out.backward()
    value, (grad,) = _eager_grads(elementwise, (x,), [x])
    interpreted = evaluate(compiled.graph(x), x.detach().numpy())
    np.testing.assert_allclose(out.item(), value, rtol=1e-13)
    np.testing.assert_allclose(interpreted[0], value, rtol=1e-13)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-12, atol=1e-14)
    source = compiled.source(x)
    assert "fused loop" in source and "elementwise_backward" in source
    assert "# tracegrad kernel | graph elementwise | forward" in source


def test_compiled_second_derivative_matches_eager_through_create_graph():
    def f(x):
        return (x.sin() * x ** 3).sum()
    x = tg.tensor([0.5, 1.0, 2.0], dtype=tg.float64, requires_grad=True)
    compiled = tg.compile(f)
    (g,) = tg.autograd.grad(compiled(x), x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    xs = x.detach().numpy()
    second = -np.sin(xs) * xs ** 3 + 6 * xs ** 2 * np.cos(xs) + 6 * xs * np.sin(xs)
    first = np.cos(xs) * xs ** 3 + 3 * xs ** 2 * np.sin(xs)
    np.testing.assert_allclose(g.detach().numpy(), first, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), second, rtol=1e-12)


def test_compiled_new_shape_retraces_and_no_grad_skips_backward():
    compiled = tg.compile(elementwise)
    a = compiled(tg.ones(4, dtype=tg.float64))
    b = compiled(tg.ones(5, dtype=tg.float64))
    assert len(compiled._entries) == 2 and a.grad_fn is None and b.grad_fn is None
    assert compiled.backward_graph(tg.ones(4, dtype=tg.float64)) is None


def test_compiled_float16_is_a_clear_error_before_numba():
    compiled = tg.compile(lambda x: (x * 2).sum())
    with pytest.raises(tg.UnsupportedError, match="float16"):
        compiled(tg.ones(3, dtype=tg.float16))


def test_kernel_cache_rebuilds_a_corrupt_entry(tmp_path):
    cache = KernelCache(tmp_path)
    graph = tg.CompiledFunction(elementwise, cache=cache).graph(tg.ones(3, dtype=tg.float64))
    kernel = cache.kernel(graph, "forward")
    kernel.path.write_text("garbage that is not the module\n")
    fresh = KernelCache(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt = fresh.kernel(graph, "forward")
    assert any("corrupt or stale" in str(w.message) for w in caught)
    assert rebuilt.origin == "new" and rebuilt.path.read_text() == kernel.module_text


def test_disk_cache_is_reused_by_a_second_process(tmp_path):
    script = textwrap.dedent("""
        import tracegrad as tg
        from tracegrad.runtime.cache import default_cache
        f = tg.compile(lambda x: (x.exp() * x).sum())
        x = tg.ones(4, dtype=tg.float64, requires_grad=True)
        f(x).backward()
        s = default_cache().stats
        print(s.disk_hits, s.misses, x.grad.tolist())
    """)
    env = {**os.environ, "TRACEGRAD_CACHE_DIR": str(tmp_path / "kernels")}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (r.stdout.split(maxsplit=2) for r in runs)
    assert first[:2] == ["0", "2"]            # forward and backward kernels built
    assert second[:2] == ["2", "0"]           # both found on disk by the new process
    assert first[2] == second[2]


def test_compiled_float32_sum_is_blocked_and_accurate():
    rng = np.random.default_rng(3)
    data = (rng.random(200_000) + 10.0).astype(np.float32)   # a sequential f32 sum drifts ~1e-4
    compiled = tg.compile(lambda x: (x * 1.0).sum())
    total = compiled(tg.from_numpy(data)).item()
    exact = data.astype(np.float64).sum()
    assert abs(total - exact) / exact < 1e-6
    assert "vm.sum_step_f32" in compiled.source(tg.from_numpy(data))


def test_functions_differing_only_in_names_do_not_share_a_cache_entry(tmp_path):
    def f(x):
        return (x * 2.0).sum()

    def g(y):
        return (y * 2.0).sum()
    cache = KernelCache(tmp_path)
    x = tg.ones(3, dtype=tg.float64)
    graphs = [tg.CompiledFunction(fn, cache=cache).graph(x) for fn in (f, g)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # a shared key would warn "corrupt or stale"
        paths = {cache.kernel(graph, "forward").path for graph in graphs}
    assert len(paths) == 2
