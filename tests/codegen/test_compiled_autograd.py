"""A compiled call is ONE node of eager autograd: `backward()` through it accumulates into leaves
exactly as eager does (repeated calls, retain_graph, existing .grad, non-leaf inputs, inputs
without grad, numpy inputs, several outputs, outputs used twice), `create_graph=True` gives
eager's higher derivatives, and compiled transforms (grad, value_and_grad, hessian,
grad(grad)) are one forward kernel each.

Each scenario runs twice, once calling the function eagerly and once calling it compiled, and
every tensor the scenario touches must come out the same. Kernels run as plain Python (what
TRACEGRAD_JIT=0 selects) except in the tests marked `numba`."""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import pytest
from support.compiled import (assert_all_same, assert_same, grads_of, numba, plain_python,
                              private_cache)

import tracegrad as tg


def loss2(x, w):
    return ((x @ w).tanh() * w.sum(0)).sum() + (x * x).mean()


def _leaves(dtype=tg.float64, x_grad=True, w_grad=True):
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((4, 3)), dtype=dtype, requires_grad=x_grad)
    w = tg.tensor(rng.standard_normal((3, 2)), dtype=dtype, requires_grad=w_grad)
    return x, w


def _both(fn: Callable, scenario: Callable, make: Callable = _leaves) -> tuple[list, list]:
    """`scenario(call, *leaves)` run with `fn` eager and compiled; returns what each returned
    followed by the leaves' gradients."""
    results = []
    for call in (fn, None):
        leaves = make()
        with plain_python():
            out = scenario(call or tg.compile(fn), *leaves)
        results.append([out, grads_of(leaves)])
    return results[0], results[1]


def _assert_like_eager(eager: list, compiled: list) -> None:
    (e_out, e_grads), (c_out, c_grads) = eager, compiled
    assert_all_same(c_grads, e_grads, what="leaf gradients")
    if e_out is not None:
        assert_all_same(list(c_out), list(e_out), what="scenario results")


# ---- accumulation into leaves ----

def test_repeated_backward_calls_accumulate_like_eager():
    def scenario(call, x, w):
        seen = []
        for _ in range(3):
            call(x, w).backward()
            seen += [x.grad.numpy().copy(), w.grad.numpy().copy()]
        return seen
    _assert_like_eager(*_both(loss2, scenario))


def test_retain_graph_allows_a_second_backward_that_accumulates():
    def scenario(call, x, w):
        out = call(x, w)
        out.backward(retain_graph=True)
        first = w.grad.numpy().copy()
        out.backward()
        return [first]
    _assert_like_eager(*_both(loss2, scenario))


def test_a_second_backward_without_retain_graph_fails_like_eager():
    messages = []
    for call in (loss2, tg.compile(loss2)):
        x, w = _leaves()
        with plain_python():
            out = call(x, w)
            out.backward()
            with pytest.raises(RuntimeError, match="backward through the graph a second time") as e:
                out.backward()
        messages.append(str(e.value))
        assert w.grad is not None and np.all(np.isfinite(w.grad.numpy()))
    assert messages[0] == messages[1]


def test_gradients_add_to_an_existing_grad_and_restart_after_zero():
    def scenario(call, x, w):
        w.grad = tg.full((3, 2), 10.0, dtype=tg.float64)
        call(x, w).backward()
        added = w.grad.numpy().copy()
        x.grad.zero_()
        call(x, w).backward()
        return [added]
    eager, compiled = _both(loss2, scenario)
    _assert_like_eager(eager, compiled)
    assert not np.allclose(compiled[0][0], 10.0)


def test_non_leaf_inputs_route_gradients_to_their_leaves():
    def scenario(call, x, w):
        h = x * 2 + 1                      # non-leaf input of the call
        h.retain_grad()
        v = (w.t() * 1.0).t()              # a transposed non-leaf
        call(h, v).backward()
        return [h.grad.numpy()]
    _assert_like_eager(*_both(loss2, scenario))


def test_inputs_that_do_not_require_grad_get_no_gradient():
    def scenario(call, x, w):
        out = call(x, w)
        assert out.requires_grad and not x.requires_grad
        out.backward()
        return [out.detach().numpy()]
    eager, compiled = _both(loss2, scenario, lambda: _leaves(x_grad=False))
    _assert_like_eager(eager, compiled)
    assert compiled[1][0] is None and compiled[1][1] is not None


def test_a_call_without_inputs_requiring_grad_records_nothing():
    x, w = _leaves(x_grad=False, w_grad=False)
    with plain_python():
        out = tg.compile(loss2)(x, w)
    assert not out.requires_grad and out.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward()


def test_no_grad_mode_records_nothing_and_grad_mode_then_retraces():
    compiled = tg.compile(loss2)
    x, w = _leaves()
    with plain_python():
        with tg.no_grad():
            quiet = compiled(x, w)
        loud = compiled(x, w)
    assert quiet.grad_fn is None and not quiet.requires_grad
    assert loud.grad_fn is not None and loud.grad_fn.name() == "CompiledFunctionBackward"
    assert_same(quiet, loud.detach())


def test_numpy_array_inputs_are_constants_of_the_call():
    rng = np.random.default_rng(1)
    data = np.asfortranarray(rng.standard_normal((4, 3)))          # not C-contiguous either

    def scenario(call, x, w):
        out = call(data if call is not loss2 else tg.tensor(data), w)
        out.backward()
        return [out.detach().numpy()]
    eager, compiled = _both(loss2, scenario)
    _assert_like_eager(eager, compiled)
    with plain_python():
        plain = tg.compile(loss2)(data, rng.standard_normal((3, 2)))
    assert isinstance(plain, tg.Tensor) and not plain.requires_grad


def _several(x, w):
    """Three outputs: a float vector, a float scalar and an integer tensor (no gradient)."""
    y = x @ w
    return y.sin(), (y * y).sum(), (y > 0).sum(0)


def test_several_outputs_each_carry_their_gradient():
    def scenario(call, x, w):
        a, b, n = call(x, w)
        assert not n.requires_grad and n.dtype is tg.int64
        (2 * a.sum() + b * 3).backward()
        return [n.numpy()]
    _assert_like_eager(*_both(_several, scenario))


def test_backward_through_one_of_several_outputs_treats_the_others_as_zero():
    def scenario(call, x, w):
        a, b, _ = call(x, w)
        (a * a).sum().backward()
        return []
    _assert_like_eager(*_both(_several, scenario))


def test_outputs_used_twice_and_returned_twice_accumulate():
    def twice(x, w):
        y = (x @ w).exp()
        return y, y, y.sum()

    def scenario(call, x, w):
        a, b, s = call(x, w)
        loss = (a * a).sum() + (a * b).sum() + s * s + s
        loss.backward()
        return [loss.detach().numpy()]
    _assert_like_eager(*_both(twice, scenario))


def test_dict_outputs_and_keyword_inputs():
    def named(x, *, w):
        y = x @ w
        return {"sq": (y * y).sum(), "mean": y.mean()}

    def scenario(call, x, w):
        out = call(x, w=w)
        (out["sq"] - 2 * out["mean"]).backward()
        return [out["sq"].detach().numpy()]
    _assert_like_eager(*_both(named, scenario))


def test_the_same_tensor_as_two_arguments_gets_both_gradients():
    def scenario(call, x, w):
        call(w, w.t()).backward()
        return []
    _assert_like_eager(*_both(lambda a, b: (a @ b).tanh().sum(), scenario))


def test_the_compiled_call_inside_a_larger_eager_graph():
    def scenario(call, x, w):
        h = x.relu() * 3                   # eager before
        out = call(h, w)
        loss = out.exp() + (h.sum() - w.sum()) ** 2      # eager after, and around it
        loss.backward()
        return [loss.detach().numpy()]
    _assert_like_eager(*_both(loss2, scenario))


def test_float32_gradients_stay_float32():
    def scenario(call, x, w):
        call(x, w).backward()
        return []
    eager, compiled = _both(loss2, scenario, lambda: _leaves(tg.float32))
    _assert_like_eager(eager, compiled)
    assert all(g.dtype == np.float32 for g in compiled[1])


def test_changing_an_input_in_place_after_the_call_fails_backward_like_eager():
    for call in (loss2, tg.compile(loss2)):
        x, w = _leaves()
        h = w * 1.0
        with plain_python():
            out = call(x, h)
            h.add_(1.0)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                out.backward()


def test_backward_rounds_the_cotangent_through_a_float32_cast_like_eager():
    """The VJP of cast(f64 -> f32) rounds the cotangent to float32; eager and the interpreter
    give 0.1 rounded (0.10000000149...). The compiled call must not skip that rounding."""
    def through_f32(x):
        return x.to(tg.float32).to(tg.float64)

    def scenario(call, x, w):
        call(w).backward(tg.full((3, 2), 0.1, dtype=tg.float64))
        return []
    _assert_like_eager(*_both(through_f32, scenario))
    for call in (through_f32, tg.compile(through_f32)):
        x = tg.tensor(0.0, dtype=tg.float64, requires_grad=True)
        with plain_python():
            call(x).backward(tg.tensor(0.1, dtype=tg.float64))
        assert x.grad.item() == float(np.float32(0.1)), call


# ---- create_graph: higher derivatives through the compiled call ----

def test_create_graph_second_derivatives_equal_eager():
    def scenario(call, x, w):
        gx, gw = tg.autograd.grad(call(x, w), (x, w), create_graph=True)
        assert gx.requires_grad and gw.requires_grad
        ((gx ** 2).sum() + (gw * w).sum()).backward()    # second order into .grad
        return [gx.detach().numpy(), gw.detach().numpy()]
    _assert_like_eager(*_both(loss2, scenario))


def test_backward_with_create_graph_leaves_differentiable_grads():
    def scenario(call, x, w):
        with pytest.warns(UserWarning, match="reference cycle"):     # as PyTorch warns
            call(x, w).backward(create_graph=True)
        assert w.grad.requires_grad
        (hx,) = tg.autograd.grad(w.grad.sum(), x)
        return [hx.numpy()]
    _assert_like_eager(*_both(loss2, scenario))


def test_third_derivative_through_compiled_calls():
    x = tg.tensor([0.5, -1.5, 2.0], dtype=tg.float64, requires_grad=True)
    with plain_python():
        out = tg.compile(lambda x: (x ** 4 + x.sin()).sum())(x)
        (g1,) = tg.autograd.grad(out, x, create_graph=True)
        (g2,) = tg.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = tg.autograd.grad(g2.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(g1.detach().numpy(), 4 * xs ** 3 + np.cos(xs), rtol=1e-12)
    np.testing.assert_allclose(g2.detach().numpy(), 12 * xs ** 2 - np.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(g3.numpy(), 24 * xs - np.cos(xs), rtol=1e-12)


@pytest.mark.numba
def test_float32_scalar_gradients_through_numba_keep_their_dtype():
    """Numba returns 0-d results as Python floats: they must come back float32."""
    w = tg.tensor(10.0, requires_grad=True)
    loss = tg.compile(lambda w: w ** 2 + 20)(w)
    assert loss.dtype is tg.float32 and loss.shape == ()
    loss.backward()
    assert w.grad.dtype is tg.float32 and w.grad.item() == 20.0
    (g,) = tg.autograd.grad(tg.compile(lambda w: w ** 3)(w), w, create_graph=True)
    (h,) = tg.autograd.grad(g, w)
    assert (g.dtype, h.dtype) == (tg.float32, tg.float32) and (g.item(), h.item()) == (300.0, 60.0)


@pytest.mark.numba
def test_float32_scalar_saved_value_reaches_a_double_backward():
    """`x @ x` saves the 0-d product's operand for create_graph; a float32 0-d saved value must
    not reach the backward kernel as a float64 (its matmul would mix dtypes)."""
    x = tg.tensor([3.0], requires_grad=True)
    (g,) = tg.autograd.grad(tg.compile(lambda x: x @ x)(x), x, create_graph=True)
    g.sum().backward()
    assert (g.dtype, x.grad.dtype) == (tg.float32, tg.float32)
    assert (g.item(), x.grad.item()) == (6.0, 2.0)


@pytest.mark.numba
def test_unit_seed_hands_the_saved_gradients_over(monkeypatch):
    """A scalar loss's gradients are computed by the forward kernel; `backward()` with the seed 1
    runs no backward kernel, and the leaf takes the saved array over (no copy, no scaling): the
    node frees it as soon as it has handed it on. (Kernels allocated by Numba: a plain-Python
    kernel returns views, which are copied.)"""
    calls = []
    x, w = _leaves()
    with numba():
        f = tg.compile(loss2)
        entry = f.entry_for(x, w)
        for kernel, stage in ((entry.forward, "numba forward"), (entry.backward, "numba backward")):
            monkeypatch.setattr(kernel, "fn", lambda *a, _fn=kernel.fn, _stage=stage:
                                calls.append(_stage) or _fn(*a))
        loss = f(x, w)
        saved = [weakref.ref(a) for a in loss.grad_fn._saved]   # no reference of ours
        loss.backward()
        assert calls == ["numba forward"]
        assert x.grad.numpy() is saved[0]() and w.grad.numpy() is saved[1]()
        calls.clear()
        loss = f(x, w)
        loss.backward(tg.tensor(2.0, dtype=tg.float64))     # any other seed: the backward kernel
        assert calls == ["numba forward", "numba backward"]


def test_unit_seed_with_retain_graph_keeps_the_saved_gradients_intact():
    def scenario(call, x, w):
        loss = call(x, w)
        loss.backward(retain_graph=True)
        loss.backward(retain_graph=True)
        loss.backward()
        return None
    _assert_like_eager(*_both(loss2, scenario))


# ---- compiled transforms: one forward kernel each ----

def cubic_sin(x):
    return (x.sin() * x ** 3).sum()


def _eager_hessian(fn, x, w):
    w = w.detach().requires_grad_(True)
    (g,) = tg.autograd.grad(fn(x, w), w, create_graph=True)
    rows = [tg.autograd.grad(g.reshape(-1)[k], w, retain_graph=True)[0].numpy()
            for k in range(g.numel())]
    return np.stack(rows).reshape(g.shape + w.shape)


def _tanh_net(x, w):
    h = x @ w
    return (h.tanh() * h).sum()


def _transform_cases():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    s = np.array(0.7)

    def eager_grad(fn, *arrays, argnums):
        leaves = [tg.tensor(a, requires_grad=True) for a in arrays]
        picked = [leaves[i] for i in argnums]
        return [g.numpy() for g in tg.autograd.grad(fn(*leaves), picked)]

    def eager_grad_grad(arrays):
        (t,) = [tg.tensor(a, requires_grad=True) for a in arrays]
        (g,) = tg.autograd.grad(cubic_sin(t), t, create_graph=True)
        return [tg.autograd.grad(g, t)[0].numpy()]

    return [
        ("grad", tg.grad(_tanh_net, argnums=1), (x, w),
         lambda: eager_grad(_tanh_net, x, w, argnums=(1,))),
        ("value_and_grad", tg.value_and_grad(_tanh_net, argnums=(0, 1)), (x, w),
         lambda: [_tanh_net(tg.tensor(x), tg.tensor(w)).numpy(),
                  *eager_grad(_tanh_net, x, w, argnums=(0, 1))]),
        ("hessian", tg.hessian(_tanh_net, argnums=1), (x, w),
         lambda: [_eager_hessian(_tanh_net, tg.tensor(x), tg.tensor(w))]),
        ("grad_grad", tg.grad(tg.grad(cubic_sin)), (s,), lambda: eager_grad_grad((s,))),
    ]


def _flat(result) -> list[np.ndarray]:
    if isinstance(result, tg.Tensor):
        return [result.numpy()]
    return [a for r in result for a in _flat(r)]


@pytest.mark.numba
@pytest.mark.parametrize("case", _transform_cases(), ids=lambda c: c[0])
def test_compiled_transform_is_one_forward_kernel_equal_to_eager_and_interpreter(case, tmp_path):
    _, transformed, arrays, eager = case
    with private_cache(tmp_path) as cache:
        compiled = tg.compile(transformed)
        got = _flat(compiled(*arrays))
        assert (cache.stats.misses, cache.stats.disk_hits) == (1, 0)     # one kernel, forward
        assert compiled.backward_graph(*arrays) is None
        assert len(cache.memory) == 1
    expected = eager()
    interpreted = _flat(transformed(*arrays))
    assert_all_same(got, interpreted, what="compiled vs interpreter")
    assert_all_same(got, expected, what="compiled vs eager")
