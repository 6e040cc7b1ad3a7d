"""Every TraceError: the message names the user's file and line (this file's) and says what to
do instead."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support.locations import loc_of

import tracegrad as tg
from tracegrad.errors import TraceError, TracegradError
from tracegrad.tracer import trace

HERE = __file__
WHERE_ADVICE = "use tracegrad.where(condition, a, b) instead of a Python branch"
OUTSIDE_ADVICE = "compute the value outside the traced function and pass it in as a Python number"


def _branch(x):
    if x.sum() > 0:                 # @err-branch
        return x
    return -x


def _bool(x):
    return bool(x)                  # @err-bool


def _float(x):
    return float(x.sum())           # @err-float


def _int(x):
    return int(x.sum())             # @err-int


def _item(x):
    return x.sum().item()           # @err-item


def _numpy(x):
    return x.numpy()                # @err-numpy


def _tolist(x):
    return x.tolist()               # @err-tolist


def _asarray(x):
    return np.asarray(x)            # @err-asarray


def _while(x):
    while x.max() > 1:              # @err-while
        x = x / 2
    return x


def _and(x):
    return x.sum() > 0 and x        # @err-and


def _index(x):
    return [1.0, 2.0][x.sum().long()]    # @err-index


def _range(x):
    return range(x.sum().long())    # @err-range


def _helper(y):
    return y * 2 if y.mean() < 0 else y   # @err-helper


def _calls_helper(x):
    return _helper(x + 1)


CASES = {
    "branch": (_branch, "@err-branch", "a Python branch or bool() on a tensor"),
    "bool": (_bool, "@err-bool", "a Python branch or bool() on a tensor"),
    "float": (_float, "@err-float", "float()"),
    "int": (_int, "@err-int", "int()"),
    "item": (_item, "@err-item", ".item()"),
    "numpy": (_numpy, "@err-numpy", ".numpy()"),
    "tolist": (_tolist, "@err-tolist", ".tolist()"),
    "asarray": (_asarray, "@err-asarray", "converting a tensor to a numpy array"),
    "while": (_while, "@err-while", "a Python branch or bool() on a tensor"),
    "and": (_and, "@err-and", "a Python branch or bool() on a tensor"),
    "index": (_index, "@err-index", "using a tensor as a Python index"),
    "range": (_range, "@err-range", "using a tensor as a Python index"),
    "helper": (_calls_helper, "@err-helper", "a Python branch or bool() on a tensor"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_value_needed_at_trace_time_raises_trace_error_naming_the_line(case):
    fn, marker, what = CASES[case]
    with pytest.raises(TraceError) as info:
        trace(fn, np.ones(3))
    message = str(info.value)
    assert message.startswith(f"{loc_of(HERE, marker)}: {what} needs the value of a traced tensor")
    assert WHERE_ADVICE in message and OUTSIDE_ADVICE in message


def test_trace_error_is_a_tracegrad_error_and_not_a_runtime_error():
    with pytest.raises(TracegradError):
        trace(_bool, np.ones(1))
    assert not issubclass(TraceError, RuntimeError)      # `except RuntimeError` won't hide it


def test_trace_error_through_make_graph_and_grad_names_the_same_line():
    expected = loc_of(HERE, "@err-branch")
    with pytest.raises(TraceError, match=re.escape(expected)):
        tg.make_graph(_branch)(np.ones(2))
    with pytest.raises(TraceError, match=re.escape(expected)):
        tg.grad(lambda x: _branch(x).sum())(np.ones(2))


def test_boolean_mask_indexing_with_a_traced_mask():
    def f(x):
        return x[x > 0]             # @err-mask

    with pytest.raises(TraceError) as info:
        trace(f, np.array([1.0, -1.0]))
    message = str(info.value)
    assert message.startswith(loc_of(HERE, "@err-mask") + ":")
    assert "boolean mask" in message and "depends on the data" in message
    assert "tracegrad.where(mask, x, 0)" in message


def test_boolean_mask_from_a_constant_is_fine():
    mask = np.array([True, False, True])
    graph = trace(lambda x: x[mask], np.arange(3.0)).graph
    assert str(graph.outputs[0].type) == "f64[2]"


def test_backward_inside_trace():
    def f(x):
        loss = (x * x).sum()
        loss.backward()             # @err-backward
        return loss

    with pytest.raises(TraceError) as info:
        trace(f, np.ones(2))
    message = str(info.value)
    assert message.startswith(loc_of(HERE, "@err-backward") + ":")
    assert "backward() inside a traced function is not supported" in message
    assert "tracegrad.grad(f)" in message and "value_and_grad" in message


def test_value_from_another_trace():
    leaked = []
    trace(lambda x: leaked.append(x) or x, np.ones(2))

    def f(y):
        return y + leaked[0]        # @err-foreign

    with pytest.raises(TraceError) as info:
        trace(f, np.ones(2))
    assert str(info.value).startswith(loc_of(HERE, "@err-foreign") + ":")
    assert "another trace" in str(info.value) and "pass it" in str(info.value)


def test_unsupported_output_type_is_a_clear_error():
    with pytest.raises(TraceError, match="must return tensors, numbers or containers of them; "
                                         "got str"):
        trace(lambda x: "done", np.ones(1))


def test_shape_facts_do_not_raise():
    def f(x):
        if x.shape[0] > 2 and len(x) == 3 and x.ndim == 1 and x.numel() == 3:
            return x * 2
        return x

    graph = trace(f, np.ones(3)).graph
    assert [n.op for n in graph.nodes] == ["mul"]
