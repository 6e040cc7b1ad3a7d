"""Every examples/*.py runs to completion, alone, in under 10 seconds.

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

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
TIME_LIMIT_S = 10.0
_SINGLE_THREADED_BLAS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def test_examples_exist():
    assert EXAMPLES, "no examples/*.py found"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_cleanly_within_time_limit(path: Path, tmp_path: Path):
    env = {**_SINGLE_THREADED_BLAS, **os.environ}
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(path)],
            cwd=tmp_path,
            capture_output=True,
            env=env,
            text=True,
            encoding="utf-8",
            timeout=TIME_LIMIT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name} did not finish within {TIME_LIMIT_S:.0f} s")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, f"{path.name} exited with {result.returncode}:\n{result.stderr}"
    assert result.stdout, f"{path.name} printed nothing"
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.1f} s"
