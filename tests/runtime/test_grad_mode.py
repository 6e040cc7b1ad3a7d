"""Grad mode: `no_grad`, `enable_grad` and `set_grad_enabled` as context managers, decorators and
(for set_grad_enabled) a plain call, with PyTorch's semantics. Checked against PyTorch 2.13."""

from __future__ import annotations

import threading

import pytest

import tracegrad
from tracegrad import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


@pytest.fixture(autouse=True)
def grad_mode_restored():
    yield
    assert is_grad_enabled(), "a test left grad mode disabled"


def _leaf():
    return tracegrad.ones(2, requires_grad=True)


def test_no_grad_results_are_leaves_that_do_not_require_grad():
    x = _leaf()
    with no_grad():
        y = x * 2
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None


def test_no_grad_as_decorator_with_and_without_parentheses():
    @no_grad()
    def called(x):
        return x * 2

    @no_grad
    def bare(x):
        return x * 2

    x = _leaf()
    assert not called(x).requires_grad and not bare(x).requires_grad
    assert called.__name__ == "called" and bare.__name__ == "bare"
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = _leaf()
    with no_grad():
        with enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn.name() == "MulBackward0"
    assert not z.requires_grad


def test_enable_grad_as_decorator_inside_no_grad():
    @enable_grad()
    def double(x):
        return x * 2

    @enable_grad
    def bare(x):
        return x * 2

    x = _leaf()
    with no_grad():
        assert double(x).requires_grad and bare(x).requires_grad
        assert not is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call():
    x = _leaf()
    set_grad_enabled(False)
    try:
        assert not is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        set_grad_enabled(True)
    assert (x * 2).requires_grad


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_as_context_manager_restores_the_previous_mode(mode):
    x = _leaf()
    with no_grad():
        with set_grad_enabled(mode):
            y = x * 2
            assert is_grad_enabled() is mode
        assert not is_grad_enabled()
    assert y.requires_grad is mode


def test_set_grad_enabled_as_decorator_does_not_change_the_callers_mode():
    @set_grad_enabled(False)
    def double(x):
        return x * 2

    assert is_grad_enabled()
    x = _leaf()
    assert not double(x).requires_grad
    assert is_grad_enabled()


def test_enable_grad_inside_a_plain_set_grad_enabled_false():
    set_grad_enabled(False)
    try:
        with enable_grad():
            assert is_grad_enabled()
        assert not is_grad_enabled()
    finally:
        set_grad_enabled(True)


@pytest.mark.parametrize("make", [no_grad, lambda: set_grad_enabled(False)],
                         ids=["no_grad", "set_grad_enabled"])
def test_grad_mode_is_restored_after_an_exception(make):
    with pytest.raises(ValueError):
        with make():
            raise ValueError("boom")
    assert is_grad_enabled()


def test_one_no_grad_object_can_be_entered_nested():
    # PyTorch 2.13 forgets the outer state here and leaves grad disabled; tracegrad restores it.
    mode = no_grad()
    with mode:
        with mode:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_decorated_generator_runs_each_step_under_the_mode():
    @no_grad()
    def steps():
        yield is_grad_enabled()
        yield is_grad_enabled()

    gen = steps()
    assert next(gen) is False
    assert is_grad_enabled()              # the caller's code between steps keeps its mode
    assert next(gen) is False
    with pytest.raises(StopIteration):
        next(gen)


def test_decorated_generator_passes_sends_and_returns():
    @no_grad()
    def echo():
        received = yield "ready"
        return received * 2

    gen = echo()
    assert next(gen) == "ready"
    with pytest.raises(StopIteration) as stop:
        gen.send(21)
    assert stop.value.value == 42


def test_grad_mode_is_per_thread():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_backward_works_under_no_grad():
    x = _leaf()
    y = (x * x).sum()
    with no_grad():
        y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_create_graph_records_even_under_no_grad():
    x = _leaf()
    y = (x * x).sum()
    with no_grad():
        (g,) = tracegrad.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad and g.tolist() == [2.0, 2.0]


def test_factory_requires_grad_is_honoured_under_no_grad():
    with no_grad():
        x = tracegrad.ones(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_no_grad_result_can_become_a_new_leaf():
    x = _leaf()
    with no_grad():
        y = x.exp()
    y.requires_grad_()
    (y * 2).sum().backward()
    assert y.grad.tolist() == [2.0, 2.0] and x.grad is None


def test_sgd_update_under_no_grad_keeps_the_leaf():
    w = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        ((w - 3) ** 2).sum().backward()
        with no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    assert w.tolist() == pytest.approx([1.976, 2.488])
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w._version == 3


def test_in_place_changes_under_no_grad_on_a_leaf_are_allowed():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        x.mul_(2)
        x -= 1
        x[0] = 7
    assert x.tolist() == [7.0, 3.0] and x._version == 3
    assert x.is_leaf and x.requires_grad and x.grad_fn is None


def test_in_place_under_no_grad_on_a_non_leaf_keeps_its_history():
    a = tracegrad.ones(2, requires_grad=True)
    y = a * 2
    with no_grad():
        y.add_(1)
    assert y.grad_fn.name() == "MulBackward0" and y.requires_grad
    y.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]


def test_grad_mode_names_are_exported_from_autograd():
    assert tracegrad.autograd.no_grad is no_grad
    assert tracegrad.autograd.enable_grad is enable_grad
    assert tracegrad.autograd.set_grad_enabled is set_grad_enabled
    assert isinstance(no_grad(), no_grad)
