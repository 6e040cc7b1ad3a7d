"""Function transforms: make_graph, grad, value_and_grad, vjp, jacobian, hessian.

Each transform is written once, symbolically: called on traced values it appends to the graph
being built (so transforms nest: grad(grad(f)), jacobian(grad(f)), a function calling grad
inside). Called on concrete values it traces that symbolic version once per input signature,
optimizes the graph and runs it with the reference interpreter; when an input is an eager tensor
that requires grad (and grad mode is on), the graph is replayed op by op on eager tensors
instead, so eager autograd can differentiate the result (`grad(f)(x).sum().backward()`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import AutodiffError, DTypeError, ShapeError, TraceError, user_location
from .ir.autodiff import append_adjoints
from .ir.builder import GraphBuilder, SymbolicTensor
from .ir.graph import Graph, Value
from .ir.interpret import evaluate
from .ir.ops import OPS
from .ir.passes import optimize
from .ir.printer import GRAD_PREFIX, OUTPUT_NAME
from .ir.tensor_api import full_like, lead, stack
from .ir.types import Size
from .tracer.pytree import TreeDef, flatten, unflatten
from .tracer.trace import (
    TracedFunction,
    concrete_array,
    is_array_like,
    leaf_type,
    output_value,
    trace,
)


def _optimize(graph: Graph) -> Graph:
    return optimize(graph)


def _signature(leaves: Sequence[Any], tree: Any) -> tuple:
    """Shapes and dtypes of array leaves, values of static leaves, and the argument structure."""
    parts = []
    for leaf in leaves:
        if is_array_like(leaf):
            t = leaf_type(leaf)
            parts.append(("array", t.shape, t.dtype.name))
        else:
            parts.append(("static", type(leaf).__name__, repr(leaf)))
    return tree, tuple(parts)


def _is_symbolic(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(leaf, SymbolicTensor) for leaf in flatten((args, kwargs))[0])


class Transformed:
    """A transformed function: symbolic on traced values; traced (once per signature) and
    interpreted on concrete ones."""

    def __init__(self, symbolic: Callable, name: str, user_fn: Callable | None = None,
                 optimize: bool = True) -> None:
        self._symbolic = symbolic
        self._user_fn = user_fn
        try:
            self.__signature__ = inspect.signature(user_fn) if user_fn is not None else None
        except (TypeError, ValueError):
            self.__signature__ = None
        self.__name__ = name
        self._optimize = optimize
        self._cache: dict[tuple, TracedFunction] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _is_symbolic(args, kwargs):
            return self._symbolic(*args, **kwargs)
        traced = self.traced(*args, **kwargs)
        leaves = flatten((args, kwargs))[0]
        inputs = [leaves[i] for i in traced.tensor_leaves]
        if _records_eager_autograd(inputs):
            return unflatten(traced.out_tree, _replay_eagerly(traced.graph, inputs))
        arrays = [concrete_array(x) for x in inputs]
        return _to_tensors(traced, evaluate(traced.graph, *arrays))

    def traced(self, *args: Any, **kwargs: Any) -> TracedFunction:
        """The optimized graph for these arguments' signature (traced on first use)."""
        leaves, tree = flatten((args, kwargs))
        key = _signature(leaves, tree)
        if key not in self._cache:
            traced = trace(self._symbolic, *args, name=self.__name__, names_from=self._user_fn,
                           **kwargs)
            graph = _optimize(traced.graph) if self._optimize else traced.graph
            self._cache[key] = TracedFunction(graph, traced.in_tree, traced.out_tree,
                                              traced.tensor_leaves)
        return self._cache[key]


def _to_tensors(traced: TracedFunction, arrays: list[np.ndarray]) -> Any:
    from .dtypes import from_numpy_dtype
    from .runtime.tensor import Tensor
    # Fresh, writable arrays: interpreter results may be broadcast views or the inputs themselves.
    tensors = [Tensor._make(np.array(a, order="C"), from_numpy_dtype(a.dtype)) for a in arrays]
    return unflatten(traced.out_tree, tensors)


def _records_eager_autograd(inputs: list[Any]) -> bool:
    from .runtime.grad_mode import is_grad_enabled
    return is_grad_enabled() and any(getattr(x, "requires_grad", False) for x in inputs)


def _replay_eagerly(graph: Graph, inputs: list[Any]) -> list[Any]:
    """Run `graph` op by op on eager tensors, so eager autograd records it: a transform called
    on tensors that require grad stays differentiable (grad of a function that calls grad)."""
    from .runtime.tensor import Tensor
    env: dict[Value, Any] = {}
    for value, x in zip(graph.inputs, inputs):
        tensor = x if isinstance(x, Tensor) else Tensor._make(concrete_array(x), value.type.dtype)
        env[value] = tensor
    for node in graph.nodes:
        operands = [env[x] if isinstance(x, Value) else x for x in node.inputs]
        if any(isinstance(x, Tensor) for x in operands):
            env[node.out] = lead(*operands)._apply(node.op, *operands, **node.attr_dict)
        else:
            array = OPS[node.op].compute(*operands, **node.attr_dict)
            env[node.out] = Tensor._make(np.asarray(array, node.out.type.dtype.np),
                                         node.out.type.dtype)
    inputs_ = set(graph.inputs)
    return [env[v].clone() if v in inputs_ else env[v] for v in graph.outputs]


def make_graph(fn: Callable, *, optimize: bool = False) -> Callable[..., Graph]:
    """`make_graph(f)(*args)` is the IR graph of `f` for those arguments (cf. jax.make_jaxpr).

    >>> print(tracegrad.make_graph(lambda x: (x * x).sum())(np.ones(3)))
    """
    @functools.wraps(fn)
    def graph_of(*args: Any, **kwargs: Any) -> Graph:
        graph = trace(fn, *args, **kwargs).graph
        return _optimize(graph) if optimize else graph
    return graph_of


# ---- the symbolic core shared by every transform ----

@dataclass
class _Forward:
    """A function run on traced values: its outputs and the nodes it appended."""

    builder: GraphBuilder
    start: int                  # nodes[start:end] are the function's nodes (what to differentiate)
    end: int
    outs: list[SymbolicTensor]  # the output leaves
    tree: TreeDef               # their structure
    aux: Any = None


def _builder_of(leaves: Sequence[Any]) -> GraphBuilder:
    for leaf in leaves:
        if isinstance(leaf, SymbolicTensor):
            return leaf.builder
    raise AssertionError("symbolic transform called without traced values")


def _selected(args: tuple, argnums: int | Sequence[int]) -> tuple[list[SymbolicTensor], Any]:
    """The traced leaves of the differentiated arguments, and their structure.

    The leaves are fresh wrappers: an in-place op in the function rebinds the user's proxy to a
    new value, while the gradient is still taken with respect to the argument."""
    picked = args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)
    leaves, tree = flatten(picked)
    for leaf in leaves:
        if not isinstance(leaf, SymbolicTensor):
            raise AutodiffError(f"{user_location()}: can only differentiate with respect to "
                                f"tensors, got {type(leaf).__name__}")
        if not leaf.dtype.is_floating_point:
            raise DTypeError(f"{user_location()}: only Tensors of floating point and complex dtype "
                             f"can require gradients, got a tensor of dtype {leaf.dtype.name}")
    return [leaf.builder.wrap(leaf.value) for leaf in leaves], tree


def _run_forward(fn: Callable, args: tuple, kwargs: dict, has_aux: bool) -> _Forward:
    builder = _builder_of(flatten((args, kwargs))[0])
    start = len(builder.nodes)
    result = fn(*args, **kwargs)
    if has_aux and not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TraceError(f"{user_location()}: with has_aux=True the function must return a pair "
                         f"(output, aux), got {type(result).__name__}")
    out, aux = result if has_aux else (result, None)
    leaves, tree = flatten(out)
    outs = [builder.wrap(output_value(builder, leaf)) for leaf in leaves]
    for k, o in enumerate(outs):
        _default_name(builder, o.value, OUTPUT_NAME if len(outs) == 1 else f"{OUTPUT_NAME}_{k}")
    return _Forward(builder, start, len(builder.nodes), outs, tree, aux)


def _default_name(builder: GraphBuilder, value: Value, name: str) -> None:
    """Name an unnamed output `out`, unless the user names it later (fallbacks apply last)."""
    if not value.hint and value not in builder.hints and value not in builder.inputs:
        builder.fallback_hints.setdefault(value, name)


def _name_of(builder: GraphBuilder, value: Value) -> str:
    return (value.hint or builder.hints.get(value) or builder.fallback_hints.get(value)
            or OUTPUT_NAME)


def _adjoints(fwd: _Forward, outs: list[SymbolicTensor], make_cotangents: Callable[[], list],
              wrt: list[SymbolicTensor], allow_unused: bool) -> list[SymbolicTensor]:
    """Gradients of `outs` (weighted by the cotangents) w.r.t. `wrt`, appended to the graph.

    The cotangents are built after the comment line and carry the line of the first output."""
    builder = fwd.builder
    builder.comment(f"-- adjoints of {', '.join(_name_of(builder, o.value) for o in outs)} with "
                    f"respect to ({', '.join(_name_of(builder, w.value) for w in wrt)}) --")
    with builder.location(_loc_of(fwd, outs[0].value)):
        cotangents = make_cotangents()
    grads = append_adjoints(builder, builder.nodes[fwd.start:fwd.end], [o.value for o in outs],
                            cotangents, [w.value for w in wrt])
    result = []
    for i, (g, w) in enumerate(zip(grads, wrt)):
        if g is None and not allow_unused:      # eager autograd.grad's wording
            raise AutodiffError(f"{user_location()}: The differentiated Tensor at index {i} "
                                "appears to not have been used in the graph. Set "
                                "allow_unused=True if this is the desired behavior.")
        result.append(g if g is not None else full_like(w, 0.0))
    return result


def _loc_of(fwd: _Forward, value: Value) -> str | None:
    for node in reversed(fwd.builder.nodes[fwd.start:fwd.end]):
        if node.out is value:
            return node.loc
    return None


def _single_output(fwd: _Forward, what: str) -> SymbolicTensor:
    if fwd.tree.kind != "leaf":
        raise AutodiffError(f"{user_location()}: {what} needs a function returning one tensor, "
                            f"got a {fwd.tree.kind} of {len(fwd.outs)} values; return "
                            "(output, aux) with has_aux=True to carry other values")
    return fwd.outs[0]


def _scalar_seed(builder: GraphBuilder, out: SymbolicTensor) -> SymbolicTensor:
    attrs = {"value": 1.0, "shape": tuple(out.shape), "dtype": out.dtype}
    value = builder.append("full", (), attrs, GRAD_PREFIX + _name_of(builder, out.value))
    return builder.wrap(value)


def _value_and_grad_symbolic(fn: Callable, argnums: Any, has_aux: bool, allow_unused: bool,
                             args: tuple, kwargs: dict) -> tuple:
    wrt, tree = _selected(args, argnums)
    fwd = _run_forward(fn, args, kwargs, has_aux)
    out = _single_output(fwd, "grad")
    if out.numel() != 1:               # as eager backward(): any one-element output will do
        raise ShapeError(f"{user_location()}: grad can be implicitly created only for scalar "
                         f"outputs; the function returned shape {list(out.shape)}")
    if not out.dtype.is_floating_point:
        raise DTypeError(f"{user_location()}: grad needs a floating point output, the function "
                         f"returned dtype {out.dtype.name}")
    grads = _adjoints(fwd, [out], lambda: [_scalar_seed(fwd.builder, out)], wrt, allow_unused)
    value = (out, fwd.aux) if has_aux else out
    return value, unflatten(tree, grads)


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         allow_unused: bool = False) -> Transformed:
    """The gradient of a scalar function with respect to argument(s) `argnums`.

    >>> tracegrad.grad(lambda x: (x ** 3).sum())(tracegrad.tensor([2.0]))
    tensor([12.])
    """
    def symbolic(*args: Any, **kwargs: Any) -> Any:
        value, grads = _value_and_grad_symbolic(fn, argnums, has_aux, allow_unused, args, kwargs)
        return (grads, value[1]) if has_aux else grads
    return Transformed(symbolic, f"grad_{_name(fn)}", fn)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   allow_unused: bool = False) -> Transformed:
    """`(f(x), grad(f)(x))` computed together in one graph (`((f(x), aux), grad)` with has_aux)."""
    def symbolic(*args: Any, **kwargs: Any) -> Any:
        return _value_and_grad_symbolic(fn, argnums, has_aux, allow_unused, args, kwargs)
    return Transformed(symbolic, f"value_and_grad_{_name(fn)}", fn)


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """`(fn(*primals), vjp_fn)`; `vjp_fn(cotangent)` returns one gradient per primal.

    The cotangent has the structure of the output (a tensor, or a tuple/list/dict of them)."""
    result = _forward_of(fn)(*primals)
    out, aux = result if has_aux else (result, None)
    vjp_fn = functools.partial(_call_pullback, _pullback_of(fn, has_aux), primals)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


@functools.lru_cache(maxsize=128)
def _forward_of(fn: Callable) -> Transformed:
    return Transformed(functools.partial(_call, fn), _name(fn), fn)


@functools.lru_cache(maxsize=128)
def _pullback_of(fn: Callable, has_aux: bool) -> Transformed:
    return Transformed(functools.partial(_pullback, fn, has_aux), f"vjp_{_name(fn)}")


def _call(fn: Callable, *args: Any) -> Any:
    return fn(*args)


def _pullback(fn: Callable, has_aux: bool, *args: Any) -> tuple:
    xs, cotangent = args[:-1], args[-1]
    wrt, _ = _selected(xs, tuple(range(len(xs))))
    fwd = _run_forward(fn, xs, {}, has_aux)
    leaves, tree = flatten(cotangent)
    if tree != fwd.tree:
        raise TraceError(f"{user_location()}: the cotangent's structure {tree} differs from the "
                         f"output's {fwd.tree}")

    def cotangents() -> list[SymbolicTensor]:
        cts = []
        for i, (ct, out) in enumerate(zip(leaves, fwd.outs)):
            ct = fwd.builder.wrap(output_value(fwd.builder, ct))
            if tuple(ct.shape) != tuple(out.shape):
                raise ShapeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                 f"{Size(ct.shape)!r} and output[{i}] has a shape of "
                                 f"{Size(out.shape)!r}.")
            cts.append(ct.to(out.dtype))
        return cts
    return tuple(_adjoints(fwd, fwd.outs, cotangents, wrt, True))


def _call_pullback(pull: Transformed, primals: tuple, cotangent: Any) -> tuple:
    return pull(*primals, cotangent)


def jacobian(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Transformed:
    """The Jacobian by reverse mode: shape `out.shape + x.shape` (one sweep per output element).

    For a function with several outputs or arguments the result nests as JAX's: the output's
    structure, holding per output the structure of the differentiated arguments."""
    def symbolic(*args: Any, **kwargs: Any) -> Any:
        wrt, tree = _selected(args, argnums)
        fwd = _run_forward(fn, args, kwargs, has_aux)
        per_output = [unflatten(tree, _jacobian_of(fwd, out, wrt)) for out in fwd.outs]
        result = unflatten(fwd.tree, per_output)
        return (result, fwd.aux) if has_aux else result
    return Transformed(symbolic, f"jacobian_{_name(fn)}", fn)


def _jacobian_of(fwd: _Forward, out: SymbolicTensor, wrt: list[SymbolicTensor]) -> list[Any]:
    rows = [_adjoints(fwd, [out], functools.partial(_unit, out, i), wrt, True)
            for i in range(out.numel())]
    return [_assemble([row[j] for row in rows], out, w) for j, w in enumerate(wrt)]


def _unit(out: SymbolicTensor, i: int) -> list[SymbolicTensor]:
    onehot = np.zeros(out.numel(), dtype=out.dtype.np)
    onehot[i] = 1
    return [out._constant(onehot.reshape(tuple(out.shape)))]


def _assemble(rows: list[SymbolicTensor], out: SymbolicTensor, w: SymbolicTensor) -> Any:
    shape = tuple(out.shape) + tuple(w.shape)
    if not rows:                                    # an empty output: an empty Jacobian
        return w._apply("full", value=0.0, shape=shape, dtype=w.dtype)
    return stack(rows, 0).reshape(shape)


def hessian(fn: Callable, argnums: int | Sequence[int] = 0) -> Transformed:
    """The Hessian of a scalar function: `jacobian(grad(fn))`."""
    return jacobian(grad(fn, argnums), argnums)


def _name(fn: Callable) -> str:
    name = getattr(fn, "__name__", "f")
    return name if name.isidentifier() else "f"
