"""Tensor: the eager, numpy-backed tensor with PyTorch's autograd semantics.

Invariants:
- `_data` is a numpy array whose dtype is `_dtype.np`; `_vbox` is a one-element list, the
  version counter, shared with `detach()`ed aliases and bumped by every in-place change.
- A tensor is a leaf iff `_grad_fn` is None; only leaves carry `_requires_grad`.
- Every op goes through `_apply`, which checks types with the op table's `infer`, computes with
  its `compute` and, when grad mode is on, an operand requires grad and the result is floating
  point, records one OpNode.
- An op result whose array is a numpy view of an operand's is a view: it shares the operand's
  version counter and remembers its `_base` (and the base's grad_fn when it was taken). Views
  are not rebased as PyTorch's are: changing a view in place inside a graph, or using a view
  whose base was changed in place inside a graph, raises instead of giving wrong gradients.
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
from ..errors import UnsupportedError
from ..ir.indexing import setitem
from ..ir.ops import OPS
from ..ir.ops.elementwise import IN_PLACE
from ..ir.tensor_api import TensorOps, full_like, prepare, where
from ..ir.types import Size, TensorType
from . import autograd as ag
from . import signatures
from . import kernels  # noqa: F401  (installs the eager fast path of ir/ops/fast.py)
from .grad_mode import _ENABLED as _GRAD_ENABLED
from .grad_mode import is_grad_enabled

_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead.")

_SCALAR_TYPE = {"float16": "Half", "float32": "Float", "float64": "Double", "int32": "Int",
                "int64": "Long", "bool": "Bool"}     # PyTorch's names in dtype error messages


class Tensor(TensorOps):
    """A multi-dimensional array that can record operations for automatic differentiation.

    >>> x = tracegrad.tensor([3.0], requires_grad=True)
    >>> (x * x).backward(tracegrad.ones(1)); x.grad
    tensor([6.])
    """

    __slots__ = ("_data", "_dtype", "_type", "_size", "_requires_grad", "_grad_fn", "_grad",
                 "_vbox", "_retains_grad", "_accumulator", "_base", "_view_of", "__weakref__")
    _priority = 1
    __array_priority__ = 1000     # `np.float64(2.0) * t` calls Tensor.__rmul__, as in PyTorch

    # ---- construction ----
    @classmethod
    def _make(cls, data: np.ndarray, dtype: dt.DType, *, grad_fn: ag.Node | None = None,
              vbox: list[int] | None = None) -> Tensor:
        t = object.__new__(cls)          # `_init`, inlined: this runs for every op result
        t._data, t._dtype, t._grad_fn = data, dtype, grad_fn
        t._type = t._size = None
        t._requires_grad = t._retains_grad = False
        t._grad = t._accumulator = t._base = t._view_of = None
        t._vbox = vbox if vbox is not None else [0]
        return t

    def _init(self, data: np.ndarray, dtype: dt.DType, grad_fn: ag.Node | None,
              vbox: list[int] | None) -> None:
        # keep in step with `_make`
        self._data, self._dtype, self._grad_fn = data, dtype, grad_fn
        self._type = self._size = None          # cached TensorType and Size, built on first use
        self._requires_grad = self._retains_grad = False
        self._grad = self._accumulator = self._base = self._view_of = None
        self._vbox = vbox if vbox is not None else [0]

    def __init__(self, *data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        """PyTorch's legacy constructor: `Tensor([1, 2])` holds float32 data, `Tensor(2, 3)` is
        an uninitialised 2x3 float32 tensor. Prefer `tracegrad.tensor`, which infers the dtype."""
        from .creation import to_array
        kind = dt.float32 if dtype is None else dt.as_dtype(dtype)
        if len(data) == 1 and isinstance(data[0], Size):
            data = tuple(data[0])
        if all(isinstance(n, builtins.int) and not isinstance(n, builtins.bool) for n in data):
            array = np.empty(data if data else (0,), kind.np)
        else:
            array, kind = to_array(data[0] if len(data) == 1 else list(data), kind)
        self._init(array, kind, None, None)
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
        size = self._size
        if size is None:
            size = self._size = Size(self._data.shape)
        return size

    @property
    def dtype(self) -> dt.DType:
        return self._dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def type_(self) -> TensorType:
        if self._type is None:         # cached: `_data` and `_dtype` change only together (data=)
            self._type = TensorType(self._data.shape, self._dtype)
        return self._type

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
        """self when its storage is in row-major order, else a row-major copy (a transpose or
        expand view), recorded as PyTorch records it: CloneBackward0."""
        if self._data.flags.c_contiguous:
            return self
        return self._composite("CloneBackward0", _row_major_copy, self)

    def is_contiguous(self) -> bool:
        return self._data.flags.c_contiguous

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
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' "
                                   f"to a tensor of size '{list(self.shape)}'. Please ensure that "
                                   "the gradient and the tensor are the same size")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype "
                                   f"'{value.dtype.name}' to a tensor with dtype "
                                   f"'{self.dtype.name}'. The gradient must match the tensor's "
                                   "dtype")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is not None:
            self._retains_grad = True
            self._grad_fn._output = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Run `hook(grad)` when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = (self._grad_fn or self._accumulate_node()).register_prehook(hook)
        return _HookHandle(hooks, hook)

    def _accumulate_node(self) -> ag.AccumulateGrad:
        if self._accumulator is None:
            self._accumulator = ag.AccumulateGrad(self)
        return self._accumulator

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (weighted by `gradient`)."""
        _backward.backward(self, None if gradient is None else [gradient], retain_graph,
                           create_graph, inputs=inputs)

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
        self._type = self._size = None

    # ---- the op hook ----
    def _apply(self, op: str, *operands: Any, **attrs: Any) -> Tensor:
        op_def = OPS[op]
        arrays, key, recording = [], [op], False     # key: the signature (runtime/signatures.py)
        for x in operands:
            if isinstance(x, Tensor):
                if x._base is not None:
                    x._check_view()
                data = x._data
                arrays.append(data)
                key.append(data.shape)
                key.append(x._dtype)
                recording = recording or x._requires_grad or x._grad_fn is not None
            else:
                if isinstance(x, ag.Unavailable):      # a VJP rule read a freed or changed value
                    x._concrete()
                arrays.append(x)
                key.append(type(x))
                key.append(x)
        if attrs:
            key += attrs.items()
        key = tuple(key)
        try:
            out_type, node_class = signatures.FOUND[key]
        except (KeyError, TypeError):       # a new signature, or an unhashable attribute
            out_type, node_class = signatures.lookup(op_def, key, operands, attrs)
        data = op_def.compute(*arrays, **attrs)
        dtype = out_type.dtype
        if type(data) is not np.ndarray or data.dtype != dtype.np:
            data = np.asarray(data, dtype=dtype.np)
        out = Tensor._make(data, dtype)
        if data.shape == out_type.shape:
            out._type = out_type
        aliased = data.base is not None
        for a in arrays:
            aliased = aliased or a is data
        if aliased:
            out._become_view(operands)
        if recording and node_class is not None and dtype.is_floating_point \
                and _GRAD_ENABLED.get():
            out._set_grad_fn(node_class(op_def, attrs, operands, out, out_type))
        return out

    def _become_view(self, operands: tuple) -> None:
        data = self._data
        for x in operands:
            if isinstance(x, Tensor) and (data.base is x._data
                                          or np.may_share_memory(data, x._data)):
                self._vbox, self._base = x._vbox, x._base if x._base is not None else x
                self._view_of = self._base._grad_fn
                return

    def _check_view(self) -> None:
        if self._base._grad_fn is not self._view_of:
            raise UnsupportedError(
                "this tensor is a view (a slice, reshape, transpose or expand) taken before its "
                "base tensor was changed in place with autograd recording; PyTorch rebases such "
                "views, tracegrad does not. Take the view again after the in-place change, or "
                "clone() it before.")

    def _set_grad_fn(self, node: ag.Node) -> None:
        if self._retains_grad:       # the engine fills in the .grad of a node's `_output`;
            old = self._grad_fn      # an in-place change moves that duty, as in PyTorch
            if old is not None and old._output is not None and old._output() is self:
                old._output = None
            node._output = weakref.ref(self)
        self._grad_fn = node

    def _composite(self, name: str, fn: Callable, *operands: Any, **static: Any) -> Any:
        out = fn(*operands, **static)
        if out._grad_fn is not None and not any(out is x for x in operands):
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
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

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
        if self._data.ndim == 0:           # PyTorch formats a 0-d tensor as its number
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
    def _assign(self, new: Tensor, name: str | None = None) -> Tensor:
        """Make `self` hold `new`'s value in place (same storage), as PyTorch's in-place ops do.

        When autograd records, `self` takes `new`'s history. A node that saved `self` keeps a
        copy of the old value and saves the written storage instead of its own output. Ops
        that overwrite without reading `self` (zero_, fill_, copy_) pass PyTorch's node `name`:
        they record one node that gives `self`'s old history a zero gradient.
        """
        self._check_inplace(new)
        recording = is_grad_enabled() and (self.requires_grad or new.requires_grad)
        if recording and name is not None:
            new = self._composite(name, _overwrite, self, new)
        node = new._grad_fn if recording else None
        if isinstance(node, ag.OpNode):
            node.keep_original(self)
        np.copyto(self._data, new._data, casting="unsafe")
        self._vbox[0] += 1
        if node is not None:
            self._set_grad_fn(node)
            if isinstance(node, ag.OpNode):
                node.adopt_output(self)
        return self

    def _check_inplace(self, new: Tensor) -> None:
        if is_grad_enabled():
            if self._grad_fn is None and self._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._base is not None:
                self._check_view_inplace(new)
        if tuple(new.shape) != tuple(self.shape):
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                               f"shape {list(new.shape)}")
        if new.dtype.category > self._dtype.category:
            raise RuntimeError(f"result type {_SCALAR_TYPE[new.dtype.name]} can't be cast to the "
                               f"desired output type {_SCALAR_TYPE[self._dtype.name]}")
        if not self._data.flags.writeable:
            raise RuntimeError("unsupported operation: this tensor is a broadcast view whose "
                               "elements share memory; clone() it before writing in place")

    def _check_view_inplace(self, new: Tensor) -> None:
        base = self._base
        if base._grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        self._check_view()
        if self.requires_grad or new.requires_grad:
            raise UnsupportedError(
                "in-place change of a view (a slice, reshape, transpose or expand) of a tensor "
                "in an autograd graph: PyTorch rebases the base tensor's history, tracegrad does "
                "not. Write through the base instead (base[index] = value), or clone() the view.")

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha == 1 and self._writes_through(other):
            return self._update("add", other)
        return self._assign(self.add(other, alpha=alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha == 1 and self._writes_through(other):
            return self._update("sub", other)
        return self._assign(self.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Tensor:
        if self._writes_through(other):
            return self._update("mul", other)
        return self._assign(self * other)

    def div_(self, other: Any) -> Tensor:
        if self._writes_through(other):
            return self._update("div", other)
        return self._assign(self / other)

    def _writes_through(self, other: Any) -> bool:
        """Whether `self op= other` may run as one ufunc writing into self's storage: autograd
        does not record it, and the ufunc stores exactly what op-then-copy would (self a float
        tensor that is no view; other a Python number or a tensor of self's dtype and shape, or
        0-d). `_assign`'s checks cannot fail then, except the read-only one."""
        if self._base is not None or not self._dtype.is_floating_point:
            return False
        if isinstance(other, Tensor):
            if other._dtype is not self._dtype or other._base is not None or (
                    other._data.shape != self._data.shape and other._data.ndim):
                return False
            needs_grad = self._requires_grad or self._grad_fn is not None or \
                other._requires_grad or other._grad_fn is not None
        elif type(other) is float or type(other) is int:
            needs_grad = self._requires_grad or self._grad_fn is not None
        else:
            return False
        return not (needs_grad and is_grad_enabled()) and self._data.flags.writeable

    def _update(self, name: str, other: Any) -> Tensor:
        IN_PLACE[name](self._data, other._data if isinstance(other, Tensor) else float(other),
                       out=self._data)
        self._vbox[0] += 1
        return self

    def pow_(self, exponent: Any) -> Tensor:
        return self._assign(self ** exponent)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._assign(self.clamp(min, max))

    def zero_(self) -> Tensor:
        return self._assign(full_like(self, 0), "ZeroBackward0")

    def fill_(self, value: Any) -> Tensor:
        if not isinstance(value, Tensor):
            return self._assign(full_like(self, value), "FillBackward2")
        if value.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        return self._assign(value.to(self.dtype).broadcast_to(tuple(self.shape)), "FillBackward3")

    def copy_(self, src: Any) -> Tensor:
        (value,) = prepare(src, dtype=self.dtype)
        return self._assign(value.broadcast_to(tuple(self.shape)), "CopyBackwards")

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        from .creation import generator
        sample = generator().normal(mean, std, self._data.shape)
        return self._assign(Tensor._make(sample.astype(self._dtype.np), self._dtype),
                            "NormalBackward0")

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        from .creation import generator
        sample = generator().uniform(a, b, self._data.shape)
        return self._assign(Tensor._make(sample.astype(self._dtype.np), self._dtype),
                            "UniformBackward0")

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


ag.register_tensor_class(Tensor)


def _copy(x: Tensor) -> Tensor:
    return x * 1 if x.requires_grad else Tensor._make(x._data.copy(), x._dtype)


def _row_major_copy(x: Tensor) -> Tensor:
    if not x.requires_grad:
        return Tensor._make(np.ascontiguousarray(x._data), x._dtype)
    # flattening a non-contiguous array copies it in row-major order (recorded, so gradients
    # flow); unflattening views that copy, a temporary nobody else sees: the result owns it
    out = x.reshape(-1).reshape(tuple(x.shape))
    out._base = out._view_of = None
    out._vbox = [0]
    return out


def _overwrite(old: Tensor, value: Tensor) -> Tensor:
    """`value`, recorded so that `old` gets a zero gradient (the history of zero_/fill_/copy_)."""
    return where(full_like(old, False, dt.bool_), old, value)


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


from . import backward as _backward  # noqa: E402  (it imports Tensor from here)
