"""The tracer: run a user's function on proxies and record its IR graph."""

from .proxy import Proxy
from .pytree import flatten, unflatten
from .trace import TracedFunction, trace

__all__ = ["Proxy", "TracedFunction", "flatten", "trace", "unflatten"]
