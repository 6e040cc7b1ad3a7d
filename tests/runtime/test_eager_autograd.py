"""Eager autograd semantics match PyTorch's: .grad accumulation, leaves and non-leaves, hooks,
retain_graph, higher order, autograd.grad / backward options, in-place ops with version
counters, composites, long graphs and gradcheck.

Expected numbers are closed forms or were checked against reference PyTorch 2.13 (CPU); this
file never imports torch. Error messages live in test_errors.py.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest

import tracegrad
import tracegrad.nn.functional as F
from tracegrad.autograd import GradcheckError, gradcheck, gradgradcheck

grad = tracegrad.autograd.grad


def _leaf(values, dtype=tracegrad.float32):
    return tracegrad.tensor(values, dtype=dtype, requires_grad=True)


def _f64(values):
    return _leaf(values, tracegrad.float64)


# ---- .grad accumulation ----

def test_backward_accumulates_into_grad_until_zeroed():
    x = _leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_accumulation_updates_the_grad_tensor_in_place():
    x = _leaf([2.0])
    (x * 3).backward()
    first = x.grad
    (x * 3).backward()
    assert x.grad is first and first.tolist() == [6.0]


def test_grad_can_be_reset_to_none_and_assigned():
    x = _leaf([1.0, 2.0])
    (x * 3).sum().backward()
    x.grad = None
    assert x.grad is None
    assigned = tracegrad.ones(2)
    x.grad = assigned
    (x * 3).sum().backward()
    assert x.grad is assigned and assigned.tolist() == [4.0, 4.0]


def test_grad_can_be_assigned_to_a_tensor_without_requires_grad():
    x = tracegrad.tensor([1.0, 2.0])
    x.grad = tracegrad.ones(2)
    assert x.grad.tolist() == [1.0, 1.0]


def test_seed_002_leaves_grads_and_grad_fns():
    w, x = _leaf([1.0]), _leaf([2.0])
    a = tracegrad.add(w, x)
    b = tracegrad.add(w, 1)
    y = tracegrad.mul(a, b)
    y.backward()
    assert (w.grad.tolist(), x.grad.tolist()) == ([5.0], [2.0])
    assert [t.is_leaf for t in (w, x, a, b, y)] == [True, True, False, False, False]
    assert w.grad_fn is None and x.grad_fn is None
    assert [t.grad_fn.name() for t in (a, b, y)] == ["AddBackward0", "AddBackward0",
                                                     "MulBackward0"]
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")


def test_non_leaf_grad_access_warns_and_returns_none():
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match=r"The \.grad attribute of a Tensor that is not a leaf "
                                         r"Tensor is being accessed"):
        assert y.grad is None


def test_grad_of_a_tensor_that_does_not_require_grad_is_none_without_warning(recwarn):
    y = tracegrad.tensor([1.0]) * 2
    assert y.grad is None
    assert not recwarn.list


def test_retain_grad_populates_a_non_leaf_grad(recwarn):
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    assert y.retains_grad and y.grad.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [8.0, 16.0]
    assert not recwarn.list


def test_retained_grad_accumulates_across_backward_calls():
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward(retain_graph=True)
    (y * y).sum().backward()
    assert y.grad.tolist() == [8.0, 16.0]


def test_retain_grad_on_a_leaf_is_a_no_op():
    x = _leaf([1.0])
    x.retain_grad()
    assert not x.retains_grad


def test_retain_grad_of_a_composite_output_counts_once():
    x = _leaf([1.0, 2.0])
    m = x.mean()
    m.retain_grad()
    m.backward()
    assert m.grad.tolist() == 1.0 and x.grad.tolist() == [0.5, 0.5]


# ---- hooks ----

def test_hook_on_a_leaf_changes_its_gradient_until_removed():
    x = _leaf([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_hook_on_a_non_leaf_changes_the_gradient_flowing_on():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    assert x.grad.tolist() == [180.0, 360.0]


def test_removed_non_leaf_hook_does_not_run():
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 100).remove()
    (y * y).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_hook_returning_none_sees_the_summed_gradient_once():
    seen = []
    x = _leaf([1.0])
    y = x * 2
    y.register_hook(lambda g: seen.append(g.tolist()))
    (y * y + y).sum().backward()
    assert seen == [[5.0]] and x.grad.tolist() == [10.0]


def test_hooks_compose_in_registration_order():
    x = _leaf([1.0])
    x.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g + 1)
    (x * 1).sum().backward()
    assert x.grad.tolist() == [3.0]


@pytest.mark.parametrize("register_first", [True, False], ids=["hook_first", "retain_first"])
def test_retained_grad_sees_the_hooked_gradient(register_first):
    x = _leaf([1.0, 2.0])
    h = x * 3
    if register_first:
        h.register_hook(lambda g: g * 10)
        h.retain_grad()
    else:
        h.retain_grad()
        h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    assert h.grad.tolist() == [60.0, 120.0] and x.grad.tolist() == [180.0, 360.0]


def test_autograd_grad_returns_the_hooked_gradient_of_an_input():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    assert grad((h * h).sum(), h)[0].tolist() == [60.0, 120.0]
    x.register_hook(lambda g: g * 10)
    assert grad((x * x).sum(), x)[0].tolist() == [20.0, 40.0]


def test_autograd_grad_of_an_input_that_is_also_passed_through_is_captured_before_its_hooks():
    # PyTorch's order: an input whose node must still run is captured before the tensor hooks.
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    gh, gx = grad((h * h).sum(), [h, x])
    assert gh.tolist() == [6.0, 12.0] and gx.tolist() == [180.0, 360.0]


def test_leaf_hook_applies_under_create_graph():
    x = _leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (g,) = grad((x * x).sum(), x, create_graph=True)
    assert g.tolist() == [20.0, 40.0] and g.grad_fn.name() == "MulBackward0"


def test_hook_of_a_leaf_outside_backward_inputs_does_not_run():
    seen = []
    x, w = _leaf([1.0, 2.0]), _leaf([1.0, 2.0])
    x.register_hook(seen.append)
    (x * w).sum().backward(inputs=[w])
    assert seen == [] and w.grad.tolist() == [1.0, 2.0]


# ---- retain_graph and saved values ----

def test_retain_graph_allows_a_second_backward():
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


@pytest.mark.parametrize("build", [
    lambda x: (x + 1).sum(),
    lambda x: (-x - x + 1).sum(),
    lambda x: (x + 1).mean(),
    lambda x: tracegrad.stack([x + 1, x + 2]).sum(),
    lambda x: x.clone().sum(),
    lambda x: x.reshape(2, 1).t().sum(),
    lambda x: x[1:].sum(),
    lambda x: tracegrad.cat([x, x]).sum(),
    lambda x: x.double().sum(),
    lambda x: (x + tracegrad.ones(3, 2)).sum(),
], ids=["add", "neg_sub", "mean", "stack", "clone", "reshape_t", "slice", "cat", "to_double",
        "broadcast"])
def test_graph_without_needed_saved_values_can_be_backwarded_twice(build):
    # PyTorch raises only when a node needs a saved tensor that was freed; these save none.
    x = _leaf([1.0, 2.0])
    y = build(x)
    y.backward()
    first = x.grad.tolist()
    y.backward()
    assert x.grad.tolist() == [2 * v for v in first]


def test_seed_002_graph_is_freed_after_backward():
    w, x = _leaf([1.0]), _leaf([2.0])
    y = (w + x) * (w + 1)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_autograd_grad_with_retain_graph_then_backward():
    x = _leaf([1.0, -1.0])
    y = (x * x).sum()
    assert grad(y, x, retain_graph=True)[0].tolist() == [2.0, -2.0]
    y.backward()
    assert x.grad.tolist() == [2.0, -2.0]


def test_second_order_through_a_composite_without_retain_graph():
    # The composite's inner nodes run twice in the second pass: in its replay and directly
    # (reached through saved values). They must not be freed in between.
    rng = np.random.default_rng(0)
    x0, c = rng.standard_normal((3, 4)), np.arange(12.0).reshape(3, 4)

    def hessian_vector(softmax):
        x = tracegrad.tensor(x0, requires_grad=True)
        (gx,) = grad((softmax(x) ** 2).sum(), x, create_graph=True)
        (gx * tracegrad.tensor(c)).sum().backward()
        return x.grad.numpy()

    def decomposed(x):
        e = (x - x.amax(1, keepdim=True).detach()).exp()
        return e / e.sum(1, keepdim=True)

    np.testing.assert_allclose(hessian_vector(lambda x: F.softmax(x, 1)),
                               hessian_vector(decomposed), rtol=1e-12)


# ---- higher order ----

def test_seed_002_second_derivative_of_x_squared():
    x = _leaf([3.0])
    y = tracegrad.pow(x, 2)
    grad_1 = grad(y, x, create_graph=True)
    assert repr(grad_1) == "(tensor([6.], grad_fn=<MulBackward0>),)"
    grad_2 = grad(grad_1[0], x)
    assert repr(grad_2) == "(tensor([2.]),)"


def _derivatives(fn, x, order):
    out, result = fn(x), []
    for k in range(order):
        (out,) = grad(out, x, create_graph=k < order - 1)
        result.append(out.item())
    return result


@pytest.mark.parametrize(("fn", "at", "expected"), [
    (lambda x: x ** 3, 2.0, lambda v: [3 * v * v, 6 * v, 6.0]),
    (lambda x: x.sin(), 0.5, lambda v: [math.cos(v), -math.sin(v), -math.cos(v)]),
    (lambda x: x.exp() * x, 0.7, lambda v: [math.exp(v) * (v + k) for k in (1, 2, 3)]),
    (lambda x: x.tanh(), 0.3, lambda v: [
        1 - math.tanh(v) ** 2,
        -2 * math.tanh(v) * (1 - math.tanh(v) ** 2),
        (1 - math.tanh(v) ** 2) * (6 * math.tanh(v) ** 2 - 2)]),
    (lambda x: x.tanh().exp(), 0.3, lambda v: [
        math.exp(math.tanh(v)) * (1 - math.tanh(v) ** 2),
        math.exp(math.tanh(v)) * (1 - math.tanh(v) ** 2)
        * (1 - math.tanh(v) ** 2 - 2 * math.tanh(v))]),
], ids=["cube", "sin", "x_exp", "tanh", "exp_tanh"])
def test_higher_order_derivatives_match_closed_forms(fn, at, expected):
    want = expected(at)
    got = _derivatives(fn, _f64(at), len(want))
    assert got == pytest.approx(want, rel=1e-12)


def test_mixed_partials_of_a_product_of_two_leaves():
    x, w = _f64(2.0), _f64(3.0)
    y = x * x * w ** 3                          # dy/dx = 2 x w^3
    (gx,) = grad(y, x, create_graph=True)
    assert gx.item() == 108.0
    gxx, gxw = grad(gx, [x, w], retain_graph=True)
    assert (gxx.item(), gxw.item()) == (54.0, 108.0)  # 2 w^3, 6 x w^2
    (gxww,) = grad(grad(gx, w, create_graph=True)[0], w)
    assert gxww.item() == 72.0                  # 12 x w


def test_backward_create_graph_then_backward_of_the_grad():
    x = _leaf([2.0])
    with pytest.warns(UserWarning, match="Using backward\\(\\) with create_graph=True will create "
                                         "a reference cycle"):
        (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.tolist() == [12.0] and type(g.grad_fn).__name__ == "CopyBackwards"
    x.grad = None
    g.backward()
    assert x.grad.tolist() == [12.0]


def test_create_graph_gradients_stored_in_two_leaves_are_not_aliases():
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the reference-cycle warning
        (x + y).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and y.grad.tolist() == [1.0, 1.0]


def test_grad_outputs_that_require_grad_are_differentiable():
    x, v = _leaf([2.0]), _leaf([3.0])
    (g,) = grad(x * x, x, v, create_graph=True)
    assert g.tolist() == [12.0]
    assert grad(g, v)[0].tolist() == [4.0]


# ---- autograd.grad options ----

def test_autograd_grad_weights_with_grad_outputs_and_casts_integers():
    x = _leaf([1.0, 2.0])
    y = x * x
    assert grad(y, x, tracegrad.tensor([1.0, 10.0]), retain_graph=True)[0].tolist() == [2.0, 40.0]
    (g,) = grad([y], [x], grad_outputs=[tracegrad.tensor([1, 10])])
    assert g.tolist() == [2.0, 40.0] and g.dtype is tracegrad.float32


def test_autograd_grad_with_several_outputs_and_inputs_sums_over_outputs():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    gx, gw = grad([(x * w).sum(), (x + w).sum()], [x, w])
    assert gx.tolist() == [4.0, 5.0] and gw.tolist() == [2.0, 3.0]


def test_autograd_grad_none_grad_output_for_a_scalar_output():
    x = _leaf([1.0, 2.0])
    (g,) = grad([x.sum(), x * 2], [x], grad_outputs=[None, tracegrad.ones(2)])
    assert g.tolist() == [3.0, 3.0]


def test_autograd_grad_allow_unused_gives_none():
    x, w = _leaf([1.0]), _leaf([1.0])
    gx, gw = grad(x * 2, [x, w], allow_unused=True)
    assert gx.tolist() == [2.0] and gw is None


@pytest.mark.parametrize("create_graph", [False, True])
def test_autograd_grad_materialize_grads_gives_zeros(create_graph):
    x, w = _leaf([1.0]), _leaf([1.0, 2.0])
    gx, gw = grad(x * 2, [x, w], materialize_grads=True, create_graph=create_graph)
    assert gx.tolist() == [2.0] and gw.tolist() == [0.0, 0.0]
    assert gw.dtype is tracegrad.float32 and gw.requires_grad is create_graph


def test_autograd_grad_with_respect_to_non_leaves():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h2 = h * h
    y = (h2 * h).sum()
    gh2, gh = grad(y, [h2, h], retain_graph=True)
    assert gh2.tolist() == [3.0, 6.0] and gh.tolist() == [27.0, 108.0]
    assert grad(y, h)[0].tolist() == [27.0, 108.0]
    assert x.grad is None


def test_autograd_grad_does_not_touch_grad_fields():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert grad((h * h).sum(), x)[0].tolist() == [18.0, 36.0]
    assert x.grad is None
    assert h.grad.tolist() == [6.0, 12.0]          # retain_grad still fills, as in PyTorch


def test_autograd_grad_of_a_leaf_with_respect_to_itself():
    x = _leaf([1.0, 2.0])
    assert grad(x, x, tracegrad.tensor([3.0, 4.0]))[0].tolist() == [3.0, 4.0]


def test_autograd_grad_returns_a_fresh_tensor_not_the_grad_output():
    x = _leaf([1.0, 2.0])
    seed = tracegrad.ones(2)
    (g,) = grad(x * 1, x, seed)
    assert g.tolist() == [1.0, 1.0]


# ---- backward options ----

def test_backward_inputs_accumulates_only_into_those():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [1.0, 2.0]
    (x * w).sum().backward(inputs=x)
    assert x.grad.tolist() == [3.0, 4.0] and w.grad.tolist() == [1.0, 2.0]


def test_backward_inputs_of_an_unused_leaf_leaves_grads_alone():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (x * 2).sum().backward(inputs=[w])
    assert x.grad is None and w.grad is None


def test_backward_inputs_with_a_non_leaf_retains_its_grad(recwarn):
    x = _leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    y.backward(inputs=[h], retain_graph=True)
    assert h.retains_grad and h.grad.tolist() == [6.0, 12.0] and x.grad is None
    y.backward()
    assert h.grad.tolist() == [12.0, 24.0] and x.grad.tolist() == [18.0, 36.0]
    assert not recwarn.list


def test_backward_inputs_with_a_retaining_non_leaf_and_its_leaf_counts_once():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward(inputs=[h, x])
    assert h.grad.tolist() == [6.0, 12.0] and x.grad.tolist() == [18.0, 36.0]


def test_backward_inputs_applies_hooks():
    x = _leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward(inputs=[h, x])
    assert h.grad.tolist() == [60.0, 120.0] and x.grad.tolist() == [1800.0, 3600.0]


def test_backward_of_a_leaf_itself():
    x = _leaf([2.0, 3.0])
    x.backward(tracegrad.tensor([1.0, 5.0]))
    assert x.grad.tolist() == [1.0, 5.0]


def test_backward_of_a_single_element_non_scalar_needs_no_gradient():
    x = _leaf([[2.0]])
    (x * x).backward()
    assert x.grad.tolist() == [[4.0]]


def test_autograd_backward_with_several_tensors():
    x = _leaf([1.0, 2.0])
    tracegrad.autograd.backward([(x * x).sum(), x * 3], [None, tracegrad.ones(2)])
    assert x.grad.tolist() == [5.0, 7.0]


def test_seed_002_cat_with_integer_gradient_weights():
    w, x = _leaf([1.0]), _leaf([2.0])
    a, b = w + x, w + 1
    y, y1 = a * b, a + b
    loss = tracegrad.cat([y, y1], dim=0)
    assert loss.grad_fn.name() == "CatBackward0"
    loss.backward(gradient=tracegrad.tensor([1, 1]), retain_graph=True)
    assert w.grad.tolist() == [7.0]                  # 5 + 2
    w.grad.zero_()
    loss.backward(gradient=tracegrad.tensor([1, 2]))
    assert w.grad.tolist() == [9.0]                  # 5 + 2 * 2
    assert w.grad.dtype is tracegrad.float32


def test_gradient_of_another_float_dtype_is_cast_to_the_output_dtype():
    x = _leaf([2.0, 3.0])
    (x * 2).backward(tracegrad.tensor([1.0, 1.0], dtype=tracegrad.float64))
    assert x.grad.dtype is tracegrad.float32 and x.grad.tolist() == [2.0, 2.0]
    x64 = _f64([2.0, 3.0])
    (g,) = grad(x64 * 2, x64, tracegrad.tensor([1.0, 1.0]))
    assert g.dtype is tracegrad.float64


def test_mixed_dtype_graph_gives_leaf_dtype_gradients():
    x = _leaf([2.0, 3.0])
    (x.double() * tracegrad.tensor([1.0, 2.0], dtype=tracegrad.float64)).sum().backward()
    assert x.grad.dtype is tracegrad.float32 and x.grad.tolist() == [1.0, 2.0]


def test_seed_002_mean_example():
    x = tracegrad.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    assert repr(out) == "tensor(27., grad_fn=<MeanBackward0>)"
    assert out.backward() is None
    assert x.grad.tolist() == [[4.5, 4.5], [4.5, 4.5]]


# ---- graph structure ----

def test_requires_grad_propagates_and_constants_stay_leaves():
    x, c = _leaf([1.0]), tracegrad.tensor([2.0])
    assert (x * c).requires_grad and not (x * c).is_leaf
    assert not (c * c).requires_grad and (c * c).is_leaf


def test_grad_fn_names_follow_pytorch():
    x = _leaf([1.0, 2.0])
    made = [x + 1, x - 1, 1 - x, x * 2, x / 2, x ** 2, 2 ** x, x.exp(), x.sum(), x.mean(), -x,
            x @ x, x.tanh(), x.clone(), x.double()]
    assert [t.grad_fn.name() for t in made] == [
        "AddBackward0", "SubBackward0", "RsubBackward1", "MulBackward0", "DivBackward0",
        "PowBackward0", "PowBackward2", "ExpBackward0", "SumBackward0", "MeanBackward0",
        "NegBackward0", "DotBackward0", "TanhBackward0", "CloneBackward0", "ToCopyBackward0"]
    assert type(made[3].grad_fn).__name__ == "MulBackward0"


def test_next_functions_lead_to_accumulate_grad():
    x = _leaf([1.0, 2.0])
    y = x * 2 + x
    (mul, _), (acc, _) = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0" and type(acc).__name__ == "AccumulateGrad"
    assert acc.variable is x
    assert mul.next_functions[0][0] is acc and mul.next_functions[1][0] is None


def test_diamond_graph_sums_both_paths():
    x = _leaf([2.0])
    a = x * 3
    b = a * a
    c = a + b
    d = b * c                                    # a^3 + a^4
    d.backward()
    assert x.grad.tolist() == [3 * (3 * 36 + 4 * 216)]


def test_shared_subexpression_gradient():
    x = _f64([1.0, 2.0])
    s = x.exp()
    (s * s + s).sum().backward()
    expected = [2 * math.exp(2 * v) + math.exp(v) for v in (1.0, 2.0)]
    assert x.grad.tolist() == pytest.approx(expected, rel=1e-14)


def test_long_chain_of_100000_ops_backward_is_iterative():
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)                   # a recursive engine or sort would fail
    try:
        x = _leaf(1.0)
        y = x
        for _ in range(100_000):
            y = -y
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.item() == 1.0


def test_long_multiplicative_chain_matches_closed_form():
    x = _f64(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_create_graph_through_a_long_chain_and_a_loop_of_grads():
    x = _f64(2.0)
    y = x
    for _ in range(3_000):
        y = y * 1.0001 + 0.5
    y = y * x                                    # c x^2 + d x, c = 1.0001^3000
    c = 1.0001 ** 3_000
    (g,) = grad(y, x, create_graph=True)
    assert g.grad_fn is not None
    assert grad(g, x)[0].item() == pytest.approx(2 * c, rel=1e-9)
    z = _f64(0.5)
    g = z.sin()
    for _ in range(8):                           # the 8th derivative of sin is sin
        (g,) = grad(g, z, create_graph=True)
    assert g.item() == pytest.approx(math.sin(0.5), rel=1e-12)


# ---- in-place ops and version counters ----

def test_in_place_ops_bump_the_version_counter():
    x = tracegrad.zeros(2)
    versions = [x._version]
    for change in (lambda t: t.add_(1), lambda t: t.sub_(1), lambda t: t.mul_(2),
                   lambda t: t.div_(2), lambda t: t.zero_(), lambda t: t.fill_(1),
                   lambda t: t.copy_(tracegrad.ones(2)), lambda t: t.clamp_(min=0),
                   lambda t: t.pow_(2)):
        change(x)
        versions.append(x._version)
    x += 1
    versions.append(x._version)
    x -= 1
    versions.append(x._version)
    x *= 2
    versions.append(x._version)
    x /= 2
    versions.append(x._version)
    x[0] = 3
    versions.append(x._version)
    assert versions == list(range(15)) and x.tolist() == [3.0, 1.0]


def test_augmented_assignment_keeps_the_tensor_object():
    a = _leaf([1.0, 1.0])
    x = a * 1
    alias = x
    x += 1
    assert x is alias and x.grad_fn.name() == "AddBackward0" and x.tolist() == [2.0, 2.0]


def test_in_place_chain_on_a_non_leaf_gives_correct_gradients():
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0] and y.grad_fn.name() == "MulBackward0"
    assert y._version == 2


@pytest.mark.parametrize(("change", "expected", "name"), [
    (lambda y, x: y.mul_(x), [2.0, 4.0], "MulBackward0"),          # d(x*x)/dx, self saved
    (lambda y, x: y.div_(2), [0.5, 0.5], "DivBackward0"),
    (lambda y, x: y.sub_(x, alpha=3), [-2.0, -2.0], "SubBackward0"),
    (lambda y, x: y.pow_(2), [2.0, 4.0], "PowBackward0"),
    (lambda y, x: y.clamp_(min=1.5), [0.0, 1.0], None),  # PyTorch: ClampBackward1
], ids=["mul_", "div_", "sub_alpha", "pow_", "clamp_"])
def test_in_place_op_that_reads_its_old_value_differentiates_correctly(change, expected, name):
    x = _leaf([1.0, 2.0])
    y = x + 0
    change(y, x)
    y.sum().backward()
    assert x.grad.tolist() == expected
    assert name is None or y.grad_fn.name() == name


def test_in_place_op_by_a_tensor_that_requires_grad():
    x, n = _leaf([1.0, 2.0]), _leaf(2.0)
    y = x * 3
    y.div_(n)
    y.sum().backward()
    assert x.grad.tolist() == [1.5, 1.5] and n.grad.item() == -2.25


def test_zero_on_a_non_leaf_keeps_it_in_the_graph_with_zero_gradient():
    x = _leaf([1.0, 2.0])
    y = x * 3
    y.zero_()
    assert y.requires_grad and y.grad_fn.name() == "ZeroBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_fill_on_a_non_leaf_and_with_a_tensor_value():
    x = _leaf([1.0, 2.0])
    y = x * 3
    y.fill_(2)
    assert y.grad_fn.name() == "FillBackward2"
    (y * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    v = _leaf(3.0)
    z = tracegrad.zeros(2)
    z.fill_(v)
    z.sum().backward()
    assert z.tolist() == [3.0, 3.0] and v.grad.item() == 2.0


def test_copy_into_a_plain_tensor_from_one_that_requires_grad():
    w = _leaf([1.0, 2.0])
    x = tracegrad.zeros(2)
    x.copy_(w)
    assert not x.is_leaf and type(x.grad_fn).__name__ == "CopyBackwards"
    (x * x).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]
    v = _leaf([1.0, 2.0])
    m = tracegrad.zeros(2, 2)
    m.copy_(v)
    m.sum().backward()
    assert v.grad.tolist() == [2.0, 2.0]


def test_copy_into_a_leaf_under_no_grad():
    x = _leaf([1.0, 2.0])
    with tracegrad.no_grad():
        x.copy_(tracegrad.tensor([5.0, 6.0]))
    assert x.tolist() == [5.0, 6.0] and x.is_leaf and x.requires_grad


def test_setitem_with_a_mask_inside_the_graph():
    x = _leaf([1.0, -2.0, 3.0])
    g = x * 2
    g[x < 0] = 0
    g.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0] and g.tolist() == [2.0, 0.0, 6.0]


def test_setitem_of_a_value_that_requires_grad():
    x = tracegrad.zeros(3)
    v = _leaf(5.0)
    x[1] = v
    assert not x.is_leaf and x.requires_grad
    x.sum().backward()
    assert v.grad.item() == 1.0


def test_setitem_twice_then_product():
    x = _leaf([1.0, -2.0, 3.0])
    g = x * 2
    g[0] = 10.0
    g[x < 0] = 0
    (g * x).sum().backward()
    assert x.grad.tolist() == [10.0, 0.0, 12.0]


def test_setitem_slice_and_mask_with_tensor_values():
    x, v = _leaf([0.0, 0.0, 0.0, 0.0]), _leaf([1.0, 2.0])
    g = x * 1
    g[1:3] = v * 2
    (g * g).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0] and v.grad.tolist() == [8.0, 16.0]
    y, u = _leaf([1.0, -2.0, 3.0]), _leaf(7.0)
    h = y * 1
    h[y < 0] = u
    (h * h).sum().backward()
    assert y.grad.tolist() == [2.0, 0.0, 6.0] and u.grad.item() == 14.0


def test_seed_002_manual_backprop_matches_autograd():
    tracegrad.manual_seed(0)
    x, y = tracegrad.randn(4, 5), tracegrad.randn(4, 2)
    w1, w2 = tracegrad.randn(5, 3), tracegrad.randn(3, 2)
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    grad_y_pred = 2.0 * (h_relu.mm(w2) - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h = grad_y_pred.mm(w2.t()).clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    w1a, w2a = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    (x.mm(w1a).clamp(min=0).mm(w2a) - y).pow(2).sum().backward()
    np.testing.assert_allclose(w1a.grad.numpy(), grad_w1.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w2a.grad.numpy(), grad_w2.numpy(), rtol=1e-5, atol=1e-5)


def test_changing_an_input_that_add_did_not_save_is_fine():
    x0 = _leaf([1.0, 2.0])
    x = x0 * 1
    y = x + 1
    x.add_(1)
    y.sum().backward()
    assert x0.grad.tolist() == [1.0, 1.0]


def test_changing_the_operand_whose_gradient_is_not_needed_is_fine():
    x0 = _leaf([1.0, 2.0])
    x = x0 * 1
    y = x * tracegrad.tensor([3.0, 4.0])          # only the constant is read, for x's grad
    x.add_(1)
    y.sum().backward()
    assert x0.grad.tolist() == [3.0, 4.0]
    w = _leaf([3.0, 4.0])
    c = tracegrad.tensor([1.0, 2.0])
    a = c * w
    with tracegrad.no_grad():
        w.add_(1)
    a.sum().backward()
    assert w.grad.tolist() == [1.0, 2.0]


def test_detach_shares_the_version_counter_with_the_graph():
    x = _leaf([1.0, 2.0])
    y = x.exp()
    y.detach().add_(1)
    assert y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_data_changes_are_not_seen_by_version_checks():
    x = _leaf([1.0, 2.0])
    y = x.exp()
    y.data.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([math.e + 1, math.exp(2) + 1], rel=1e-6)


# ---- views ----

def test_views_share_data_and_the_version_counter():
    x = tracegrad.ones(3)
    v = x[1:]
    r = x.reshape(3, 1)
    x.add_(1)
    assert v.tolist() == [2.0, 2.0] and r.tolist() == [[2.0], [2.0], [2.0]]
    assert v._version == r._version == x._version == 1
    v.add_(1)
    v[0] = 5
    assert x.tolist() == [2.0, 5.0, 3.0] and x._version == 3


def test_in_place_through_a_view_under_no_grad_changes_the_leaf():
    x = tracegrad.ones(3, requires_grad=True)
    with tracegrad.no_grad():
        x[1:].mul_(2)
    assert x.tolist() == [1.0, 2.0, 2.0] and x._version == 1


def test_view_taken_before_an_in_place_change_of_its_base_raises_instead_of_lying():
    x0 = _leaf([1.0, 1.0, 1.0])
    x = x0 * 2
    v = x[:2]
    x.mul_(3)                                    # PyTorch rebases v; tracegrad cannot
    with pytest.raises(tracegrad.UnsupportedError, match="taken before its base tensor was "
                                                         "changed in place"):
        v.sum()


def test_in_place_change_of_a_view_in_a_graph_raises_instead_of_lying():
    x0 = _leaf([1.0, 1.0, 1.0])
    x = x0 * 1
    with pytest.raises(tracegrad.UnsupportedError, match="in-place change of a view"):
        x[1:].mul_(2)


# ---- gradcheck ----

def test_gradcheck_accepts_correct_functions():
    x = _f64([0.3, -0.7, 1.1])
    w = _f64([[0.5, 0.2, -0.1], [0.3, 0.8, 0.9]])
    assert gradcheck(lambda a: (a.sin() * a).exp(), (x,))
    assert gradcheck(lambda a, b: (b @ a).tanh(), (x, w))
    assert gradcheck(lambda a: (a * 2, a.exp()), (x,))
    assert gradcheck(lambda a, k: a * k, (x, 3.0))
    assert gradcheck(lambda a: a.exp(), x)
    assert x.tolist() == [0.3, -0.7, 1.1]        # the perturbed inputs are restored


def test_gradcheck_of_a_non_contiguous_input():
    x = tracegrad.from_numpy(np.arange(6.0).reshape(2, 3).T * 0.1).requires_grad_()
    assert gradcheck(lambda t: (t * t).sum(0), (x,))


def test_gradgradcheck_accepts_correct_functions():
    x = _f64([0.3, -0.7, 1.1])
    w = _f64([[0.5, 0.2, -0.1], [0.3, 0.8, 0.9]])
    assert gradgradcheck(lambda a, b: (b @ a).tanh(), (x, w))
    assert gradgradcheck(lambda a: a.sin() * a.exp(), (x,))


def test_gradcheck_rejects_a_function_hiding_a_dependency_with_detach():
    x = _f64([0.3, -0.7, 1.1])
    wrong = lambda a: a.detach() * a        # noqa: E731
    assert gradcheck(wrong, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0"):
        gradcheck(wrong, (x,))
    assert issubclass(GradcheckError, RuntimeError)


def test_gradgradcheck_rejects_a_wrong_second_derivative():
    x = _f64([0.3, -0.7, 1.1])
    wrong = lambda a: a * a.detach() * a    # noqa: E731  (first derivative wrong as well)
    assert gradgradcheck(wrong, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError):
        gradgradcheck(wrong, (x,))


def test_contiguity_follows_the_storage_and_contiguous_copies_as_pytorch():
    x = tracegrad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.is_contiguous() and x.contiguous() is x
    t = x.t()
    assert not t.is_contiguous() and not tracegrad.tensor([[1.0, 2.0]]).expand(3, 2).is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.grad_fn.name() == "CloneBackward0"
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    c.mul_(2.0)                                 # its own storage: in place is allowed
    weights = tracegrad.tensor(np.arange(6.0).reshape(3, 2))
    (c * weights).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * weights.numpy().T)
    plain = tracegrad.tensor(np.arange(6.0).reshape(2, 3)).t().contiguous()
    assert plain.is_contiguous() and plain.grad_fn is None
