"""What a user of tracegrad.compile sees around the numbers: retracing on a new signature (logged
and counted), the warning past 8 signatures, f.source() (provenance header, a comment per IR
node with the dump's names), f.explain(), the TRACEGRAD_DEBUG=1 event lines, and errors: an op
or dtype codegen cannot handle names the op and the user's line before any kernel is written,
and a Numba failure never reaches the user as a Numba error.

Kernels run as plain Python (what TRACEGRAD_JIT=0 selects) except in the tests marked `numba`;
each test that counts cache events gets its own kernel cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.compiled import plain_python, private_cache

import tracegrad as tg
from tracegrad.codegen.lowering import SINGLE_LOWERINGS
from tracegrad.ir.hashing import structural_key
from tracegrad.ir.printer import format_node, value_names

HERE = __file__


def tanh_net(x, w):
    h = x @ w
    y = h.tanh()
    return (y * y).sum()


def _net_args(n=4):
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((n, 3)))
    w = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    return x, w


def _line_of(fn, text: str) -> int:
    """The line number in this file of the first source line of `fn` containing `text`."""
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def _log_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


# ---- retracing ----

def test_a_new_shape_retraces_with_a_log_line_and_new_kernels(tmp_path, capsys):
    compiled = tg.compile(tanh_net)
    with private_cache(tmp_path) as cache, plain_python(), tg.debug(1):
        first = compiled(*_net_args(4))
        assert cache.stats.misses == 2                            # forward and backward
        capsys.readouterr()
        again = compiled(*_net_args(4))
        assert _log_lines(capsys) == [] and cache.stats.misses == 2
        other = compiled(*_net_args(6))
        lines = _log_lines(capsys)
    assert cache.stats.misses > 2 and "miss tanh_net forward" in cache.stats.events[2]
    traces = [line for line in lines if line.split()[1] == "trace"]
    assert len(traces) == 1 and "retrace" in traces[0] and "float64[6, 3]" in traces[0]
    assert "2 signature(s)" in compiled.explain()
    assert first.item() == again.item()
    assert other.item() == pytest.approx(tanh_net(*_net_args(6)).item(), rel=1e-12)


@pytest.mark.parametrize("change", ["dtype", "requires_grad", "grad_mode", "numpy"])
def test_other_signature_changes_retrace_and_give_eager_results(change):
    compiled = tg.compile(tanh_net)
    x, w = _net_args()
    with plain_python():
        compiled(x, w)
        if change == "dtype":
            x, w = x.float(), w.detach().float().requires_grad_(True)
            out = compiled(x, w)
        elif change == "requires_grad":
            x.requires_grad_(True)
            out = compiled(x, w)
        elif change == "grad_mode":
            with tg.no_grad():
                out = compiled(x, w)
                expected = tanh_net(x, w)
        else:
            x = x.numpy()
            out = compiled(x, w)
    assert len(compiled._entries) == 2
    if change != "grad_mode":
        expected = tanh_net(tg.tensor(x) if change == "numpy" else x, w)
    assert out.dtype is expected.dtype
    assert out.requires_grad == expected.requires_grad
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)


def test_python_numbers_are_static_each_value_retraces():
    compiled = tg.compile(lambda x, k, *, power: ((x * k) ** power).sum())
    x = tg.tensor([1.0, 2.0], dtype=tg.float64)
    with plain_python():
        results = [compiled(x, k, power=p).item() for k, p in ((2.0, 1), (3.0, 1), (3.0, 2))]
        assert compiled(x, 2.0, power=1).item() == 6.0
    assert results == [6.0, 9.0, 45.0]
    assert len(compiled._entries) == 3


def test_results_of_successive_calls_do_not_share_memory():
    compiled = tg.compile(lambda x: (x * 2.0, (x * x).sum()))
    with plain_python():
        a, s = compiled(tg.tensor([1.0, 2.0]))
        b, _ = compiled(tg.tensor([5.0, 7.0]))
        a.add_(100.0)
        c, _ = compiled(tg.tensor([1.0, 2.0]))
    assert b.tolist() == [10.0, 14.0] and c.tolist() == [2.0, 4.0] and s.item() == 5.0


def test_more_than_eight_signatures_warn_once_at_the_users_call():
    compiled = tg.compile(lambda x: (x * x).sum())
    with plain_python(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 9):
            compiled(tg.ones(n))
        assert caught == []
        compiled(tg.ones(9))                                      # the 9th signature
        compiled(tg.ones(9))
    (warning,) = caught
    assert warning.category is RuntimeWarning
    assert "<lambda>" in str(warning.message) and "8 signatures" in str(warning.message)
    assert warning.filename == HERE


# ---- f.source(): header and per-node comments ----

@pytest.fixture(scope="module")
def net_source():
    compiled = tg.compile(tanh_net)
    x, w = _net_args()
    with plain_python():
        compiled(x, w)
        return compiled.source(x, w), compiled.graph(x, w), compiled.backward_graph(x, w)


def _module_headers(source: str) -> list[list[str]]:
    modules = re.split(r"(?m)^(?=# tracegrad kernel \|)", source)
    return [[line for line in m.splitlines() if line.startswith("#")][:3] for m in modules if m]


def test_source_header_names_graph_phase_and_structural_key(net_source):
    source, forward, backward = net_source
    (fwd, *_), (bwd, *_) = _module_headers(source)
    head = "# tracegrad kernel | graph tanh_net"
    assert fwd == f"{head} | forward | key {structural_key(forward)[:12]}"
    assert bwd == f"{head} | backward | key {structural_key(backward)[:12]}"


def test_source_header_gives_the_typed_signature(net_source):
    source, forward, backward = net_source
    fwd, bwd = _module_headers(source)
    assert fwd[1] == "# x: f64[4,3]  w: f64[3,2]"
    names = value_names(backward)
    assert bwd[1] == "# " + "  ".join(f"{names[v]}: {v.type}" for v in backward.inputs)
    assert "grad_out: f64[]" in bwd[1]


def test_source_header_lists_the_saved_values(net_source):
    source, forward, backward = net_source
    names = value_names(forward)
    saved = ", ".join(f"{names[v]} {v.type}" for v in forward.outputs[1:])    # after `out`
    assert saved and len(backward.inputs) == len(forward.outputs)
    headers = [line for header in _module_headers(source) for line in header]
    assert f"# saved for backward: {saved}" in headers


def test_every_ir_node_has_a_comment_with_the_dump_names(net_source):
    source, forward, backward = net_source
    for graph in (forward, backward):
        names = value_names(graph)
        for node in graph.nodes:
            line = f"{names[node.out]} = {format_node(node, names)}"
            assert re.search(rf"#.*{re.escape(line)}", source), line
    assert re.search(r"(?m)^\s+h = ", source) and "# h = matmul(x, w)" in source   # user names
    assert "# y = tanh(h)" in source


def test_source_is_byte_stable_across_compiled_functions(net_source):
    x, w = _net_args()
    with plain_python():
        again = tg.compile(tanh_net)
        again(x, w)
        assert again.source(x, w) == net_source[0]


# ---- f.explain() ----

def wasteful(x, w):
    unused = (x * 3).exp()                 # dead code: the passes remove it   # noqa: F841
    h = (x * 1.0) @ w
    return (h.tanh() * h).sum()


def test_explain_reports_signatures_times_counts_fusion_and_saved_bytes(tmp_path):
    x, w = _net_args()
    with private_cache(tmp_path), plain_python():
        compiled = tg.compile(wasteful)
        compiled(x, w).backward()
        text = compiled.explain()
    assert "1 signature(s)" in text and "float64[4, 3], float64[3, 2]+grad" in text
    assert "0 memory hits, 0 disk hits, 2 misses" in text
    for stage in ("trace", "passes", "autodiff", "codegen", "numba"):
        assert re.search(rf"{stage}[\w ]* \d+\.\d ms", text), stage
    traced = len(tg.make_graph(wasteful)(x, w).nodes)
    optimized = len(compiled.entry_for(x, w).graph.nodes)
    assert traced > optimized
    assert any(re.search(rf"\b{traced}\b.*\b{optimized}\b", line) for line in text.splitlines())
    assert re.search(r"fused: loop\[4x2\]: .*=tanh", text)
    saved = compiled.graph(x, w).outputs[1:]
    assert saved and f"saved for backward ({sum(v.type.nbytes for v in saved)} bytes)" in text
    assert all(f"{v.type} ({v.type.nbytes} B)" in text for v in saved)


def test_explain_counts_only_this_functions_cache_events(tmp_path):
    x, w = _net_args()
    with private_cache(tmp_path), plain_python():
        tg.compile(wasteful)(x, w)                  # another function's misses
        first = tg.compile(tanh_net)
        first(x, w)
        second = tg.compile(tanh_net)               # same graphs: memory hits
        second(x, w)
        assert "0 memory hits, 0 disk hits, 2 misses" in first.explain()
        assert "2 memory hits, 0 disk hits, 0 misses" in second.explain()


# ---- TRACEGRAD_DEBUG=1 ----

def test_debug_level_one_logs_one_line_per_trace_compile_and_cache_event(tmp_path, capsys):
    x, w = _net_args()
    with private_cache(tmp_path), plain_python():
        with tg.debug(1):
            tg.compile(tanh_net)(x, w)
            built = _log_lines(capsys)
            tg.compile(tanh_net)(x, w)
            reused = _log_lines(capsys)
        tg.compile(tanh_net)(x, w)
        assert _log_lines(capsys) == []                          # level 0: silent
    assert all(line.startswith("[tracegrad] ") for line in built + reused)
    signature = "tanh_net(float64[4, 3], float64[3, 2]+grad)"
    assert [line.split()[1] for line in built] == ["trace", "cache", "cache", "compiled"]
    assert signature in built[0] and signature in built[-1]
    assert "miss tanh_net forward" in built[1] and "miss tanh_net backward" in built[2]
    assert re.search(r"trace \d+\.\d ms.*codegen", built[-1])
    assert "memory hit tanh_net forward" in reused[1]
    assert "memory hit tanh_net backward" in reused[2]


@pytest.mark.numba
def test_debug_level_one_reports_the_numba_compile_time(tmp_path, capsys):
    with private_cache(tmp_path), tg.debug(1):
        tg.compile(lambda x: (x * 2.5).sum())(tg.ones(3, dtype=tg.float64))
    lines = _log_lines(capsys)
    assert any(re.search(r"numba[\w ]* \d+\.\d ms", line) for line in lines), lines


def test_environment_switches_debug_and_jit_in_a_new_process(tmp_path):
    script = textwrap.dedent("""
        import tracegrad as tg
        from numba.core.dispatcher import Dispatcher
        f = tg.compile(lambda x: (x.exp() * x).sum())
        x = tg.ones(4, dtype=tg.float64, requires_grad=True)
        f(x).backward()
        kernel = f.entry_for(x).forward.fn
        print(isinstance(kernel, Dispatcher), x.grad.tolist())
    """)
    env = {**os.environ, "TRACEGRAD_CACHE_DIR": str(tmp_path / "kernels"),
           "TRACEGRAD_JIT": "0", "TRACEGRAD_DEBUG": "1"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(maxsplit=1) == ["False", f"{[2 * np.e] * 4}\n"]
    events = [line.split()[1] for line in run.stderr.splitlines() if line.startswith("[tracegrad]")]
    assert events == ["trace", "cache", "cache", "compiled"], run.stderr


# ---- errors: before Numba, naming the op and the user's line ----

def half_precision(x):
    y = x.to(tg.float16)
    return (y * 2).sum()


def test_an_unsupported_dtype_names_the_op_and_the_users_line(tmp_path):
    with private_cache(tmp_path) as cache, pytest.raises(tg.UnsupportedError) as error:
        tg.compile(half_precision)(tg.ones(3, dtype=tg.float64))
    message = str(error.value)
    assert "float16" in message and "'cast'" in message
    assert f"{HERE}:{_line_of(half_precision, 'float16')}" in message
    assert cache.stats.misses == 0 and not any(Path(tmp_path).rglob("*.py"))


def test_an_unsupported_input_dtype_names_the_input_and_the_users_call(tmp_path):
    with private_cache(tmp_path) as cache, pytest.raises(tg.UnsupportedError) as error:
        tg.compile(lambda x: (x * 2).sum())(tg.ones(3, dtype=tg.float16))
    line = sys._getframe().f_lineno - 1
    assert "float16" in str(error.value) and f"{HERE}:{line}" in str(error.value)
    assert cache.stats.misses == 0


def concatenated(x):
    y = tg.cat([x, x * 2], dim=0)
    return y.sum()


def test_an_op_without_a_lowering_names_the_op_and_the_users_line(tmp_path, monkeypatch):
    monkeypatch.delitem(SINGLE_LOWERINGS, "concat")
    with private_cache(tmp_path) as cache, pytest.raises(tg.UnsupportedError) as error:
        tg.compile(concatenated)(tg.ones(3, dtype=tg.float64))
    message = str(error.value)
    assert "'concat'" in message and f"{HERE}:{_line_of(concatenated, 'tg.cat')}" in message
    assert cache.stats.misses == 0 and not any(Path(tmp_path).rglob("*.py"))


def numba_rejects_this(x):
    return x.t().sum()


@pytest.mark.numba
def test_a_numba_typing_error_never_reaches_the_user(tmp_path, monkeypatch):
    """A lowering that writes code Numba cannot type (simulated) is a tracegrad error naming
    the kernel file, not a numba.core.errors.TypingError."""
    def broken(e, node):
        operand = e.var[node.inputs[0]]
        e.w.line(f"{e.bind(node.out)} = {operand}.transpose('not axes')", e.note(node))
    monkeypatch.setitem(SINGLE_LOWERINGS, "transpose", broken)
    with private_cache(tmp_path), pytest.raises(tg.TracegradError) as error:
        tg.compile(numba_rejects_this)(tg.ones((2, 3), dtype=tg.float64))
    from numba.core.errors import NumbaError
    assert not isinstance(error.value, NumbaError) and error.value.__suppress_context__
    (path,) = Path(tmp_path).rglob("*.py")
    assert str(path) in str(error.value) and "numba_rejects_this_forward" in path.read_text()
