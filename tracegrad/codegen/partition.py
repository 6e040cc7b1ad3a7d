"""Split a joint graph (forward outputs + adjoints) into a forward and a backward graph.

The joint graph's inputs are the primals followed by one cotangent per differentiated output;
its outputs are the forward outputs followed by the gradients. A node is a backward node when it
depends on a cotangent. Without `recompute`: save every forward value a backward node reads
(functorch's default partition). With `recompute=True` (the default), a minimum cut decides, as
AOTAutograd's min-cut partitioner does: forward values made by cheap nodes (elementwise ops,
broadcasts, views) may be recomputed in the backward, and among all sets of values whose saving
lets the backward compute what it reads, the one with the fewest bytes is saved. Primal inputs
cost nothing (the compiled call keeps them anyway), so a cheap chain from the inputs is always
recomputed; a value made by anything else (a matmul, a reduction) is never recomputed. Ties go
to the values nearest the inputs. The flow network has two vertices per value, v_in -> v_out
with v's bytes as capacity; the source feeds primals and non-recomputable values, every
operand's v_out feeds its cheap user's u_in, and each value the backward reads feeds the sink;
the cut edges are the saved values. `_max_flow` is Dinic's algorithm, written here: importing
networkx for it would cost a warm start 0.25 s. Every policy gives identical numbers.

Scalar seed (`fold_seed=True`, used when the only cotangent is a scalar, as for a loss, and no
cast on its path rounds it to a narrower float):
gradients are linear in the cotangent c, so grad(c) = c * grad(1). The forward graph then
computes the gradients for c = 1 in the same kernel (one fused loop reads each input once and
evaluates each transcendental once, where a split forward/backward evaluates it twice or saves
it), and saves them; the backward graph only scales them by c. The trade: a forward whose
backward never runs still pays for the gradients. Numbers agree with the split policies to
rounding (bit for bit when c = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.builder import GraphBuilder, rename
from ..ir.graph import Graph, Node, Value
from ..ir.printer import SAVED_PREFIX, value_names
from .fusion import is_pointwise


@dataclass(frozen=True)
class Partition:
    forward: Graph      # primals -> forward outputs + saved values
    backward: Graph     # saved values + cotangents -> gradients
    saved: tuple[Value, ...]   # the joint graph's values the backward reads (in order)
    # scalar seed only: gradient k is saved[seeded[k]] times the cotangent, so a cotangent of
    # exactly 1 needs no backward kernel: the saved values are the gradients, bit for bit
    seeded: tuple[int, ...] | None = None


def partition(joint: Graph, num_primals: int, num_outputs: int, recompute: bool = True,
              fold_seed: bool = True) -> Partition:
    from ..ir.passes.dce import eliminate_dead_code
    primals = joint.inputs[:num_primals]
    cotangents = joint.inputs[num_primals:]
    backward_nodes = _backward_nodes(joint, set(cotangents))
    if fold_seed and _foldable_seed(joint, cotangents, backward_nodes):
        return _seeded_partition(joint, num_primals, num_outputs)
    forward_nodes = [n for n in joint.nodes if n.out not in backward_nodes]
    produced_forward = {n.out for n in forward_nodes} | set(primals)
    saved = _saved_values(joint, backward_nodes, produced_forward, num_outputs)
    if recompute:
        saved, recomputed = _min_cut(joint, saved, set(primals))
        backward_nodes |= recomputed
    names = value_names(joint)
    saved_names = {v: SAVED_PREFIX + names[v].lstrip("%") for v in saved}
    forward = Graph(f"{joint.name}", primals, tuple(forward_nodes),
                    joint.outputs[:num_outputs] + saved)
    forward = rename(eliminate_dead_code(forward), saved_names)
    saved_inputs = {v: Value(v.type, saved_names[v]) for v in saved}
    backward = _backward_graph(joint, backward_nodes, saved_inputs, cotangents, num_outputs)
    return Partition(forward, eliminate_dead_code(backward), saved)


def _backward_nodes(joint: Graph, cotangents: set[Value]) -> set[Value]:
    tainted = set(cotangents)
    for node in joint.nodes:
        if any(x in tainted for x in node.operand_values):
            tainted.add(node.out)
    return tainted - cotangents


def _saved_values(joint: Graph, backward: set[Value], forward: set[Value],
                  num_outputs: int) -> tuple[Value, ...]:
    """Forward values read by backward nodes, and gradients that are forward values outright."""
    saved: dict[Value, None] = {}
    for node in joint.nodes:
        if node.out in backward:
            for x in node.operand_values:
                if x in forward:
                    saved[x] = None
    for v in joint.outputs[num_outputs:]:
        if v in forward:
            saved[v] = None
    return tuple(saved)


def _min_cut(joint: Graph, needed: tuple[Value, ...], primals: set[Value]
             ) -> tuple[tuple[Value, ...], set[Value]]:
    """(values to save, forward values to recompute in the backward) for the backward to read
    `needed`: a minimum cut of the flow network in the module docstring."""
    producer = joint.producers()
    relevant: dict[Value, None] = {}          # `needed` and the forward values they come from
    stack = list(needed)
    while stack:
        v = stack.pop()
        if v in relevant:
            continue
        relevant[v] = None
        node = producer.get(v)
        if v not in primals and node is not None and _cheap(node):
            stack.extend(node.operand_values)
    source, sink = ("source",), ("sink",)
    infinite = 1 + sum(v.type.nbytes for v in relevant)
    capacity: dict[tuple, dict[tuple, int]] = {source: {}, sink: {}}
    for v in relevant:
        capacity[("in", v)] = {("out", v): 0 if v in primals else max(v.type.nbytes, 1)}
        capacity[("out", v)] = {}
    for v in relevant:
        node = producer.get(v)
        if v in primals or node is None or not _cheap(node):
            capacity[source][("in", v)] = infinite
        else:
            for x in node.operand_values:
                capacity[("out", x)][("in", v)] = infinite
    for v in needed:
        capacity[("out", v)][sink] = infinite
    reached = _max_flow(capacity, source, sink)
    saved = tuple(v for v in relevant if ("in", v) in reached and ("out", v) not in reached)
    recomputed = {v for v in relevant if ("in", v) not in reached}
    order = {v: i for i, v in enumerate(joint.inputs)}
    order.update({n.out: len(order) + i for i, n in enumerate(joint.nodes)})
    return tuple(sorted(saved, key=order.__getitem__)), recomputed


def _max_flow(capacity: dict, source: object, sink: object) -> set:
    """Dinic's maximum flow on `capacity` (vertex -> {vertex: capacity}, changed into the
    residual network); returns the vertices the source still reaches: the source side of a
    minimum cut. Iterative throughout (a joint graph can be thousands of values deep)."""
    for u in list(capacity):                 # reverse edges, with no capacity of their own
        for v in list(capacity[u]):
            capacity.setdefault(v, {}).setdefault(u, 0)
    while True:
        level = {source: 0}
        queue = [source]
        for u in queue:                      # breadth first: the level graph
            for v, room in capacity[u].items():
                if room > 0 and v not in level:
                    level[v] = level[u] + 1
                    queue.append(v)
        if sink not in level:
            return set(level)
        edges = {u: list(capacity[u]) for u in level}
        position = dict.fromkeys(level, 0)
        path = [source]
        while path:                          # augmenting paths along the levels (a blocking flow)
            u = path[-1]
            if u == sink:
                steps = list(zip(path, path[1:]))
                push = min(capacity[a][b] for a, b in steps)
                for a, b in steps:
                    capacity[a][b] -= push
                    capacity[b][a] += push
                path = [source]
                continue
            out, k = edges[u], position[u]
            while k < len(out) and not (capacity[u][out[k]] > 0
                                        and level.get(out[k]) == level[u] + 1):
                k += 1
            position[u] = k
            if k < len(out):
                path.append(out[k])
            else:                            # a dead end: never try it again in this phase
                path.pop()
                if path:
                    position[path[-1]] += 1


_VIEWS = frozenset({"full", "reshape", "transpose", "slice"})


def _cheap(node: Node) -> bool:
    """Elementwise arithmetic and views: recomputing them costs less than saving them."""
    return is_pointwise(node) or node.op in _VIEWS


def _backward_graph(joint: Graph, backward: set[Value], saved_inputs: dict[Value, Value],
                    cotangents: tuple[Value, ...], num_outputs: int) -> Graph:
    def sub(x):
        return saved_inputs.get(x, x) if isinstance(x, Value) else x

    nodes = tuple(Node(n.op, tuple(sub(x) for x in n.inputs), n.attrs, n.outputs, n.loc)
                  for n in joint.nodes if n.out in backward and n.out not in saved_inputs)
    grads = tuple(sub(v) for v in joint.outputs[num_outputs:])
    return Graph(f"{joint.name}", tuple(saved_inputs.values()) + cotangents, nodes, grads)


# ---- scalar seed: gradients for c = 1 in the forward, scaled by c in the backward ----

def _foldable_seed(joint: Graph, cotangents: tuple[Value, ...], backward: set[Value]) -> bool:
    """One scalar float cotangent, and no cast to a narrower float on its path: a cast rounds
    the cotangent (eager gives float32(c) * ...), so c * grad(1) would be more exact than eager."""
    if not (len(cotangents) == 1 and cotangents[0].type.shape == ()
            and cotangents[0].type.dtype.is_floating_point):
        return False
    return not any(n.op == "cast" and n.out in backward and _narrows(n) for n in joint.nodes)


def _narrows(cast: Node) -> bool:
    source, target = cast.inputs[0].type.dtype, cast.out.type.dtype
    return not target.is_floating_point or target.np.itemsize < source.np.itemsize


def _seeded_partition(joint: Graph, num_primals: int, num_outputs: int) -> Partition:
    from ..ir.passes import optimize
    primals, (seed,) = joint.inputs[:num_primals], joint.inputs[num_primals:]
    one = Node("full", (), (("value", 1.0), ("shape", ()), ("dtype", seed.type.dtype)), (seed,))
    grads = joint.outputs[num_outputs:]
    saved = tuple(dict.fromkeys(grads))
    comments = tuple((k + 1, text) for k, text in joint.comments)
    forward = Graph(joint.name, primals, (one, *joint.nodes), joint.outputs[:num_outputs] + saved,
                    comments)
    forward = optimize(forward)
    names = value_names(joint)
    saved_names = {v: SAVED_PREFIX + names[v].lstrip("%") for v in saved}
    forward = rename(forward, dict(zip(forward.outputs[num_outputs:], saved_names.values())))
    return Partition(forward, _scale_graph(joint.name, saved, saved_names, seed, grads), saved,
                     tuple(saved.index(g) for g in grads))


def _scale_graph(name: str, saved: tuple[Value, ...], saved_names: dict[Value, str], seed: Value,
                 grads: tuple[Value, ...]) -> Graph:
    """saved unit gradients + cotangent c -> each gradient times c."""
    b = GraphBuilder(name, record_locations=False)
    inputs = {v: b.add_input(v.type, saved_names[v]) for v in saved}
    b.inputs.append(seed)
    c = b.wrap(seed)
    scaled = {v: (inputs[v] * c.to(v.type.dtype)).value for v in saved}
    return b.finish([scaled[g] for g in grads])
