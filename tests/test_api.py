"""The public transforms: make_graph, grad, value_and_grad, vjp, jacobian, hessian. Nesting,
argnums, has_aux, pytrees, caching per signature, results as fresh tensors, and errors worded as
eager mode words them."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support import seed_functions as seeds
from support.locations import loc_of

import tracegrad as tg
from tracegrad.errors import AutodiffError, DTypeError, ShapeError, TraceError
from tracegrad.ir.graph import Graph

HERE = __file__


def f_cubic(x, y):
    return (x * x * y + y.sin()).sum()


X = np.array([0.5, -1.0, 2.0])
Y = np.array([1.5, 0.25, -0.5])


def eager_grads(fn, *arrays):
    leaves = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays]
    fn(*leaves).backward()
    return [t.grad.numpy() for t in leaves]


# ---- make_graph ----

def test_make_graph_returns_a_graph_named_after_the_function():
    graph = tg.make_graph(f_cubic)(X, Y)
    assert isinstance(graph, Graph) and graph.name == "f_cubic"
    assert [str(v.type) for v in graph.inputs] == ["f64[3]", "f64[3]"]


def test_make_graph_optimize_keeps_results_and_never_grows():
    fn = tg.grad(seeds.tanh_net, argnums=(0, 1))
    args = seeds.tanh_net_args()
    plain, optimized = tg.make_graph(fn)(*args), tg.make_graph(fn, optimize=True)(*args)
    assert len(optimized.nodes) <= len(plain.nodes)
    from tracegrad.ir.interpret import evaluate
    for a, b in zip(evaluate(plain, *args), evaluate(optimized, *args)):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_make_graph_of_a_transform_shows_its_graph():
    text = str(tg.make_graph(tg.value_and_grad(f_cubic))(X, Y))
    assert text.startswith("graph value_and_grad_f_cubic(x: f64[3], y: f64[3]) {")
    assert "# -- adjoints of out with respect to (x) --" in text
    assert text.rstrip().endswith("return out, grad_x\n}")


# ---- grad ----

def test_grad_equals_eager_backward():
    expected = eager_grads(f_cubic, X, Y)
    gx = tg.grad(f_cubic)(X, Y)
    gx2, gy = tg.grad(f_cubic, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(gx.numpy(), expected[0], rtol=1e-14)
    np.testing.assert_allclose(gx2.numpy(), expected[0], rtol=1e-14)
    np.testing.assert_allclose(gy.numpy(), expected[1], rtol=1e-14)
    assert tg.grad(f_cubic, argnums=1)(X, Y).numpy() == pytest.approx(expected[1])


def test_grad_returns_tensors_with_the_input_dtype():
    g = tg.grad(lambda x: (x * x).sum())(np.ones(2, np.float32))
    assert isinstance(g, tg.Tensor) and g.dtype == tg.float32 and not g.requires_grad
    g = tg.grad(lambda x: (x * x).sum())(tg.tensor([1.0, 2.0], dtype=tg.float64))
    assert g.dtype == tg.float64


def test_grad_on_tensors_that_require_grad_is_differentiable_by_eager_autograd():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    g = tg.grad(lambda x: (x ** 3).sum())(x)
    assert g.requires_grad and x.grad is None
    np.testing.assert_array_equal(g.detach().numpy(), [3.0, 12.0])
    g.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 12.0])
    with tg.no_grad():
        assert not tg.grad(lambda x: (x ** 3).sum())(x).requires_grad


def test_grad_of_the_seeds():
    # seed 000: y = x @ x at 3 -> 6; z = 3 y -> 18
    assert tg.grad(lambda x: x @ x)(np.array([3.0])).numpy() == pytest.approx([6.0])
    assert tg.grad(seeds.dot)(np.array([3.0])).numpy() == pytest.approx([18.0])
    # seed 002: y = (x + w) * (w + 1) at w = 1, x = 2: w.grad = 5, x.grad = 2 (y has shape [1])
    gw, gx = tg.grad(seeds.add_mul, argnums=(0, 1))(*seeds.add_mul_args())
    assert gw.numpy() == pytest.approx([5.0]) and gx.numpy() == pytest.approx([2.0])
    # seed 002's ones(2, 2) example: out = mean(3 (x + 2)^2) -> x.grad = 4.5
    out_grad = tg.grad(lambda x: ((x + 2) * (x + 2) * 3).mean())(np.ones((2, 2)))
    np.testing.assert_allclose(out_grad.numpy(), np.full((2, 2), 4.5))


def test_grad_with_pytree_arguments():
    def loss(params, x):
        return ((x @ params["w"] + params["b"]) ** 2).sum()

    params = {"w": np.ones((3, 2)), "b": np.array([0.5, -0.5])}
    x = np.array([[1.0, 2.0, 3.0]])
    g = tg.grad(loss)(params, x)
    assert set(g) == {"w", "b"}
    pred = x @ params["w"] + params["b"]
    np.testing.assert_allclose(g["b"].numpy(), 2 * pred[0])
    np.testing.assert_allclose(g["w"].numpy(), 2 * x.T @ pred)


def test_grad_of_grad():
    f = lambda x: (x ** 3).sum()                   # noqa: E731
    d2 = tg.grad(lambda x: tg.grad(f)(x).sum())(X)
    np.testing.assert_allclose(d2.numpy(), 6 * X)
    d3 = tg.grad(lambda x: tg.grad(lambda x: tg.grad(f)(x).sum())(x).sum())(X)
    np.testing.assert_allclose(d3.numpy(), np.full(3, 6.0))


def test_grad_of_a_scalar_function_composes_directly():
    cube = lambda x: x ** 3                         # noqa: E731
    assert tg.grad(tg.grad(cube))(np.array(2.0)).item() == 12.0
    assert tg.grad(tg.grad(tg.grad(cube)))(np.array(2.0)).item() == 6.0


def test_a_function_that_calls_grad_inside_another_traced_function():
    def energy(x):
        return (x * x).sum() / 2

    def step(x, lr):
        return x - lr * tg.grad(energy)(x)         # a gradient-descent step: y = (1 - lr) x

    def objective(x):
        y = step(step(x, 0.25), 0.25)
        return (y * y.sin()).sum()

    graph = tg.make_graph(objective)(X)
    assert sum(1 for _, text in graph.comments if "adjoints" in text) == 2
    expected = eager_grads(objective, X)[0]
    np.testing.assert_allclose(tg.grad(objective)(X).numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(tg.grad(objective)(X).numpy(),
                               (0.5625 * (np.sin(0.5625 * X) + 0.5625 * X * np.cos(0.5625 * X))),
                               rtol=1e-13)


def test_value_and_grad():
    value, g = tg.value_and_grad(f_cubic)(X, Y)
    assert value.item() == pytest.approx(float(np.sum(X * X * Y + np.sin(Y))))
    np.testing.assert_allclose(g.numpy(), 2 * X * Y)
    value, (gx, gy) = tg.value_and_grad(f_cubic, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(gy.numpy(), X * X + np.cos(Y))


def test_has_aux():
    def loss(x):
        pred = x * 2
        return (pred * pred).sum(), {"pred": pred, "n": 3}

    g, aux = tg.grad(loss, has_aux=True)(X)
    np.testing.assert_allclose(g.numpy(), 8 * X)
    np.testing.assert_allclose(aux["pred"].numpy(), 2 * X)
    assert aux["n"].item() == 3
    (value, aux), g = tg.value_and_grad(loss, has_aux=True)(X)
    assert value.item() == pytest.approx(float(np.sum(4 * X * X)))
    np.testing.assert_allclose(aux["pred"].numpy(), 2 * X)


def test_vjp():
    out, pullback = tg.vjp(lambda x, y: x * y.exp(), X, Y)
    np.testing.assert_allclose(out.numpy(), X * np.exp(Y))
    u = np.array([1.0, -2.0, 0.5])
    gx, gy = pullback(u)
    np.testing.assert_allclose(gx.numpy(), u * np.exp(Y))
    np.testing.assert_allclose(gy.numpy(), u * X * np.exp(Y))


def test_vjp_with_several_outputs_and_aux():
    def f(x):
        return (x.sin(), x.sum()), {"double": x * 2}

    out, pullback, aux = tg.vjp(f, X, has_aux=True)
    np.testing.assert_allclose(out[0].numpy(), np.sin(X))
    np.testing.assert_allclose(aux["double"].numpy(), 2 * X)
    (gx,) = pullback((np.ones(3), np.array(2.0)))
    np.testing.assert_allclose(gx.numpy(), np.cos(X) + 2.0)


def test_vjp_matches_eager_backward_with_gradient():
    w = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    u = np.array([0.5, 1.0, -1.0])
    (w * w).tanh().backward(tg.from_numpy(u))
    _, pullback = tg.vjp(lambda w: (w * w).tanh(), X)
    np.testing.assert_allclose(pullback(u)[0].numpy(), w.grad.numpy(), rtol=1e-14)


def test_jacobian_and_hessian_with_several_arguments():
    jx, jy = tg.jacobian(lambda x, y: x * y, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(jx.numpy(), np.diag(Y))
    np.testing.assert_allclose(jy.numpy(), np.diag(X))
    (hxx, hxy), (hyx, hyy) = tg.hessian(f_cubic, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(hxx.numpy(), np.diag(2 * Y))
    np.testing.assert_allclose(hxy.numpy(), np.diag(2 * X))
    np.testing.assert_allclose(hyx.numpy(), hxy.numpy().T)
    np.testing.assert_allclose(hyy.numpy(), np.diag(-np.sin(Y)))


def test_jacobian_of_pytree_outputs_nests_output_then_argument():
    jac = tg.jacobian(lambda x: {"a": x * 2, "b": x.sum()})(X)
    np.testing.assert_allclose(jac["a"].numpy(), 2 * np.eye(3))
    np.testing.assert_allclose(jac["b"].numpy(), np.ones(3))


def test_jacobian_of_a_scalar_input():
    jac = tg.jacobian(lambda t: t * tg.from_numpy(X))(np.array(2.0))
    np.testing.assert_allclose(jac.numpy(), X)


def test_hessian_is_jacobian_of_grad():
    h1 = tg.hessian(f_cubic)(X, Y).numpy()
    h2 = tg.jacobian(tg.grad(f_cubic))(X, Y).numpy()
    np.testing.assert_array_equal(h1, h2)


# ---- caching and results ----

def test_each_transform_traces_once_per_signature():
    calls = []

    def f(x):
        calls.append(tuple(x.shape))
        return (x * x).sum()

    g = tg.grad(f)
    for _ in range(3):
        g(np.ones(2))
    g(np.ones(3))
    g(np.ones(2, np.float32))
    g(tg.tensor([1.0, 2.0], dtype=tg.float64))      # a tensor of a seen signature: a hit
    assert calls == [(2,), (3,), (2,)]


def test_vjp_pullbacks_are_cached_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2

    for _ in range(3):
        _, pullback = tg.vjp(f, X)
        pullback(np.ones(3))
    assert len(calls) == 2       # the forward once, the pullback once


def test_results_are_fresh_writable_tensors():
    x = np.ones(3)
    g = tg.grad(lambda x: x.sum())(x)               # the gradient is a broadcast of one value
    g += 1
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, 2.0])
    _, aux = tg.grad(lambda x: (x.sum(), x), has_aux=True)(x)
    aux.mul_(5)
    np.testing.assert_array_equal(x, [1.0, 1.0, 1.0])


def test_transforms_are_usable_as_decorators_and_keep_the_signature():
    @tg.grad
    def loss(w, data):
        return (w * data).sum()

    import inspect
    assert list(inspect.signature(loss).parameters) == ["w", "data"]
    np.testing.assert_array_equal(loss(np.ones(2), np.array([3.0, 4.0])).numpy(), [3.0, 4.0])


# ---- errors, worded as eager mode words them ----

def eager_message(action):
    with pytest.raises(RuntimeError) as info:
        action()
    return str(info.value)


def test_non_scalar_output_without_cotangent():
    wording = eager_message(lambda: (tg.tensor([1.0, 2.0], requires_grad=True) * 2).backward())
    with pytest.raises(ShapeError) as info:
        tg.grad(lambda x: x * 2)(X)                  # @api-nonscalar
    assert wording in str(info.value)
    assert str(info.value).startswith(loc_of(HERE, "@api-nonscalar"))
    assert isinstance(info.value, RuntimeError)


def test_unused_input_raises_unless_allow_unused_then_zeros():
    def action():
        a, b = tg.tensor([1.0], requires_grad=True), tg.tensor([1.0], requires_grad=True)
        tg.autograd.grad((a * 2).sum(), [a, b])

    wording = eager_message(action)
    with pytest.raises(AutodiffError) as info:
        tg.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(X, Y)    # @api-unused
    assert wording in str(info.value)
    assert str(info.value).startswith(loc_of(HERE, "@api-unused"))
    gx, gy = tg.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1), allow_unused=True)(X, Y)
    np.testing.assert_array_equal(gy.numpy(), np.zeros(3))
    assert gy.dtype == tg.float64
    # an input that only reaches the output through a comparison is unused too
    with pytest.raises(AutodiffError):
        tg.grad(lambda x: (x > 0).sum().double())(X)


def test_integer_inputs_for_differentiation():
    wording = eager_message(lambda: tg.tensor([1, 2], requires_grad=True))
    with pytest.raises(DTypeError) as info:
        tg.grad(lambda x: x.sum())(np.array([1, 2]))                   # @api-int
    assert wording in str(info.value)
    assert str(info.value).startswith(loc_of(HERE, "@api-int"))
    with pytest.raises(DTypeError, match=re.escape(wording)):
        tg.grad(lambda x: x.double().sum())(tg.tensor([1, 2]))


def test_vjp_cotangent_shape_mismatch():
    def action():
        (tg.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2).backward(tg.ones(2))

    wording = eager_message(action)
    _, pullback = tg.vjp(lambda x: x * 2, X)
    with pytest.raises(ShapeError) as info:
        pullback(np.ones(2))
    assert str(info.value) == wording


def test_differentiating_a_python_number_is_an_error():
    with pytest.raises(AutodiffError, match="can only differentiate with respect to tensors, "
                                            "got float"):
        tg.grad(lambda x: x * x)(3.0)


def test_grad_of_a_tuple_output_suggests_has_aux():
    with pytest.raises(AutodiffError, match="grad needs a function returning one tensor, got a "
                                            "tuple of 2 values; return \\(output, aux\\) with "
                                            "has_aux=True"):
        tg.grad(lambda x: (x.sum(), x.sum()))(X)


def test_has_aux_needs_a_pair():
    with pytest.raises(TraceError, match="with has_aux=True the function must return a pair "
                                         r"\(output, aux\), got Proxy"):
        tg.grad(lambda x: x.sum(), has_aux=True)(X)


def test_grad_of_an_integer_output():
    with pytest.raises(DTypeError, match="grad needs a floating point output"):
        tg.grad(lambda x: (x > 0).sum())(X)


def test_grad_of_a_constant_function_with_allow_unused_is_zero():
    g = tg.grad(lambda x: 3.0, allow_unused=True)(X)
    np.testing.assert_array_equal(g.numpy(), np.zeros(3))
