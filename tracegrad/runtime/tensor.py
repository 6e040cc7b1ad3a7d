"""Tensor: the eager, numpy-backed tensor with PyTorch's autograd semantics.

Invariants:
- `_data` is a numpy array whose dtype is `_dtype.np`; `_vbox` is a one-element list, the
  version counter, shared with `detach()`ed aliases and bumped by every in-place change.
- A tensor is a leaf iff `_grad_fn` is None; only leaves carry `_requires_grad`.
- Every op goes through `_apply`, which checks types with the op table's `infer`, computes with
  its `compute` and, when grad mode is on and an operand requires grad, records one OpNode.
"""

from __future__ import annotations

import builtins
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..device import device
from ..ir.indexing import setitem
from ..ir.ops import OPS
from ..ir.tensor_api import TensorOps, full_like, prepare
from ..ir.types import Size, TensorType
from . import autograd as ag
from .grad_mode import is_grad_enabled

_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead.")


class Tensor(TensorOps):
    """A multi-dimensional array that can record operations for automatic differentiation.

    >>> x = tracegrad.tensor([3.0], requires_grad=True)
    >>> (x * x).backward(tracegrad.ones(1)); x.grad
    tensor([6.])
    """

    __slots__ = ("_data", "_dtype", "_requires_grad", "_grad_fn", "_grad", "_vbox",
                 "_retains_grad", "_hooks", "_accumulator", "__weakref__")
    _priority = 1

    # ---- construction ----
    @classmethod
    def _make(cls, data: np.ndarray, dtype: dt.DType, *, grad_fn: ag.Node | None = None,
              vbox: list[int] | None = None) -> Tensor:
        t = object.__new__(cls)
        t._data, t._dtype, t._grad_fn = data, dtype, grad_fn
        t._requires_grad = False
        t._grad = t._hooks = t._accumulator = None
        t._vbox = vbox if vbox is not None else [0]
        t._retains_grad = False
        return t

    def __init__(self, data: Any = (), *, dtype: Any = None, requires_grad: bool = False) -> None:
        from .creation import to_array
        array, kind = to_array(data, dtype)
        self._data, self._dtype, self._grad_fn = array, kind, None
        self._requires_grad = False
        self._grad = self._hooks = self._accumulator = None
        self._vbox, self._retains_grad = [0], False
        if requires_grad:
            self.requires_grad_(True)

    def _constant(self, array: np.ndarray) -> Tensor:
        array = np.asarray(array)
        return Tensor._make(array, dt.from_numpy_dtype(array.dtype))

    def _concrete(self) -> np.ndarray:
        return self._data

    # ---- metadata ----
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def dtype(self) -> dt.DType:
        return self._dtype

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def type_(self) -> TensorType:
        return TensorType(self._data.shape, self._dtype)

    @property
    def _version(self) -> int:
        return self._vbox[0]

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def is_cuda(self) -> bool:
        return False

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self

    def is_contiguous(self) -> bool:
        return True

    # ---- autograd state ----
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self._grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               f"gradients, got a tensor of dtype {self._dtype.name}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self) -> ag.Node | None:
        return self._grad_fn

    @property
    def grad(self) -> Tensor | None:
        if self._grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"assigned grad has data of a different size: expected "
                                   f"{list(self.shape)}, got {list(value.shape)}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: expected "
                                   f"{self.dtype.name}, got {value.dtype.name}")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is not None:
            self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Run `hook(grad)` when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            hooks = self._grad_fn._pre_hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def _accumulate_node(self) -> ag.AccumulateGrad:
        if self._accumulator is None:
            self._accumulator = ag.AccumulateGrad(self)
        return self._accumulator

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (weighted by `gradient`)."""
        from .backward import backward
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs=inputs)

    def detach(self) -> Tensor:
        return Tensor._make(self._data, self._dtype, vbox=self._vbox)

    def detach_(self) -> Tensor:
        self._grad_fn, self._requires_grad = None, False
        return self

    @property
    def data(self) -> Tensor:
        return Tensor._make(self._data, self._dtype)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data, self._dtype = value._data, value._dtype

    # ---- the op hook ----
    def _apply(self, op: str, *operands: Any, **attrs: Any) -> Tensor:
        op_def = OPS[op]
        types = tuple(x.type_ if isinstance(x, Tensor) else x for x in operands)
        out_type = op_def.infer(*types, **attrs)
        arrays = [x._data if isinstance(x, Tensor) else x for x in operands]
        data = op_def.compute(*arrays, **attrs)
        if not isinstance(data, np.ndarray) or data.dtype != out_type.dtype.np:
            data = np.asarray(data, dtype=out_type.dtype.np)
        out = Tensor._make(data, out_type.dtype)
        if op_def.vjp is not None and is_grad_enabled() and any(
                isinstance(x, Tensor) and x.requires_grad for x in operands):
            name = op_def.grad_fn_name(types, attrs)
            node = ag.node_class(name, ag.OpNode)(op_def, attrs, operands, types, out, out_type)
            out._set_grad_fn(node)
        return out

    def _set_grad_fn(self, node: ag.Node) -> None:
        self._grad_fn = node
        node._output = weakref.ref(self)

    def _composite(self, name: str, fn: Callable, *operands: Any, **static: Any) -> Any:
        out = fn(*operands, **static)
        if out._grad_fn is not None:
            node = ag.node_class(name, ag.CompositeNode)(out._grad_fn, operands)
            out._set_grad_fn(node)
        return out

    # ---- conversion ----
    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to "
                               "Scalar")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def clone(self) -> Tensor:
        return self._composite("CloneBackward0", _copy, self)

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return builtins.int(self.item())

    def __index__(self) -> int:
        if self._dtype.category != 1 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __format__(self, spec: str) -> str:
        if spec and self._data.size == 1:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        from .printing import format_tensor, shows_dtype
        suffixes = []
        if shows_dtype(self._data):
            suffixes.append(f"dtype=tracegrad.{self._dtype.name}")
        if self._grad_fn is not None:
            suffixes.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._data, suffixes)

    __str__ = __repr__

    def __reduce__(self):
        return (_rebuild, (self._data, self._dtype.name, self._requires_grad))

    # ---- in place ----
    def _assign(self, new: Tensor) -> Tensor:
        """Make `self` hold `new`'s value in place (same storage), as PyTorch's in-place ops do."""
        if is_grad_enabled() and self._grad_fn is None and self._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        if tuple(new.shape) != tuple(self.shape):
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                               f"shape {list(new.shape)}")
        if new.dtype.category > self._dtype.category:
            raise RuntimeError(f"result type {new.dtype.name.capitalize()} can't be cast to the "
                               f"desired output type {self._dtype.name.capitalize()}")
        if not self._data.flags.writeable:
            raise RuntimeError("unsupported operation: this tensor is a broadcast view whose "
                               "elements share memory; clone() it before writing in place")
        np.copyto(self._data, new._data, casting="unsafe")
        self._vbox[0] += 1
        if new._grad_fn is not None:
            self._set_grad_fn(new._grad_fn)
        elif is_grad_enabled():
            self._grad_fn = None
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._assign(self.add(other, alpha=alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._assign(self.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._assign(self * other)

    def div_(self, other: Any) -> Tensor:
        return self._assign(self / other)

    def pow_(self, exponent: Any) -> Tensor:
        return self._assign(self ** exponent)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._assign(self.clamp(min, max))

    def zero_(self) -> Tensor:
        return self._assign(full_like(self, 0))

    def fill_(self, value: Any) -> Tensor:
        return self._assign(full_like(self, value))

    def copy_(self, src: Any) -> Tensor:
        (value,) = prepare(src, dtype=self.dtype)
        return self._assign(value.broadcast_to(tuple(self.shape)))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        from .creation import generator
        sample = generator().normal(mean, std, self._data.shape)
        return self._assign(Tensor._make(sample.astype(self._dtype.np), self._dtype))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        from .creation import generator
        sample = generator().uniform(a, b, self._data.shape)
        return self._assign(Tensor._make(sample.astype(self._dtype.np), self._dtype))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, key: Any, value: Any) -> None:
        tracking = is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False))
        if not tracking:
            if self._grad_fn is None and self._requires_grad and is_grad_enabled():
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            self._data[_numpy_key(key)] = value._data if isinstance(value, Tensor) else value
            self._vbox[0] += 1
            return
        self._assign(setitem(self, key, value))

    # ---- new tensors like this one ----
    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        from .creation import zeros
        return zeros(*size, dtype=dtype or self._dtype)

    def new_ones(self, *size: Any, dtype: Any = None) -> Tensor:
        from .creation import ones
        return ones(*size, dtype=dtype or self._dtype)

    def new_tensor(self, data: Any, dtype: Any = None) -> Tensor:
        return Tensor(data, dtype=dtype or self._dtype)


def _copy(x: Tensor) -> Tensor:
    return x * 1 if x.requires_grad else Tensor._make(x._data.copy(), x._dtype)


def _numpy_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(_numpy_key(k) for k in key)
    return key._data if isinstance(key, Tensor) else key


def _rebuild(data: np.ndarray, dtype_name: str, requires_grad: bool) -> Tensor:
    t = Tensor._make(data, dt.as_dtype(dtype_name))
    return t.requires_grad_(requires_grad)


class _HookHandle:
    """Returned by `register_hook`; `remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
