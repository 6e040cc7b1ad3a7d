"""The eager fast paths (ir/ops/fast.py, runtime/kernels.py, runtime/pool.py): big float arrays
run vmath kernels or write into recycled buffers; results stay numpy's within a few ulp; small
arrays never reach the provider; TRACEGRAD_EAGER_KERNELS=0 turns it all off."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.ir.ops import OPS, fast
from tracegrad.runtime import kernels
from tracegrad.runtime.pool import BufferPool

BIG = fast.MIN_SIZE + 3            # odd, so vector loops have a remainder


class Spy:
    """A provider that records calls and declines them (numpy then runs)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def run(self, name, *operands):
        self.calls.append(name)
        return None

    def empty(self, shape, dtype):
        self.calls.append("empty")
        return np.empty(shape, dtype)

    def fill(self, ufunc, operands, out):
        return ufunc(*operands, out=out)


@pytest.fixture
def spy():
    spy = Spy()
    previous = fast.install(spy)
    yield spy
    fast.install(previous)


def _reference(name, *operands):
    """The op's numpy evaluation with the fast paths off."""
    enabled, fast.ENABLED = fast.ENABLED, False
    try:
        return OPS[name].compute(*operands)
    finally:
        fast.ENABLED = enabled


def _ulp_distance(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    spacing = np.spacing(np.abs(want).astype(want.dtype)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(got.astype(np.float64) - want) / spacing).max()


def _sample(dtype, positive=False):
    x = np.random.default_rng(7).standard_normal(BIG) * 4
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 80.0]
    return (np.abs(x) if positive else x).astype(dtype)


# ---- kernels: taken above the threshold, equal to numpy within vmath's ulp ----

@pytest.mark.numba
@pytest.mark.parametrize("name, dtype, positive", [
    ("tanh", np.float32, False), ("exp", np.float64, False), ("softplus", np.float32, False),
    ("log", np.float32, True)], ids=["tanh_f32", "exp_f64", "softplus_f32", "log_f32"])
def test_kernel_runs_above_threshold_and_matches_numpy(name, dtype, positive):
    x = _sample(dtype, positive)
    suffix = "f32" if dtype == np.float32 else "f64"
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # kernels, like the numpy path, never warn
        got = OPS[name].compute(x)
    assert f"{name}_{suffix}" in kernels.PROVIDER.used
    assert _ulp_distance(got, _reference(name, x)) <= 4


@pytest.mark.numba
def test_sin_f64_kernel_gives_numpy_values_beyond_its_reduction_limit():
    x = _sample(np.float64)
    x[6:10] = [2.0**48, -3e300, 1e17, np.finfo(np.float64).max]
    got = OPS["sin"].compute(x)
    assert "sin_f64" in kernels.PROVIDER.used
    assert _ulp_distance(got, _reference("sin", x)) <= 4
    np.testing.assert_array_equal(got[6:10], np.sin(x[6:10]))


@pytest.mark.numba
def test_pow_with_a_general_exponent_runs_the_kernel_in_eager_mode():
    x = tg.tensor(_sample(np.float32, positive=True), requires_grad=True)
    y = x ** 1.5
    assert "pow_f32_as" in kernels.PROVIDER.used
    assert _ulp_distance(y.detach().numpy(), _reference("pow", x.detach().numpy(), 1.5)) <= 4
    assert y.dtype is tg.float32 and type(y.grad_fn).__name__ == "PowBackward0"


def test_float32_sin_stays_with_numpy(spy):
    x = np.linspace(-3, 3, BIG, dtype=np.float32)
    np.testing.assert_array_equal(OPS["sin"].compute(x), np.sin(x))
    assert "sin" in spy.calls            # offered: the provider declines float32 sin
    assert "sin_f32" not in kernels.PROVIDER.used


# ---- the switch and the threshold ----

def test_small_arrays_never_reach_the_provider(spy):
    x = tg.tensor(np.linspace(0.1, 2, fast.MIN_SIZE - 1), requires_grad=True)
    y = ((x.tanh() * x.sigmoid() + 0.5 * x ** 2 + x ** 1.5 + (-x * x).exp()).log1p()).sum()
    y.backward()
    assert spy.calls == []


def test_switch_off_sends_big_arrays_to_numpy(spy, monkeypatch):
    monkeypatch.setattr(fast, "ENABLED", False)
    x = tg.tensor(_sample(np.float64))
    (x.tanh() * x + x ** 1.5).exp()
    assert spy.calls == []


def test_switch_on_offers_big_arrays_to_the_provider(spy):
    x = tg.tensor(_sample(np.float64))
    x.tanh() * x
    assert spy.calls == ["tanh", "empty", "mul", "empty"]


def test_environment_variable_turns_the_fast_paths_off():
    code = "import tracegrad.ir.ops.fast as f; print(f.ENABLED)"
    env = dict(os.environ, TRACEGRAD_EAGER_KERNELS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ---- ufuncs into recycled buffers: exactly numpy's values and layout ----

def test_ufunc_into_provided_buffer_equals_numpy_exactly(spy):
    a = _sample(np.float32)
    b = np.broadcast_to(np.float32(0.25), a.shape)       # a broadcast operand (strides 0)
    for name, ufunc in (("add", np.add), ("mul", np.multiply), ("div", np.true_divide)):
        got = OPS[name].compute(a, b)
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, ufunc(a, b))
    assert spy.calls.count("empty") == 3


def test_transposed_operands_keep_numpy_layout(spy):
    a = np.ones((300, 300), np.float32).T
    got = OPS["mul"].compute(a, 2.0)
    assert got.flags.f_contiguous and spy.calls == []


# ---- pow by products ----

@pytest.mark.parametrize("n", [-2, -1, 0, 1, 2, 3, 4])
def test_small_integer_powers_match_numpy(n):
    x = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-30, 3e12], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = OPS["pow"].compute(x, float(n))
    with np.errstate(all="ignore"):
        want = np.power(x, np.float32(n))
    assert got.dtype == np.float32 and got is not x
    assert _ulp_distance(got, want) <= 2


def test_small_integer_power_of_a_0d_array_is_an_array():
    got = OPS["pow"].compute(np.array(3.0), 3.0)
    assert isinstance(got, np.ndarray) and got.shape == () and got == 27.0


@pytest.mark.parametrize("exponent, grad", [(1.0, [1.0, 1.0]), (2.0, [3.0, -4.0]),
                                            (3.0, [6.75, 12.0])])
def test_pow_gradient_with_a_literal_exponent(exponent, grad):
    x = tg.tensor([1.5, -2.0], dtype=tg.float64, requires_grad=True)
    y = x ** exponent
    assert type(y.grad_fn).__name__ == "PowBackward0"
    y.sum().backward()
    assert x.grad.tolist() == grad


# ---- the buffer pool ----

def test_pool_reuses_only_buffers_nobody_refers_to():
    pool = BufferPool(capacity=1 << 30)
    a = pool.empty((100,), np.dtype(np.float32))
    b = pool.empty((100,), np.dtype(np.float32))
    assert a is not b
    view = b[10:]
    del b
    c = pool.empty((100,), np.dtype(np.float32))         # b's memory is still seen by `view`
    assert not np.shares_memory(c, view) and not np.shares_memory(c, a)
    del view, c
    d = pool.empty((100,), np.dtype(np.float32))
    assert pool.reused == 1 and pool.allocated == 3 and d is not a
    assert pool.owns(d) == 1 and pool.owns(d[1:]) == 0 and pool.owns(np.empty(3)) == 0


def test_pool_capacity_drops_idle_buffers_and_never_exceeds_its_bytes():
    pool = BufferPool(capacity=1000)
    kept = pool.empty((200,), np.dtype(np.float32))        # 800 bytes
    assert pool.kept == 800
    extra = pool.empty((100,), np.dtype(np.float32))       # does not fit: not kept
    assert pool.kept == 800
    del kept
    pool.empty((100,), np.dtype(np.float32))               # the idle 800 bytes make room
    assert pool.kept == 400 and extra.shape == (100,)


def test_eager_results_never_share_memory_with_live_tensors():
    x = tg.tensor(_sample(np.float32))
    first = x * 2.0
    second = x * 3.0
    assert not np.shares_memory(first.numpy(), second.numpy())
    kept = first.numpy()
    del first
    third = x * 4.0
    assert not np.shares_memory(kept, third.numpy())
    np.testing.assert_array_equal(kept, x.numpy() * np.float32(2.0))
