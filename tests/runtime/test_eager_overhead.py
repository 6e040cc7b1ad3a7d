"""The mechanisms that keep eager ops cheap must not change what ops do: the per-signature cache
of output types and node classes (runtime/signatures.py), the broadcast view built without
np.broadcast_to, and nodes that remember their output tensor only for retain_grad."""

from __future__ import annotations

import numpy as np
import pytest

import tracegrad
from tracegrad.ir.ops import OPS
from tracegrad.ir.ops.movement import _broadcast_compute
from tracegrad.runtime import signatures


def test_signature_cache_keys_on_attributes():
    x = tracegrad.ones(2, 3, requires_grad=True)
    assert x.sum(0).shape == (3,) and x.sum(1).shape == (2,)       # same operand, other axes
    assert x.sum(1, keepdim=True).shape == (2, 1)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape(6).shape == (6,)
    assert type(x.sum().grad_fn).__name__ == "SumBackward0"       # the name depends on attrs
    assert type(x.sum(0).grad_fn).__name__ == "SumBackward1"
    assert x.to(tracegrad.float64).dtype is tracegrad.float64
    assert x.to(tracegrad.float16).dtype is tracegrad.float16


def test_signature_cache_keys_on_operand_types_and_literals():
    x = tracegrad.ones(2, dtype=tracegrad.float64, requires_grad=True)
    assert (x * x).dtype is tracegrad.float64
    assert (x.float() * x.float()).dtype is tracegrad.float32
    assert type((x - 1.0).grad_fn).__name__ == "SubBackward0"
    assert type((1.0 - x).grad_fn).__name__ == "RsubBackward1"     # a literal first: another key
    assert type((2.0 ** x).grad_fn).__name__ == "PowBackward2"
    assert type((x ** 2.0).grad_fn).__name__ == "PowBackward0"


def test_signature_cache_keeps_the_literal_value_of_each_call():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 0.0).sum().backward()
    first = x.grad.clone()
    x.grad = None
    (x * -0.0).sum().backward()                      # equal key as 0.0; the sign must survive
    assert np.signbit(x.grad.numpy()).all() and not np.signbit(first.numpy()).any()


def test_signature_cache_skips_unhashable_attributes():
    x = tracegrad.ones(2, 3)
    before = len(signatures.FOUND)
    out = x._apply("reshape", x, shape=[3, 2])       # a list: the rule runs, nothing is cached
    assert out.shape == (3, 2) and len(signatures.FOUND) == before


def test_signature_cache_does_not_cache_errors():
    x = tracegrad.ones(2, 3)
    with pytest.raises(Exception):
        x._apply("reshape", x, shape=(4, 2))
    with pytest.raises(Exception):                   # raised again, not a cached type
        x._apply("reshape", x, shape=(4, 2))


def test_signature_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(signatures, "LIMIT", 3)
    signatures.clear()
    x = tracegrad.ones(4)
    for n in range(10):
        x * float(n)
        assert len(signatures.FOUND) <= 3


def test_signature_cache_result_matches_the_rule():
    x = tracegrad.ones(2, 3, requires_grad=True)
    y = x.sum(1)
    key = next(k for k in signatures.FOUND if k[0] == "sum" and ("axes", (1,)) in k)
    out_type, node_class = signatures.FOUND[key]
    assert out_type == OPS["sum"].infer(x.type_, axes=(1,), keepdims=False)
    assert node_class is type(y.grad_fn)


@pytest.mark.parametrize("array, shape", [
    (np.arange(3.0), (2, 3)),
    (np.arange(3.0).reshape(3, 1), (3, 4)),
    (np.ones(()), (2, 2)),
    (np.arange(6.0).reshape(2, 3).T, (5, 3, 2)),            # F-ordered: a view of its buffer
    (np.arange(6.0).reshape(2, 3)[:, ::2], (4, 2, 2)),      # strided: numpy's own way
    (np.arange(4.0)[::-1], (2, 4)),
    (np.broadcast_to(np.arange(3.0), (2, 3)), (4, 2, 3)),   # read-only already
    (np.zeros((1, 0)), (3, 0)),
], ids=["row", "column", "0-d", "transposed", "strided", "reversed", "broadcast", "empty"])
def test_broadcast_view_equals_numpy(array, shape):
    got, expected = _broadcast_compute(array, shape=shape), np.broadcast_to(array, shape)
    assert got.shape == expected.shape and got.strides == expected.strides
    np.testing.assert_array_equal(got, expected)
    assert not got.flags.writeable
    assert array.size == 0 or np.shares_memory(got, array)


def test_broadcast_view_rejects_what_numpy_rejects():
    with pytest.raises(ValueError):
        _broadcast_compute(np.arange(3.0), shape=(4,))


def test_retain_grad_follows_an_in_place_change():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)                                        # y's history changes; it still retains
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())


def test_retain_grad_of_a_tensor_made_after_the_call():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y + 1                                        # not retained: no .grad filled in
    y.retain_grad()
    (z * z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * z.detach().numpy())
    with pytest.warns(UserWarning):
        assert z.grad is None


def test_backward_inputs_retain_a_non_leaf_gradient():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward(inputs=[y])
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    assert x.grad is None and y.retains_grad


def test_retain_grad_after_an_in_place_change_sees_only_the_new_history():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    y.retain_grad()                                  # PyTorch: 2 * y, not also y's old history
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [12.0, 24.0])
