"""Reverse-mode autodiff as an IR-to-IR transformation: append adjoint nodes to a graph.

The adjoints are produced by running each op's VJP rule (the same rule eager backward runs) on
SymbolicTensors, so gradients are ordinary nodes and the pass applies to its own output: that is
how second and higher derivatives work. `None` entries are symbolic zeros: nothing is built for
them, and zeros are materialized only when a requested gradient is zero.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import AutodiffError
from .builder import GraphBuilder, SymbolicTensor
from .graph import Graph, Node, Value
from .ops import OPS
from .printer import GRAD_PREFIX, TEMP_PREFIX, value_names
from .tensor_api import TensorOps, full_like


def append_adjoints(builder: GraphBuilder, nodes: Sequence[Node], outputs: Sequence[Value],
                    cotangents: Sequence[SymbolicTensor], wrt: Sequence[Value],
                    names: dict[Value, str] | None = None) -> list[SymbolicTensor | None]:
    """Append to `builder` the gradients of `outputs` (weighted by `cotangents`) w.r.t. `wrt`.

    `nodes` are the forward nodes to differentiate through, in topological order. Returns one
    SymbolicTensor per `wrt` value, or None where the gradient is a symbolic zero.
    """
    active = _active_values(nodes, wrt)
    forward = {n.out for n in nodes}
    adjoints: dict[Value, SymbolicTensor] = {}
    for out, ct in zip(outputs, cotangents):
        if out in active:
            adjoints[out] = ct if out not in adjoints else adjoints[out] + ct
    for node in reversed(nodes):
        out = node.out
        if out not in adjoints:
            continue
        _name_adjoint(builder, adjoints[out], out, names, forward)
        _propagate(builder, node, adjoints, active)
    result = []
    for w in wrt:
        g = adjoints.get(w)
        if g is not None:
            _name_adjoint(builder, g, w, names, forward)
        result.append(g)
    return result


def _active_values(nodes: Sequence[Node], wrt: Sequence[Value]) -> set[Value]:
    """Values that depend on `wrt` through differentiable ops."""
    active = set(wrt)
    for node in nodes:
        if OPS[node.op].vjp is not None and any(x in active for x in node.operand_values):
            active.add(node.out)
    return active


def _propagate(builder: GraphBuilder, node: Node, adjoints: dict, active: set[Value]) -> None:
    op_def = OPS[node.op]
    operands = [builder.wrap(x) if isinstance(x, Value) else x for x in node.inputs]
    with builder.location(node.loc):
        entries = op_def.vjp(adjoints[node.out], builder.wrap(node.out), *operands,
                             **node.attr_dict)
        for x, entry in zip(node.inputs, entries):
            if not isinstance(x, Value) or x not in active or entry is None:
                continue
            grad = entry() if callable(entry) and not isinstance(entry, TensorOps) else entry
            if grad is not None:
                adjoints[x] = grad if x not in adjoints else adjoints[x] + grad


def _name_adjoint(builder: GraphBuilder, grad: SymbolicTensor, primal: Value,
                  names: dict[Value, str] | None, forward: set[Value]) -> None:
    """Name a value the pass created `grad_<primal>` after the first primal it is the adjoint of."""
    name = (names or {}).get(primal) or primal.hint or builder.hints.get(primal)
    value = grad.value
    if not name or name.startswith(TEMP_PREFIX) or value.hint or value in builder.hints:
        return
    if value in forward or value in builder.inputs:
        return
    builder.hints[value] = GRAD_PREFIX + name


def vjp_graph(graph: Graph, wrt: Sequence[int] | None = None, *, seed: str = "ones",
              outputs: Sequence[int] | None = None, name: str | None = None) -> Graph:
    """The joint graph: `graph`'s outputs followed by the gradients w.r.t. inputs `wrt`.

    seed="ones": each differentiated output must be a scalar and gets cotangent 1.
    seed="inputs": each differentiated output gets a new graph input `grad_<output>` (appended
    after the primal inputs), so the result computes vector-Jacobian products.
    """
    wrt = list(range(len(graph.inputs))) if wrt is None else list(wrt)
    outs = list(range(len(graph.outputs))) if outputs is None else list(outputs)
    names = value_names(graph)
    builder = GraphBuilder.from_graph(graph, name=name or f"grad_{graph.name}",
                                      record_locations=False)
    wrt_values = [graph.inputs[i] for i in wrt]
    out_values = [graph.outputs[i] for i in outs]
    builder.comment(f"-- adjoints of {', '.join(names[v] for v in out_values)} with respect to "
                    f"({', '.join(names[v] for v in wrt_values)}) --")
    producers = graph.producers()
    cotangents = []
    for v in out_values:
        with builder.location(producers[v].loc if v in producers else None):
            cotangents.append(_seed(builder, v, names[v], seed))
    grads = append_adjoints(builder, graph.nodes, out_values, cotangents, wrt_values, names)
    zeros = [g if g is not None else full_like(builder.wrap(w), 0.0)
             for g, w in zip(grads, wrt_values)]
    return builder.finish(list(graph.outputs) + [g.value for g in zeros])


def _seed(builder: GraphBuilder, out: Value, name: str, seed: str) -> SymbolicTensor:
    hint = GRAD_PREFIX + name
    if seed == "inputs":
        return builder.add_input(out.type, hint)
    if out.type.size != 1:
        raise AutodiffError(f"grad can be implicitly created only for scalar outputs: output "
                            f"{name} has type {out.type}; pass cotangents (seed='inputs')")
    value = builder.append("full", (), {"value": 1.0, "shape": out.type.shape,
                                        "dtype": out.type.dtype}, hint)
    return builder.wrap(value)

