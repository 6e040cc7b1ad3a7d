"""Eager autograd: backward nodes recorded by eager ops, and the engine that runs them.

Invariants:
- A node has one output; its `edges` hold, per operand, the node that operand's gradient goes
  to (its grad_fn, or the AccumulateGrad of a leaf) or None.
- Every gradient formula comes from the op table (`OpDef.vjp`); run with grad mode on
  (`create_graph=True`) the formulas record new nodes, so any order of derivative works.
- The engine is iterative (no recursion limit) and runs ready nodes newest first, as PyTorch's.
- Without retain_graph, the nodes a backward pass ran are released when the pass ends (also
  on error). A composite's inner nodes can run twice in one pass (in its replay, and directly
  when a higher-order graph reaches them), so they must not be freed in between.
- Saved values are checked lazily: a rule receives a placeholder for a freed or changed tensor,
  and the error is raised only if the rule reads its data, matching what PyTorch saves.
- A node's tensor hooks (`_pre_hooks`; a leaf's live on its AccumulateGrad) and retain_grad run
  once per gradient, before the node runs or, for a captured input, as PyTorch orders them.
"""

from __future__ import annotations

import heapq
import sys
import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir.tensor_api import TensorOps
from ..ir.types import TensorType
from .grad_mode import _ENABLED as _GRAD_ENABLED
from .grad_mode import is_grad_enabled
from .pool import POOL

_SEQUENCE = itertools.count()
# The eager Tensor class: runtime/tensor.py imports this module and registers it here once the
# class exists (an import inside a hot function costs microseconds per call).
_Tensor: Any = None
_NODE_CLASSES: dict[tuple[str, type], type] = {}

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


class Unavailable(TensorOps):
    """Stands in for a saved tensor that was freed or changed in place: its shape and dtype are
    known, any use of its data raises the explaining RuntimeError."""

    __slots__ = ("shape", "dtype", "_message")
    _priority = -1

    def __init__(self, tensor_type: TensorType, message: str) -> None:
        self.shape, self.dtype, self._message = tensor_type.shape, tensor_type.dtype, message

    @property
    def _data(self) -> np.ndarray:
        raise RuntimeError(self._message)

    def _apply(self, op: str, *operands: Any, **attrs: Any) -> TensorOps:
        raise RuntimeError(self._message)

    def _concrete(self) -> np.ndarray:
        raise RuntimeError(self._message)


class Node:
    """A backward function (PyTorch's grad_fn). Subclasses implement `_backward`."""

    # `_output`: a weak reference to the tensor whose .grad keeps this node's gradient
    # (retain_grad), else None
    __slots__ = ("edges", "_seq", "_pre_hooks", "_output", "__weakref__")

    def __init__(self, edges: tuple[Node | None, ...]) -> None:
        self.edges = edges
        self._seq = next(_SEQUENCE)
        self._pre_hooks: list[Callable] | tuple = ()     # a list once a hook is registered
        self._output: weakref.ref | None = None

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        return tuple((edge, 0) for edge in self.edges)

    def register_prehook(self, hook: Callable) -> list[Callable]:
        """Add a hook run on this node's incoming gradient; returns the list that holds it."""
        if type(self._pre_hooks) is tuple:
            self._pre_hooks = []
        self._pre_hooks.append(hook)
        return self._pre_hooks

    def release(self) -> None:
        """Free saved values (after a backward without retain_graph)."""

    def _backward(self, grad: Any, ran: list[Node]) -> Sequence[Any]:
        """The gradients for `edges`; `ran` collects the nodes run, to release them later."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


def register_tensor_class(cls: type) -> None:
    global _Tensor
    _Tensor = cls


def node_class(name: str, base: type) -> type:
    """A Node subclass per PyTorch name, so `type(y.grad_fn).__name__` reads `MulBackward0`."""
    key = (name, base)
    found = _NODE_CLASSES.get(key)
    if found is None:
        found = _NODE_CLASSES[key] = type(name, (base,), {"__slots__": ()})
    return found


class OpNode(Node):
    """The backward of one primitive op: runs the op's VJP rule on the saved operands."""

    __slots__ = ("_op", "_attrs", "_operands", "_versions", "_types", "_out_type", "_out_data",
                 "_out_box", "_out_version", "_freed")

    def __init__(self, op: Any, attrs: dict, operands: tuple, out: Any,
                 out_type: TensorType) -> None:
        edges, versions, types = [], [], []      # `_types`: what the rules saw (literals as is)
        for x in operands:
            if isinstance(x, TensorOps):            # an eager tensor (as `_edge`, inlined)
                if x._grad_fn is not None:
                    edges.append(x._grad_fn)
                else:
                    edges.append(x._accumulate_node() if x._requires_grad else None)
                versions.append(x._vbox[0])
                types.append(x.type_)
            else:                                   # a literal
                edges.append(None)
                versions.append(0)
                types.append(x)
        super().__init__(tuple(edges))
        self._op, self._attrs, self._operands, self._types = op, attrs, operands, tuple(types)
        self._out_type = out_type
        self._versions = tuple(versions)
        self._out_data, self._out_box, self._out_version = out._data, out._vbox, out._vbox[0]
        self._freed = False

    def keep_original(self, tensor: Any) -> None:
        """`tensor` is about to change in place: keep a copy where it is a saved operand (the
        value the rule needs, PyTorch's `original_self`), still attached to its old history."""
        if not any(x is tensor for x in self._operands):
            return
        from .tensor import Tensor
        original = Tensor._make(tensor._data.copy(), tensor.dtype, grad_fn=tensor._grad_fn)
        self._operands = tuple(original if x is tensor else x for x in self._operands)
        self._versions = tuple(0 if x is original else v
                               for x, v in zip(self._operands, self._versions))

    def adopt_output(self, tensor: Any) -> None:
        """An in-place op wrote this node's output into `tensor`: save that storage instead,
        so later in-place changes of `tensor` are detected, as PyTorch does."""
        self._out_data, self._out_box = tensor._data, tensor._vbox
        self._out_version = tensor._vbox[0]

    def release(self) -> None:
        self._freed = True
        self._operands = self._out_data = None

    def _backward(self, grad: Any, ran: list[Node]) -> Sequence[Any]:
        if self._freed:
            operands = [Unavailable(t, FREED_MESSAGE) if isinstance(t, TensorType) else t
                        for t in self._types]
        else:
            operands = []
            for tensor, version, operand_type in zip(self._operands, self._versions, self._types):
                if not isinstance(operand_type, TensorType):
                    operands.append(operand_type)                 # a literal
                elif tensor._vbox[0] != version:
                    operands.append(Unavailable(operand_type, _version_message(tensor, version)))
                else:
                    operands.append(tensor)
        out = self._saved_output()
        return self._op.vjp(grad, out, *operands, **self._attrs)

    def _saved_output(self) -> Any:
        out_type = self._out_type
        if self._freed:
            return Unavailable(out_type, FREED_MESSAGE)
        out = _Tensor._make(self._out_data, out_type.dtype, grad_fn=self, vbox=self._out_box)
        if self._out_box[0] != self._out_version:
            return Unavailable(out_type, _version_message(out, self._out_version))
        return out


class CompositeNode(Node):
    """A composite (mean, stack, a loss) recorded as ONE node named as PyTorch names it; its
    backward replays the decomposition's nodes, which stay connected to the real operands."""

    __slots__ = ("_inner", "_targets")

    def __init__(self, inner: Node, operands: tuple) -> None:
        super().__init__(tuple(_edge(x) for x in operands))
        self._inner = inner
        self._targets = self.edges
        inner._output = None       # the composite, not its last inner node, owns the output

    # No release() of its own: releasing the inner nodes its replay ran frees the saved values,
    # which raise only where a rule reads them (a mean can be backwarded twice, as in PyTorch).

    def _backward(self, grad: Any, ran: list[Node]) -> Sequence[Any]:
        targets = [t for t in self._targets if t is not None]
        found = run_engine([self._inner], [grad], keep_graph=True, create_graph=is_grad_enabled(),
                           capture=targets, accumulate=False, boundary=set(targets), ran=ran)
        return [found.get(t) if t is not None else None for t in self._targets]


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds incoming gradients into `leaf.grad`."""

    __slots__ = ("_leaf",)

    def __init__(self, leaf: Any) -> None:
        super().__init__(())
        self._leaf = weakref.ref(leaf)

    @property
    def variable(self) -> Any:
        return self._leaf()

    def _backward(self, grad: Any, ran: list[Node]) -> Sequence[Any]:
        leaf = self._leaf()
        if leaf is not None:
            accumulate(leaf, grad, create_graph=is_grad_enabled())
        return ()


def accumulate(tensor: Any, grad: Any, create_graph: bool) -> None:
    """Add `grad` into `tensor.grad` the way PyTorch's AccumulateGrad does."""
    current = tensor._grad
    if current is None:
        tensor._grad = _stored(grad)
    elif create_graph:                    # keep the gradient's own graph
        tensor._grad = current + grad
    else:                                 # in place, keeping the tensor (and any grad_fn) it is
        np.add(current._data, grad._data, out=current._data, casting="unsafe")
        current._vbox[0] += 1


def _edge(operand: Any) -> Node | None:
    if not isinstance(operand, TensorOps) or not getattr(operand, "requires_grad", False):
        return None
    return operand._grad_fn or operand._accumulate_node()


_LEGACY_TYPE = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
                "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


def _version_message(tensor: Any, expected: int) -> str:
    source = ""
    if tensor._grad_fn is not None:     # as PyTorch spells it: ExpBackward0 -> Exp, ... -> Pow1
        forward_name = tensor._grad_fn.name().removesuffix("Backward0").replace("Backward", "")
        source = f", which is output 0 of {forward_name},"
    kind = f"tracegrad.{_LEGACY_TYPE[tensor.dtype.name]}"
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{kind} {list(tensor.shape)}]{source} is at version "
            f"{tensor._vbox[0]}; expected version {expected} instead. Hint: clone() the tensor "
            f"before changing it in place, or make the change out of place.")


def _apply_hook(hook: Callable, grad: Any) -> Any:
    result = hook(grad)
    return grad if result is None else result


def run_engine(roots: Sequence[Node], grads: Sequence[Any], *, keep_graph: bool,
               create_graph: bool, capture: Sequence[Node] = (), accumulate: bool = True,
               boundary: set[Node] | None = None, ran: list[Node] | None = None
               ) -> dict[Node, Any]:
    """Propagate `grads` from `roots` through the graph; return the gradients reaching `capture`.

    With `capture`, only nodes on a path to a captured node run. `accumulate=False` leaves every
    `.grad` of a leaf alone. `boundary` nodes are not expanded (a composite's operands). A
    nested run (a composite's replay) passes the outer pass's `ran` list and releases nothing.
    """
    top, ran = ran is None, [] if ran is None else ran
    try:
        if not capture and not boundary and len(roots) == 1 and _leaves_only(roots[0]):
            return _one_step(roots[0], grads[0], create_graph, accumulate, ran,
                             top and not keep_graph)
        return _propagate(roots, grads, create_graph, set(capture), accumulate,
                          boundary or _NO_BOUNDARY, ran, top and not keep_graph)
    finally:                            # nodes a nested replay ran, or all after an error
        if top and not keep_graph:
            for node in ran:
                node.release()


def _propagate(roots: Sequence[Node], grads: Sequence[Any], create_graph: bool,
               targets: set[Node], accumulate_leaves: bool, boundary: set[Node],
               ran: list[Node], release: bool) -> dict[Node, Any]:
    """The engine loop. With `release`, a node frees its saved values as soon as its gradients
    are handed on, as PyTorch's engine does: a gradient that was a saved value is then nobody
    else's, and a leaf takes it over instead of copying it."""
    if targets:
        order, children = _discover(roots, boundary)
        needed = _needed(order, children, targets)
        deps: dict[Node, int] = dict.fromkeys(needed, 0)
        for node in needed:
            for child in children[node]:
                if child in needed:
                    deps[child] += 1
    else:                               # everything reachable runs: count edges in one walk
        deps = _dependencies(roots, boundary)
        needed, children = deps, {}
    buffers: dict[Node, Any] = {}
    for root, grad in zip(roots, grads):
        if root in needed:
            buffers[root] = grad if root not in buffers else buffers[root] + grad
    ready = [(-r._seq, r) for r in dict.fromkeys(roots) if r in needed and deps[r] == 0]
    heapq.heapify(ready)
    found: dict[Node, Any] = {}
    token = _GRAD_ENABLED.set(create_graph) if create_graph != is_grad_enabled() else None
    try:
        while ready:
            node = heapq.heappop(ready)[1]
            grad = buffers.pop(node, None)
            if node in boundary:        # a composite's operand: the outer engine goes on from it
                found[node] = grad
                continue
            # PyTorch captures an input whose node runs on before its hooks, a final one after.
            final = False
            if targets and node in targets:
                final = not any(kid in needed for kid in children[node])
                if not final:
                    found[node] = grad
            if grad is not None and (node._pre_hooks or node._output is not None):
                grad = _prepare(node, grad)
            if final:
                found[node] = grad
            if type(node) is AccumulateGrad:
                if accumulate_leaves and grad is not None:      # (nothing to release)
                    held, grad = [grad], None
                    _into_leaf(node, held, create_graph)
                continue
            if final:
                continue
            outputs = None
            if grad is not None:
                ran.append(node)
                outputs = node._backward(grad, ran)
            for i, child in enumerate(node.edges):
                if child is None or child not in needed:
                    continue
                if outputs is not None:
                    out = _evaluated(outputs[i])
                    if out is not None:
                        buffers[child] = out if child not in buffers else buffers[child] + out
                deps[child] -= 1
                if deps[child] == 0:
                    heapq.heappush(ready, (-child._seq, child))
            if release and outputs is not None:
                node.release()
            outputs = grad = out = None     # hold no references: a leaf may take over a gradient
    finally:
        if token is not None:
            _GRAD_ENABLED.reset(token)
    return found


def _evaluated(out: Any) -> Any:
    """A rule's gradient, calling it first when it is a thunk (computed only when needed)."""
    return out() if callable(out) and not isinstance(out, TensorOps) else out


def _into_leaf(node: AccumulateGrad, held: list, create_graph: bool) -> None:
    """Give a leaf its gradient, taken out of `held` so that this frame is its only holder:
    a gradient nobody else can see becomes the leaf's .grad without a copy, as in PyTorch."""
    grad = held.pop()
    leaf = node._leaf()
    if leaf is None:
        return
    if (leaf._grad is None and not create_graph
            and sys.getrefcount(grad) == _LOCAL_REFS and _stealable(grad)):
        leaf._grad = grad
    else:
        accumulate(leaf, grad, create_graph)


def _leaves_only(root: Node) -> bool:
    """True when the pass from `root` is one step: the root, then leaves. That is the usual
    backward of a compiled call or of a single op, and `_one_step` runs it without the general
    loop's bookkeeping; anything with hooks, retained grads or repeated leaves is not."""
    if root._pre_hooks or root._output is not None or type(root) is AccumulateGrad:
        return False
    seen = []
    for child in root.edges:
        if child is None:
            continue
        if type(child) is not AccumulateGrad or child._pre_hooks or child in seen:
            return False
        seen.append(child)
    return True


def _one_step(root: Node, grad: Any, create_graph: bool, accumulate_leaves: bool,
              ran: list[Node], release: bool) -> dict[Node, Any]:
    """The general loop's steps for a root whose edges are distinct leaves without hooks."""
    if grad is None:
        return {}
    token = _GRAD_ENABLED.set(create_graph) if create_graph != _GRAD_ENABLED.get() else None
    try:
        ran.append(root)
        outputs = list(root._backward(grad, ran))
        grad = None
        if release:
            root.release()
            if ran[-1] is root:         # (a composite's replay appends the nodes it ran)
                ran.pop()
        for i, child in enumerate(root.edges):
            out, outputs[i] = outputs[i], None
            if child is None or out is None:
                continue
            out = _evaluated(out)
            if out is not None and accumulate_leaves:
                held, out = [out], None
                _into_leaf(child, held, create_graph)
    finally:
        if token is not None:
            _GRAD_ENABLED.reset(token)
    return {}


class _Probe:
    __slots__ = ("value",)


def _reference_counts() -> tuple[int, int]:
    """What sys.getrefcount reports for an object held by one local variable only, and for one
    held by one attribute and one local: measured, as interpreters count differently."""
    alone = object()
    local = sys.getrefcount(alone)
    probe = _Probe()
    probe.value = object()
    held = probe.value
    return local, sys.getrefcount(held)


_LOCAL_REFS, _ATTRIBUTE_REFS = _reference_counts()


def _stealable(grad: Any) -> bool:
    """True when `grad` (held only by the engine, checked by the caller) owns memory no other
    array can reach: a fresh numpy result, or a buffer a compiled kernel allocated for it alone.
    Views, broadcasts, kernel outputs sharing one buffer, and arrays aliasing a kernel's input
    all fail, and are copied instead."""
    if type(grad) is not _Tensor or grad._grad_fn is not None or grad._requires_grad:
        return False
    data = grad._data
    # before `.flags`, which refers to it; the eager buffer pool's own reference does not count
    # (it hands a buffer out again only once nothing else refers to it)
    if sys.getrefcount(data) != _ATTRIBUTE_REFS + POOL.owns(data):
        return False
    flags = data.flags
    if not (flags.writeable and flags.c_contiguous):
        return False
    base = data.base
    if base is None:
        return True
    if type(base) is not (_MEMINFO or _meminfo_type()):
        return False
    return (base.parent is None and base.refcount == 1
            and sys.getrefcount(base) == _ATTRIBUTE_REFS)


_MEMINFO: type | None = None       # Numba's MemInfo type, looked up on first use


def _meminfo_type() -> type:
    global _MEMINFO
    from numba.core.runtime import _nrt_python
    _MEMINFO = _nrt_python._MemInfo
    return _MEMINFO


def _dependencies(roots: Sequence[Node], boundary: set[Node]) -> dict[Node, int]:
    """Every node reachable from the roots, with how many edges of reachable nodes reach it."""
    deps: dict[Node, int] = dict.fromkeys(roots, 0)
    stack = list(deps)
    while stack:
        node = stack.pop()
        if node in boundary:
            continue
        for kid in node.edges:
            if kid is None:
                continue
            if kid in deps:
                deps[kid] += 1
            else:
                deps[kid] = 1
                stack.append(kid)
    return deps


_NO_BOUNDARY: frozenset = frozenset()


def _prepare(node: Node, grad: Any) -> Any:
    """Run the tensor hooks registered for this node's gradient, then fill a retained .grad."""
    for hook in node._pre_hooks:
        grad = _apply_hook(hook, grad)
    output = node._output() if node._output is not None else None
    if output is not None and output._retains_grad:
        output._grad = _stored(grad) if output._grad is None else output._grad + grad
    return grad


def _stored(grad: Any) -> Any:
    """A copy of `grad` to store in a `.grad`, never an alias of a gradient flowing elsewhere.
    With create_graph it stays in the graph, as PyTorch's CopyBackwards."""
    if grad.requires_grad and is_grad_enabled():
        from .tensor import _copy
        return grad._composite("CopyBackwards", _copy, grad)
    return _Tensor._make(np.array(grad._data, copy=True), grad.dtype)


def _discover(roots: Sequence[Node], boundary: set[Node]) -> tuple[list[Node], dict[Node, list]]:
    """All nodes reachable from the roots (iteratively), in a topological order."""
    children: dict[Node, list[Node]] = {}
    stack = list(dict.fromkeys(roots))
    for r in stack:
        children[r] = []
    while stack:
        node = stack.pop()
        if node in boundary:
            continue
        kids = [e for e in node.edges if e is not None]
        children[node] = kids
        for kid in kids:
            if kid not in children:
                children[kid] = []
                stack.append(kid)
    return _topological(children), children


def _topological(children: dict[Node, list[Node]]) -> list[Node]:
    indegree = dict.fromkeys(children, 0)
    for kids in children.values():
        for kid in kids:
            indegree[kid] += 1
    order = [n for n, d in indegree.items() if d == 0]
    for node in order:
        for kid in children[node]:
            indegree[kid] -= 1
            if indegree[kid] == 0:
                order.append(kid)
    return order


def _needed(order: list[Node], children: dict[Node, list[Node]], targets: set[Node]) -> set[Node]:
    """Nodes from which some target is reachable (targets included)."""
    needed: set[Node] = set()
    for node in reversed(order):
        if node in targets or any(kid in needed for kid in children[node]):
            needed.add(node)
    return needed
