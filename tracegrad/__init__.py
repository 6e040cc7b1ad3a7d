"""tracegrad: eager tensors with PyTorch's autograd, and (soon) static graphs compiled to Numba.

Quick start::

    import tracegrad as tg
    x = tg.tensor([3.0], dtype=float, requires_grad=True)
    y = x @ x
    y.backward()
    print(x.grad)            # tensor([6.], dtype=tracegrad.float64)
"""

from __future__ import annotations

import builtins as _builtins

from . import autograd, nn
from .device import device
from .dtypes import DType, bool_, double, float16, float32, float64, half, int32, int64, long
from .errors import DTypeError, ShapeError, TraceError, TracegradError, UnsupportedError
from .functions import *  # noqa: F403
from .functions import __all__ as _function_names
from .ir.types import Size
from .runtime.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                               full_like, linspace, manual_seed, ones, ones_like, rand, rand_like,
                               randint, randn, randn_like, tensor, zeros, zeros_like)
from .runtime.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .runtime.tensor import Tensor

# PyTorch's spellings `tracegrad.float`, `tracegrad.int`, `tracegrad.bool` (attributes only).
globals().update({"float": float32, "int": int32, "bool": bool_})
dtype = DType
__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "as_tensor", "from_numpy", "ones", "zeros", "full", "empty", "eye",
    "arange", "linspace", "rand", "randn", "randint", "manual_seed", "ones_like", "zeros_like",
    "full_like", "empty_like", "rand_like", "randn_like",
    "DType", "dtype", "float16", "float32", "float64", "half", "double", "int32", "int64", "long",
    "bool_", "float", "int", "bool", "Size", "device",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "autograd", "nn",
    "TracegradError", "TraceError", "ShapeError", "DTypeError", "UnsupportedError",
    *_function_names,
]
del _builtins

from .api import grad, hessian, jacobian, make_graph, value_and_grad, vjp  # noqa: E402

__all__ += ["grad", "value_and_grad", "vjp", "jacobian", "hessian", "make_graph"]

from .debug import debug  # noqa: E402
from .runtime.compiled import CompiledFunction, compile  # noqa: E402

__all__ += ["compile", "CompiledFunction", "debug"]
