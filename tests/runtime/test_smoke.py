"""The first seed program, end to end: the smallest proof that eager autograd works."""

import tracegrad


def test_seed_dot_product_gradient_is_twice_x():
    x = tracegrad.tensor([3], dtype=float, requires_grad=True)
    y = x @ x
    y.backward()
    assert repr(x.grad) == "tensor([6.], dtype=tracegrad.float64)"
    assert y.grad_fn.name() == "DotBackward0"
