"""CompiledFunction: trace once per signature, build Numba kernels, and make each call ONE node
of eager autograd.

Per signature (guards.signature): trace -> optimize -> (if an input requires grad) reverse-mode
pass -> optimize -> partition into forward and backward graphs -> kernels from the cache.
A call runs the forward kernel; with grad mode on and an input requiring grad, it records a
`CompiledFunctionBackward` node whose backward runs the backward kernel on the saved values, or,
under create_graph=True, calls a compiled, differentiable vector-Jacobian function, so second and
higher derivatives flow through compiled code too.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba.core.errors import NumbaError

from ..debug import log as debug_log
from ..codegen.jit import jit_enabled
from ..codegen.options import kernel_options
from ..codegen.partition import Partition, partition
from ..codegen.validate import check_supported
from ..dtypes import from_numpy_dtype
from ..errors import UnsupportedError, user_location
from ..ir.autodiff import append_adjoints, vjp_graph
from ..ir.graph import Graph
from ..ir.tensor_api import full_like
from ..tracer.pytree import LEAF, flatten, unflatten
from ..tracer.trace import output_value, trace
from . import autograd as ag
from .cache import CacheStats, Kernel, KernelCache, default_cache
from .grad_mode import _ENABLED as _GRAD_ENABLED
from .grad_mode import is_grad_enabled
from .guards import describe, signature
from .tensor import Tensor

MAX_SIGNATURES = 8


def _optimize(graph: Graph) -> Graph:
    from ..ir.passes import optimize
    return optimize(graph)


def _unset(leaves: Any) -> Any:
    raise AssertionError("Entry.run is set when the entry is built")


@dataclass
class Entry:
    """Everything compiled for one signature."""
    graph: Graph                          # optimized forward graph of the user's function
    out_tree: Any
    tensor_leaves: tuple[int, ...]
    forward: Kernel
    diff: tuple[int, ...] = ()            # positions (among tensor leaves) that get gradients
    float_outputs: tuple[int, ...] = ()
    split: Partition | None = None
    backward: Kernel | None = None
    joint: Graph | None = None
    vjp_function: Callable | None = None
    run: Callable = _unset                # leaves -> outputs; see _runner
    backward_specs: tuple = ()            # (dtype, numpy dtype, is 0-d) per backward output
    cotangent_specs: tuple = ()           # the same for each float output's cotangent
    times: dict[str, float] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)   # node counts per stage, for explain()


class CompiledFunction:
    """A function compiled to Numba kernels; call it like the original.

    >>> f = tracegrad.compile(lambda x: (x.tanh() * x).sum())
    >>> f(tracegrad.ones(3, requires_grad=True)).backward()
    """

    def __init__(self, fn: Callable, *, parallel: bool | None = None, fastmath: bool = False,
                 cache: KernelCache | None = None) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self._parallel, self._fastmath = fn, parallel, fastmath
        self._cache = cache
        self._entries: dict[tuple, Entry] = {}
        self._fast: dict[tuple, Callable] = {}       # _fast_key(args) -> Entry.run
        self.stats = CacheStats()                      # this function's kernel-cache events

    @property
    def cache(self) -> KernelCache:
        return self._cache or default_cache()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:                  # the fast path: tensors and arrays only, no pytree walk
            key = _fast_key(args)
            if key is not None:
                run = self._fast.get(key)
                if run is not None:
                    return run(args)
        leaves, tree = flatten((args, kwargs))
        key = signature(leaves, tree, is_grad_enabled())
        entry = self._entries.get(key)
        if entry is None:
            entry = self._build(key, args, kwargs, leaves)
            fast = None if kwargs else _fast_key(args)
            if fast is not None and entry.tensor_leaves == tuple(range(len(args))):
                self._fast[fast] = entry.run
        return entry.run(leaves)

    # ---- building ----
    def _build(self, key: tuple, args: tuple, kwargs: dict, leaves: list) -> Entry:
        name = getattr(self._fn, "__name__", "f")
        debug_log(1, f"trace {name}{describe(key)}" + (" (retrace)" if self._entries else ""))
        if len(self._entries) == MAX_SIGNATURES:
            warnings.warn(f"tracegrad.compile: {name} has been compiled for more than "
                          f"{MAX_SIGNATURES} signatures; each new shape or dtype retraces",
                          RuntimeWarning, stacklevel=3)
        times: dict[str, float] = {}
        t = time.perf_counter()
        traced = trace(self._fn, *args, **kwargs)
        times["trace"] = time.perf_counter() - t
        t = time.perf_counter()
        graph = _optimize(traced.graph)
        times["passes"] = time.perf_counter() - t
        counts = {"forward passes": f"{len(traced.graph.nodes)} -> {len(graph.nodes)} nodes"}
        check_supported(graph, user_location())
        tensor_leaves = traced.tensor_leaves
        diff = tuple(k for k, i in enumerate(tensor_leaves) if _wants_grad(leaves[i]))
        float_outputs = tuple(j for j, v in enumerate(graph.outputs)
                              if v.type.dtype.is_floating_point)
        entry = self._kernels(graph, traced.out_tree, tensor_leaves, diff, float_outputs, times)
        entry.counts = {**counts, **entry.counts}
        entry.vjp_function = self._vjp_factory(leaves, traced, diff, float_outputs)
        entry.run = _runner(entry)
        self._entries[key] = entry
        debug_log(1, lambda: f"compiled {name}{describe(key)}: " + ", ".join(
            f"{k} {v * 1e3:.1f} ms" for k, v in times.items()))
        return entry

    def _kernels(self, graph: Graph, out_tree: Any, tensor_leaves: tuple, diff: tuple,
                 float_outputs: tuple, times: dict) -> Entry:
        if not (is_grad_enabled() and diff and float_outputs):
            forward = self._timed_kernel(graph, "forward", times)
            return Entry(graph, out_tree, tensor_leaves, forward, times=times)
        t = time.perf_counter()
        joint = vjp_graph(graph, wrt=diff, seed="inputs", outputs=float_outputs, name=graph.name)
        times["autodiff"] = time.perf_counter() - t
        t = time.perf_counter()
        before = len(joint.nodes)
        joint = _optimize(joint)
        times["passes"] += time.perf_counter() - t
        t = time.perf_counter()
        split = partition(joint, len(graph.inputs), len(graph.outputs))
        times["partition"] = time.perf_counter() - t
        counts = {"joint passes": f"{before} -> {len(joint.nodes)} nodes",
                  "partition": f"forward {len(split.forward.nodes)} nodes, backward "
                               f"{len(split.backward.nodes)} nodes"}
        forward = self._timed_kernel(split.forward, "forward", times, saved=len(split.saved))
        backward = self._timed_kernel(split.backward, "backward", times)
        return Entry(graph, out_tree, tensor_leaves, forward, diff, float_outputs, split,
                     backward, joint, times=times, counts=counts)

    def _timed_kernel(self, graph: Graph, phase: str, times: dict, saved: int = 0) -> Kernel:
        options = kernel_options(graph, self._parallel, self._fastmath)
        kernel = self.cache.kernel(graph, phase, options, stats=self.stats, saved=saved)
        times[f"codegen {phase}"] = kernel.seconds
        return kernel

    def _vjp_factory(self, leaves: list, traced: Any, diff: tuple, float_outputs: tuple) -> Callable:
        """A lazily compiled function (inputs, cotangents) -> gradients, for create_graph=True."""
        template, tree, positions = list(leaves), traced.in_tree, traced.tensor_leaves
        fn = self._fn
        holder: list[CompiledFunction] = []

        def vjp(*values: Any) -> tuple:
            xs, cts = values[:len(positions)], values[len(positions):]
            filled = list(template)
            for position, x in zip(positions, xs):
                filled[position] = x
            call_args, call_kwargs = unflatten(tree, filled)
            builder = xs[0].builder
            start = len(builder.nodes)
            outs = [output_value(builder, o) for o in flatten(fn(*call_args, **call_kwargs))[0]]
            grads = append_adjoints(builder, builder.nodes[start:], [outs[j] for j in float_outputs],
                                    list(cts), [xs[k].value for k in diff])
            return tuple(g if g is not None else full_like(xs[k], 0.0) for g, k in zip(grads, diff))

        def get() -> CompiledFunction:
            if not holder:
                vjp.__name__ = f"vjp_{getattr(fn, '__name__', 'f')}"
                holder.append(CompiledFunction(vjp, parallel=self._parallel,
                                               fastmath=self._fastmath, cache=self._cache))
                holder[0].stats = self.stats           # its kernels count as this function's
            return holder[0]
        return get

    # ---- inspection ----
    def entry_for(self, *args: Any, **kwargs: Any) -> Entry:
        leaves, tree = flatten((args, kwargs))
        key = signature(leaves, tree, is_grad_enabled())
        return self._entries.get(key) or self._build(key, args, kwargs, leaves)

    def graph(self, *args: Any, **kwargs: Any) -> Graph:
        """The optimized forward graph for these arguments (the forward kernel's graph when
        gradients are needed: outputs followed by saved values)."""
        entry = self.entry_for(*args, **kwargs)
        return entry.split.forward if entry.split else entry.graph

    def backward_graph(self, *args: Any, **kwargs: Any) -> Graph | None:
        entry = self.entry_for(*args, **kwargs)
        return entry.split.backward if entry.split else None

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated kernel module(s): forward, then backward when there is one."""
        entry = self.entry_for(*args, **kwargs)
        parts = [entry.forward.module_text]
        if entry.backward is not None:
            parts.append(entry.backward.module_text)
        return "\n\n".join(parts)

    def explain(self) -> str:
        from .explain import explain
        return explain(self)


def _wants_grad(leaf: Any) -> bool:
    return isinstance(leaf, Tensor) and leaf.requires_grad and leaf.dtype.is_floating_point


def _fast_key(args: tuple) -> tuple | None:
    """The signature of positional tensor/array arguments in a few hundred nanoseconds: per
    argument its shape, dtype and whether it requires grad; then grad mode. None when some
    argument is anything else (the general path flattens and uses guards.signature)."""
    key: list = []
    for a in args:
        if isinstance(a, Tensor):
            key += (a._data.shape, a._dtype, a._requires_grad or a._grad_fn is not None)
        elif type(a) is np.ndarray:
            key += (a.shape, a.dtype, None)
        else:
            return None
    key.append(is_grad_enabled())
    return tuple(key)


def _argument(leaf: Any, np_dtype: np.dtype | None = None) -> Any:
    """A value as kernels take it: contiguous, 0-d as a scalar, and, when `np_dtype` is given,
    of that dtype (a cotangent reaching a compiled node from eager code may differ)."""
    data = leaf._data if isinstance(leaf, Tensor) else np.asarray(leaf)
    if np_dtype is not None and data.dtype != np_dtype:
        data = data.astype(np_dtype)
    if data.ndim == 0:
        return data[()]
    return data if data.flags.c_contiguous else np.ascontiguousarray(data)


def _output_specs(values: Any) -> tuple:
    return tuple((v.type.dtype, v.type.dtype.np, not v.type.shape) for v in values)


def _wrap(results: Any, specs: tuple) -> list[Tensor]:
    """Kernel results -> tensors. Numba returns 0-d values as Python scalars: give them back
    their dtype (a float32 scalar must not come back float64)."""
    out = []
    for r, (dtype, np_dtype, scalar) in zip(results, specs):
        if scalar:
            r = np.array(r, np_dtype)
        elif r.dtype is not np_dtype and r.dtype != np_dtype:   # (`is`: the cheap common case)
            r = r.astype(np_dtype)      # codegen keeps dtypes; never trust silently
        out.append(Tensor._make(r, dtype))
    return out


def _runner(entry: Entry) -> Callable:
    """The per-call path of one signature, with everything that does not depend on the
    argument values looked up once: arguments -> kernel -> tensors (-> one autograd node)."""
    kernel, positions, times = entry.forward, entry.tensor_leaves, entry.times
    specs = _output_specs(entry.graph.outputs)
    if entry.split is not None:
        entry.backward_specs = _output_specs(entry.split.backward.outputs)
        entry.cotangent_specs = _output_specs([entry.graph.outputs[j] for j in entry.float_outputs])
    n = len(specs)
    grad_node = entry.backward is not None
    single = entry.out_tree == LEAF
    # Numba returns a 0-d value as a Python float: a saved one gets its dtype back, or a
    # float32 backward kernel would type it float64
    scalars = [] if entry.split is None else [
        (k, v.type.dtype.np.type) for k, v in enumerate(entry.split.forward.outputs[n:])
        if v.type.shape == ()]
    diff, float_outputs = entry.diff, entry.float_outputs
    direct = positions == tuple(range(len(positions)))   # the tensor leaves come first

    def run(leaves: Any) -> Any:
        inputs = (leaves if direct and len(leaves) == len(positions)
                  else [leaves[i] for i in positions])
        arrays = list(map(_argument, inputs))
        if "numba forward" in times:        # compiled: the call itself (no compile to time)
            results = kernel.fn(*arrays, *kernel.source.constants)
        else:
            results = _call_kernel(kernel, arrays, times, "numba forward")
        tensors = _wrap(results, specs)
        if grad_node:
            saved = results[n:]
            if scalars:
                saved = list(saved)
                for k, scalar_type in scalars:
                    saved[k] = scalar_type(saved[k])
            node = CompiledFunctionBackward(entry, saved, inputs,
                                            tuple([ag._edge(inputs[k]) for k in diff]))
            if len(float_outputs) == 1:
                tensors[float_outputs[0]]._set_grad_fn(node)
            else:
                _attach(node, [tensors[j] for j in float_outputs])
        return tensors[0] if single else unflatten(entry.out_tree, tensors)
    return run


def _call_kernel(kernel: Kernel, arrays: list, times: dict, stage: str) -> tuple:
    """Run a kernel; the first call's time (Numba's compile or cache load) goes to `times`."""
    try:
        if stage in times:
            return kernel.fn(*arrays, *kernel.source.constants)
        start = time.perf_counter()
        result = kernel.fn(*arrays, *kernel.source.constants)
        times[stage] = time.perf_counter() - start
        if jit_enabled():
            debug_log(1, lambda: f"{stage} {times[stage] * 1e3:.1f} ms ({kernel.source.function}: "
                                 f"Numba's compile or disk-cache load)")
        return result
    except NumbaError as error:
        raise UnsupportedError(f"tracegrad generated a kernel Numba could not compile "
                               f"({kernel.path}); this is a tracegrad bug, please report it with "
                               f"that file. Numba said: {str(error).splitlines()[0]}") from None


class _Slots(dict):
    """Gradients of several outputs of one compiled call; the engine merges them with `+`."""

    def __add__(self, other: _Slots) -> _Slots:
        merged = _Slots(self)
        for k, v in other.items():
            merged[k] = merged[k] + v if k in merged else v
        return merged


class CompiledFunctionBackward(ag.Node):
    """The one backward node of a compiled call."""

    __slots__ = ("_entry", "_saved", "_all_inputs", "_versions", "_freed")

    def __init__(self, entry: Entry, saved: tuple, all_inputs: list, edges: tuple) -> None:
        super().__init__(edges)
        self._entry, self._saved, self._all_inputs = entry, saved, all_inputs
        # (tensor, its version now) for the tensor inputs: a later in-place change is an error
        self._versions = [(x, x._vbox[0]) for x in all_inputs if isinstance(x, Tensor)]
        self._freed = False

    def release(self) -> None:
        self._saved, self._freed = None, True

    def _backward(self, grad: Any, ran: list) -> list:
        if self._freed:
            raise RuntimeError(ag.FREED_MESSAGE)
        for x, version in self._versions:
            if x._vbox[0] != version:
                raise RuntimeError(ag._version_message(x, version))
        entry = self._entry
        if type(grad) is _Slots:
            cts = [grad.get(i) for i in range(len(entry.float_outputs))]
        else:
            cts = [grad]
        if _GRAD_ENABLED.get():
            return list(self._differentiable(cts))
        seeded = entry.split.seeded
        if seeded is not None and _is_one(cts[0]):   # c * grad(1) with c == 1: no kernel
            saved = self._saved
            return _wrap([saved[k] for k in seeded], entry.backward_specs)
        arrays = [_argument(c, spec[1]) if c is not None else _zeros(entry, j)
                  for c, j, spec in zip(cts, entry.float_outputs, entry.cotangent_specs)]
        results = _call_kernel(entry.backward, [*self._saved, *arrays], entry.times,
                               "numba backward")
        return _wrap(results, entry.backward_specs)

    def _differentiable(self, cts: list) -> tuple:
        entry = self._entry
        filled = [c if c is not None else Tensor._make(_zeros(entry, j), entry.graph.outputs[j].type.dtype)
                  for c, j in zip(cts, entry.float_outputs)]
        inputs = [x if isinstance(x, Tensor) else Tensor._make(np.asarray(x), from_numpy_dtype(
            np.asarray(x).dtype)) for x in self._all_inputs]
        return entry.vjp_function()(*inputs, *filled)


class CompiledOutputBackward(ag.Node):
    """Routes the gradient of output `index` of a multi-output compiled call to its node."""

    __slots__ = ("_index",)

    def __init__(self, shared: CompiledFunctionBackward, index: int) -> None:
        super().__init__((shared,))
        self._index = index

    def name(self) -> str:
        return "CompiledFunctionBackward"

    def _backward(self, grad: Any, ran: list) -> list:
        return [_Slots({self._index: grad})]


def _is_one(cotangent: Any) -> bool:
    """True for a cotangent equal to 1 (a scalar loss's `backward()` seed)."""
    data = cotangent._data if isinstance(cotangent, Tensor) else cotangent
    return data.ndim == 0 and float(data) == 1.0


def _zeros(entry: Entry, j: int) -> np.ndarray:
    t = entry.graph.outputs[j].type
    return np.zeros(t.shape, t.dtype.np)


def _attach(node: CompiledFunctionBackward, outputs: list[Tensor]) -> None:
    for i, out in enumerate(outputs):
        out._set_grad_fn(CompiledOutputBackward(node, i))


def compile(fn: Callable | None = None, *, parallel: bool | None = None,
            fastmath: bool = False) -> Any:
    """Compile `fn` to fused Numba kernels (decorator, with or without arguments).

    >>> @tracegrad.compile
    ... def loss(x, w): return ((x @ w).relu() ** 2).sum()
    """
    if fn is None:
        return lambda f: CompiledFunction(f, parallel=parallel, fastmath=fastmath)
    return CompiledFunction(fn, parallel=parallel, fastmath=fastmath)


__all__ = ["CompiledFunction", "compile", "CompiledFunctionBackward"]
