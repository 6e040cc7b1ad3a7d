"""Every examples/*.py runs to completion, alone, in under 10 seconds; eager_vs_compiled.py shows
what it promises (with the generated kernels run as plain Python, TRACEGRAD_JIT=0).

Each example runs in a subprocess with this interpreter, from a scratch working directory, so it
cannot lean on the test session's imports or state. New examples are picked up by the glob.
BLAS runs single-threaded unless the caller says otherwise: on a loaded 2-core machine (parallel
test runs) multi-threaded OpenBLAS oversubscribes and the seed's two-layer network slows ~8x.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
# eager_vs_compiled.py compiles two Numba kernels into the session's empty cache: 5-15 s before it
# trains. Its own test below runs it with TRACEGRAD_JIT=0; `make demo` runs it compiled.
COMPILING_EXAMPLES = {"eager_vs_compiled.py"}
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.py") if p.name not in COMPILING_EXAMPLES)
TIME_LIMIT_S = 10.0
HANG_LIMIT_S = 60.0  # for runs that check content, not speed
_SINGLE_THREADED_BLAS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _run(
    args: list[str], cwd: Path, timeout: float = TIME_LIMIT_S, **env: str
) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            capture_output=True,
            env={**_SINGLE_THREADED_BLAS, **os.environ, **env},
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args[0]} did not finish within {timeout:.0f} s")
    return result, time.perf_counter() - start


def test_examples_exist():
    assert EXAMPLES, "no examples/*.py found"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_cleanly_within_time_limit(path: Path, tmp_path: Path):
    result, elapsed = _run([str(path)], tmp_path)
    assert result.returncode == 0, f"{path.name} exited with {result.returncode}:\n{result.stderr}"
    assert result.stdout, f"{path.name} printed nothing"
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.1f} s"


def test_eager_vs_compiled_example_checks_gradients_and_shows_kernels(tmp_path: Path):
    # Two steps with the generated kernels run as plain Python: the content, not Numba's speed
    # (about 3 s on a quiet machine; the limit only catches a hang).
    example = str(EXAMPLES_DIR / "eager_vs_compiled.py")
    result, _ = _run([example, "--steps", "2"], tmp_path, HANG_LIMIT_S, TRACEGRAD_JIT="0")
    assert result.returncode == 0, f"exited with {result.returncode}:\n{result.stderr}"
    expected = [
        "2 SGD steps each way from the same weights",
        "gradients and losses agree at every step: np.allclose(rtol=0.0001",
        "eager     first call",
        "compiled  first call",
        "== forward graph",
        "graph two_layer_loss(x: f32[64,1000], y: f32[64,10], w1: f32[1000,100]",
        "== backward graph",
        "grad_w1",
        "def two_layer_loss_forward(",
        "def two_layer_loss_backward(",
        "tracegrad.compile(two_layer_loss): 1 signature(s)",
        "saved for backward",
    ]
    missing = [line for line in expected if line not in result.stdout]
    assert not missing, f"missing from the output: {missing}\n{result.stdout}"
