"""Grad mode: whether eager ops record backward nodes. A contextvar, so threads and async
tasks each see their own mode. `no_grad`, `enable_grad` and `set_grad_enabled` work as context
managers and as decorators, as in PyTorch."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("tracegrad_grad_enabled",
                                                                 default=True)


def is_grad_enabled() -> bool:
    return _ENABLED.get()


class _GradMode:
    """Base: set the mode on entry, restore the previous mode on exit; usable as a decorator."""

    mode: bool = True

    def __enter__(self) -> None:
        self._token = _ENABLED.set(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _ENABLED.reset(self._token)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self) -> tuple:
        return ()


class no_grad(_GradMode):  # noqa: N801
    """Disable recording: `with tracegrad.no_grad(): w -= lr * w.grad`."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Enable recording inside a `no_grad` region."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set the mode now (as a function call) or for a region (as a context manager)."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = _ENABLED.get()
        _ENABLED.set(self.mode)

    def __enter__(self) -> None:
        self._token = _ENABLED.set(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _ENABLED.reset(self._token)
        _ENABLED.set(self._previous)

    def __call__(self, fn: Callable) -> Callable:
        _ENABLED.set(self._previous)      # decorating must not change the mode of the caller
        return super().__call__(fn)

    def _args(self) -> tuple:
        return (self.mode,)
