"""Partition policies: the scalar-seed partition (gradients for c = 1 computed in the forward,
scaled by c in the backward) against the split partition, through the interpreter (no Numba)."""

from __future__ import annotations

import numpy as np

import tracegrad as tg
from tracegrad.codegen.partition import partition
from tracegrad.ir.autodiff import vjp_graph
from tracegrad.ir.interpret import evaluate
from tracegrad.ir.passes import optimize


def _joint(fn, *arrays):
    graph = optimize(tg.make_graph(fn)(*arrays))
    joint = vjp_graph(graph, wrt=range(len(arrays)), seed="inputs", name=graph.name)
    return optimize(joint), len(graph.inputs), len(graph.outputs)


def _loss(x, y):
    return (x.tanh() * x.sigmoid() + 0.5 * x ** 2 + (-x * y).exp()).sum()


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(64), rng.standard_normal(64)


def _run(split, arrays, cotangents):
    n_out = len(split.forward.outputs) - len(split.backward.inputs) + len(cotangents)
    forward = evaluate(split.forward, *arrays)
    return forward[:n_out], evaluate(split.backward, *forward[n_out:], *cotangents)


def test_scalar_seed_partition_moves_the_gradients_into_the_forward():
    joint, n_in, n_out = _joint(_loss, *_inputs())
    split = partition(joint, n_in, n_out)
    assert {n.op for n in split.backward.nodes} <= {"broadcast_to", "mul", "cast"}
    assert not any(n.op in ("tanh", "sigmoid", "exp") for n in split.backward.nodes)
    assert [v.hint for v in split.backward.inputs[:2]] == ["saved_grad_x", "saved_grad_y"]
    assert len(split.forward.outputs) == n_out + 2


def test_scalar_seed_and_split_partitions_give_the_same_numbers():
    arrays, c = _inputs(), np.float64(2.5)
    joint, n_in, n_out = _joint(_loss, *arrays)
    want = evaluate(joint, *arrays, c)
    for fold in (True, False):
        values, grads = _run(partition(joint, n_in, n_out, fold_seed=fold), arrays, [c])
        np.testing.assert_allclose(values[0], want[0], rtol=1e-15)
        for got, expected in zip(grads, want[n_out:]):
            np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_scalar_seed_with_cotangent_one_gives_the_joint_bits():
    arrays = _inputs()
    joint, n_in, n_out = _joint(_loss, *arrays)
    _, grads = _run(partition(joint, n_in, n_out), arrays, [np.float64(1.0)])
    for got, expected in zip(grads, evaluate(joint, *arrays, np.float64(1.0))[n_out:]):
        np.testing.assert_array_equal(got, expected)


def test_equal_gradients_are_saved_once():
    x = np.arange(4.0)
    joint, n_in, n_out = _joint(lambda x, y: (x + y).sum(), x, x + 1)
    split = partition(joint, n_in, n_out)
    assert len(split.saved) == 1 and len(split.backward.outputs) == 2


def test_vector_cotangents_keep_the_split_partition():
    arrays = _inputs()
    joint, n_in, n_out = _joint(lambda x, y: x.tanh() * y, *arrays)
    split = partition(joint, n_in, n_out)
    assert any(n.op == "tanh" for n in split.backward.nodes)      # recomputed, not folded
    u = np.random.default_rng(1).standard_normal(64)
    values, grads = _run(split, arrays, [u])
    want = evaluate(joint, *arrays, u)
    np.testing.assert_allclose(values[0], want[0])
    for got, expected in zip(grads, want[n_out:]):
        np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_a_cast_that_rounds_the_cotangent_keeps_the_split_partition():
    """float32 gradients of a float64 loss: eager rounds c to float32 before multiplying."""
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    joint, n_in, n_out = _joint(lambda x: x.tanh().double().sum(), x)
    split = partition(joint, n_in, n_out)
    assert any(n.op == "tanh" for n in split.backward.nodes)
    c = np.float64(0.1)
    _, (got,) = _run(split, [x], [c])
    np.testing.assert_array_equal(got, evaluate(joint, x, c)[1])
    assert got.dtype == np.float32

