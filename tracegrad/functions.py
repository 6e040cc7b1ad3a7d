"""Free functions mirroring tensor methods (`tracegrad.exp(x)`, `tracegrad.sum(x, 1)`), as
PyTorch offers them. Each forwards to the method of the same name, so there is one code path."""

from __future__ import annotations

from typing import Any

from .ir import tensor_api
from .ir.tensor_api import TensorOps

_METHODS = (
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "mm", "mv", "dot",
    "exp", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs", "sign",
    "square", "clamp", "clamp_min", "clamp_max", "clip",
    "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
    "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "broadcast_to",
    "eq", "ne", "lt", "le", "gt", "ge", "masked_fill", "take",
)
subtract, multiply, divide, true_divide = "sub", "mul", "div", "div"


def _as_operand(value: Any) -> Any:
    if isinstance(value, TensorOps):
        return value
    from .runtime.creation import as_tensor
    return as_tensor(value)


def _forward(name: str) -> Any:
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_as_operand(input), name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`tracegrad.{name}(x, ...)` is `x.{name}(...)`."
    return function


_namespace = globals()
for _name in _METHODS:
    _namespace[_name] = _forward(_name)
for _alias, _target in (("subtract", "sub"), ("multiply", "mul"), ("divide", "div"),
                        ("true_divide", "div"), ("clip", "clamp")):
    _namespace[_alias] = _forward(_target)


def cat(tensors: Any, dim: int = 0) -> TensorOps:
    """Concatenate tensors along an existing axis."""
    return tensor_api.concat([_as_operand(t) for t in tensors], dim)


concat = concatenate = cat


def stack(tensors: Any, dim: int = 0) -> TensorOps:
    """Stack tensors along a new axis."""
    return tensor_api.stack([_as_operand(t) for t in tensors], dim)


def where(condition: Any, input: Any, other: Any) -> TensorOps:
    """`input` where `condition` holds, else `other`."""
    return tensor_api.where(_as_operand(condition), input, other)


def maximum(input: Any, other: Any) -> TensorOps:
    return tensor_api.maximum(_as_operand(input), other)


def minimum(input: Any, other: Any) -> TensorOps:
    return tensor_api.minimum(_as_operand(input), other)


def numel(input: TensorOps) -> int:
    return input.numel()


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, TensorOps)


__all__ = [*_METHODS, "subtract", "multiply", "divide", "true_divide", "clip", "cat", "concat",
           "concatenate", "stack", "where", "maximum", "minimum", "numel", "is_tensor"]
