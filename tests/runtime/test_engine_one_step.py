"""The engine's one-step path: a root whose edges are distinct leaves without hooks (a compiled
call's node, a single op) runs without the general loop, with the same results and effects."""

from __future__ import annotations

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.runtime import autograd as ag


def general_only(monkeypatch):
    monkeypatch.setattr(ag, "_leaves_only", lambda root: False)


def no_general_loop(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the general loop ran")
    monkeypatch.setattr(ag, "_propagate", fail)


def leaves():
    return (tg.tensor([1.0, -2.0, 3.0], requires_grad=True),
            tg.tensor([0.5, 4.0, -1.0], requires_grad=True))


def test_one_op_backward_skips_the_general_loop(monkeypatch):
    x, w = leaves()
    no_general_loop(monkeypatch)
    (x @ w).backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.detach().numpy())
    np.testing.assert_array_equal(w.grad.numpy(), x.detach().numpy())
    (x @ w).backward()                                 # accumulates in place, as the loop does
    np.testing.assert_array_equal(x.grad.numpy(), 2 * w.detach().numpy())


@pytest.mark.parametrize("case", ["hook on a leaf", "retained root", "repeated leaf",
                                  "non-leaf operand", "root hook"])
def test_anything_else_takes_the_general_loop(case):
    x, w = leaves()
    if case == "hook on a leaf":
        x.register_hook(lambda g: g * 10)
        y = x @ w
    elif case == "retained root":
        y = x @ w
        y.retain_grad()
    elif case == "repeated leaf":
        y = x @ x
    elif case == "non-leaf operand":
        y = (x * 2) @ w
    else:
        y = x @ w
        y.register_hook(lambda g: g * 3)
    assert not ag._leaves_only(y.grad_fn)


def test_one_step_equals_the_general_loop(monkeypatch):
    """Same gradients, same stealing, same release, for a leaf that does not require grad too."""
    def run():
        x, w = leaves()
        c = tg.tensor([1.0, 1.0, 1.0])                 # no grad: a None edge
        y = x @ w
        z = w * c
        y.backward()
        z.backward(tg.tensor([1.0, 2.0, 3.0]))
        return x.grad.numpy().copy(), w.grad.numpy().copy(), x.grad.numpy().flags.owndata
    fast = run()
    general_only(monkeypatch)
    slow = run()
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_second_backward_after_release_raises_on_the_one_step_path():
    x, w = leaves()
    y = x * w
    y.backward(tg.ones(3))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(tg.ones(3))


def test_gradient_of_a_dead_leaf_is_dropped():
    x, w = leaves()
    y = x * w
    del x
    y.backward(tg.ones(3))
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, -2.0, 3.0])


def test_each_backward_gets_a_fresh_seed():
    """The seed of `loss.backward()` is a new tensor each time: a hook that keeps it and one
    that changes it in place affect nothing later."""
    x, w = leaves()
    seen = []

    def hook(g):
        seen.append(g)
        g.add_(1.0)
    for _ in range(2):
        y = x @ w
        y.register_hook(hook)
        y.backward()
    assert [s.item() for s in seen] == [2.0, 2.0] and seen[0] is not seen[1]
    np.testing.assert_array_equal(x.grad.numpy(), 4 * w.detach().numpy())
