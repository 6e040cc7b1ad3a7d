"""Big eager elementwise ops in parts on several threads (runtime/threads.py): the same bits as
one numpy call, the caller's errstate and errors, one map at a time, and after a fork."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import tracegrad as tg
from tracegrad.ir.ops import fast
from tracegrad.runtime import kernels
from tracegrad.runtime.threads import MIN_PART, SPLITTER, Splitter

N = 2 * MIN_PART + 3          # two parts, an odd length


@pytest.fixture
def two_parts(monkeypatch):
    monkeypatch.setattr(SPLITTER, "parts", 2)


def test_tasks_run_on_two_threads_and_results_keep_their_order():
    splitter = Splitter(2)
    results = splitter.map([lambda: ("first", threading.get_ident()),
                            lambda: ("second", threading.get_ident())])
    assert [r[0] for r in results] == ["first", "second"]
    assert results[0][1] == threading.get_ident() != results[1][1]


def test_ranges_cut_only_what_is_worth_cutting():
    splitter = Splitter(4)
    assert splitter.ranges(10, MIN_PART) == [(0, 10)]
    assert splitter.ranges(N, N) == [(0, N // 2), (N // 2, N)]
    assert splitter.ranges(3, 8 * MIN_PART) == [(0, 1), (1, 2), (2, 3)]
    assert Splitter(1).ranges(N, N) == [(0, N)]


def test_an_error_in_a_worker_reaches_the_caller_after_every_part_ended():
    splitter, ended = Splitter(2), []

    def fail():
        raise ValueError("part two")

    def slow():
        ended.append(threading.get_ident())
    with pytest.raises(ValueError, match="part two"):
        splitter.map([slow, fail])
    assert ended == [threading.get_ident()]
    assert splitter.map([lambda: 1, lambda: 2]) == [1, 2]        # still usable


def test_parts_run_under_the_callers_errstate():
    splitter = Splitter(2)
    one, zero = np.ones(4), np.zeros(4)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            splitter.map([lambda: None, lambda: one / zero])
    with np.errstate(divide="ignore"):
        assert np.isinf(splitter.map([lambda: None, lambda: one / zero])[1]).all()


def test_a_second_caller_runs_its_parts_itself():
    splitter = Splitter(2)
    inside = threading.Event()
    release = threading.Event()
    seen = []

    def hold():
        inside.set()
        release.wait(10)
    holder = threading.Thread(target=splitter.map, args=([hold, lambda: None],))
    holder.start()
    assert inside.wait(10)
    seen.extend(splitter.map([threading.get_ident, threading.get_ident]))
    release.set()
    holder.join(10)
    assert seen == [threading.get_ident()] * 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_arithmetic_gives_numpys_bits(two_parts, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(N).astype(dtype)
    b = rng.standard_normal(N).astype(dtype)
    b[::7] = 0.0
    x, y = tg.from_numpy(a), tg.from_numpy(b)
    with np.errstate(all="ignore"):
        cases = [(x + y, a + b), (x - y, a - b), (x * y, a * b), (x / y, a / b),
                 (-x, -a), (x * 0.3, a * dtype(0.3)), (2.5 / y, dtype(2.5) / b)]
        wide = tg.from_numpy(rng.standard_normal((2, N // 2)).astype(dtype))
        row = tg.from_numpy(a[: N // 2].copy())
        cases.append((wide * row, wide.numpy() * row.numpy()))       # a broadcast operand
    for got, want in cases:
        assert got.dtype.np == want.dtype
        np.testing.assert_array_equal(got.numpy(), want)


def test_split_vmath_kernels_give_the_unsplit_bits(monkeypatch):
    a = np.random.default_rng(1).standard_normal(N).astype(np.float32) * 4
    x = tg.from_numpy(a)
    monkeypatch.setattr(SPLITTER, "parts", 1)
    want = [x.exp().numpy().copy(), x.tanh().numpy().copy()]
    monkeypatch.setattr(SPLITTER, "parts", 2)
    calls = []
    original = Splitter.map
    monkeypatch.setattr(Splitter, "map", lambda self, tasks: calls.append(len(tasks))
                        or original(self, tasks))
    got = [x.exp().numpy(), x.tanh().numpy()]
    kernel = fast.active() is kernels.PROVIDER and kernels.PROVIDER._load() is not None
    assert calls == ([2, 2] if kernel else [])           # (no kernels: numpy's, not cut)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_small_arrays_and_transcendental_ufuncs_are_not_split(two_parts, monkeypatch):
    calls = []
    monkeypatch.setattr(Splitter, "map", lambda self, tasks: calls.append(len(tasks)))
    a = np.random.default_rng(2).standard_normal(MIN_PART).astype(np.float32)
    (tg.from_numpy(a) * 2.0).numpy()
    out = np.empty(N)
    kernels.PROVIDER.fill(np.sin, (np.ones(N),), out)
    assert calls == [] and (out == np.sin(1.0)).all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_workers(two_parts):
    SPLITTER.map([lambda: None, lambda: None])           # the parent's workers exist
    pid = os.fork()
    if pid == 0:                                          # the child: exit code 0 on success
        try:
            ok = SPLITTER.map([lambda: 1, lambda: 2]) == [1, 2]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_environment_sets_the_number_of_parts(monkeypatch):
    from tracegrad.runtime import threads
    monkeypatch.setenv("TRACEGRAD_EAGER_THREADS", "1")
    assert threads._parts_from_environment() == 1
    monkeypatch.setenv("TRACEGRAD_EAGER_THREADS", "3")
    assert threads._parts_from_environment() == 3
    monkeypatch.setenv("TRACEGRAD_EAGER_THREADS", "many")
    assert threads._parts_from_environment() == 1
