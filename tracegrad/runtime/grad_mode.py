"""Grad mode: whether eager ops record backward nodes. A contextvar, so threads and async
tasks each see their own mode. `no_grad`, `enable_grad` and `set_grad_enabled` work as context
managers and as decorators (of functions and generators), as in PyTorch; `no_grad` and
`enable_grad` also decorate without parentheses. A context manager object may be re-entered."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("tracegrad_grad_enabled",
                                                                 default=True)


def is_grad_enabled() -> bool:
    return _ENABLED.get()


class _GradMode:
    """Base: set the mode on entry, restore the previous mode on exit; usable as a decorator."""

    mode: bool = True

    def __new__(cls, fn: Callable | None = None) -> Any:
        instance = super().__new__(cls)
        instance._tokens = []
        return instance if fn is None else instance(fn)      # bare `@no_grad`

    def __init__(self, fn: Callable | None = None) -> None:
        pass

    def __enter__(self) -> None:
        self._tokens.append(_ENABLED.set(self.mode))

    def __exit__(self, *exc: Any) -> None:
        _ENABLED.reset(self._tokens.pop())

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self._clone, fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper

    def _clone(self) -> _GradMode:
        return type(self)()


def _wrap_generator(context: Callable[[], _GradMode], fn: Callable) -> Callable:
    """Run each step of the generator under the mode, and the caller's code between steps
    under the caller's mode."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with context():
            gen = fn(*args, **kwargs)
        return (yield from _stepped(context, gen))
    return wrapper


def _stepped(context: Callable[[], _GradMode], gen: Any) -> Any:
    step: Callable[[], Any] = lambda: gen.send(None)
    while True:
        try:
            with context():
                response = step()
        except StopIteration as stop:
            return stop.value
        try:
            request = yield response
        except GeneratorExit:
            with context():
                gen.close()
            raise
        except BaseException as error:
            step = functools.partial(gen.throw, error)
        else:
            step = functools.partial(gen.send, request)


class no_grad(_GradMode):  # noqa: N801
    """Disable recording: `with tracegrad.no_grad(): w -= lr * w.grad`."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Enable recording inside a `no_grad` region."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set the mode now (as a function call) or for a region (as a context manager)."""

    def __new__(cls, mode: bool) -> set_grad_enabled:
        instance = object.__new__(cls)
        instance._tokens = []
        return instance

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = _ENABLED.get()
        _ENABLED.set(self.mode)

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        _ENABLED.set(self._previous)

    def __call__(self, fn: Callable) -> Callable:
        _ENABLED.set(self._previous)      # decorating must not change the mode of the caller
        return super().__call__(fn)

    def _clone(self) -> _GradMode:
        clone = object.__new__(_Region)
        clone._tokens, clone.mode = [], self.mode
        return clone


class _Region(_GradMode):
    """A plain set-and-restore region with a given mode (what a decorated call runs under)."""
