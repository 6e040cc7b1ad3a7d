"""The op-table test: every op in OPS × every sample in `support/samples.py`.

(a) `infer` agrees with the numpy reference (`OpDef.compute`) on shape and dtype;
(b) every world (eager today; the interpreter and compiled kernels later) equals the reference;
(c) differentiable ops pass gradient checks at orders 1 and 2 in float64;
(d) every op has samples, and ops without a VJP never produce tensors that require grad.
Kinks are tested separately with the subgradients PyTorch documents.
"""

from __future__ import annotations

import numpy as np
import pytest

import tracegrad
from support.gradcheck import GRAD_WORLDS, check_jacobian, check_vjp
from support.samples import (SAMPLES, WORLDS, Case, all_cases, diff_operands, eager_apply,
                             grad_cases, op_function, tolerance)
from tracegrad.errors import DTypeError, ShapeError
from tracegrad.ir.ops import OPS, Kind
from tracegrad.ir.types import TensorType

CASES = all_cases()
GRAD_CASES = grad_cases()
TINY_GRAD_CASES = [c for c in GRAD_CASES if sum(x.size for x in diff_operands(c)) <= 24]


def ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def f64_leaves(case: Case) -> list[tracegrad.Tensor]:
    return [tracegrad.tensor(x, dtype=tracegrad.float64, requires_grad=True)
            for x in diff_operands(case)]


# ---- (d) completeness ----

def test_every_op_has_samples():
    missing = [name for name in OPS if not SAMPLES.get(name)]
    assert not missing, f"ops without samples in tests/support/samples.py: {missing}"
    unknown = sorted(set(SAMPLES) - set(OPS))
    assert not unknown, f"samples for ops that do not exist: {unknown}"


def test_every_differentiable_op_has_gradient_samples():
    covered = {c.op for c in GRAD_CASES}
    missing = [name for name, op in OPS.items() if op.vjp is not None and name not in covered]
    assert not missing, f"differentiable ops without a grad=True sample: {missing}"


def test_every_op_has_an_eager_backward_name_or_no_vjp():
    for name, op in OPS.items():
        if op.vjp is None:
            continue
        case = next(c for c in SAMPLES[name] if c.grad)
        assert op.grad_fn_name(case.types(), dict(case.attrs)).endswith(
            ("Backward0", "Backward1", "Backward2")), name


def test_samples_match_declared_attrs_and_arity():
    for case in CASES:
        op = OPS[case.op]
        assert tuple(case.attrs) == op.attrs, case.id
        if op.arity >= 0:
            assert len(case.operands) == op.arity, case.id


# ---- (a) infer agrees with the numpy reference ----

@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_infer_matches_reference(case: Case):
    inferred = OPS[case.op].infer(*case.types(), **case.attrs)
    reference = case.reference()
    assert isinstance(inferred, TensorType)
    assert inferred.shape == reference.shape
    assert inferred.dtype.np == reference.dtype


# ---- (b) worlds agree with the reference ----

@pytest.mark.parametrize("world", list(WORLDS))
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_world_matches_reference(world: str, case: Case):
    reference = case.reference()
    result = WORLDS[world](case.op, case)
    assert isinstance(result, np.ndarray)
    assert result.dtype == reference.dtype and result.shape == reference.shape
    np.testing.assert_allclose(result, reference, equal_nan=True, **tolerance(reference.dtype))


def test_eager_apply_returns_a_fresh_tensor_of_the_inferred_type():
    case = SAMPLES["add"][0]
    out = eager_apply("add", case)
    assert isinstance(out, tracegrad.Tensor)
    assert out.type_ == OPS["add"].infer(*case.types())


# ---- (c) gradients: order 1 and 2, float64 ----

@pytest.mark.parametrize("world", list(GRAD_WORLDS))
@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_dot_product_vjp_order_1_and_2(world: str, case: Case):
    check_vjp(GRAD_WORLDS[world], op_function(case), diff_operands(case), order=2)


@pytest.mark.parametrize("world", list(GRAD_WORLDS))
@pytest.mark.parametrize("case", TINY_GRAD_CASES, ids=ids(TINY_GRAD_CASES))
def test_full_jacobian_by_columns(world: str, case: Case):
    check_jacobian(GRAD_WORLDS[world], op_function(case), diff_operands(case))


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_public_gradcheck(case: Case):
    assert tracegrad.autograd.gradcheck(op_function(case), f64_leaves(case))


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_public_gradgradcheck(case: Case):
    assert tracegrad.autograd.gradgradcheck(op_function(case), f64_leaves(case))


# ---- (d) requires_grad of outputs ----

def _grad_probe_cases() -> list[Case]:
    """One case per op that has a float operand (so the operand can require grad)."""
    picked = {}
    for case in CASES:
        if case.op not in picked and case.diff_indices:
            picked[case.op] = case
    return list(picked.values())


PROBES = _grad_probe_cases()


@pytest.mark.parametrize("case", PROBES, ids=ids(PROBES))
def test_requires_grad_follows_the_vjp(case: Case):
    op = OPS[case.op]
    out = eager_apply(case.op, case, requires_grad=True)
    if op.vjp is None:
        assert not out.requires_grad and out.grad_fn is None
    else:
        assert out.requires_grad
        assert out.grad_fn.name() == op.grad_fn_name(case.types(), dict(case.attrs))


@pytest.mark.parametrize("case", PROBES, ids=ids(PROBES))
def test_no_grad_mode_records_nothing(case: Case):
    with tracegrad.no_grad():
        out = eager_apply(case.op, case, requires_grad=True)
    assert not out.requires_grad and out.grad_fn is None


def test_ops_without_vjp_are_exactly_the_expected_ones():
    no_vjp = {name for name, op in OPS.items() if op.vjp is None}
    assert no_vjp == {"full", "const", "sign", "eq", "ne", "lt", "le", "gt", "ge",
                      "stop_gradient", "argmax", "argmin"}


def test_source_ops_have_no_inputs():
    for name, op in OPS.items():
        assert (op.kind is Kind.SOURCE) == (op.arity == 0), name


# ---- infer rejects what the op does not accept ----

F32_34 = TensorType((3, 4), tracegrad.float32)
I64_34 = TensorType((3, 4), tracegrad.int64)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sqrt", "sigmoid", "div"])
def test_float_ops_reject_integer_operands(op: str):
    operands = (I64_34,) * OPS[op].arity
    with pytest.raises(DTypeError, match="floating-point"):
        OPS[op].infer(*operands)


@pytest.mark.parametrize("op", ["add", "mul", "eq", "where"])
def test_elementwise_ops_reject_unequal_shapes(op: str):
    other = TensorType((4,), tracegrad.float32)
    operands = (F32_34, other) if OPS[op].arity == 2 else (
        TensorType((3, 4), tracegrad.bool_), F32_34, other)
    with pytest.raises(ShapeError, match="share a shape"):
        OPS[op].infer(*operands)


def test_elementwise_ops_reject_unequal_dtypes():
    with pytest.raises(DTypeError, match="promote first"):
        OPS["add"].infer(F32_34, I64_34)


def test_matmul_rejects_mismatched_inner_dims():
    with pytest.raises(ShapeError, match=r"\(3x4 and 3x4\)"):
        OPS["matmul"].infer(F32_34, F32_34)


def test_reduce_rejects_unsorted_axes():
    with pytest.raises(ShapeError, match="sorted"):
        OPS["sum"].infer(F32_34, axes=(1, 0), keepdims=False)


# ---- kinks: explicit subgradients (PyTorch's conventions) ----

def _grad_of(fn, values, dtype=tracegrad.float64):
    x = tracegrad.tensor(values, dtype=dtype, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def test_relu_gradient_at_zero_is_zero():
    got = _grad_of(lambda x: x._apply("relu", x), [-1.0, 0.0, -0.0, 2.0])
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 1.0])


def test_abs_gradient_at_zero_is_zero():
    got = _grad_of(lambda x: x._apply("abs", x), [-1.5, 0.0, -0.0, 2.0])
    np.testing.assert_array_equal(got, [-1.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("bounds, expected", [
    ((-0.5, 0.7), [0.0, 1.0, 1.0, 1.0, 0.0]),
    ((-0.5, None), [0.0, 1.0, 1.0, 1.0, 1.0]),
    ((None, 0.7), [1.0, 1.0, 1.0, 1.0, 0.0]),
], ids=["both", "min_only", "max_only"])
def test_clamp_passes_gradient_at_its_boundaries(bounds, expected):
    lo, hi = bounds
    got = _grad_of(lambda x: x._apply("clamp", x, min=lo, max=hi), [-2.0, -0.5, 0.0, 0.7, 3.0])
    np.testing.assert_array_equal(got, expected)


def test_clamp_with_min_above_max_gives_max_and_no_gradient():
    x = tracegrad.tensor([-1.0, 0.5, 2.0], dtype=tracegrad.float64, requires_grad=True)
    y = x.clamp(1.0, 0.0)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, 0.0])   # PyTorch: max wins
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("op", ["max", "min"])
def test_full_reduction_ties_share_the_gradient_evenly(op: str):
    values = [1.0, 3.0, 3.0, -2.0, 3.0, 0.0] if op == "max" else [1.0, -3.0, 0.0, -3.0, 2.0, 5.0]
    got = _grad_of(lambda x: x._apply(op, x, axes=(0,), keepdims=False), values)
    share = 1.0 / 3.0 if op == "max" else 0.5
    expected = np.where(np.array(values) == (max(values) if op == "max" else min(values)),
                        share, 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-15)


@pytest.mark.parametrize("method", ["max", "min", "amax", "amin"])
def test_method_full_reduction_ties_share_evenly(method: str):
    x = tracegrad.tensor([[2.0, 2.0], [2.0, 1.0 if "max" in method else 3.0]],
                         dtype=tracegrad.float64, requires_grad=True)
    getattr(x, method)().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, 1 / 3], [1 / 3, 0.0]])


def test_pow_gradients_at_zero_base():
    """PyTorch: d(x**y)/dx at x=0 is y*0**(y-1) (0 for y>1, inf at y<1), 0 when y == 0;
    d(x**y)/dy at x=0 is 0 for y >= 0."""
    x = tracegrad.tensor([0.0, 0.0, 0.0, 0.0], dtype=tracegrad.float64, requires_grad=True)
    y = tracegrad.tensor([0.0, 1.0, 2.0, 0.5], dtype=tracegrad.float64, requires_grad=True)
    (x ** y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, np.inf])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("exponent, expected", [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 0.0),
                                                (0.5, np.inf), (-1.0, -np.inf)])
def test_pow_scalar_exponent_gradient_at_zero(exponent: float, expected: float):
    got = _grad_of(lambda x: x ** exponent, [0.0])
    np.testing.assert_array_equal(got, [expected])


def test_pow_literal_base_gradient():
    x = tracegrad.tensor([1.0, 2.0], dtype=tracegrad.float64, requires_grad=True)
    (2.0 ** x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.log(2.0) * np.array([2.0, 4.0]), rtol=1e-15)


def test_pow_literal_zero_base_masks_the_exponent_gradient():
    """PyTorch: d(0**y)/dy is 0 where y >= 0 (not 1*log 0 = -inf, nor 0*log 0 = nan)."""
    y = tracegrad.tensor([-1.0, 0.0, 1.0, 2.0], dtype=tracegrad.float64, requires_grad=True)
    (0.0 ** y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [-np.inf, 0.0, 0.0, 0.0])


def test_pow_negative_literal_base_gradient_is_nan():
    y = tracegrad.tensor([0.0, 1.0, 2.0], dtype=tracegrad.float64, requires_grad=True)
    ((-2.0) ** y).sum().backward()
    assert np.isnan(y.grad.numpy()).all()
