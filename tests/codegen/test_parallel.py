"""Parallel kernels: the option text (kernel_options), where prange appears in the generated
source, and that parallel kernels give the same bits as serial ones at any thread count.

Only the last test compiles (two kernels); the others read generated text."""

from __future__ import annotations

import hashlib

import numba
import numpy as np
import pytest

import tracegrad as tg
from tracegrad.codegen import options
from tracegrad.codegen.build import load_module
from tracegrad.codegen.emit import emit_function, emit_module
from tracegrad.codegen.options import (PARALLEL_MIN_ELEMENTS, VMATH_CALL_WEIGHT, is_parallel,
                                       kernel_options)
from tracegrad.ir.passes import optimize
from tracegrad.ir.printer import format_graph

BIG = 2 * PARALLEL_MIN_ELEMENTS


def _graph(fn, *arrays):
    return optimize(tg.make_graph(fn)(*arrays))


def _source(fn, *arrays, opts: str = "parallel=True") -> str:
    return emit_function(_graph(fn, *arrays), "f_forward", opts).text


def _f32(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _loss(x):
    return (x.tanh() * x.sigmoid() + 0.5 * x * x).sum()


# ---- option text ----

def test_kernel_options_text_for_explicit_parallel_and_fastmath():
    g = _graph(_loss, _f32(BIG))
    assert kernel_options(g, False, False) == ""
    assert kernel_options(g, True, False) == "parallel=True"
    assert kernel_options(g, False, True) == "fastmath=True"
    assert kernel_options(g, True, True) == "parallel=True, fastmath=True"
    assert is_parallel("fastmath=True, parallel=True") and not is_parallel("parallel=False")
    assert not is_parallel("")


def test_kernel_options_none_decides_by_the_work_of_the_largest_loop(monkeypatch):
    monkeypatch.setattr(options, "_threads", lambda: 2)
    n = PARALLEL_MIN_ELEMENTS
    cheap = lambda x: 2.0 * x + 1.0  # noqa: E731
    assert kernel_options(_graph(cheap, _f32(n - 1)), None, False) == ""
    assert kernel_options(_graph(cheap, _f32(n)), None, False) == "parallel=True"
    # each vmath call in the loop body counts as VMATH_CALL_WEIGHT cheap elements
    m = -(-n // (1 + VMATH_CALL_WEIGHT))
    assert kernel_options(_graph(lambda x: x.exp(), _f32(m - 1)), None, False) == ""
    assert kernel_options(_graph(lambda x: x.exp(), _f32(m)), None, False) == "parallel=True"
    large_2d = _graph(lambda x: (x * x).sum(axis=1), _f32(256, n // 256))
    assert kernel_options(large_2d, None, True) == "parallel=True, fastmath=True"
    monkeypatch.setattr(options, "_threads", lambda: 1)
    assert kernel_options(_graph(cheap, _f32(n)), None, False) == ""
    assert kernel_options(_graph(cheap, _f32(n)), True, False) == "parallel=True"


def test_kernel_options_none_keeps_kernels_that_call_blas_serial(monkeypatch):
    """OpenBLAS's pool and Numba's workers spin against each other: auto mode stays serial."""
    monkeypatch.setattr(options, "_threads", lambda: 2)
    graph = _graph(lambda a, w: (a @ w).exp() * 2.0, _f32(1024, 64), _f32(64, 512))
    assert kernel_options(graph, None, False) == ""
    assert kernel_options(graph, True, False) == "parallel=True"
    ints = _graph(lambda a, w: (a @ w) * 2, np.ones((1024, 64), np.int64),
                  np.ones((64, 1024), np.int64))        # a loop nest, no BLAS
    assert kernel_options(ints, None, False) == "parallel=True"


def test_no_parallel_option_for_a_kernel_without_a_parallel_loop(monkeypatch):
    """Small loops, or a large loop that sums over its outer axis: nothing to prange."""
    monkeypatch.setattr(options, "_threads", lambda: 2)
    for graph in (_graph(_loss, _f32(8)), _graph(lambda x: x.exp().sum(axis=0), _f32(512, 256))):
        assert kernel_options(graph, True, False) == ""
        assert kernel_options(graph, None, True) == "fastmath=True"


# ---- where prange goes ----

def test_prange_appears_only_when_the_options_say_parallel():
    x = _f32(BIG)
    assert "prange" not in _source(_loss, x, opts="")
    assert "prange" not in _source(_loss, x, opts="fastmath=True")
    assert "prange(" in _source(_loss, x, opts="parallel=True")


def test_small_loops_of_a_parallel_kernel_stay_serial():
    text = _source(lambda x, y: (x.exp(), y.exp()), _f32(BIG), _f32(1000))
    assert text.count("prange(") == 1
    assert "for i0 in prange(" in text and "for i0 in range(1000)" in text


def test_a_reduction_over_the_outer_axis_keeps_the_outer_loop_serial():
    x = _f32(512, 256)
    assert "for i0 in prange(512)" in _source(lambda x: x.exp().sum(axis=1), x)
    assert "prange" not in _source(lambda x: x.exp().sum(axis=0), x)
    assert "prange" not in _source(lambda x: x.exp().sum_to((1, 256)), x)


def test_a_parallel_full_sum_keeps_one_partial_per_block_and_adds_them_in_order():
    text = _source(_loss, _f32(BIG))
    blocks = -(-BIG // 512)
    assert f"out_partials = np.empty({blocks})" in text
    assert f"for b in prange({blocks}):" in text
    assert f"for b in range({blocks}):\n        out += out_partials[b]" in text


def test_full_sums_in_a_nest_run_by_rows():
    text = _source(lambda x: (x.exp().sum(axis=1), x.tanh().sum()), _f32(512, 256))
    assert "for i0 in prange(512)" in text
    assert "out_1_partials[i0] = out_1_row" in text
    assert "vm.sum_step_f32(out_1_row," in text
    assert "out_0_run = vm.sum_step_f32(out_0_run, " in text          # innermost-axis sum
    assert "out_0[i0] += out_0_run" in text


# ---- compiled: parallel == serial, bit for bit, at any thread count ----

def _kernel(graph, opts: str, directory):
    key = hashlib.sha256(f"{opts}|{format_graph(graph)}".encode()).hexdigest()
    text, source = emit_module(graph, "forward", key, opts)
    module, _ = load_module(directory, key, text)
    return getattr(module, source.function)


def _mixed(x, y, z):
    """Every parallel loop shape: a blocked 1-D sum with a stored output, a nest with row sums
    and a reduction that keeps the outer axis, and a flat elementwise map."""
    t = y.tanh()
    return ((x.tanh() * x.sigmoid()).sum(), x.exp(), t.sum(axis=1), (t * y).sum(),
            (y * y).sigmoid(), z.exp() - z)


def test_parallel_kernels_give_the_serial_bits_whatever_the_thread_count(tmp_path):
    x, y, z = _f32(BIG + 7) * 3, _f32(512, 300), _f32(300, 400)
    graph = _graph(_mixed, x, y, z)
    assert emit_function(graph, "f", "parallel=True").text.count("prange(") == 3
    serial = _kernel(graph, "", tmp_path)
    parallel = _kernel(graph, "parallel=True", tmp_path)
    expected = serial(x, y, z)
    threads = numba.get_num_threads()
    try:
        for n in sorted({1, threads}):
            numba.set_num_threads(n)
            for a, b in zip(parallel(x, y, z), expected):
                np.testing.assert_array_equal(a, b)
    finally:
        numba.set_num_threads(threads)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    t = np.tanh(y64)
    reference = [(np.tanh(x64) / (1 + np.exp(-x64))).sum(), np.exp(x64), t.sum(axis=1),
                 (t * y64).sum(), 1 / (1 + np.exp(-y64 * y64)), np.exp(z) - z]
    for got, want, atol in zip(expected, reference, [1e-6, 1e-6, 2e-5, 1e-3, 1e-6, 1e-6]):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=atol)   # f32 sums: 300, 154k terms


@pytest.mark.parametrize("opts", ["", "parallel=True"])
def test_parallel_option_text_reaches_the_decorator(opts):
    text = emit_function(_graph(_loss, _f32(8)), "f_forward", opts).text
    assert text.startswith(f"@njit({opts})\n" if opts else "@njit\n")
