"""The user-facing tensor surface in eager mode: operators with broadcasting and promotion,
methods, indexing, in-place assignment, free functions and `tracegrad.nn.functional`.

Reference semantics are PyTorch's (documented behaviour, expectations hard-coded or computed
with numpy in float64); gradients are checked against finite differences at orders 1 and 2.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tracegrad
import tracegrad.nn.functional as F
from support.gradcheck import EAGER, check_vjp

RNG = np.random.default_rng(7)
f32, f64, i32, i64, b8 = (tracegrad.float32, tracegrad.float64, tracegrad.int32,
                          tracegrad.int64, tracegrad.bool_)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def tensor(values, dtype=f64, grad=False) -> tracegrad.Tensor:
    return tracegrad.tensor(np.asarray(values), dtype=dtype, requires_grad=grad)


def value(t: tracegrad.Tensor) -> np.ndarray:
    return np.array(t.detach().numpy())


def assert_gradients(fn, *arrays: np.ndarray, order: int = 2) -> None:
    """Dot-product test at orders 1..order, plus the public gradcheck, in float64."""
    check_vjp(EAGER, fn, list(arrays), order=order)
    leaves = [tensor(a, grad=True) for a in arrays]
    assert tracegrad.autograd.gradcheck(fn, leaves)


def grads_of(fn, *arrays: np.ndarray, seed: np.ndarray | None = None) -> list[np.ndarray]:
    """Gradients of sum(seed * fn(*xs)) (seed defaults to ones) at float64 leaves."""
    leaves = [tensor(a, grad=True) for a in arrays]
    out = fn(*leaves)
    out.backward(tensor(np.ones(out.shape) if seed is None else seed))
    return [value(x.grad) if x.grad is not None else None for x in leaves]


# ============================================================================================
# arithmetic operators with Python scalars on either side
# ============================================================================================

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.true_divide),
    "pow": (lambda a, b: a ** b, np.power),
}


@pytest.mark.parametrize("scalar", [2.5, -3, 0.5], ids=["float", "neg_int", "half"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("op", list(BINARY))
def test_operator_with_python_scalar(op: str, side: str, scalar: float):
    fn, ref = BINARY[op]
    x_np = RNG.uniform(0.5, 2.0, (2, 3))
    x = tensor(x_np, dtype=f32)
    out = fn(x, scalar) if side == "right" else fn(scalar, x)
    with np.errstate(invalid="ignore"):              # (-3) ** 0.7 is nan, as in PyTorch
        expected = ref(x_np, scalar) if side == "right" else ref(scalar, x_np)
    assert out.dtype is f32 and out.shape == (2, 3)
    np.testing.assert_allclose(value(out), expected, rtol=1e-6)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("op", list(BINARY))
def test_operator_with_python_scalar_gradients(op: str, side: str):
    fn, _ = BINARY[op]
    scalar = 1.5
    x = RNG.uniform(0.5, 2.0, (2, 3))
    assert_gradients((lambda t: fn(t, scalar)) if side == "right" else (lambda t: fn(scalar, t)), x)


def test_operator_with_python_scalar_closed_form_gradients():
    x = np.array([0.5, 2.0, 3.0])
    np.testing.assert_allclose(grads_of(lambda t: 3.0 - t, x)[0], -np.ones(3))
    np.testing.assert_allclose(grads_of(lambda t: 2.0 / t, x)[0], -2.0 / x ** 2)
    np.testing.assert_allclose(grads_of(lambda t: t / 4, x)[0], np.full(3, 0.25))
    np.testing.assert_allclose(grads_of(lambda t: 2.0 ** t, x)[0], np.log(2.0) * 2.0 ** x)
    np.testing.assert_allclose(grads_of(lambda t: t ** 3, x)[0], 3 * x ** 2)
    np.testing.assert_allclose(grads_of(lambda t: -t, x)[0], -np.ones(3))


def test_unary_plus_and_abs_operator():
    x = tensor([-1.5, 2.0])
    assert +x is x
    np.testing.assert_array_equal(value(abs(x)), [1.5, 2.0])


# ============================================================================================
# dtype promotion (PyTorch's result_type)
# ============================================================================================

def _t(dtype, shape=(2,)):
    values = np.ones(shape) if dtype is not b8 else np.ones(shape, bool)
    return tracegrad.tensor(values, dtype=dtype)


PROMOTIONS = [
    ("int_tensor*2.5", lambda: _t(i64) * 2.5, f32),
    ("int32_tensor*2.5", lambda: _t(i32) * 2.5, f32),
    ("2.5*int_tensor", lambda: 2.5 * _t(i64), f32),
    ("f32+f64_0d", lambda: _t(f32) + _t(f64, ()), f32),
    ("f64_0d+f32", lambda: _t(f64, ()) + _t(f32), f32),
    ("f32_0d+f64_0d", lambda: _t(f32, ()) + _t(f64, ()), f64),
    ("f32+f64", lambda: _t(f32) + _t(f64), f64),
    ("i64+i32", lambda: _t(i64) + _t(i32), i64),
    ("i32+i64_0d", lambda: _t(i32) + _t(i64, ()), i32),
    ("i32+2", lambda: _t(i32) + 2, i32),
    ("i64+f16", lambda: _t(i64) + _t(tracegrad.float16), tracegrad.float16),
    ("f16+f32_0d", lambda: _t(tracegrad.float16) + _t(f32, ()), tracegrad.float16),
    ("int_0d+f32", lambda: _t(i64, ()) + _t(f32), f32),
    ("int/int", lambda: _t(i64) / _t(i64), f32),
    ("int32/2", lambda: _t(i32) / 2, f32),
    ("2/int", lambda: 2 / _t(i64), f32),
    ("f64/int", lambda: _t(f64) / _t(i64), f64),
    ("bool+bool", lambda: _t(b8) + _t(b8), b8),
    ("bool*2", lambda: _t(b8) * 2, i64),
    ("bool+1.5", lambda: _t(b8) + 1.5, f32),
    ("bool+i32", lambda: _t(b8) + _t(i32), i32),
    ("int**2", lambda: _t(i64) ** 2, i64),
    ("int**2.0", lambda: _t(i64) ** 2.0, f32),
    ("2**int", lambda: 2 ** _t(i64), i64),
    ("2.0**int", lambda: 2.0 ** _t(i64), f32),
    ("int<float", lambda: _t(i64) < _t(f32), b8),
    ("f32==2", lambda: _t(f32) == 2, b8),
    ("2.5>int", lambda: 2.5 > _t(i64), b8),
    ("f32!=f64", lambda: _t(f32) != _t(f64), b8),
    ("i32>=i64", lambda: _t(i32) >= _t(i64), b8),
    ("int.sum", lambda: _t(i32).sum(), i64),
    ("bool.sum", lambda: _t(b8).sum(), i64),
    ("i32.max", lambda: _t(i32).max(), i32),
    ("int.exp", lambda: _t(i64).exp(), f32),
    ("int.sqrt", lambda: _t(i32).sqrt(), f32),
    ("int.sigmoid", lambda: _t(i64).sigmoid(), f32),
    ("int.abs", lambda: _t(i32).abs(), i32),
    ("int.relu", lambda: _t(i64).relu(), i64),
    ("where_int_float", lambda: tracegrad.where(_t(b8), _t(i64), 2.5), f32),
    ("where_scalars_int", lambda: tracegrad.where(_t(b8), 1, 2), i64),
    ("where_scalars_float", lambda: tracegrad.where(_t(b8), 1, 2.5), f32),
    ("cat_int_float", lambda: tracegrad.cat([_t(i64), _t(f32)]), f32),
    ("matmul_i64_f32", lambda: _t(i64) @ _t(f32), f32),
    ("f32_0d.double", lambda: _t(f32, ()).double(), f64),
    ("int.clamp(0.5,2.5)", lambda: _t(i64).clamp(0.5, 2.5), f32),
    ("i32.clamp(max=2.0)", lambda: _t(i32).clamp(max=2.0), f32),
    ("i32.clamp(0,2)", lambda: _t(i32).clamp(0, 2), i32),
    ("bool.clamp(0,1)", lambda: _t(b8).clamp(0, 1), i64),
    ("f16.clamp(0.5,2.5)", lambda: _t(tracegrad.float16).clamp(0.5, 2.5), tracegrad.float16),
]


@pytest.mark.parametrize("make, expected", [p[1:] for p in PROMOTIONS],
                         ids=[p[0] for p in PROMOTIONS])
def test_result_dtype_follows_pytorch(make, expected):
    out = make()
    assert out.dtype is expected
    assert out.numpy().dtype == expected.np


def test_promoted_values_are_exact():
    out = tracegrad.tensor([1, 2, 3]) * 2.5
    np.testing.assert_array_equal(value(out), np.array([2.5, 5.0, 7.5], np.float32))
    np.testing.assert_array_equal(value(tracegrad.tensor([1, 2]) / tracegrad.tensor([2, 4])),
                                  [0.5, 0.5])
    assert (tracegrad.tensor([True, True]) + tracegrad.tensor([True, False])).tolist() == [True,
                                                                                          True]


def test_comparison_values_with_scalars_on_either_side():
    x = tensor([1.0, 2.0, 3.0])
    assert (x < 2).tolist() == [True, False, False]
    assert (2 < x).tolist() == [False, False, True]
    assert (x == 2.0).tolist() == [False, True, False]
    assert (x.ne(2.0)).tolist() == [True, False, True]
    assert (x >= tensor([2.0])).tolist() == [False, True, True]
    assert (tracegrad.tensor([1, 2, 3]) > 2.5).tolist() == [False, False, True]


def test_comparisons_carry_no_gradient():
    x = tensor([1.0, 2.0], grad=True)
    for out in (x > 1, x == x, x.le(0.0), x != 2):
        assert out.dtype is b8 and not out.requires_grad and out.grad_fn is None


def test_grad_of_promoted_input_has_input_dtype():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)          # float32
    y = tensor([3.0, 4.0], grad=True)                               # float64
    (x * y).sum().backward()
    assert x.grad.dtype is f32 and y.grad.dtype is f64
    np.testing.assert_array_equal(value(x.grad), [3.0, 4.0])
    np.testing.assert_array_equal(value(y.grad), [1.0, 2.0])


# ============================================================================================
# broadcasting: values and gradients
# ============================================================================================

BROADCAST_SHAPES = [((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((), (2, 3)), ((2, 3), ()),
                    ((2, 1, 3), (4, 1)), ((1,), (5,))]


def _shape_id(pair):
    return "x".join(str(list(s)).replace(" ", "") for s in pair)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=[_shape_id(p) for p in BROADCAST_SHAPES])
@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_values(op: str, shapes):
    fn, ref = BINARY[op]
    a, b = RNG.uniform(0.5, 2.0, shapes[0]), RNG.uniform(0.5, 2.0, shapes[1])
    out = fn(tensor(a), tensor(b))
    expected = ref(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(value(out), expected, rtol=1e-14)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=[_shape_id(p) for p in BROADCAST_SHAPES])
@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_gradients(op: str, shapes):
    fn, _ = BINARY[op]
    a, b = RNG.uniform(0.5, 2.0, shapes[0]), RNG.uniform(0.5, 2.0, shapes[1])
    assert_gradients(fn, a, b)


def test_broadcast_gradients_sum_over_the_broadcast_axes():
    a, b = randn(3, 1), randn(1, 4)
    ga, gb = grads_of(lambda x, y: x * y, a, b)
    assert ga.shape == (3, 1) and gb.shape == (1, 4)
    np.testing.assert_allclose(ga, np.broadcast_to(b, (3, 4)).sum(1, keepdims=True))
    np.testing.assert_allclose(gb, np.broadcast_to(a, (3, 4)).sum(0, keepdims=True))
    v, m = randn(4), randn(2, 3, 4)
    gv, gm = grads_of(lambda x, y: x + y, v, m)
    np.testing.assert_array_equal(gv, np.full(4, 6.0))
    np.testing.assert_array_equal(gm, np.ones((2, 3, 4)))
    s, m2 = np.array(2.0), randn(2, 3)
    gs, _ = grads_of(lambda x, y: x * y, s, m2)
    assert gs.shape == ()
    np.testing.assert_allclose(gs, m2.sum())


def test_broadcast_shape_mismatch_error():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        tensor(randn(2, 3)) + tensor(randn(2, 4))


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_broadcasting_matches_numpy(shapes):
    a, b = RNG.standard_normal(shapes.input_shapes[0]), RNG.standard_normal(shapes.input_shapes[1])
    out = tensor(a) * tensor(b) - tensor(b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(value(out), a * b - b, rtol=1e-14)


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_broadcast_gradient_shapes_match_inputs(shapes):
    a, b = RNG.standard_normal(shapes.input_shapes[0]), RNG.standard_normal(shapes.input_shapes[1])
    seed = RNG.standard_normal(shapes.result_shape)
    ga, gb = grads_of(lambda x, y: x * y, a, b, seed=seed)
    full = np.broadcast_shapes(a.shape, b.shape)
    np.testing.assert_allclose(ga, _sum_to(seed * np.broadcast_to(b, full), a.shape), atol=1e-12)
    np.testing.assert_allclose(gb, _sum_to(seed * np.broadcast_to(a, full), b.shape), atol=1e-12)


def _sum_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


# ============================================================================================
# pow
# ============================================================================================

def test_pow_forms_values():
    x, y = RNG.uniform(0.5, 2.0, (2, 3)), randn(2, 3)
    np.testing.assert_allclose(value(tensor(x) ** tensor(y)), x ** y, rtol=1e-14)
    np.testing.assert_allclose(value(tensor(x).pow(3)), x ** 3, rtol=1e-14)
    np.testing.assert_allclose(value(tensor(x).pow(-0.5)), x ** -0.5, rtol=1e-14)
    np.testing.assert_allclose(value(2.0 ** tensor(y)), 2.0 ** y, rtol=1e-14)
    np.testing.assert_allclose(value(tracegrad.pow(tensor(x), tensor(y))), x ** y, rtol=1e-14)
    assert (tracegrad.tensor([2, 3]) ** 2).tolist() == [4, 9]
    np.testing.assert_array_equal(value(tensor([-2.0, -1.0]) ** 2), [4.0, 1.0])
    assert np.isnan(value(tensor([-2.0]) ** 0.5)).all()


@pytest.mark.parametrize("form", ["tensor_exponent", "scalar_exponent", "scalar_base",
                                  "integer_exponent_negative_base"])
def test_pow_gradients(form: str):
    x, y = RNG.uniform(0.5, 2.0, (2, 3)), randn(2, 3)
    if form == "tensor_exponent":
        assert_gradients(lambda a, b: a ** b, x, y)
        ga, gb = grads_of(lambda a, b: a ** b, x, y)
        np.testing.assert_allclose(ga, y * x ** (y - 1), rtol=1e-13)
        np.testing.assert_allclose(gb, x ** y * np.log(x), rtol=1e-13)
    elif form == "scalar_exponent":
        assert_gradients(lambda a: a.pow(2.5), x)
    elif form == "scalar_base":
        assert_gradients(lambda b: 3.0 ** b, y)
    else:
        assert_gradients(lambda a: a ** 3, -x)


def test_pow_gradient_at_zero_conventions():
    """PyTorch: x ** 0 has gradient 0 everywhere (also at x = 0); x ** 2 at 0 is 0; the
    exponent's gradient at base 0 is 0 for exponents >= 0."""
    zero = np.zeros(1)
    np.testing.assert_array_equal(grads_of(lambda a: a ** 0, zero)[0], [0.0])
    np.testing.assert_array_equal(grads_of(lambda a: a ** 0.0, zero)[0], [0.0])
    np.testing.assert_array_equal(grads_of(lambda a: a ** 2, zero)[0], [0.0])
    np.testing.assert_array_equal(grads_of(lambda a: a ** 1, zero)[0], [1.0])
    gx, gy = grads_of(lambda a, b: a ** b, np.zeros(3), np.array([0.0, 2.0, 0.5]))
    np.testing.assert_array_equal(gx, [0.0, 0.0, np.inf])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.0])
    assert value(tensor([0.0]) ** tensor([0.0])).tolist() == [1.0]


def test_pow_grad_fn_names():
    x = tensor([1.0, 2.0], grad=True)
    assert (x ** 2).grad_fn.name() == "PowBackward0"
    assert (x ** x).grad_fn.name() == "PowBackward1"
    assert (2 ** x).grad_fn.name() == "PowBackward2"


# ============================================================================================
# matmul
# ============================================================================================

MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)),
                 ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=[_shape_id(p) for p in MATMUL_SHAPES])
def test_matmul_values_and_gradients(shapes):
    a, b = randn(*shapes[0]), randn(*shapes[1])
    out = tensor(a) @ tensor(b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(value(out), expected, rtol=1e-12, atol=1e-14)
    seed = randn(*expected.shape)
    ga, gb = grads_of(lambda x, y: x @ y, a, b, seed=seed)
    na, nb = _matmul_grads_numpy(a, b, seed)
    np.testing.assert_allclose(ga, na, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gb, nb, rtol=1e-12, atol=1e-13)
    assert_gradients(lambda x, y: x.matmul(y), a, b)


def _matmul_grads_numpy(a, b, g):
    """Closed forms: promote 1-D operands, grad_a = g b^T, grad_b = a^T g, sum broadcast axes."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g.reshape(np.matmul(a2, b2).shape)
    ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
    gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
    return _sum_to(ga, a2.shape).reshape(a.shape), _sum_to(gb, b2.shape).reshape(b.shape)


def test_matmul_method_aliases_and_names():
    a, b, v = tensor(randn(3, 4), grad=True), tensor(randn(4, 2), grad=True), tensor(randn(4))
    np.testing.assert_allclose(value(a.mm(b)), value(a) @ value(b))
    np.testing.assert_allclose(value(tracegrad.mm(a, b)), value(a) @ value(b))
    np.testing.assert_allclose(value(a.mv(v)), value(a) @ value(v))
    np.testing.assert_allclose(value(v.dot(v)), value(v) @ value(v))
    assert a.mm(b).grad_fn.name() == "MmBackward0"
    assert (a @ b).grad_fn.name() == "MmBackward0"
    assert (a @ v).grad_fn.name() == "MvBackward0"
    w = tensor(randn(4), grad=True)
    assert (w @ v).grad_fn.name() == "DotBackward0"
    assert (w @ v).shape == ()


def test_matmul_errors():
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(3x4 and 3x2\)"):
        tensor(randn(3, 4)) @ tensor(randn(3, 2))
    with pytest.raises(RuntimeError, match="at least 1D"):
        tensor(2.0) @ tensor(randn(3))


# ============================================================================================
# movement: t, transpose, permute, reshape/view, squeeze, unsqueeze, expand, flatten
# ============================================================================================

X234 = np.arange(24.0).reshape(2, 3, 4) - 11.5

MOVEMENT = [
    ("t", lambda x: x[0].t(), lambda a: a[0].T),
    ("t_1d", lambda x: x[0, 0].t(), lambda a: a[0, 0]),
    ("T", lambda x: x.T, lambda a: np.transpose(a)),
    ("mT", lambda x: x.mT, lambda a: np.swapaxes(a, -1, -2)),
    ("transpose", lambda x: x.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2)),
    ("transpose_neg", lambda x: x.transpose(-1, 1), lambda a: np.swapaxes(a, 2, 1)),
    ("permute", lambda x: x.permute(2, 0, 1), lambda a: np.transpose(a, (2, 0, 1))),
    ("permute_tuple_neg", lambda x: x.permute((-1, 0, 1)), lambda a: np.transpose(a, (2, 0, 1))),
    ("reshape", lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
    ("reshape_minus1", lambda x: x.reshape(-1, 3), lambda a: a.reshape(-1, 3)),
    ("reshape_tuple", lambda x: x.reshape((6, -1)), lambda a: a.reshape(6, -1)),
    ("view_minus1", lambda x: x.view(-1), lambda a: a.reshape(-1)),
    ("view_as", lambda x: x.view_as(tracegrad.zeros(4, 6)), lambda a: a.reshape(4, 6)),
    ("squeeze", lambda x: x.reshape(1, 2, 1, 12).squeeze(), lambda a: a.reshape(2, 12)),
    ("squeeze_dim", lambda x: x.reshape(1, 2, 1, 12).squeeze(2), lambda a: a.reshape(1, 2, 12)),
    ("squeeze_non_one", lambda x: x.squeeze(1), lambda a: a),
    ("unsqueeze", lambda x: x.unsqueeze(1), lambda a: a[:, None]),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda a: a[..., None]),
    ("expand", lambda x: x[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    ("expand_minus1", lambda x: x[:, :1].expand(5, -1, -1, 4),
     lambda a: np.broadcast_to(a[:, :1], (5, 2, 1, 4))),
    ("expand_as", lambda x: x[0, 0].expand_as(x), lambda a: np.broadcast_to(a[0, 0], a.shape)),
    ("flatten", lambda x: x.flatten(), lambda a: a.reshape(-1)),
    ("flatten_range", lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    ("flatten_start_end", lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4)),
    ("flatten_0d", lambda x: x[0, 0, 0].flatten(), lambda a: a[0, 0, 0].reshape(1)),
    ("broadcast_to", lambda x: x[0].broadcast_to((2, 3, 4)),
     lambda a: np.broadcast_to(a[0], (2, 3, 4))),
]


@pytest.mark.parametrize("fn, ref", [m[1:] for m in MOVEMENT], ids=[m[0] for m in MOVEMENT])
def test_movement_values(fn, ref):
    out = fn(tensor(X234))
    expected = ref(X234)
    assert tuple(out.shape) == expected.shape
    np.testing.assert_array_equal(value(out), expected)


@pytest.mark.parametrize("fn, ref", [m[1:] for m in MOVEMENT], ids=[m[0] for m in MOVEMENT])
def test_movement_gradients(fn, ref):
    x = randn(2, 3, 4)
    seed = randn(*ref(x).shape)
    (grad,) = grads_of(fn, x, seed=seed)
    expected = np.zeros_like(x)
    # movement ops are linear: the gradient is the adjoint of `ref`, found by pulling back
    # each seed element through the index map of `ref` applied to element positions.
    positions = ref(np.arange(x.size).reshape(x.shape).astype(np.int64))
    np.add.at(expected.reshape(-1), positions.reshape(-1), seed.reshape(-1))
    np.testing.assert_allclose(grad, expected, rtol=1e-14)
    check_vjp(EAGER, fn, [x], order=2)


def test_movement_grad_fn_names():
    m = tensor(randn(3, 2), grad=True)
    b = tensor(randn(4, 3, 2), grad=True)
    assert m.t().grad_fn.name() == "TBackward0"
    assert b.transpose(1, 2).grad_fn.name() == "TransposeBackward0"
    assert b.permute(2, 0, 1).grad_fn.name() == "PermuteBackward0"
    assert m.reshape(-1).grad_fn.name() == "ViewBackward0"
    assert m[:, :1].expand(3, 4).grad_fn.name() == "ExpandBackward0"


def test_movement_errors():
    x = tensor(randn(2, 3))
    with pytest.raises(RuntimeError, match=r"shape '\[4, -1\]' is invalid for input of size 6"):
        x.reshape(4, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(ValueError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        tensor(X234).t()
    with pytest.raises(RuntimeError, match="must match"):
        x.expand(3, 3)


def test_reshape_to_same_shape_is_identity():
    x = tensor(randn(2, 3))
    assert x.reshape(2, 3) is x and x.permute(0, 1) is x


# ============================================================================================
# reductions
# ============================================================================================

REDUCTIONS = [
    ("sum", lambda x: x.sum(), lambda a: a.sum()),
    ("sum_dim", lambda x: x.sum(1), lambda a: a.sum(1)),
    ("sum_dim_neg_keep", lambda x: x.sum(-1, keepdim=True), lambda a: a.sum(-1, keepdims=True)),
    ("sum_dims", lambda x: x.sum((0, 2)), lambda a: a.sum((0, 2))),
    ("sum_dim_kw", lambda x: x.sum(dim=0), lambda a: a.sum(0)),
    ("mean", lambda x: x.mean(), lambda a: a.mean()),
    ("mean_dim", lambda x: x.mean(1), lambda a: a.mean(1)),
    ("mean_dims_keep", lambda x: x.mean((0, 1), keepdim=True),
     lambda a: a.mean((0, 1), keepdims=True)),
    ("max", lambda x: x.max(), lambda a: a.max()),
    ("min", lambda x: x.min(), lambda a: a.min()),
    ("max_dim_values", lambda x: x.max(1).values, lambda a: a.max(1)),
    ("max_dim_keep", lambda x: x.max(-1, keepdim=True)[0], lambda a: a.max(-1, keepdims=True)),
    ("min_dim_values", lambda x: x.min(0).values, lambda a: a.min(0)),
    ("amax_dims", lambda x: x.amax((0, 2)), lambda a: a.max((0, 2))),
    ("amin", lambda x: x.amin(1, keepdim=True), lambda a: a.min(1, keepdims=True)),
]


@pytest.mark.parametrize("fn, ref", [r[1:] for r in REDUCTIONS], ids=[r[0] for r in REDUCTIONS])
def test_reduction_values(fn, ref):
    out = fn(tensor(X234))
    expected = ref(X234)
    assert tuple(out.shape) == np.shape(expected)
    np.testing.assert_allclose(value(out), expected, rtol=1e-14)


@pytest.mark.parametrize("fn, ref", [r[1:] for r in REDUCTIONS], ids=[r[0] for r in REDUCTIONS])
def test_reduction_gradients(fn, ref):
    x = RNG.permutation(24).reshape(2, 3, 4) * 0.5        # distinct values: no ties
    assert_gradients(fn, x)


def test_reduction_closed_form_gradients():
    x = randn(2, 3)
    np.testing.assert_array_equal(grads_of(lambda t: t.sum(), x)[0], np.ones((2, 3)))
    np.testing.assert_allclose(grads_of(lambda t: t.mean(), x)[0], np.full((2, 3), 1 / 6))
    np.testing.assert_allclose(grads_of(lambda t: t.mean(0), x)[0], np.full((2, 3), 0.5))
    y = np.array([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(grads_of(lambda t: t.max(1).values, y)[0],
                                  [[0, 1, 0], [1, 0, 0]])      # to the returned index only
    np.testing.assert_array_equal(grads_of(lambda t: t.min(1).values, y)[0],
                                  [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(grads_of(lambda t: t.amax(1), y)[0],
                                  [[0, 0.5, 0.5], [0.5, 0.5, 0]])  # amax shares among ties
    np.testing.assert_array_equal(grads_of(lambda t: t.max(), y)[0],
                                  [[0, 0.5, 0.5], [0, 0, 0]])


def test_max_with_dim_returns_values_and_indices():
    x = tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    result = x.max(1)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]   # first of ties
    assert indices.dtype is i64
    kept = x.min(0, keepdim=True)
    assert kept.values.tolist() == [[1.0, 2.0, 5.0]] and kept.indices.tolist() == [[0, 1, 0]]
    assert x.argmax().tolist() == 3 and x.argmin(1).tolist() == [0, 1]
    ints = tracegrad.tensor([[3, 1], [0, 4]], dtype=i32).max(1)
    assert ints.values.dtype is i32 and ints.values.tolist() == [3, 4]


def test_max_with_tensor_argument_is_elementwise_maximum():
    a, b = tensor([1.0, 5.0]), tensor([3.0, 2.0])
    assert a.max(b).tolist() == [3.0, 5.0] and a.min(b).tolist() == [1.0, 2.0]
    assert tracegrad.maximum(a, b).tolist() == [3.0, 5.0]


def test_mean_of_integers_is_an_error():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        tracegrad.tensor([1, 2]).mean()
    assert tracegrad.tensor([1, 2]).mean(dtype=f64).tolist() == 1.5


def test_reduction_grad_fn_names():
    m = tensor(randn(3, 2), grad=True)
    assert m.sum().grad_fn.name() == "SumBackward0"
    assert m.sum(0).grad_fn.name() == "SumBackward1"
    assert m.sum(0, keepdim=True).grad_fn.name() == "SumBackward1"
    assert m.mean().grad_fn.name() == "MeanBackward0"
    assert m.mean(0).grad_fn.name() == "MeanBackward1"
    assert m.max().grad_fn.name() == "MaxBackward1"
    assert m.max(0).values.grad_fn.name() == "MaxBackward0"
    assert m.min(1).values.grad_fn.name() == "MinBackward0"


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.floats(-10, 10)),
       st.data())
def test_reductions_match_numpy(a, data):
    axes = data.draw(hnp.valid_tuple_axes(a.ndim, min_size=1))
    keep = data.draw(st.booleans())
    x = tensor(a)
    np.testing.assert_allclose(value(x.sum(axes, keepdim=keep)), a.sum(axes, keepdims=keep),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value(x.mean(axes, keepdim=keep)), a.mean(axes, keepdims=keep),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(value(x.amax(axes, keepdim=keep)), a.max(axes, keepdims=keep))
    values, indices = x.min(axes[0], keepdim=keep)
    np.testing.assert_array_equal(value(values), a.min(axes[0], keepdims=keep))
    np.testing.assert_array_equal(value(indices), a.argmin(axes[0], keepdims=keep))


# ============================================================================================
# cat, stack, where, clamp
# ============================================================================================

def test_cat_and_stack_values():
    a, b = randn(2, 3), randn(1, 3)
    np.testing.assert_array_equal(value(tracegrad.cat([tensor(a), tensor(b)])),
                                  np.concatenate([a, b]))
    np.testing.assert_array_equal(value(tracegrad.cat([tensor(a), tensor(a)], dim=-1)),
                                  np.concatenate([a, a], -1))
    np.testing.assert_array_equal(value(tracegrad.stack([tensor(a), tensor(a)])), np.stack([a, a]))
    np.testing.assert_array_equal(value(tracegrad.stack([tensor(a), tensor(a)], dim=-1)),
                                  np.stack([a, a], -1))
    np.testing.assert_array_equal(value(tracegrad.concat((tensor(b),))), b)
    assert tracegrad.cat([tracegrad.tensor([1, 2]), tracegrad.tensor([1.5])]).tolist() == [1.0, 2.0,
                                                                                          1.5]


def test_cat_and_stack_gradients():
    a, b, c = randn(2, 3), randn(1, 3), randn(2, 3)
    assert_gradients(lambda x, y: tracegrad.cat([x, y]), a, b)
    assert_gradients(lambda x, y: tracegrad.stack([x, y], dim=1), a, c)
    seed = randn(3, 3)
    ga, gb = grads_of(lambda x, y: tracegrad.cat([x, y * 2]), a, b, seed=seed)
    np.testing.assert_array_equal(ga, seed[:2])
    np.testing.assert_array_equal(gb, 2 * seed[2:])
    x = tensor(a, grad=True)
    assert tracegrad.cat([x, x]).grad_fn.name() == "CatBackward0"
    assert tracegrad.stack([x, x]).grad_fn.name() == "StackBackward0"


def test_cat_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        tracegrad.cat([tensor(randn(2, 3)), tensor(randn(2, 4))])
    with pytest.raises(RuntimeError, match=r"zero-dimensional tensor \(at position 1\) cannot be "
                                           "concatenated"):
        tracegrad.cat([tensor([1.0]), tensor(2.0)])
    assert tracegrad.stack([tensor(1.0), tensor(2.0)]).tolist() == [1.0, 2.0]


def test_where_values_and_gradients():
    c, a, b = RNG.random((3, 4)) < 0.5, randn(3, 4), randn(1, 4)
    cond = tracegrad.tensor(c)
    out = tracegrad.where(cond, tensor(a), tensor(b))
    np.testing.assert_array_equal(value(out), np.where(c, a, b))
    np.testing.assert_array_equal(value(tensor(a).where(cond, 0.0)), np.where(c, a, 0.0))
    np.testing.assert_array_equal(value(tracegrad.where(cond, 1.0, tensor(b))), np.where(c, 1.0, b))
    ga, gb = grads_of(lambda x, y: tracegrad.where(cond, x, y), a, b)
    np.testing.assert_array_equal(ga, c.astype(float))
    np.testing.assert_array_equal(gb, (~c).sum(0, keepdims=True).astype(float))
    assert_gradients(lambda x, y: tracegrad.where(cond, x, y), a, b)
    assert out.requires_grad is False
    assert tracegrad.where(cond, tensor(a, grad=True), 0.0).grad_fn.name() == "WhereBackward0"


def test_where_does_not_leak_nan_from_the_unselected_branch():
    """The cotangent is routed with where, so an inf in the unselected branch's own
    gradient never meets a zero multiplier (0 * inf)."""
    x = np.array([4.0, 1.0])
    (grad,) = grads_of(lambda t: tracegrad.where(t > 2.0, t, 1.0 / (t - 1.0)), x)
    np.testing.assert_array_equal(grad, [1.0, -np.inf])
    (grad,) = grads_of(lambda t: tracegrad.where(t > 2.0, t, t.log()), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(grad, [1.0, 1.0])


def test_masked_fill():
    a = randn(2, 3)
    mask = tracegrad.tensor(a > 0)
    np.testing.assert_array_equal(value(tensor(a).masked_fill(mask, -1.0)),
                                  np.where(a > 0, -1.0, a))
    (grad,) = grads_of(lambda t: t.masked_fill(mask, 0.0), a)
    np.testing.assert_array_equal(grad, (a <= 0).astype(float))


def test_clamp_values_and_gradients():
    a = np.array([-2.0, -0.5, 0.0, 0.3, 0.7, 3.0])
    x = tensor(a)
    np.testing.assert_array_equal(value(x.clamp(-0.5, 0.7)), np.clip(a, -0.5, 0.7))
    np.testing.assert_array_equal(value(x.clamp(min=0.0)), np.maximum(a, 0.0))
    np.testing.assert_array_equal(value(x.clamp_max(0.0)), np.minimum(a, 0.0))
    np.testing.assert_array_equal(value(x.clip(-1, 1)), np.clip(a, -1, 1))
    np.testing.assert_array_equal(value(tracegrad.clamp(x, max=0.3)), np.minimum(a, 0.3))
    (grad,) = grads_of(lambda t: t.clamp(-0.5, 0.7), a)
    np.testing.assert_array_equal(grad, [0, 1, 1, 1, 1, 0])      # boundaries pass the gradient
    (grad,) = grads_of(lambda t: t.clamp(min=0.0), a)
    np.testing.assert_array_equal(grad, [0, 0, 1, 1, 1, 1])
    ints = tracegrad.tensor([-3, 0, 5]).clamp(-1, 2)
    assert ints.dtype is i64 and ints.tolist() == [-1, 0, 2]
    assert tracegrad.tensor([1, 5]).clamp(0.5, 2.5).tolist() == [1.0, 2.5]    # promoted first
    assert np.isnan(value(tensor([np.nan, 2.0]).clamp(0.0, 1.0))[0])
    assert tensor(a, grad=True).clamp(-1, 1).grad_fn.name() == "ClampBackward1"
    with pytest.raises(ValueError, match="at least one of 'min' or 'max'"):
        x.clamp()


def test_sign_follows_pytorch_at_nan_and_signed_zero():
    out = tensor([np.nan, -0.0, 0.0, -2.5, 3.0]).sign()
    np.testing.assert_array_equal(value(out), [0.0, 0.0, 0.0, -1.0, 1.0])
    assert not np.signbit(value(out)[1])
    assert tracegrad.tensor([-4, 0, 7]).sign().tolist() == [-1, 0, 1]


def test_unary_math_values_and_gradients():
    a = RNG.uniform(0.2, 2.0, (2, 3))
    for name, ref in [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh),
                      ("sin", np.sin), ("cos", np.cos), ("log1p", np.log1p),
                      ("sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("abs", np.abs),
                      ("relu", lambda v: np.maximum(v, 0)), ("neg", np.negative),
                      ("square", np.square), ("softplus", lambda v: np.log1p(np.exp(v)))]:
        function = F.softplus if name == "softplus" else getattr(tracegrad, name)
        for x in (a, -a):
            if name in ("log", "sqrt", "log1p") and x is not a:
                continue
            np.testing.assert_allclose(value(getattr(tensor(x), name)()), ref(x), rtol=1e-14,
                                       err_msg=name)
            np.testing.assert_allclose(value(function(tensor(x))), ref(x), rtol=1e-14,
                                       err_msg=name)
            check_vjp(EAGER, lambda t, n=name: getattr(t, n)(), [x], order=2)


# ============================================================================================
# indexing: values and gradients against numpy (gradient = np.add.at of the seed)
# ============================================================================================

def _np_key(key):
    if isinstance(key, tuple):
        return tuple(_np_key(k) for k in key)
    if isinstance(key, tracegrad.Tensor):
        return key.numpy()
    return key


INDEX_KEYS = [
    ("int", 1),
    ("neg_int", -1),
    ("slice", slice(0, 2)),
    ("slice_step", (slice(None), slice(None, None, 2))),
    ("slice_neg_start_step", (Ellipsis, slice(-3, None, 2))),
    ("slice_out_of_range", slice(1, 10)),
    ("empty_slice", slice(2, 1)),
    ("int_int_int", (1, -2, 3)),
    ("none", None),
    ("none_middle", (slice(None), None, 0)),
    ("ellipsis_int", (Ellipsis, 1)),
    ("ellipsis_none", (0, Ellipsis, None)),
    ("int_list", [1, 0, 1]),
    ("int_list_neg", (slice(None), [2, -1])),
    ("int_tensor", tracegrad.tensor([[0, 1], [1, 1]])),
    ("int_tensor_axis2", (Ellipsis, tracegrad.tensor([3, 0, 3]))),
    ("int_0d_tensor", tracegrad.tensor(1)),
    ("neg_int_tensor", (slice(None), tracegrad.tensor([-1, 0, -3]))),
    ("int32_tensor", tracegrad.tensor([1, 0], dtype=tracegrad.int32)[None]),
    ("int_and_list_adjacent", (1, [0, 2])),
    ("list_then_int", ([1, 0], slice(None), 2)),
    ("int_slice_list_split", (1, slice(None), [0, 2])),
    ("bool_mask_full", tracegrad.tensor((np.arange(24).reshape(2, 3, 4) % 5) > 2)),
    ("bool_mask_2d", tracegrad.tensor(np.array([[True, False, True], [False, False, True]]))),
    ("bool_mask_axis1", (slice(None), tracegrad.tensor([True, False, True]))),
    ("bool_list", [True, False]),
    ("bool_mask_after_int", (1, tracegrad.tensor([False, True, True]))),
]


@pytest.mark.parametrize("key", [k[1] for k in INDEX_KEYS], ids=[k[0] for k in INDEX_KEYS])
def test_getitem_values(key):
    out = tensor(X234)[key]
    expected = X234[_np_key(key)]
    assert tuple(out.shape) == expected.shape
    np.testing.assert_array_equal(value(out), expected)


@pytest.mark.parametrize("key", [k[1] for k in INDEX_KEYS], ids=[k[0] for k in INDEX_KEYS])
def test_getitem_gradients(key):
    x = randn(2, 3, 4)
    seed = randn(*X234[_np_key(key)].shape)
    (grad,) = grads_of(lambda t: t[key], x, seed=seed)
    expected = np.zeros_like(x)
    np.add.at(expected, _np_key(key), seed)
    np.testing.assert_allclose(grad, expected, rtol=1e-15)
    check_vjp(EAGER, lambda t: t[key], [x], order=2)


def test_getitem_grad_fn_names():
    x = tensor(X234, grad=True)
    assert x[[0, 1]].grad_fn.name() == "IndexBackward0"
    assert x[x > 0].grad_fn.name() == "IndexBackward0"


def test_getitem_errors():
    x = tensor(X234)
    with pytest.raises(IndexError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x[2]
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, [0, 3]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]


# ============================================================================================
# __setitem__: values and gradients
# ============================================================================================

def test_setitem_mask_on_a_tensor_in_the_graph():
    """The PyTorch tutorial's `grad_h[h < 0] = 0` on a non-leaf tensor."""
    a = np.array([[-1.0, 2.0], [3.0, -4.0]])
    x = tensor(a, grad=True)
    h = x * 2.0
    g = h.clone()
    g[h < 0] = 0
    np.testing.assert_array_equal(value(g), np.where(a < 0, 0.0, 2 * a))
    assert g.requires_grad and g.grad_fn is not None
    (g * tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(value(x.grad), [[0.0, 4.0], [6.0, 0.0]])


def test_setitem_mask_with_tensor_value():
    a = np.array([-1.0, 2.0, -3.0])
    x, v = tensor(a, grad=True), tensor(5.0, grad=True)
    g = x * 1.0
    g[g < 0] = v
    np.testing.assert_array_equal(value(g), [5.0, 2.0, 5.0])
    g.sum().backward()
    np.testing.assert_array_equal(value(x.grad), [0.0, 1.0, 0.0])
    assert value(v.grad) == 2.0


def test_setitem_slice_with_tensor_value():
    x = tensor(randn(3, 2), grad=True)
    v = tensor([[10.0, 20.0], [30.0, 40.0]], grad=True)
    g = x * 1.0
    g[1:3] = v
    expected = value(x).copy()
    expected[1:3] = value(v)
    np.testing.assert_array_equal(value(g), expected)
    weights = np.arange(1.0, 7.0).reshape(3, 2)
    (g * tensor(weights)).sum().backward()
    np.testing.assert_array_equal(value(x.grad), [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(value(v.grad), weights[1:3])


def test_setitem_broadcast_value_and_step():
    x = tensor(randn(4, 3), grad=True)
    v = tensor([7.0, 8.0, 9.0], grad=True)
    g = x * 1.0
    g[::2] = v
    expected = value(x).copy()
    expected[::2] = [7.0, 8.0, 9.0]
    np.testing.assert_array_equal(value(g), expected)
    g.sum().backward()
    np.testing.assert_array_equal(value(x.grad), [[0] * 3, [1] * 3, [0] * 3, [1] * 3])
    np.testing.assert_array_equal(value(v.grad), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("key", [([0, 2],), (Ellipsis, 0), (tracegrad.tensor([1, -1]), 1),
                                 (slice(None), slice(1, None, 2))],
                         ids=["int_list", "ellipsis_int", "int_tensor_int", "step_slice"])
def test_setitem_with_advanced_keys(key):
    x0, seed = randn(3, 4), randn(3, 4)
    target = np.zeros((3, 4))[_np_key(key)]
    v0 = randn(*target.shape)

    def fn(x, v):
        g = x * 1.0
        g[key] = v
        return g

    expected = x0.copy()
    expected[_np_key(key)] = v0
    np.testing.assert_array_equal(value(fn(tensor(x0), tensor(v0))), expected)
    gx, gv = grads_of(fn, x0, v0, seed=seed)
    untouched = np.ones((3, 4))
    untouched[_np_key(key)] = 0.0
    np.testing.assert_array_equal(gx, seed * untouched)
    np.testing.assert_array_equal(gv, seed[_np_key(key)])
    assert_gradients(fn, x0, v0)


def test_setitem_gradients_gradcheck():
    def fn(x, v):
        g = x * 1.0
        g[:, 1] = v * v
        g[g > 1.5] = 0.0
        return g * x
    x, v = randn(3, 3) * 0.7, np.array([0.3, -0.4, 0.9])
    x[np.abs(x - 1.5) < 0.1] = 0.5                 # away from the mask's threshold
    assert_gradients(fn, x, v)


def test_setitem_into_constant_tensor_makes_it_require_grad():
    z = tracegrad.zeros(3)
    w = tracegrad.tensor(5.0, requires_grad=True)
    z[1] = w
    assert z.requires_grad and z.tolist() == [0.0, 5.0, 0.0]
    (z * tracegrad.tensor([1.0, 3.0, 1.0])).sum().backward()
    assert w.grad.item() == 3.0


def test_setitem_without_grad_writes_in_place():
    x = tracegrad.zeros(2, 3)
    x[0, 1:] = 4.0
    x[x == 0] = -1.0
    x[1] = tracegrad.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[-1.0, 4.0, 4.0], [1.0, 2.0, 3.0]] and not x.requires_grad


def test_setitem_on_leaf_requiring_grad_is_an_error():
    x = tracegrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        x[0] = 3.0
    with tracegrad.no_grad():
        x[0] = 3.0
    assert x.tolist() == [3.0, 2.0]


# ============================================================================================
# free functions equal the methods
# ============================================================================================

A = randn(2, 3)
FREE = [
    ("add", (A, 1.5), {}), ("sub", (A, A.T.T), {}), ("mul", (A, 2), {}), ("div", (A, 4.0), {}),
    ("pow", (np.abs(A), 2), {}), ("neg", (A,), {}), ("exp", (A,), {}), ("log", (np.abs(A),), {}),
    ("log1p", (np.abs(A),), {}), ("sin", (A,), {}), ("cos", (A,), {}), ("tanh", (A,), {}),
    ("sigmoid", (A,), {}), ("relu", (A,), {}), ("sqrt", (np.abs(A),), {}), ("abs", (A,), {}),
    ("sign", (A,), {}), ("square", (A,), {}), ("clamp", (A, -0.5, 0.5), {}),
    ("clamp_min", (A, 0.0), {}), ("clamp_max", (A, 0.0), {}), ("sum", (A, 1), {}),
    ("mean", (A,), {"dim": 0, "keepdim": True}), ("amax", (A, 1), {}), ("amin", (A,), {}),
    ("argmax", (A, 1), {}), ("argmin", (A,), {}), ("reshape", (A, (3, 2)), {}),
    ("flatten", (A,), {}), ("squeeze", (A[None],), {}), ("unsqueeze", (A, 0), {}),
    ("transpose", (A, 0, 1), {}), ("permute", (A, (1, 0)), {}), ("t", (A,), {}),
    ("broadcast_to", (A, (4, 2, 3)), {}), ("eq", (A, 0.0), {}), ("lt", (A, 0.0), {}),
    ("ge", (A, 0.0), {}), ("matmul", (A, A.T), {}), ("mm", (A, A.T), {}),
    ("mv", (A, A[0]), {}), ("dot", (A[0], A[0]), {}), ("subtract", (A, 1.0), {}),
    ("multiply", (A, 3.0), {}), ("divide", (A, 3.0), {}), ("true_divide", (A, 3.0), {}),
    ("clip", (A, -0.1, 0.1), {}),
]
METHOD_OF = {"subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
             "clip": "clamp"}


def _operand(v):
    return tensor(v) if isinstance(v, np.ndarray) else v


@pytest.mark.parametrize("name, args, kwargs", FREE, ids=[f[0] for f in FREE])
def test_free_function_equals_method(name, args, kwargs):
    operands = [_operand(a) for a in args]
    via_function = getattr(tracegrad, name)(*operands, **kwargs)
    via_method = getattr(operands[0], METHOD_OF.get(name, name))(*operands[1:], **kwargs)
    assert via_function.dtype is via_method.dtype
    np.testing.assert_array_equal(value(via_function), value(via_method))


def test_free_functions_accept_non_tensor_inputs():
    assert tracegrad.exp([0.0, 0.0]).tolist() == [1.0, 1.0]
    assert tracegrad.where(tracegrad.tensor([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]
    assert tracegrad.maximum(tracegrad.tensor([1, 5]), tracegrad.tensor([3, 2])).tolist() == [3, 5]
    assert tracegrad.minimum(tracegrad.tensor([1, 5]), tracegrad.tensor([3, 2])).tolist() == [1, 2]
    assert tracegrad.numel(tracegrad.zeros(2, 3)) == 6
    assert tracegrad.is_tensor(tracegrad.zeros(1)) and not tracegrad.is_tensor([1])


# ============================================================================================
# tracegrad.nn.functional: values against numpy closed forms, gradients by gradcheck
# ============================================================================================

def np_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def np_bce_with_logits(z, y, reduction, weight=None, pos_weight=None):
    p = 1.0 if pos_weight is None else pos_weight
    loss = (1 - y) * z + (1 + (p - 1) * y) * np.logaddexp(0.0, -z)
    return np_reduce(loss if weight is None else loss * weight, reduction)


def np_cross_entropy(x, t, reduction, weight=None, ignore_index=-100, smoothing=0.0):
    """Class indices `t` (N, *d) for logits `x` (N, C, *d), PyTorch's definition."""
    logp, classes = np_log_softmax(x, 1), x.shape[1]
    w = np.ones(classes) if weight is None else weight
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    target_weight = w[safe] * keep
    nll = -target_weight * np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    spread = -(logp * w.reshape((1, classes) + (1,) * (x.ndim - 2))).sum(1) * keep
    loss = (1 - smoothing) * nll + smoothing / classes * spread
    return loss.sum() / target_weight.sum() if reduction == "mean" else np_reduce(loss, reduction)


def np_cross_entropy_probs(x, y, reduction, weight=None, smoothing=0.0):
    classes = x.shape[1]
    y = y * (1 - smoothing) + smoothing / classes
    w = np.ones(classes) if weight is None else weight
    loss = -(np_log_softmax(x, 1) * y * w.reshape((1, classes) + (1,) * (x.ndim - 2))).sum(1)
    return np_reduce(loss, reduction)


REDUCTION_MODES = ["mean", "sum", "none"]


def test_activations_values_and_gradients():
    x = randn(3, 4)
    np.testing.assert_allclose(value(F.relu(tensor(x))), np.maximum(x, 0))
    np.testing.assert_allclose(value(F.sigmoid(tensor(x))), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(value(F.tanh(tensor(x))), np.tanh(x), rtol=1e-14)
    np.testing.assert_allclose(value(F.softplus(tensor(x))), np.logaddexp(0, x), rtol=1e-14)
    x[np.abs(x) < 0.1] = 0.5
    for fn in (F.relu, F.sigmoid, F.tanh, F.softplus):
        assert_gradients(fn, x)
    assert F.relu(tensor(x, grad=True)).grad_fn.name() == "ReluBackward0"
    assert F.sigmoid(tensor(x, grad=True)).grad_fn.name() == "SigmoidBackward0"


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim: int):
    x = randn(3, 4) * 3
    np.testing.assert_allclose(value(F.softmax(tensor(x), dim)), np.exp(np_log_softmax(x, dim)),
                               rtol=1e-13)
    np.testing.assert_allclose(value(F.log_softmax(tensor(x), dim=dim)), np_log_softmax(x, dim),
                               rtol=1e-13)
    assert_gradients(lambda t: F.softmax(t, dim), x)
    assert_gradients(lambda t: F.log_softmax(t, dim), x)
    assert F.softmax(tensor(x, grad=True), dim).grad_fn.name() == "SoftmaxBackward0"
    assert F.log_softmax(tensor(x, grad=True), dim).grad_fn.name() == "LogSoftmaxBackward0"


def test_softmax_is_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    out = value(F.softmax(tensor(x, dtype=f32), 1))
    np.testing.assert_allclose(out, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    logp = value(F.log_softmax(tensor(x), 1))
    np.testing.assert_allclose(logp, np_log_softmax(x, 1), rtol=1e-14)
    assert F.softmax(tracegrad.tensor([1, 2]), 0).dtype is f32


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_mse_loss(reduction: str):
    x, y = randn(3, 4), randn(3, 4)
    out = F.mse_loss(tensor(x), tensor(y), reduction=reduction)
    np.testing.assert_allclose(value(out), np_reduce((x - y) ** 2, reduction), rtol=1e-14)
    assert_gradients(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y)
    (grad,) = grads_of(lambda a: F.mse_loss(a, tensor(y), reduction=reduction), x)
    scale = 1 / x.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(grad, 2 * (x - y) * scale, rtol=1e-14)
    if reduction != "none":
        assert out.shape == ()
    named = F.mse_loss(tensor(x, grad=True), tensor(y), reduction=reduction)
    assert named.grad_fn.name() == "MseLossBackward0"


def test_mse_loss_warns_on_broadcasting_target():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(tensor(randn(3, 1)), tensor(randn(3)))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.mse_loss(tensor(randn(3)), tensor(randn(3)), reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_binary_cross_entropy_with_logits(reduction: str):
    z, y = randn(3, 4) * 3, RNG.uniform(0, 1, (3, 4))
    w, pos = RNG.uniform(0.5, 2, (1, 4)), RNG.uniform(0.5, 2, 4)
    out = F.binary_cross_entropy_with_logits(tensor(z), tensor(y), reduction=reduction)
    np.testing.assert_allclose(value(out), np_bce_with_logits(z, y, reduction), rtol=1e-13)
    weighted = F.binary_cross_entropy_with_logits(tensor(z), tensor(y), weight=tensor(w),
                                                  reduction=reduction, pos_weight=tensor(pos))
    np.testing.assert_allclose(value(weighted), np_bce_with_logits(z, y, reduction, w, pos),
                               rtol=1e-13)
    assert_gradients(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                     z, y)
    assert_gradients(lambda a: F.binary_cross_entropy_with_logits(
        a, tensor(y), tensor(w), reduction, tensor(pos)), z)
    named = F.binary_cross_entropy_with_logits(tensor(z, grad=True), tensor(y))
    assert named.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_binary_cross_entropy_with_logits_is_stable_for_large_logits(dtype, reduction: str):
    z = np.array([-100.0, 100.0, -30.0, 30.0, -100.0, 100.0])
    y = np.array([1.0, 0.0, 0.3, 1.0, 0.0, 1.0])
    x = tracegrad.tensor(z, dtype=dtype, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, tracegrad.tensor(y, dtype=dtype),
                                              reduction=reduction)
    assert np.isfinite(value(loss)).all()
    rtol = 1e-6 if dtype is f32 else 1e-13
    np.testing.assert_allclose(value(loss), np_bce_with_logits(z, y, reduction), rtol=rtol,
                               atol=1e-40)           # exp(-100) is subnormal in float32
    loss.backward(tracegrad.ones_like(loss))
    expected = 1 / (1 + np.exp(-z)) - y                # sigmoid(z) - y
    if reduction == "mean":
        expected = expected / z.size
    assert np.isfinite(value(x.grad)).all()
    np.testing.assert_allclose(value(x.grad), expected, rtol=rtol, atol=1e-12)


def test_binary_cross_entropy_with_logits_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(tensor(randn(3)), tensor(randn(3, 1)))


CE_SETTINGS = [
    ("plain", {}),
    ("weight", {"weight": True}),
    ("ignore_index", {"ignore": -100}),
    ("ignore_index_custom", {"ignore": 1}),
    ("weight_ignore", {"weight": True, "ignore": 1}),
    ("label_smoothing", {"smoothing": 0.2}),
    ("smoothing_ignore", {"smoothing": 0.2, "ignore": -100}),
    ("smoothing_weight", {"smoothing": 0.1, "weight": True}),
]


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4)], ids=["NC", "NCd"])
@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("setting", [s[1] for s in CE_SETTINGS], ids=[s[0] for s in CE_SETTINGS])
def test_cross_entropy_with_class_indices(setting, reduction: str, shape):
    x = randn(*shape) * 2
    classes = shape[1]
    t = RNG.integers(0, classes, (shape[0],) + shape[2:])
    t.reshape(-1)[:2] = [1, 2]
    ignore = setting.get("ignore", -100)
    if "ignore" in setting:
        t.reshape(-1)[0] = ignore
    w = RNG.uniform(0.5, 2.0, classes) if setting.get("weight") else None
    smoothing = setting.get("smoothing", 0.0)
    expected = np_cross_entropy(x, t, reduction, w, ignore, smoothing)

    def loss(a):
        return F.cross_entropy(a, tracegrad.tensor(t), None if w is None else tensor(w),
                               ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)

    np.testing.assert_allclose(value(loss(tensor(x))), expected, rtol=1e-13, atol=1e-15)
    assert_gradients(loss, x)
    if not smoothing:
        (log_probs,) = [tensor(np_log_softmax(x, 1))]
        nll = F.nll_loss(log_probs, tracegrad.tensor(t), None if w is None else tensor(w),
                         ignore_index=ignore, reduction=reduction)
        np.testing.assert_allclose(value(nll), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4)], ids=["NC", "NCd"])
@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("setting", ["plain", "weight", "smoothing"])
def test_cross_entropy_with_class_probabilities(setting: str, reduction: str, shape):
    x = randn(*shape)
    y = np.exp(np_log_softmax(randn(*shape), 1))
    w = RNG.uniform(0.5, 2.0, shape[1]) if setting == "weight" else None
    smoothing = 0.25 if setting == "smoothing" else 0.0
    expected = np_cross_entropy_probs(x, y, reduction, w, smoothing)

    def loss(a, b):
        return F.cross_entropy(a, b, None if w is None else tensor(w), reduction=reduction,
                               label_smoothing=smoothing)

    np.testing.assert_allclose(value(loss(tensor(x), tensor(y))), expected, rtol=1e-13)
    assert_gradients(loss, x, y)


def test_cross_entropy_closed_form_gradient_and_names():
    x, t = randn(4, 3), np.array([0, 2, 1, 2])
    (grad,) = grads_of(lambda a: F.cross_entropy(a, tracegrad.tensor(t)), x)
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(grad, (np.exp(np_log_softmax(x, 1)) - onehot) / 4, rtol=1e-13)
    out = F.cross_entropy(tensor(x, grad=True), tracegrad.tensor(t))
    assert out.grad_fn.name() == "NllLossBackward0"
    nll = F.nll_loss(tensor(x, grad=True), tracegrad.tensor(t))
    assert nll.grad_fn.name() == "NllLossBackward0"


def test_cross_entropy_unbatched_input():
    x, t = randn(4), 2
    out = F.cross_entropy(tensor(x), tracegrad.tensor(t))
    np.testing.assert_allclose(value(out), -np_log_softmax(x, 0)[t], rtol=1e-14)
    assert_gradients(lambda a: F.cross_entropy(a, tracegrad.tensor(t)), x)


def test_second_order_through_a_composite_without_retain_graph():
    """Regression: the second backward reaches log_softmax's inner nodes both through its
    composite node and directly from the gradient graph; freeing must not break either."""
    x0 = randn(3, 4)
    expected = _hessian_vector_product_decomposed(x0)
    x = tensor(x0, grad=True)
    (gx,) = tracegrad.autograd.grad((F.log_softmax(x, 1) ** 2).sum(), [x], create_graph=True)
    (gx * tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
    np.testing.assert_allclose(value(x.grad), expected, rtol=1e-12)


def _hessian_vector_product_decomposed(x0):
    x = tensor(x0, grad=True)
    shifted = x - x.amax(1, keepdim=True).stop_gradient()
    logp = shifted - shifted.exp().sum(1, keepdim=True).log()
    (gx,) = tracegrad.autograd.grad((logp ** 2).sum(), [x], create_graph=True)
    (gx * tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
    return value(x.grad)


def test_second_order_through_a_composite_with_retain_graph():
    x0 = randn(3, 4)
    x = tensor(x0, grad=True)
    (gx,) = tracegrad.autograd.grad((F.log_softmax(x, 1) ** 2).sum(), [x], create_graph=True)
    (gx * tensor(np.arange(12.0).reshape(3, 4))).sum().backward(retain_graph=True)
    np.testing.assert_allclose(value(x.grad), _hessian_vector_product_decomposed(x0), rtol=1e-12)


def test_loss_modules_match_functions():
    x, y, t = randn(4, 3), randn(4, 3), tracegrad.tensor([0, 1, 2, 1])
    assert tracegrad.nn.MSELoss(reduction="sum")(tensor(x), tensor(y)).item() == pytest.approx(
        ((x - y) ** 2).sum(), rel=1e-14)
    np.testing.assert_allclose(value(tracegrad.nn.CrossEntropyLoss()(tensor(x), t)),
                               np_cross_entropy(x, t.numpy(), "mean"), rtol=1e-14)
    p = RNG.uniform(0, 1, (4, 3))
    np.testing.assert_allclose(value(tracegrad.nn.BCEWithLogitsLoss()(tensor(x), tensor(p))),
                               np_bce_with_logits(x, p, "mean"), rtol=1e-14)


# ============================================================================================
# grad_fn names (PyTorch's spelling)
# ============================================================================================

def test_grad_fn_names_of_common_expressions():
    x = tensor(randn(3, 2), grad=True)
    v = tensor(randn(2), grad=True)
    names = {
        "AddBackward0": x + 2, "SubBackward0": x - 2, "RsubBackward1": 2 - x,
        "MulBackward0": x * x, "DivBackward0": x / 2, "NegBackward0": -x,
        "ExpBackward0": x.exp(), "TanhBackward0": x.tanh(), "AbsBackward0": x.abs(),
        "ToCopyBackward0": x.float(), "CloneBackward0": x.clone(), "MvBackward0": x @ v,
        "DotBackward0": v @ v, "PowBackward0": x ** 2, "WhereBackward0": x.where(x > 0, 0.0),
        "SumBackward0": x.sum(), "SumBackward1": x.sum(1), "MeanBackward0": x.mean(),
        "MeanBackward1": x.mean(1), "TBackward0": x.t(), "MmBackward0": x.t().mm(x),
    }
    for name, out in names.items():
        assert out.grad_fn.name() == name
        assert type(out.grad_fn).__name__ == name
        assert f"grad_fn=<{name}>" in repr(out)


def test_no_warnings_from_inf_and_nan_arithmetic():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = tensor([0.0, np.inf, -1.0])
        x * np.inf, x - np.inf, x / 0.0, x.log(), x.sqrt(), x.exp() * 0.0, x.sin()
    assert math.isnan(value(tensor([np.inf]) * 0.0)[0])
