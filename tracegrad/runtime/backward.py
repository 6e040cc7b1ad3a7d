"""The public autograd entry points: `backward` (accumulate into leaves' .grad) and `grad`
(return gradients), with PyTorch's argument handling and error messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.tensor_api import prepare
from . import autograd as ag
from .tensor import Tensor


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _root_gradients(outputs: list[Tensor], grads: list[Any]) -> list[Tensor]:
    """Check each output against its gradient; create ones for scalar outputs."""
    result = []
    for i, out in enumerate(outputs):
        grad = grads[i] if i < len(grads) else None
        if grad is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            result.append(Tensor._make(np.ones(out._data.shape, out.dtype.np), out.dtype))
            continue
        if not isinstance(grad, Tensor):
            grad = Tensor(grad, dtype=out.dtype)
        if tuple(grad.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{grad.shape!r} and output[{i}] has a shape of {out.shape!r}.")
        (grad,) = prepare(grad, dtype=out.dtype)      # cast, as PyTorch does
        result.append(grad)
    return result


def _root_nodes(outputs: list[Tensor]) -> list[ag.Node]:
    nodes = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"expected tensors to differentiate, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn")
        nodes.append(out._grad_fn or out._accumulate_node())
    return nodes


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (or of `inputs`)."""
    outputs = _as_list(tensors)
    grads = _root_gradients(outputs, _as_list(grad_tensors))
    roots = _root_nodes(outputs)
    keep = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        ag.run_engine(roots, grads, keep_graph=keep, create_graph=create_graph)
        return
    targets = _input_nodes(_as_list(inputs))
    found = ag.run_engine(roots, grads, keep_graph=keep, create_graph=create_graph,
                          capture=targets, accumulate=True)
    for tensor, node in zip(_as_list(inputs), targets):
        if found.get(node) is not None:             # non-leaf inputs get .grad too
            ag.accumulate(tensor, found[node], create_graph=create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, without touching any `.grad`.

    >>> x = tracegrad.tensor([3.], requires_grad=True)
    >>> tracegrad.autograd.grad(x ** 2, x, create_graph=True)
    (tensor([6.], grad_fn=<MulBackward0>),)
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    grads = _root_gradients(outs, _as_list(grad_outputs))
    roots = _root_nodes(outs)
    targets = _input_nodes(ins)
    keep = create_graph if retain_graph is None else retain_graph
    found = ag.run_engine(roots, grads, keep_graph=keep, create_graph=create_graph,
                          capture=targets, accumulate=False)
    allow = materialize_grads if allow_unused is None else allow_unused
    result = []
    for tensor, node in zip(ins, targets):
        g = found.get(node)
        if g is None and not allow:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                               "in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
        if g is None and materialize_grads:
            g = Tensor._make(np.zeros(tensor._data.shape, tensor.dtype.np), tensor.dtype)
        result.append(g)
    return tuple(result)


def _input_nodes(inputs: Sequence[Tensor]) -> list[ag.Node]:
    nodes = []
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        nodes.append(t._grad_fn or t._accumulate_node())
    return nodes
