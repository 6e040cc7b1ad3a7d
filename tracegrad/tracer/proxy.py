"""Proxy: the tensor a traced function receives. It records IR nodes (it is a SymbolicTensor)
and adds what users touch: errors that name their line when a value is needed at trace time,
and in-place ops turned into pure ops (the proxy is rebound to the new value)."""

from __future__ import annotations

from typing import Any

from ..errors import TraceError, user_location
from ..ir.builder import SymbolicTensor
from ..ir.indexing import setitem
from ..ir.tensor_api import full_like, prepare

_ADVICE = ("use tracegrad.where(condition, a, b) instead of a Python branch, or compute the value "
           "outside the traced function and pass it in as a Python number")


def _concrete_needed(what: str) -> TraceError:
    return TraceError(f"{user_location()}: {what} needs the value of a traced tensor, which is not "
                      f"known while tracing; {_ADVICE}")


class Proxy(SymbolicTensor):
    """A traced tensor. Shapes and dtypes are static and usable in Python; values are not."""

    __slots__ = ()

    # ---- values are unknown at trace time ----
    def __bool__(self) -> bool:
        raise _concrete_needed("a Python branch or bool() on a tensor")

    def __float__(self) -> float:
        raise _concrete_needed("float()")

    def __int__(self) -> int:
        raise _concrete_needed("int()")

    def __index__(self) -> int:
        raise _concrete_needed("using a tensor as a Python index")

    def item(self) -> Any:
        raise _concrete_needed(".item()")

    def tolist(self) -> Any:
        raise _concrete_needed(".tolist()")

    def numpy(self) -> Any:
        raise _concrete_needed(".numpy()")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise _concrete_needed("converting a tensor to a numpy array")

    # ---- static facts are fine ----
    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    @property
    def requires_grad(self) -> bool:
        return False

    def detach(self) -> Proxy:
        return self.stop_gradient()

    def clone(self) -> Proxy:
        return self.builder.wrap(self.value)

    @property
    def data(self) -> Proxy:
        """A detached alias, as eager `.data`; assigning to it (`w.data -= u`) rebinds `w` to
        the new value, detached (eager changes the data without recording the change)."""
        return self.stop_gradient()

    @data.setter
    def data(self, new: Any) -> None:
        (new,) = prepare(new, dtype=self.dtype)
        if not isinstance(new, SymbolicTensor):          # a Python number
            new = full_like(self, new)
        self._rebind(new.stop_gradient())

    @property
    def grad(self) -> Any:
        raise TraceError(f"{user_location()}: .grad is not available inside a traced function "
                         "(there is no backward() pass while tracing); compute gradients with "
                         "tracegrad.grad(f) or value_and_grad(f)")

    # ---- in-place ops become pure ops; the proxy now names the new value ----
    def _rebind(self, new: SymbolicTensor) -> Proxy:
        (new,) = prepare(new, dtype=self.dtype)
        self.value = new.broadcast_to(self.shape).value
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Proxy:
        return self._rebind(self.add(other, alpha=alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Proxy:
        return self._rebind(self.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Proxy:
        return self._rebind(self * other)

    def div_(self, other: Any) -> Proxy:
        return self._rebind(self / other)

    def zero_(self) -> Proxy:
        return self._rebind(full_like(self, 0))

    def fill_(self, value: Any) -> Proxy:
        return self._rebind(full_like(self, value))

    def clamp_(self, min: Any = None, max: Any = None) -> Proxy:
        return self._rebind(self.clamp(min, max))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, key: Any, value: Any) -> None:
        self._rebind(setitem(self, key, value))

    def backward(self, *args: Any, **kwargs: Any) -> None:
        raise TraceError(f"{user_location()}: backward() inside a traced function is not "
                         "supported; use tracegrad.grad(f) or value_and_grad(f) on the function")
