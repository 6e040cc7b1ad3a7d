"""Loop-body lowering details that decide kernel speed: integer powers as products, folded
`full` constants as literals inside loops. Kernels run as plain Python (no Numba compile)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from support.compiled import plain_python

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.codegen import lowering
from tracegrad.codegen.build import load_module
from tracegrad.codegen.emit import emit_module
from tracegrad.ir.builder import GraphBuilder
from tracegrad.ir.passes import optimize
from tracegrad.ir.printer import format_graph
from tracegrad.ir.types import TensorType


def _kernel(fn, directory, *arrays):
    graph = optimize(tg.make_graph(fn)(*arrays))
    key = hashlib.sha256(("plain|" + format_graph(graph)).encode()).hexdigest()
    with plain_python():
        text, source = emit_module(graph, "forward", key)
        module, _ = load_module(directory, key, text)
    return getattr(module, source.function), text


@pytest.mark.parametrize("n", [3, 4, -1, -2, -3, 0])
def test_integer_powers_lower_to_products(n, tmp_path):
    x = np.array([-2.5, -1.0, -0.0, 0.3, 1.7, 3.0, np.inf, np.nan])
    fn, text = _kernel(lambda x: x ** float(n), tmp_path, x)
    assert "vm.pow" not in text
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.power(x, float(n))
        (got,) = fn(x)
    np.testing.assert_allclose(got, want, rtol=5e-16)          # within 2 ulp of pow


def test_other_powers_keep_vmath_pow(tmp_path):
    x = np.array([0.5, 2.0])
    fn, text = _kernel(lambda x: x ** 2.5, tmp_path, x)
    assert "vm.pow_f64(" in text
    np.testing.assert_allclose(fn(x)[0], x ** 2.5, rtol=1e-15)


def test_a_folded_full_is_a_literal_in_the_loop_not_an_array(tmp_path):
    x = np.linspace(-1.0, 1.0, 1000)
    fn, text = _kernel(tg.grad(lambda x: (0.5 * x * x + x).sum()), tmp_path, x)
    assert "np.full((1000" not in text
    np.testing.assert_allclose(fn(x)[0], x + 1.0, rtol=1e-15, atol=1e-15)


def test_a_fractional_literal_is_not_truncated_next_to_an_integer_tensor(tmp_path):
    """The op table allows eq(i32 tensor, 2.5) (the tracer casts first; graphs built directly
    need not); numpy compares as floats."""
    b = GraphBuilder("f", record_locations=False)
    x = b.add_input(TensorType((3,), dt.int32), "x").value
    graph = b.finish([b.append(op, (x, 2.5), {}) for op in ("eq", "lt")])
    key = hashlib.sha256(("plain|" + format_graph(graph)).encode()).hexdigest()
    with plain_python():
        text, source = emit_module(graph, "forward", key)
        module, _ = load_module(tmp_path, key, text)
    assert "np.float64(2.5)" in text
    eq, lt = getattr(module, source.function)(np.array([2, 3, -2], dtype=np.int32))
    np.testing.assert_array_equal(eq, [False, False, False])
    np.testing.assert_array_equal(lt, [True, False, True])


def test_integer_powers_of_integer_tensors_stay_exact(tmp_path):
    x, y = np.array([2, 3, 5, 7], dtype=np.int64), np.array([10, 3, 0, 20], dtype=np.int64)
    fn, text = _kernel(lambda x, y: x ** y, tmp_path, x, y)
    assert "vm.pow" not in text
    np.testing.assert_array_equal(fn(x, y)[0], x ** y)


def test_large_buffers_are_allocated_by_numpy_around_the_njit_loops(tmp_path, monkeypatch):
    """Outputs of HOIST_BYTES or more come from a Python entry point (numpy asks for huge
    pages; Numba's allocator faults on every 4 KiB page of a fresh mapping)."""
    monkeypatch.setattr(lowering, "HOIST_BYTES", 64)
    x = np.linspace(-1.0, 1.0, 16).reshape(4, 4)
    fn, text = _kernel(lambda x: (x.exp(), x.sum(axis=1) * 2.0, x[:1] * 3.0), tmp_path, x)
    assert "def f_forward_loops(x, out_0):" in text                  # 128 B: hoisted
    entry = "out_0 = np.empty((4, 4), dtype=np.float64)\n    return f_forward_loops(x, out_0)"
    assert entry in text
    assert "out_2 = np.empty(" in text.split("def f_forward(")[0]     # 32 B: stays inside
    exp, sums, head = fn(x)
    np.testing.assert_allclose(exp, np.exp(x), rtol=1e-15)
    np.testing.assert_allclose(sums, 2 * x.sum(axis=1), rtol=1e-15)
    np.testing.assert_allclose(head, 3 * x[:1], rtol=1e-15)
