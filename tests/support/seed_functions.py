"""The seed documents' functions, written as functions of their tensors, with small example
arguments: the subjects of the IR golden dumps and of examples/graph_dump.py."""

from __future__ import annotations

import numpy as np


def dot(x):
    """Seed 000: `y = x @ x` on a one-element float64 vector, then `z = 3 * y`."""
    y = x @ x
    z = 3 * y
    return z


def add_mul(w, x):
    """Seed 002's first graph: y = (x + w) * (w + 1)."""
    a = w + x
    b = w + 1
    y = a * b
    return y


def two_layer_loss(x, y, w1, w2):
    """Seed 002's two-layer network: the squared error of relu(x @ w1) @ w2."""
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum()
    return loss


def tanh_net(x, w):
    """The ARCHITECTURE.md example."""
    h = x @ w
    y = h.tanh()
    return (y * y).sum()


def dot_args():
    return (np.array([3.0]),)


def add_mul_args():
    return np.array([1.0], np.float32), np.array([2.0], np.float32)


def two_layer_args(n=4, d_in=5, hidden=3, d_out=2):
    rng = np.random.default_rng(0)
    return tuple(rng.standard_normal(shape).astype(np.float32)
                 for shape in ((n, d_in), (n, d_out), (d_in, hidden), (hidden, d_out)))


def tanh_net_args():
    rng = np.random.default_rng(1)
    return rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
