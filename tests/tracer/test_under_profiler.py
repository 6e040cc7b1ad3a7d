"""Tracing while a C-level profiler (cProfile) is active: the profiler is left alone (its hook
object is not callable), the graph is still right, and the profiler is still on afterwards."""

from __future__ import annotations

import cProfile
import sys

import tracegrad as tg


def test_trace_under_cprofile_keeps_the_profiler():
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        before = sys.getprofile()
        graph = tg.make_graph(lambda x: (x * 2.0).sum())(tg.ones(3))
        after = sys.getprofile()
    finally:
        profiler.disable()
    assert before is not None and after is before
    assert [n.op for n in graph.nodes] == ["mul", "sum"]
