"""Function transforms: make_graph, grad, value_and_grad, vjp, jacobian, hessian.

Each transform is written once, symbolically: called on traced values it appends to the graph
being built (so transforms nest: grad(grad(f)), jacobian(grad(f)), a function calling grad
inside). Called on concrete values it traces that symbolic version once per input signature,
optimizes the graph and runs it with the reference interpreter.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import AutodiffError, DTypeError, ShapeError, user_location
from .ir.autodiff import append_adjoints
from .ir.builder import GraphBuilder, SymbolicTensor
from .ir.graph import Graph
from .ir.interpret import evaluate
from .ir.printer import GRAD_PREFIX
from .ir.tensor_api import full_like, stack
from .tracer.pytree import flatten, unflatten
from .tracer.trace import TracedFunction, is_array_like, leaf_type, output_value, trace


def _optimize(graph: Graph) -> Graph:
    try:
        from .ir.passes import optimize
    except ImportError:
        return graph
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
    """A transformed function: symbolic on traced values, traced and interpreted on concrete ones."""

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
        arrays = [np.asarray(leaves[i]) for i in traced.tensor_leaves]
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
    from .runtime.tensor import Tensor
    from .dtypes import from_numpy_dtype
    tensors = [Tensor._make(a, from_numpy_dtype(a.dtype)) for a in arrays]
    return unflatten(traced.out_tree, tensors)


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

def _builder_of(leaves: Sequence[Any]) -> GraphBuilder:
    for leaf in leaves:
        if isinstance(leaf, SymbolicTensor):
            return leaf.builder
    raise AssertionError("symbolic transform called without traced values")


def _selected(args: tuple, argnums: int | Sequence[int]) -> tuple[list[SymbolicTensor], Any]:
    """The traced leaves of the differentiated arguments, and their structure."""
    picked = args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)
    leaves, tree = flatten(picked)
    for leaf in leaves:
        if not isinstance(leaf, SymbolicTensor):
            raise AutodiffError(f"{user_location()}: can only differentiate with respect to "
                                f"tensors, got {type(leaf).__name__}")
        if not leaf.dtype.is_floating_point:
            raise DTypeError(f"{user_location()}: only Tensors of floating point and complex dtype "
                             f"can require gradients, got an input of dtype {leaf.dtype.name}")
    return leaves, tree


def _run_forward(fn: Callable, args: tuple, kwargs: dict, has_aux: bool) -> tuple:
    builder = _builder_of(flatten((args, kwargs))[0])
    start = len(builder.nodes)
    result = fn(*args, **kwargs)
    out, aux = result if has_aux else (result, None)
    if not isinstance(out, SymbolicTensor):
        out = builder.wrap(output_value(builder, out))
    return builder, start, out, aux


def _adjoints(builder: GraphBuilder, start: int, out: SymbolicTensor, cotangent: Any,
              wrt: list[SymbolicTensor], allow_unused: bool) -> list[SymbolicTensor]:
    names = [w.value.hint or builder.hints.get(w.value) or "input" for w in wrt]
    builder.comment(f"-- adjoints of {out.value.hint or builder.hints.get(out.value) or 'out'} "
                    f"with respect to ({', '.join(names)}) --")
    grads = append_adjoints(builder, builder.nodes[start:], [out.value], [cotangent],
                            [w.value for w in wrt])
    result = []
    for g, w in zip(grads, wrt):
        if g is None and not allow_unused:
            raise AutodiffError(f"{user_location()}: One of the differentiated Tensors appears to "
                                "not have been used in the graph. Set allow_unused=True if this is "
                                "the desired behavior.")
        result.append(g if g is not None else full_like(w, 0.0))
    return result


def _scalar_seed(builder: GraphBuilder, out: SymbolicTensor) -> SymbolicTensor:
    if out.shape != ():
        raise ShapeError(f"{user_location()}: grad can be implicitly created only for scalar "
                         f"outputs; the function returned shape {list(out.shape)}")
    name = out.value.hint or builder.hints.get(out.value) or "out"
    value = builder.append("full", (), {"value": 1.0, "shape": (), "dtype": out.dtype},
                           GRAD_PREFIX + name)
    return builder.wrap(value)


def _value_and_grad_symbolic(fn: Callable, argnums: Any, has_aux: bool, allow_unused: bool,
                             args: tuple, kwargs: dict) -> tuple:
    wrt, tree = _selected(args, argnums)
    builder, start, out, aux = _run_forward(fn, args, kwargs, has_aux)
    grads = _adjoints(builder, start, out, _scalar_seed(builder, out), wrt, allow_unused)
    value = (out, aux) if has_aux else out
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
    """`(f(x), grad(f)(x))` computed together in one graph."""
    def symbolic(*args: Any, **kwargs: Any) -> Any:
        return _value_and_grad_symbolic(fn, argnums, has_aux, allow_unused, args, kwargs)
    return Transformed(symbolic, f"value_and_grad_{_name(fn)}", fn)


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """`(fn(*primals), vjp_fn)`; `vjp_fn(cotangent)` returns one gradient per primal."""
    argnums = tuple(range(len(primals)))

    def pullback(*args: Any) -> tuple:
        xs, cotangent = args[:-1], args[-1]
        wrt, _ = _selected(xs, argnums)
        builder, start, out, _aux = _run_forward(fn, xs, {}, has_aux)
        ct = cotangent if isinstance(cotangent, SymbolicTensor) else builder.wrap(
            output_value(builder, cotangent))
        if tuple(ct.shape) != tuple(out.shape):
            raise ShapeError(f"Mismatch in shape: grad_output[0] has a shape of {list(ct.shape)} "
                             f"and output[0] has a shape of {list(out.shape)}.")
        return tuple(_adjoints(builder, start, out, ct.to(out.dtype), wrt, True))

    forward = Transformed(lambda *xs: fn(*xs), _name(fn), fn)
    result = forward(*primals)
    out, aux = result if has_aux else (result, None)
    pull = _pullbacks(fn, has_aux, pullback)
    vjp_fn = functools.partial(_call_pullback, pull, primals)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


@functools.lru_cache(maxsize=128)
def _pullbacks(fn: Callable, has_aux: bool, pullback: Callable) -> Transformed:
    return Transformed(pullback, f"vjp_{_name(fn)}")


def _call_pullback(pull: Transformed, primals: tuple, cotangent: Any) -> tuple:
    return pull(*primals, cotangent)


def jacobian(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Transformed:
    """The Jacobian by reverse mode: shape `out.shape + x.shape` (one sweep per output element)."""
    def symbolic(*args: Any, **kwargs: Any) -> Any:
        wrt, tree = _selected(args, argnums)
        builder, start, out, aux = _run_forward(fn, args, kwargs, has_aux)
        rows = [_adjoints(builder, start, out, _unit(out, i), wrt, True)
                for i in range(out.numel())]
        jac = [_assemble([row[j] for row in rows], out, w) for j, w in enumerate(wrt)]
        result = unflatten(tree, jac)
        return (result, aux) if has_aux else result
    return Transformed(symbolic, f"jacobian_{_name(fn)}", fn)


def _unit(out: SymbolicTensor, i: int) -> SymbolicTensor:
    onehot = np.zeros(out.numel(), dtype=out.dtype.np)
    onehot[i] = 1
    return out._constant(onehot.reshape(tuple(out.shape)))


def _assemble(rows: list[SymbolicTensor], out: SymbolicTensor, w: SymbolicTensor) -> Any:
    if not rows:
        return full_like(w, 0.0).reshape((0,) + tuple(w.shape)) if out.numel() == 0 else None
    return stack(rows, 0).reshape(tuple(out.shape) + tuple(w.shape))


def hessian(fn: Callable, argnums: int | Sequence[int] = 0) -> Transformed:
    """The Hessian of a scalar function: `jacobian(grad(fn))`."""
    return jacobian(grad(fn, argnums), argnums)


def _name(fn: Callable) -> str:
    name = getattr(fn, "__name__", "f")
    return name if name.isidentifier() else "f"
