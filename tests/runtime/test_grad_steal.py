"""AccumulateGrad takes over a gradient nobody else holds (no copy), as PyTorch does, and copies
whenever the memory could be seen from elsewhere: the root gradient a user passed, a gradient
shared by two leaves, a view, a hook that kept the tensor."""

from __future__ import annotations

import numpy as np

import tracegrad as tg
from tracegrad.runtime import autograd as ag


def test_fresh_gradient_is_taken_over_without_copy(monkeypatch):
    copies = []
    original = ag._stored
    monkeypatch.setattr(ag, "_stored", lambda g: copies.append(g) or original(g))
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x.exp() * 2).sum().backward()
    assert copies == []
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0, 3.0]))


def test_user_gradient_passed_through_is_copied():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    g = tg.tensor([5.0, 7.0])
    y = x * 1.0
    y.backward(g)
    g.numpy()[:] = 0.0                         # the user's tensor changes afterwards
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    assert not np.shares_memory(x.grad.numpy(), g.numpy())


def test_gradient_shared_by_two_leaves_never_aliases():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    (x + w).exp().sum().backward()
    assert not np.shares_memory(x.grad.numpy(), w.grad.numpy())
    (x + w).exp().sum().backward()             # accumulating in place into one keeps the other
    expected = 2 * np.exp([4.0, 6.0])
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_gradient_kept_by_a_hook_is_copied():
    kept = []
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: kept.append(g))
    (x * 3).sum().backward()
    (x * 3).sum().backward()                   # in-place accumulation must not reach `kept`
    np.testing.assert_array_equal(kept[0].numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_views_and_broadcasts_are_not_taken():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x.sum().backward()                         # the gradient is a broadcast of one value
    assert x.grad.numpy().flags.writeable and x.grad.numpy().flags.owndata
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 2.0))


def test_stealable_rules_on_kernel_buffers():
    from tracegrad.codegen.jit import jit_enabled
    if not jit_enabled():
        return
    from numba import njit

    @njit
    def two_views(n):
        a = np.ones(n)
        return a, a.reshape((n, 1))

    @njit
    def fresh(n):
        return np.ones(n)

    a, b = two_views(3)
    ta = tg.Tensor._make(a, tg.float64)
    del a
    verdict = ag._stealable(ta)
    assert not verdict                         # b shares the kernel's buffer
    del b
    verdict = ag._stealable(ta)
    assert verdict
    # (no call inside `assert`: pytest's rewriting keeps the temporaries alive)
    own = tg.Tensor._make(fresh(3), tg.float64)
    verdict = ag._stealable(own)
    assert verdict
    passthrough = np.ones(3)
    view = tg.Tensor._make(passthrough[1:], tg.float64)
    verdict = ag._stealable(view)
    assert not verdict


def test_pooled_gradient_is_taken_over_and_never_shared():
    from tracegrad.runtime.pool import POOL
    x = tg.tensor(np.linspace(-1, 1, 1 << 17), requires_grad=True)     # big: pooled outputs
    (x.exp() * 2).sum().backward()
    first = x.grad.numpy()
    assert POOL.owns(first)                      # taken over from the pool, not copied
    np.testing.assert_allclose(first, 2 * np.exp(x.detach().numpy()))
    y = x.detach().exp()                         # the pool must not hand the .grad buffer out
    assert not np.shares_memory(y.numpy(), first)
