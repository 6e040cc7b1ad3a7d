"""Constructors, dtypes, devices and conversions follow PyTorch's defaults and behaviour.

Expected values and messages were checked against reference PyTorch 2.13 (CPU), with `torch.`
spelled `tracegrad.`; this file never imports torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tracegrad
from tracegrad import Tensor


# ---- dtype inference ----

@pytest.mark.parametrize(("data", "dtype"), [
    ([1.0, 2.0], tracegrad.float32),
    (1.5, tracegrad.float32),
    ([1, 2], tracegrad.int64),
    (3, tracegrad.int64),
    ([True, False], tracegrad.bool),
    ([1, 2.5], tracegrad.float32),
    ([True, 2], tracegrad.int64),
    ([True, 2.0], tracegrad.float32),
    ([], tracegrad.float32),
    ([[1.0], [2.0]], tracegrad.float32),
], ids=["floats", "float", "ints", "int", "bools", "int_and_float", "bool_and_int",
        "bool_and_float", "empty", "nested"])
def test_tensor_infers_pytorch_default_dtype(data, dtype):
    assert tracegrad.tensor(data).dtype is dtype


@pytest.mark.parametrize(("spelling", "dtype"), [
    (float, tracegrad.float64),
    (int, tracegrad.int64),
    (bool, tracegrad.bool),
    (tracegrad.float, tracegrad.float32),
    (tracegrad.double, tracegrad.float64),
    (tracegrad.long, tracegrad.int64),
    (tracegrad.int, tracegrad.int32),
    (tracegrad.bool, tracegrad.bool_),
    (tracegrad.half, tracegrad.float16),
], ids=["py_float", "py_int", "py_bool", "float", "double", "long", "int", "bool", "half"])
def test_tensor_dtype_argument_spellings(spelling, dtype):
    assert tracegrad.tensor([1], dtype=spelling).dtype is dtype


def test_dtype_aliases_are_the_singletons_and_print_like_pytorch():
    assert tracegrad.float is tracegrad.float32 and tracegrad.double is tracegrad.float64
    assert tracegrad.long is tracegrad.int64 and tracegrad.int is tracegrad.int32
    assert repr(tracegrad.float32) == "tracegrad.float32"
    assert tracegrad.float32.is_floating_point and not tracegrad.int64.is_floating_point
    assert tracegrad.float32.itemsize == 4


def test_tensor_with_float_dtype_converts_and_truncates_like_pytorch():
    assert tracegrad.tensor([1, 2], dtype=tracegrad.float).tolist() == [1.0, 2.0]
    assert tracegrad.tensor([1.7, -2.7], dtype=tracegrad.long).tolist() == [1, -2]


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32, np.int32, np.int64, np.bool_])
def test_tensor_of_numpy_array_keeps_its_dtype(np_dtype):
    array = np.array([1, 0], dtype=np_dtype)
    assert tracegrad.tensor(array).dtype.np == np.dtype(np_dtype)


def test_tensor_copies_numpy_data():
    array = np.zeros(3)
    t = tracegrad.tensor(array)
    array[0] = 5
    assert t.tolist() == [0.0, 0.0, 0.0]


def test_from_numpy_shares_memory_both_ways():
    array = np.zeros(3)
    t = tracegrad.from_numpy(array)
    array[0] = 5
    t[1] = 7
    assert t.tolist() == [5.0, 7.0, 0.0]
    assert array.tolist() == [5.0, 7.0, 0.0]
    assert t.dtype is tracegrad.float64


def test_as_tensor_shares_numpy_memory_and_returns_tensors_unchanged():
    array = np.zeros(2)
    t = tracegrad.as_tensor(array)
    array[0] = 3
    assert t.tolist() == [3.0, 0.0]
    assert tracegrad.as_tensor(t) is t
    assert tracegrad.as_tensor(t, dtype=tracegrad.float32).dtype is tracegrad.float32


def test_tensor_of_tensors_stacks_them():
    t = tracegrad.tensor([tracegrad.tensor(1.0), tracegrad.tensor(2.0)])
    assert t.tolist() == [1.0, 2.0] and t.dtype is tracegrad.float32


def test_tensor_of_a_tensor_warns_like_pytorch():
    with pytest.warns(UserWarning, match=r"To copy construct from a tensor, it is recommended to "
                                         r"use sourceTensor\.detach\(\)\.clone\(\)"):
        t = tracegrad.tensor(tracegrad.tensor([1.0, 2.0]))
    assert t.tolist() == [1.0, 2.0]


def test_legacy_tensor_constructor_gives_float32():
    assert Tensor([1, 2]).dtype is tracegrad.float32
    assert Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert Tensor(2, 3).shape == (2, 3) and Tensor(2, 3).dtype is tracegrad.float32
    assert Tensor().shape == (0,)


def test_scalar_tensor_is_zero_dimensional():
    t = tracegrad.tensor(3.0)
    assert t.shape == () and t.dim() == 0 and t.numel() == 1


# ---- devices ----

def test_cpu_device_is_accepted_everywhere():
    cpu = tracegrad.device("cpu")
    assert str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert tracegrad.tensor([1.0], device="cpu").device == cpu
    assert tracegrad.ones(2, device=cpu).device == tracegrad.device("cpu")
    x = tracegrad.tensor([1.5])
    assert x.to("cpu") is x
    assert x.to("cpu", tracegrad.float64).dtype is tracegrad.float64
    assert x.cpu() is x


@pytest.mark.parametrize("make", [
    lambda: tracegrad.device("cuda"),
    lambda: tracegrad.tensor([1.0], device="cuda"),
    lambda: tracegrad.zeros(2, device="cuda:0"),
    lambda: tracegrad.tensor([1.0]).to("cuda"),
], ids=["device", "tensor", "zeros", "to"])
def test_non_cpu_device_is_a_clear_error(make):
    with pytest.raises(RuntimeError, match=r"tracegrad runs on the CPU only: expected device "
                                           r"'cpu', got 'cuda"):
        make()


# ---- sizes ----

def test_shape_size_dim_numel_len():
    x = tracegrad.zeros(2, 3)
    assert repr(x.shape) == "tracegrad.Size([2, 3])"
    assert x.shape == (2, 3) and x.size() == (2, 3)
    assert x.size(1) == 3 and x.size(-1) == 3
    assert x.dim() == 2 and x.ndim == 2 and x.numel() == 6 and len(x) == 2
    assert tracegrad.numel(x) == 6


def test_len_of_a_zero_dimensional_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tracegrad.tensor(1.0))


# ---- conversions ----

def test_item_returns_python_numbers():
    assert tracegrad.tensor([2.5]).item() == 2.5
    assert type(tracegrad.tensor(3).item()) is int
    assert tracegrad.tensor([[True]]).item() is True
    assert tracegrad.tensor([1.0, 2.0], requires_grad=True)[0].item() == 1.0


@pytest.mark.parametrize(("data", "count"), [([1.0, 2.0], 2), ([], 0)], ids=["two", "empty"])
def test_item_of_a_tensor_without_exactly_one_element_fails(data, count):
    with pytest.raises(RuntimeError,
                       match=f"a Tensor with {count} elements cannot be converted to Scalar"):
        tracegrad.tensor(data).item()


def test_tolist():
    assert tracegrad.tensor([[1.0, 2.0], [3.0, 4.0]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tracegrad.tensor(3).tolist() == 3
    assert tracegrad.tensor([True]).tolist() == [True]


def test_python_number_conversions():
    assert float(tracegrad.tensor([2.5])) == 2.5
    assert int(tracegrad.tensor(3.7)) == 3
    assert bool(tracegrad.tensor([0.0])) is False


def test_numpy_shares_memory():
    t = tracegrad.zeros(2)
    array = t.numpy()
    array[0] = 3
    assert t.tolist() == [3.0, 0.0]


@pytest.mark.parametrize("convert", [lambda t: t.numpy(), np.asarray],
                         ids=["numpy", "np_asarray"])
def test_numpy_refuses_a_tensor_that_requires_grad(convert):
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad\. "
                                           r"Use tensor\.detach\(\)\.numpy\(\) instead\."):
        convert(tracegrad.ones(2, requires_grad=True) * 2)


def test_numpy_after_detach_and_array_protocol():
    x = tracegrad.ones(2, requires_grad=True)
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    array = np.asarray(tracegrad.tensor([1.0, 2.0]))
    assert array.dtype == np.float32 and array.tolist() == [1.0, 2.0]
    assert np.asarray(tracegrad.tensor([1.5]), dtype=np.float64).dtype == np.float64


def test_numpy_scalar_times_tensor_stays_a_tensor_in_the_graph():
    x = tracegrad.ones(2, requires_grad=True)
    y = np.float64(2.0) * x
    assert isinstance(y, Tensor) and y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_to_float_double_and_integer_conversions():
    x = tracegrad.tensor([1.5, 2.5])
    assert x.to(tracegrad.float64).dtype is tracegrad.float64
    assert x.double().dtype is tracegrad.float64 and x.half().dtype is tracegrad.float16
    assert x.float() is x and x.to(tracegrad.float32) is x
    assert x.long().tolist() == [1, 2] and x.long().dtype is tracegrad.int64
    assert x.int().dtype is tracegrad.int32 and x.bool().tolist() == [True, True]


def test_to_double_is_differentiable():
    x = tracegrad.tensor([1.5], requires_grad=True)
    y = x.double()
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype is tracegrad.float32 and x.grad.tolist() == [3.0]


def test_to_an_integer_dtype_leaves_the_graph():
    x = tracegrad.tensor([1.5], requires_grad=True)
    y = x.long()
    assert y.tolist() == [1]
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_clone_is_differentiable():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert y.grad_fn.name() == "CloneBackward0"
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_clone_copies_storage():
    x = tracegrad.tensor([1.0, 2.0])
    y = x.clone()
    y[0] = 5
    assert x.tolist() == [1.0, 2.0] and not y.requires_grad


def test_detach_shares_storage_and_version_counter():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d[0] = 9
    assert x.tolist() == [9.0, 2.0]
    assert not d.requires_grad and d.is_leaf
    assert x._version == d._version == 1


def test_data_shares_memory_but_not_the_version_counter():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    d[0] = 9
    assert x.tolist() == [9.0, 2.0]
    assert not d.requires_grad and d.is_leaf
    assert x._version == 0 and d._version == 1


def test_data_update_is_not_tracked():
    w = tracegrad.tensor([3.0], requires_grad=True)
    (w ** 2).backward()
    w.data -= 0.1 * w.grad.data
    assert w.tolist() == pytest.approx([2.4]) and w.is_leaf and w.requires_grad
    assert w._version == 0


def test_data_setter_replaces_the_values():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    x.data = tracegrad.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad and x.is_leaf


def test_data_of_a_non_leaf_is_a_detached_leaf():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).data
    assert d.is_leaf and not d.requires_grad and d.tolist() == [2.0, 4.0]


def test_requires_grad_underscore_returns_self_and_toggles():
    x = tracegrad.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad


# ---- factories ----

def test_manual_seed_makes_random_tensors_reproducible():
    tracegrad.manual_seed(0)
    a, b = tracegrad.rand(3), tracegrad.randn(2, 2)
    tracegrad.manual_seed(0)
    assert tracegrad.rand(3).tolist() == a.tolist()
    assert tracegrad.randn(2, 2).tolist() == b.tolist()
    tracegrad.manual_seed(1)
    assert tracegrad.rand(3).tolist() != a.tolist()


def test_random_factories_dtypes_and_ranges():
    tracegrad.manual_seed(0)
    r = tracegrad.rand(2, 3)
    assert r.dtype is tracegrad.float32 and r.shape == (2, 3)
    assert all(0.0 <= v < 1.0 for row in r.tolist() for v in row)
    assert tracegrad.randn(4).shape == (4,)
    assert tracegrad.rand(2, dtype=tracegrad.float64).dtype is tracegrad.float64
    assert tracegrad.randn(2, 2, requires_grad=True).requires_grad


def test_randint_forms_and_range():
    tracegrad.manual_seed(0)
    r = tracegrad.randint(0, 10, (3, 4))
    assert r.dtype is tracegrad.int64 and r.shape == (3, 4)
    assert all(0 <= v < 10 for row in r.tolist() for v in row)
    high_only = tracegrad.randint(5, (6,))
    assert high_only.shape == (6,) and all(0 <= v < 5 for v in high_only.tolist())
    assert tracegrad.randint(3, 10, (2,)).dtype is tracegrad.int64


def test_eye():
    e = tracegrad.eye(4, 5)
    assert e.shape == (4, 5) and e.dtype is tracegrad.float32
    assert e.tolist()[3] == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert tracegrad.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tracegrad.eye(3, dtype=tracegrad.long).dtype is tracegrad.int64


def test_arange_dtypes():
    assert tracegrad.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert tracegrad.arange(5).dtype is tracegrad.int64
    assert tracegrad.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tracegrad.arange(0, 1, 0.25).dtype is tracegrad.float32
    assert tracegrad.arange(1.0, 4.0).dtype is tracegrad.float32
    assert tracegrad.arange(2, 8, 2).tolist() == [2, 4, 6]
    assert tracegrad.arange(3, dtype=tracegrad.float64).dtype is tracegrad.float64


def test_linspace_dtypes():
    x = tracegrad.linspace(0, 1, 5)
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and x.dtype is tracegrad.float32
    assert tracegrad.linspace(0, 10, 3, dtype=tracegrad.int64).tolist() == [0, 5, 10]


def test_filled_factories():
    assert tracegrad.ones(2, 3).dtype is tracegrad.float32
    assert tracegrad.zeros((2, 3)).shape == (2, 3)
    assert tracegrad.full((2,), 7).dtype is tracegrad.int64
    assert tracegrad.full((2,), 7.0).dtype is tracegrad.float32
    assert tracegrad.full((2,), True).dtype is tracegrad.bool
    assert tracegrad.full([2, 1], 1.5, dtype=tracegrad.float64).tolist() == [[1.5], [1.5]]
    assert tracegrad.empty(2, 3).shape == (2, 3)
    assert tracegrad.empty(2, 3).dtype is tracegrad.float32
    assert tracegrad.empty(0).shape == (0,)


def test_factories_accept_requires_grad():
    for make in (tracegrad.ones, tracegrad.zeros, tracegrad.empty, tracegrad.rand):
        t = make(2, requires_grad=True)
        assert t.requires_grad and t.is_leaf


def test_like_factories_copy_shape_and_dtype():
    x = tracegrad.zeros(2, 3, dtype=tracegrad.float64, requires_grad=True)
    assert tracegrad.ones_like(x).tolist() == [[1.0] * 3] * 2
    assert tracegrad.ones_like(x).dtype is tracegrad.float64
    assert not tracegrad.ones_like(x).requires_grad
    assert tracegrad.zeros_like(x).dtype is tracegrad.float64
    assert tracegrad.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert tracegrad.empty_like(x).shape == (2, 3)
    assert tracegrad.rand_like(x).dtype is tracegrad.float64
    assert tracegrad.randn_like(x).shape == (2, 3)
    ints = tracegrad.zeros(2, dtype=tracegrad.long)
    assert tracegrad.full_like(ints, 2.7).tolist() == [2, 2]


def test_ones_requires_grad_then_leaf_print():
    x = tracegrad.ones(2, 2, requires_grad=True)
    assert repr(x) == "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"


# ---- promotion ----

@pytest.mark.parametrize(("make", "dtype"), [
    (lambda: tracegrad.tensor([1, 2]) + tracegrad.tensor([1.0, 2.0]), tracegrad.float32),
    (lambda: tracegrad.tensor([1, 2]) + 1.5, tracegrad.float32),
    (lambda: tracegrad.tensor([1, 2]) * 2, tracegrad.int64),
    (lambda: tracegrad.tensor([1, 2]) / 2, tracegrad.float32),
    (lambda: tracegrad.tensor([1.0]).double() + tracegrad.tensor([1.0]), tracegrad.float64),
    (lambda: tracegrad.tensor(1.0, dtype=float) + tracegrad.tensor([1.0]), tracegrad.float32),
    (lambda: tracegrad.tensor([True]) + 1, tracegrad.int64),
    (lambda: tracegrad.tensor([1, 2]) + tracegrad.tensor(1.5, dtype=float), tracegrad.float64),
    (lambda: tracegrad.tensor([1], dtype=tracegrad.int32) + tracegrad.tensor([1]),
     tracegrad.int64),
], ids=["int_float", "int_pyfloat", "int_pyint", "int_div", "double_float", "0d_double_float",
        "bool_int", "int_0d_double", "int32_int64"])
def test_binary_ops_promote_like_pytorch(make, dtype):
    assert make().dtype is dtype


def test_warnings_are_not_raised_by_plain_construction():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracegrad.tensor([1.0]), tracegrad.ones(2), tracegrad.from_numpy(np.zeros(2))
