"""The public autograd entry points: `backward` (accumulate into leaves' .grad) and `grad`
(return gradients), with PyTorch's argument handling and error messages."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import user_frame
from ..ir.tensor_api import prepare
from . import autograd as ag
from .tensor import Tensor


_CREATE_GRAPH_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
    "creating the graph to avoid this. If you have to use this function, make sure to reset the "
    ".grad fields of your parameters to None after use to break the cycle and avoid the leak.")


# a one-element array of ones per (shape, dtype): copying it is the cheapest fresh seed
_ONES: dict[tuple, np.ndarray] = {}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _root_gradients(outputs: list[Tensor], grads: Any) -> list[Tensor | None]:
    """Check each output against its gradient; create ones for scalar outputs (PyTorch's
    _make_grads). `grads` None means no gradient given for any output."""
    for out in outputs:
        if not isinstance(out, Tensor):
            raise TypeError(f"expected tensors to differentiate, got {type(out).__name__}")
    given = [None] * len(outputs) if grads is None else _as_list(grads)
    result: list[Tensor | None] = []
    for i, (out, grad) in enumerate(zip(outputs, given)):
        if isinstance(grad, Tensor):
            if tuple(grad.shape) != tuple(out.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{grad.shape!r} and output[{i}] has a shape of {out.shape!r}.")
            (grad,) = prepare(grad, dtype=out.dtype)      # cast, as PyTorch does
            result.append(grad)
        elif grad is not None:
            raise TypeError(f"gradients can be either Tensors or None, but got "
                            f"{type(grad).__name__}")
        elif out.requires_grad:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            result.append(Tensor._make(np.ones(out._data.shape, out.dtype.np), out.dtype))
        else:
            result.append(None)
    if len(result) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(result)} gradients")
    return result


def _root_nodes(outputs: list[Tensor]) -> list[ag.Node]:
    nodes = []
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn")
        if out._base is not None:
            out._check_view()
        nodes.append(out._grad_fn or out._accumulate_node())
    return nodes


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (or of `inputs`).

    A non-leaf tensor in `inputs` starts retaining its gradient, as in PyTorch.
    """
    single = tensors[0] if type(tensors) is list and len(tensors) == 1 else tensors
    if (grad_tensors is None and inputs is None and not create_graph
            and type(single) is Tensor and single._grad_fn is not None
            and single._base is None and single._data.size == 1):
        # the common `loss.backward()`: what the general path would do, minus its checks
        data = single._data
        ones = _ONES.get((data.shape, data.dtype))
        if ones is None:
            ones = _ONES[data.shape, data.dtype] = np.ones(data.shape, data.dtype)
        ones = Tensor._make(ones.copy(), single._dtype)   # a fresh seed, as PyTorch's
        ag.run_engine([single._grad_fn], [ones], keep_graph=bool(retain_graph),
                      create_graph=False)
        return
    outputs = _as_list(tensors)
    wanted = None if inputs is None else _as_list(inputs)
    if wanted == []:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = _root_gradients(outputs, grad_tensors)
    roots = _root_nodes(outputs)
    keep = create_graph if retain_graph is None else retain_graph
    if create_graph and wanted is None:
        warnings.warn(_CREATE_GRAPH_WARNING, UserWarning, stacklevel=_user_stacklevel())
    targets = [] if wanted is None else _input_nodes(wanted)
    for tensor in wanted or ():
        if tensor._grad_fn is not None:
            tensor.retain_grad()
    ag.run_engine(roots, grads, keep_graph=keep, create_graph=create_graph, capture=targets)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, without touching any `.grad`.

    >>> x = tracegrad.tensor([3.], requires_grad=True)
    >>> tracegrad.autograd.grad(x ** 2, x, create_graph=True)
    (tensor([6.], grad_fn=<MulBackward0>),)
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grads = _root_gradients(outs, grad_outputs)
    roots = _root_nodes(outs)
    targets = _input_nodes(ins)
    keep = create_graph if retain_graph is None else retain_graph
    found = ag.run_engine(roots, grads, keep_graph=keep, create_graph=create_graph,
                          capture=targets, accumulate=False)
    allow = materialize_grads if allow_unused is None else allow_unused
    result = []
    for i, (tensor, node) in enumerate(zip(ins, targets)):
        g = found.get(node)
        if g is None and not allow:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
        if g is None and materialize_grads:
            g = Tensor._make(np.zeros(tensor._data.shape, tensor.dtype.np), tensor.dtype)
            g.requires_grad_(create_graph)
        result.append(g)
    return tuple(result)


def _user_stacklevel() -> int:
    """The warnings stacklevel of the first frame outside tracegrad, seen from our caller."""
    target, level, frame = user_frame(), 1, sys._getframe(1)
    while frame is not None and frame is not target:
        level, frame = level + 1, frame.f_back
    return level


def _input_nodes(inputs: Sequence[Tensor]) -> list[ag.Node]:
    nodes = []
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        nodes.append(t._grad_fn or t._accumulate_node())
    return nodes
