"""Every op in the op table has a lowering, and its kernel equals the numpy reference on every
sample of `support/samples.py`; every differentiable op's VJP (first and second order) runs
through compiled calls and equals eager mode.

A missing lowering fails `test_every_op_sample_lowers_and_matches_the_reference` for that op's
samples (the op table cannot grow past codegen unnoticed); float16, which kernels do not
support, must be refused by name before any source is written. Kernels run as plain Python
(what TRACEGRAD_JIT=0 selects); one Numba kernel holds the stand-alone lowerings."""

from __future__ import annotations

import numpy as np
import pytest
from support.compiled import assert_all_same, grads_of, plain_python
from support.samples import (Case, all_cases, append_case, diff_operands, grad_cases, op_function,
                             tolerance)

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.codegen.validate import check_supported
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.graph import Graph, verify
from tracegrad.ir.ops import OPS
from tracegrad.runtime.cache import KernelCache


def _is_half(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype == np.float16


def _unsupported(case: Case) -> bool:
    """float16 anywhere (operands, result or a dtype attribute): kernels refuse it."""
    return (any(_is_half(x) for x in case.operands) or case.reference().dtype == np.float16
            or case.attrs.get("dtype") is dt.float16)


SUPPORTED = [c for c in all_cases() if not _unsupported(c)]
HALF = [c for c in all_cases() if _unsupported(c)]


def _graph(name: str, cases: list[Case]) -> tuple[Graph, list[np.ndarray]]:
    b = GraphBuilder(name, record_locations=False)
    arrays: list[np.ndarray] = []
    outs = [append_case(b, case, arrays) for case in cases]
    return verify(b.finish(outs)), arrays


def _run(cache: KernelCache, graph: Graph, arrays: list[np.ndarray]) -> list[np.ndarray]:
    check_supported(graph)
    kernel = cache.kernel(graph, "forward")
    args = [a[()] if a.ndim == 0 else a for a in arrays]        # as the runtime passes 0-d
    results = kernel.fn(*args, *kernel.source.constants)
    # Numba returns 0-d results as Python scalars; the runtime restores their dtype the same way
    return [np.asarray(r) if np.ndim(r) else np.asarray(r, v.type.dtype.np)
            for r, v in zip(results, graph.outputs, strict=True)]


def _assert_reference(got: np.ndarray, case: Case) -> None:
    expected = case.reference()
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype), case.id
    np.testing.assert_allclose(got, expected, **tolerance(expected.dtype), equal_nan=True,
                               err_msg=case.id)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> KernelCache:
    return KernelCache(tmp_path_factory.mktemp("op-kernels"))


def test_every_op_has_supported_samples_for_its_lowering():
    covered = {c.op for c in SUPPORTED}
    assert covered == set(OPS), f"ops without a kernel sample: {sorted(set(OPS) - covered)}"


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda c: c.id)
def test_every_op_sample_lowers_and_matches_the_reference(case: Case, cache: KernelCache):
    graph, arrays = _graph(case.op, [case])
    with plain_python():
        (got,) = _run(cache, graph, arrays)
    _assert_reference(got, case)


@pytest.mark.parametrize("case", HALF, ids=lambda c: c.id)
def test_float16_samples_are_refused_by_name_before_codegen(case: Case):
    graph, _ = _graph(case.op, [case])
    with pytest.raises(tg.UnsupportedError, match="float16"):
        check_supported(graph)


# Ops whose lowering is stand-alone code that the Numba tests of programs rarely reach (a
# kernel of every op takes a minute to compile: LLVM time grows with the function).
STAND_ALONE = ("slice", "unslice", "take", "scatter_add", "argmax", "argmin", "sign")


@pytest.mark.numba
def test_one_numba_kernel_of_the_stand_alone_lowerings_matches_the_reference(cache: KernelCache):
    picked: dict[str, Case] = {}
    for case in SUPPORTED:
        if case.op in STAND_ALONE:
            picked.setdefault(case.op, case)
    cases = list(picked.values())
    assert len(cases) == len(STAND_ALONE)
    graph, arrays = _graph("stand_alone_ops", cases)
    for got, case in zip(_run(cache, graph, arrays), cases, strict=True):
        _assert_reference(got, case)


# ---- every VJP through compiled calls ----

GRAD_CASES = grad_cases()


def _leaves(case: Case) -> list[tg.Tensor]:
    return [tg.tensor(x, dtype=tg.float64, requires_grad=True) for x in diff_operands(case)]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_every_vjp_through_a_compiled_call_equals_eager(case: Case):
    fn = op_function(case)
    rng = np.random.default_rng(7)
    results = []
    for call in (fn, tg.compile(fn)):
        leaves = _leaves(case)
        with plain_python():
            out = call(*leaves)
            u = rng.standard_normal(out.shape) if not results else results[0][0]
            (out * tg.tensor(u)).sum().backward()
        results.append((u, grads_of(leaves)))
    assert_all_same(results[1][1], results[0][1], what=case.id)


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_every_second_order_vjp_through_compiled_calls_equals_eager(case: Case):
    fn = op_function(case)
    rng = np.random.default_rng(8)
    us = [rng.standard_normal(np.shape(case.reference()))]
    ws = [rng.standard_normal(np.shape(x)) for x in diff_operands(case)]
    results = []
    for call in (fn, tg.compile(fn)):
        leaves = _leaves(case)
        with plain_python():
            firsts = tg.autograd.grad(call(*leaves), leaves, tg.tensor(us[0]), create_graph=True)
            total = sum((g * tg.tensor(w)).sum() for g, w in zip(firsts, ws, strict=True))
            seconds = [None] * len(leaves)
            if total.requires_grad:
                seconds = tg.autograd.grad(total, leaves, allow_unused=True)
        results.append([np.zeros(x.shape) if s is None else s.numpy()
                        for s, x in zip(seconds, leaves, strict=True)])
    assert_all_same(results[1], results[0], what=case.id)
