"""In-place arithmetic that autograd does not record (an SGD step under no_grad) runs as one
ufunc writing into the tensor's own storage, as numpy's `w -= lr * g`: same bits as computing
the result and copying it in, the storage kept, the version counter bumped. Anything autograd
records, or whose result would need a cast or a broadcast of self, keeps the general path."""

from __future__ import annotations

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.ir.ops import elementwise

OPS = ["add_", "sub_", "mul_", "div_"]


def _count_write_through(monkeypatch) -> list[str]:
    used: list[str] = []
    for name, ufunc in list(elementwise.IN_PLACE.items()):
        monkeypatch.setitem(elementwise.IN_PLACE, name,
                            lambda *a, _u=ufunc, _n=name, **k: used.append(_n) or _u(*a, **k))
    return used


@pytest.mark.parametrize("method", OPS)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("other_kind", ["tensor", "scalar tensor", "float", "int"])
def test_update_under_no_grad_writes_into_the_storage_with_the_same_bits(
        method, dtype, other_kind, monkeypatch):
    used = _count_write_through(monkeypatch)
    rng = np.random.default_rng(1)
    start = rng.standard_normal((5, 4))
    others = {"tensor": tg.tensor(rng.standard_normal((5, 4)), dtype=dtype),
              "scalar tensor": tg.tensor(0.37, dtype=dtype), "float": 1e-3, "int": 3}
    other = others[other_kind]
    w = tg.tensor(start, dtype=dtype, requires_grad=True)
    storage, version = w.detach().numpy(), w._version
    expected = getattr(w.detach().clone(), method.rstrip("_"))(other).numpy()
    with tg.no_grad():
        result = getattr(w, method)(other)
    assert result is w and w.detach().numpy() is storage
    np.testing.assert_array_equal(storage, expected)          # bit for bit
    assert w._version == version + 1 and w.requires_grad and w.is_leaf
    assert used == [method.rstrip("_")]


def test_version_bump_still_catches_a_saved_tensor_changed_in_place():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.mul_(2.0)                                 # x needs no grad: written through, still counted
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_recorded_update_keeps_its_history(monkeypatch):
    used = _count_write_through(monkeypatch)
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    c = a * 1.0
    c.add_(b)                                   # recorded: the general path
    c.sum().backward()
    assert used == [] and c.grad_fn.name() == "AddBackward0"
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_leaf_requiring_grad_still_refuses_an_update_with_grad_mode_on():
    w = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.sub_(0.5)


@pytest.mark.parametrize("case", ["other dtype", "broadcast other", "alpha", "int self",
                                  "view self"])
def test_cases_needing_a_cast_or_broadcast_take_the_general_path(case, monkeypatch):
    used = _count_write_through(monkeypatch)
    w = tg.tensor([[1.5, 2.5], [3.5, 4.5]], dtype=tg.float32)
    if case == "other dtype":
        w.add_(tg.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=tg.float64))
        expected = [[2.5, 3.5], [4.5, 5.5]]
    elif case == "broadcast other":
        w.add_(tg.tensor([1.0, 2.0]))
        expected = [[2.5, 4.5], [4.5, 6.5]]
    elif case == "alpha":
        w.add_(tg.ones(2, 2), alpha=2)
        expected = [[3.5, 4.5], [5.5, 6.5]]
    elif case == "int self":
        w = tg.tensor([[1, 2], [3, 4]])
        w.add_(1)
        expected = [[2, 3], [4, 5]]
    else:
        w[0].add_(1.0)
        expected = [[2.5, 3.5], [3.5, 4.5]]
    assert used == []
    np.testing.assert_array_equal(w.numpy(), expected)


def test_read_only_storage_still_raises():
    array = np.ones(3, np.float32)
    array.flags.writeable = False
    w = tg.from_numpy(array)
    with pytest.raises(RuntimeError):
        w.mul_(2.0)
