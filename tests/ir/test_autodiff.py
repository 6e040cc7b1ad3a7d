"""Reverse mode as an IR pass: gradients equal eager backward (every differentiable op at orders
1 and 2, random programs), higher derivatives match closed forms, Hessians and Jacobians match
finite differences, the joint graph is an ordinary graph, and golden dumps of gradient graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from support import seed_functions as seeds
from support.golden import assert_golden
from support.gradcheck import EAGER
from support.random_programs import programs, random_programs
from support.samples import Case, diff_operands, grad_cases, op_function

import tracegrad as tg
from tracegrad.errors import AutodiffError
from tracegrad.ir.autodiff import vjp_graph
from tracegrad.ir.graph import verify
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.printer import format_graph
from tracegrad.tracer import trace

RTOL, ATOL = 1e-10, 1e-12


# ---- the IR's VJP, built from tracegrad.grad, as a function of (xs, us) ----

def ir_vjp_function(fn, n_inputs):
    """`(x_1..x_n, u_1..u_m) -> grad of sum_k <u_k, out_k>`, built with tracegrad.grad so it
    runs symbolically inside another trace (and so can be differentiated again)."""
    def scalar(*args):
        xs, us = args[:n_inputs], args[n_inputs:]
        outs = fn(*xs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        total = (outs[0] * us[0]).sum()
        for o, u in zip(outs[1:], us[1:]):
            total = total + (o * u).sum()
        return total

    def vjp_of(*args):
        return tuple(tg.grad(scalar, argnums=tuple(range(n_inputs)), allow_unused=True)(*args))
    return vjp_of


def ir_vjp(fn, xs, us):
    return [g.numpy() for g in ir_vjp_function(fn, len(xs))(*xs, *us)]


def outputs_of(fn, xs):
    out = fn(*(tg.from_numpy(np.array(x)) for x in xs))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def assert_all_close(got, expected, what):
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert np.shape(g) == np.shape(e), f"{what}: gradient {i} shape"
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=f"{what}: gradient {i}")


# ---- every differentiable op: grad equals eager backward ----

@pytest.mark.parametrize("case", grad_cases(), ids=lambda c: c.id)
def test_grad_equals_eager_backward_on_every_differentiable_op(case: Case):
    fn, xs = op_function(case), diff_operands(case)
    rng = np.random.default_rng(7)
    us = [rng.standard_normal(o.shape) for o in outputs_of(fn, xs)]
    assert_all_close(ir_vjp(fn, xs, us), EAGER.vjp(fn, xs, us), case.id)


@pytest.mark.parametrize("case", grad_cases(), ids=lambda c: c.id)
def test_second_order_grad_equals_eager_double_backward(case: Case):
    fn, xs = op_function(case), diff_operands(case)
    rng = np.random.default_rng(8)
    us = [rng.standard_normal(o.shape) for o in outputs_of(fn, xs)]
    ws = [rng.standard_normal(np.shape(x)) for x in xs]
    ir = ir_vjp(ir_vjp_function(fn, len(xs)), xs + us, ws)
    eager = EAGER.vjp(EAGER.vjp_function(fn, len(xs)), xs + us, ws)
    assert_all_close(ir, eager, case.id)


# ---- random programs ----

@given(programs(allow_max=True))
def test_grad_equals_eager_backward_on_random_programs(program_and_args):
    program, arrays = program_and_args
    leaves = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays]
    program(*leaves).backward()
    expected = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in leaves]
    got = tg.grad(program, argnums=tuple(range(len(arrays))), allow_unused=True)(*arrays)
    assert_all_close([g.numpy() for g in got], expected, repr(program))


def _weighted_float_outputs(program, cotangents):
    """A scalar: sum_k <u_k, out_k> over the program's floating-point outputs."""
    def loss(*xs):
        outs = [o for o in program(*xs) if o.dtype.is_floating_point]
        terms = [(o * tg.from_numpy(u).to(o.dtype)).sum() for o, u in zip(outs, cotangents)]
        return sum(terms[1:], terms[0]) if terms else xs[0].sum() * 0.0
    return loss


@given(random_programs(max_steps=8))
def test_grad_equals_eager_backward_on_random_op_graphs(program):
    rng = np.random.default_rng(11)
    outs = [o for o in evaluate(program.graph, *program.inputs) if o.dtype.kind == "f"]
    loss = _weighted_float_outputs(program, [rng.standard_normal(o.shape) for o in outs])
    n = len(program.inputs)
    leaves = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in program.inputs]
    value = loss(*leaves)
    expected = [np.zeros(a.shape) for a in program.inputs]
    if value.requires_grad:
        value.backward()
        expected = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in leaves]
    got = tg.grad(loss, argnums=tuple(range(n)), allow_unused=True)(*program.inputs)
    for g, e in zip(got, expected):
        tol = 1e-9 * max(1.0, float(np.max(np.abs(e), initial=0.0)))
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-9, atol=tol, err_msg=repr(program))


@given(programs(max_inputs=2, max_steps=4))
def test_grad_of_grad_equals_eager_on_random_programs(program_and_args):
    program, arrays = program_and_args
    n = len(arrays)
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal(a.shape) for a in arrays]

    def first(*xs):
        return tg.grad(program, argnums=tuple(range(n)), allow_unused=True)(*xs)

    def weighted(*xs):
        gs = first(*xs)
        total = (gs[0] * tg.from_numpy(ws[0])).sum()
        for g, w in zip(gs[1:], ws[1:]):
            total = total + (g * tg.from_numpy(w)).sum()
        return total

    got = tg.grad(weighted, argnums=tuple(range(n)), allow_unused=True)(*arrays)
    leaves = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays]
    gs = tg.autograd.grad(program(*leaves), leaves, create_graph=True, allow_unused=True)
    terms = [(g * tg.from_numpy(w)).sum() for g, w in zip(gs, ws) if g is not None
             and g.requires_grad]
    expected = [np.zeros(a.shape) for a in arrays]
    if terms:
        second = tg.autograd.grad(sum(terms[1:], terms[0]), leaves, allow_unused=True)
        expected = [s.numpy() if s is not None else np.zeros(a.shape)
                    for s, a in zip(second, arrays)]
    assert_all_close([g.numpy() for g in got], expected, repr(program))


# ---- higher derivatives against closed forms ----

X = np.array([-1.3, -0.2, 0.4, 1.7])

CLOSED_FORMS = {
    "cube": (lambda x: x ** 3, [lambda x: 3 * x ** 2, lambda x: 6 * x, lambda x: 6 + 0 * x]),
    "sin": (lambda x: x.sin(), [np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)]),
    "exp_tanh": (lambda x: x.tanh().exp(), [
        lambda x: np.exp(np.tanh(x)) * (1 - np.tanh(x) ** 2),
        lambda x: (np.exp(np.tanh(x)) * (1 - np.tanh(x) ** 2)
                   * (1 - np.tanh(x) ** 2 - 2 * np.tanh(x))),
        None,   # checked against finite differences of the second derivative below
    ]),
    "x_sin_x": (lambda x: x * x.sin(), [lambda x: np.sin(x) + x * np.cos(x),
                                         lambda x: 2 * np.cos(x) - x * np.sin(x),
                                         lambda x: -3 * np.sin(x) - x * np.cos(x)]),
    "exp_times_x2": (lambda x: x.exp() * x * x, [lambda x: np.exp(x) * (x * x + 2 * x),
                                                 lambda x: np.exp(x) * (x * x + 4 * x + 2),
                                                 lambda x: np.exp(x) * (x * x + 6 * x + 6)]),
}


def derivative(f, order):
    """The elementwise `order`-th derivative of an elementwise function, by nested grad."""
    g = f
    for _ in range(order):
        g = (lambda h: lambda x: tg.grad(lambda y: h(y).sum())(x))(g)
    return g


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
@pytest.mark.parametrize("order", [1, 2, 3])
def test_higher_derivatives_match_closed_forms(name, order):
    f, forms = CLOSED_FORMS[name]
    got = derivative(f, order)(X).numpy()
    expected = forms[order - 1]
    if expected is None:
        eps = 1e-5
        second = derivative(f, 2)
        expected = lambda x: (second(x + eps).numpy() - second(x - eps).numpy()) / (2 * eps)  # noqa: E731
        np.testing.assert_allclose(got, expected(X), rtol=1e-6, atol=1e-8)
    else:
        np.testing.assert_allclose(got, expected(X), rtol=1e-12, atol=1e-12)


def test_mixed_partials_of_a_product():
    def f(x, y):
        return (x * x * y.sin()).sum()

    x, y = np.array([0.5, -1.5]), np.array([0.3, 2.0])
    dfdx = tg.grad(f, argnums=0)
    d2_dydx = tg.grad(lambda x, y: dfdx(x, y).sum(), argnums=1)(x, y).numpy()
    np.testing.assert_allclose(d2_dydx, 2 * x * np.cos(y), rtol=1e-13)
    d3 = tg.grad(lambda x, y: tg.grad(lambda x, y: dfdx(x, y).sum(), argnums=1)(x, y).sum(),
                 argnums=0)(x, y).numpy()
    np.testing.assert_allclose(d3, 2 * np.cos(y), rtol=1e-13)


def test_fourth_derivative_of_x4_is_24():
    assert derivative(lambda x: x ** 4, 4)(np.array([0.7])).numpy() == pytest.approx([24.0])


# ---- hessian and jacobian against finite differences ----

def numerical_jacobian(f, x, eps=1e-6):
    f0 = np.asarray(f(x))
    jac = np.zeros(f0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        jac[(...,) + idx] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


def loss(x):
    return ((x[:2] * x[1:]).sin() * x.exp()[:2]).sum() + (x * x * x).sum() / 3


def test_hessian_is_symmetric_and_equals_finite_differences():
    x = np.array([0.3, -0.8, 1.1])
    hess = tg.hessian(loss)(x).numpy()
    assert hess.shape == (3, 3)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-13, atol=1e-13)
    grad = tg.grad(loss)
    numeric = numerical_jacobian(lambda v: grad(v).numpy(), x)
    np.testing.assert_allclose(hess, numeric, rtol=1e-7, atol=1e-8)


def test_hessian_matches_second_differences_of_the_function():
    x = np.array([[0.2, -0.4], [0.9, 0.1]])

    def f(w):
        return (w @ w).tanh().sum()

    hess = tg.hessian(f)(x).numpy()
    assert hess.shape == (2, 2, 2, 2)
    value = lambda v: f(tg.from_numpy(v)).item()   # noqa: E731
    eps, flat = 1e-4, x.reshape(-1)
    numeric = np.zeros((4, 4))
    def shifted(i, j, si, sj):
        v = flat.copy()
        v[i] += si * eps
        v[j] += sj * eps
        return value(v.reshape(2, 2))

    for i in range(4):
        for j in range(4):
            numeric[i, j] = (shifted(i, j, 1, 1) - shifted(i, j, 1, -1) - shifted(i, j, -1, 1)
                             + shifted(i, j, -1, -1)) / (4 * eps * eps)
    np.testing.assert_allclose(hess.reshape(4, 4), numeric, rtol=1e-5, atol=1e-6)


def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose():
    a = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [0.0, 1.0, 4.0]])
    hess = tg.hessian(lambda x: x @ (tg.from_numpy(a) @ x))(np.ones(3)).numpy()
    np.testing.assert_allclose(hess, a + a.T, rtol=1e-15)


def test_jacobian_of_a_vector_function_equals_finite_differences():
    def f(x):
        return (x[1:] * x[:-1]).tanh() * 3 - x[:-1].exp()

    x = np.array([0.1, -0.7, 0.4, 1.2])
    jac = tg.jacobian(f)(x).numpy()
    assert jac.shape == (3, 4)
    numeric = numerical_jacobian(lambda v: f(tg.from_numpy(v)).numpy(), x)
    np.testing.assert_allclose(jac, numeric, rtol=1e-7, atol=1e-9)


def test_jacobian_of_a_matrix_function_has_out_shape_plus_in_shape():
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    jac = tg.jacobian(lambda x: tg.from_numpy(w) @ x)(np.ones((2, 2))).numpy()
    assert jac.shape == (3, 2, 2, 2)
    expected = np.einsum("ik,jl->ijkl", w, np.eye(2))
    np.testing.assert_allclose(jac, expected, rtol=1e-15)


# ---- the joint graph is an ordinary graph ----

def test_vjp_graph_appends_adjoints_and_keeps_outputs():
    graph = tg.make_graph(seeds.tanh_net)(*seeds.tanh_net_args())
    joint = verify(vjp_graph(graph, wrt=[0, 1]))
    assert joint.nodes[:len(graph.nodes)] == graph.nodes
    assert joint.outputs[0] is graph.outputs[0]
    assert [v.hint for v in joint.outputs[1:]] == ["grad_x", "grad_w"]
    x, w = seeds.tanh_net_args()
    value, gx, gw = evaluate(joint, x, w)
    expected = tg.grad(seeds.tanh_net, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, expected[0].numpy(), rtol=1e-13)
    np.testing.assert_allclose(gw, expected[1].numpy(), rtol=1e-13)
    assert value == pytest.approx(seeds.tanh_net(*map(tg.from_numpy, (x, w))).item())


def test_vjp_graph_applies_to_its_own_output():
    graph = trace(lambda x: (x.sin() * x).sum(), np.ones(3)).graph
    first = verify(vjp_graph(graph, wrt=[0]))
    second = verify(vjp_graph(first, wrt=[0], outputs=[1], seed="inputs"))
    assert [v.hint for v in second.inputs] == ["x", "grad_grad_x"]
    x, w = np.array([0.2, -1.0, 2.0]), np.array([1.0, 0.5, -2.0])
    *_, hvp = evaluate(second, x, w)
    np.testing.assert_allclose(hvp, w * (2 * np.cos(x) - x * np.sin(x)), rtol=1e-13)


def test_vjp_graph_with_cotangent_inputs_for_a_vector_output():
    graph = trace(lambda x: x.exp() * 2, np.ones(3)).graph
    joint = verify(vjp_graph(graph, seed="inputs"))
    assert [str(v.type) for v in joint.inputs] == ["f64[3]", "f64[3]"]
    assert joint.inputs[1].hint == "grad_out"
    x, u = np.array([0.0, 1.0, -1.0]), np.array([1.0, 2.0, 3.0])
    _, g = evaluate(joint, x, u)
    np.testing.assert_allclose(g, u * 2 * np.exp(x), rtol=1e-15)


def test_vjp_graph_scalar_seed_refuses_vector_outputs():
    graph = trace(lambda x: x * 2, np.ones(3)).graph
    with pytest.raises(AutodiffError, match=r"grad can be implicitly created only for scalar "
                                            r"outputs: output out has type f64\[3\]"):
        vjp_graph(graph)


def test_symbolic_zeros_build_nothing():
    def f(x, y):
        mask = x > 0                      # no gradient flows through the comparison
        return tg.where(mask, x * 2, 0.0).sum() + (y > 1).sum().double()

    graph = tg.make_graph(tg.grad(f, argnums=0))(np.ones(3), np.ones(3))
    start = graph.comments[0][0]
    adjoint_ops = [n.op for n in graph.nodes[start:]]
    assert "full" in adjoint_ops          # only the seed
    assert adjoint_ops.count("full") == 1
    assert all(n.op not in ("gt", "sum_to") for n in graph.nodes[start + 1:])


def test_unused_input_zeros_are_materialized_only_for_requested_outputs():
    graph = trace(lambda x, y: (x * 3).sum(), np.ones(2), np.ones(4)).graph
    joint = verify(vjp_graph(graph, wrt=[1]))
    assert [n.op for n in joint.nodes[len(graph.nodes):]] == ["full", "full"]
    _, gy = evaluate(joint, np.ones(2), np.ones(4))
    np.testing.assert_array_equal(gy, np.zeros(4))


def test_where_routes_an_infinite_cotangent_without_nan():
    # The unselected branch gets where(mask, 0, g), not g * 0 (which is NaN for g = inf).
    def f(x):
        return tg.where(x > 0, x, -x).exp().sum()

    g = tg.grad(f)(np.array([800.0, -800.0, 1.0])).numpy()
    np.testing.assert_array_equal(g, [np.inf, -np.inf, np.e])


def test_where_with_an_invalid_unselected_branch_gives_nan_as_eager_does():
    # sqrt's VJP at 0 and -1 is 0 / 0 and 0 / nan: PyTorch gives NaN too (tensor([0.25, nan, nan]))
    def f(x):
        return tg.where(x > 0, x.sqrt(), x * 0).sum()

    x = np.array([4.0, 0.0, -1.0])
    leaf = tg.tensor(x, dtype=tg.float64, requires_grad=True)
    f(leaf).backward()
    g = tg.grad(f)(x).numpy()
    np.testing.assert_array_equal(g, leaf.grad.numpy())
    np.testing.assert_array_equal(g, [0.25, np.nan, np.nan])


def test_deep_chain_does_not_hit_the_recursion_limit():
    def f(x):
        for _ in range(3000):
            x = x * 1.0001
        return x.sum()

    assert tg.grad(f)(np.ones(1)).item() == pytest.approx(1.0001 ** 3000)


# ---- golden dumps of gradient graphs ----

GRADIENT_GOLDENS = {
    "seed000_dot_grad": lambda: tg.make_graph(tg.grad(seeds.dot), optimize=True)(
        *seeds.dot_args()),
    "seed002_add_mul_grad": lambda: tg.make_graph(tg.grad(seeds.add_mul, argnums=(0, 1)),
                                                  optimize=True)(*seeds.add_mul_args()),
    "seed002_two_layer_grad": lambda: tg.make_graph(
        tg.grad(seeds.two_layer_loss, argnums=(2, 3)), optimize=True)(*seeds.two_layer_args()),
    "architecture_tanh_grad": lambda: tg.make_graph(tg.grad(seeds.tanh_net, argnums=1),
                                                    optimize=True)(*seeds.tanh_net_args()),
    "architecture_tanh_joint": lambda: vjp_graph(
        tg.make_graph(seeds.tanh_net)(*seeds.tanh_net_args()), wrt=[1]),
    "second_order_cube": lambda: tg.make_graph(tg.grad(tg.grad(lambda x: x ** 3)),
                                               optimize=True)(np.array(2.0)),
    "second_order_tanh_hvp": lambda: tg.make_graph(
        tg.grad(lambda x, v: (tg.grad(lambda x: x.tanh().sum())(x) * v).sum()),
        optimize=True)(np.ones(3), np.ones(3)),
}


@pytest.mark.parametrize("name", list(GRADIENT_GOLDENS))
def test_gradient_dump_matches_golden(name, update_golden):
    graph = verify(GRADIENT_GOLDENS[name]())
    assert_golden(f"ir/{name}.txt", format_graph(graph), update_golden)


def test_golden_gradient_graphs_compute_the_right_numbers():
    x, y, w1, w2 = seeds.two_layer_args()
    graph = GRADIENT_GOLDENS["seed002_two_layer_grad"]()
    g1, g2 = evaluate(graph, x, y, w1, w2)
    leaves = [tg.from_numpy(a.copy()).requires_grad_() for a in (w1, w2)]
    seeds.two_layer_loss(tg.from_numpy(x), tg.from_numpy(y), *leaves).backward()
    np.testing.assert_allclose(g1, leaves[0].grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g2, leaves[1].grad.numpy(), rtol=1e-5, atol=1e-6)
    (second,) = evaluate(GRADIENT_GOLDENS["second_order_cube"](), np.array(2.0))
    assert second == 12.0
    assert math.isclose(evaluate(GRADIENT_GOLDENS["seed000_dot_grad"](), np.array([3.0]))[0][0],
                        18.0)
