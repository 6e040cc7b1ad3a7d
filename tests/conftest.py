"""Shared test configuration: an isolated per-session cache directory (never the user's), the
--update-golden option, a seeded rng fixture, and hypothesis profiles ("dev", "ci")."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="tracegrad-test-cache-"))
os.environ.setdefault("TRACEGRAD_CACHE_DIR", str(_SESSION_CACHE / "kernels"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(_SESSION_CACHE / "numba"))
sys.path.insert(0, str(Path(__file__).parent))        # makes `support` importable

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files under tests/golden with the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
