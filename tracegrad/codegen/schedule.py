"""Order a loop body's statements so that few values are live while vmath calls run.

Why: LLVM's loop vectorizer interleaves a loop with a reduction (two vector iterations per
trip, which hides the latency of vmath's polynomial chains) only when its estimate of the
body's vector register use leaves room for two copies: with AVX2's 16 registers, at most 8
values live at once ((16 - 1) // (max - 1) >= 2, LoopVectorize's selectInterleaveCount). The
estimate walks the body in source order, so the order we emit decides it. W3
(benchmarks/workloads.py) in graph order peaks at 9 (one copy per trip), in this order at 8
(interleaved, ~11% faster single-threaded).

Order: the calls one after another, the hungriest first (CALL_REGISTERS; a call only after
the calls it depends on), so that each runs while the fewest values wait for it; a statement
right before the call that needs it; after each call, at once, every ready statement that ends
an operand's life (a reduction step, a store, `t * s` where `t` is used no more); the rest in
graph order. The result is kept only if the model below rates it no worse than graph order:
a value is live from its statement (a load from its first use) to its last use, and a call
needs CALL_REGISTERS more while it runs. Only the order of statements changes, never what they
compute, so results are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..ir.graph import Node, Value

# Vector registers a vmath_f32 call keeps live besides its operand and the loop's accumulator:
# LLVM's estimate (-debug-only=loop-vectorize,vplan "LV(REG)") for `acc = sum_step(acc, f(v));
# out[i] = v`, minus those two. Measured with llvmlite 0.50 (LLVM 22), AVX2.
CALL_REGISTERS = {"exp": 3, "tanh": 4, "sigmoid": 5, "log": 6, "expm1": 6, "sin": 6, "cos": 6,
                  "pow": 6, "softplus": 7, "log1p": 9}
DEFAULT_CALL_REGISTERS = 6
MAX_STATEMENTS = 256      # the placement is quadratic in the body's length; longer ones keep graph order


def schedule_body(nodes: Sequence[Node], is_call: Callable[[Node], bool]) -> list[Node]:
    """`nodes` (a loop body in a valid order) reordered for low register pressure."""
    calls = [n for n in nodes if is_call(n)]
    if not calls or len(nodes) > MAX_STATEMENTS:
        return list(nodes)
    demand = {n: CALL_REGISTERS.get(n.op, DEFAULT_CALL_REGISTERS) if is_call(n) else 0
              for n in nodes}
    candidate = _place(nodes, calls, demand)
    return candidate if _peak(candidate, demand) <= _peak(nodes, demand) else list(nodes)


def _place(nodes: Sequence[Node], calls: Sequence[Node], demand: dict[Node, int]) -> list[Node]:
    producer = {n.out: n for n in nodes}
    rank = {n: i for i, n in enumerate(nodes)}
    placed: list[Node] = []
    done: set[Node] = set()
    uses = _use_counts(nodes)

    def place(node: Node) -> None:
        for x in node.operand_values:
            if x in producer and producer[x] not in done:
                place(producer[x])
        done.add(node)
        placed.append(node)
        for x in node.operand_values:
            uses[x] -= 1

    while pending := [c for c in calls if c not in done]:
        ready = [c for c in pending if not _closure(c, producer) & set(pending)]
        place(max(ready, key=lambda c: (demand[c], -rank[c])))
        _place_freeing(nodes, producer, done, uses, place, rank)
    for node in nodes:
        if node not in done:
            place(node)
    return placed


def _place_freeing(nodes: Sequence[Node], producer: dict[Value, Node], done: set[Node],
                   uses: dict[Value, int], place: Callable[[Node], None],
                   rank: dict[Node, int]) -> None:
    """Place, until none is left, ready statements that end an operand's life."""
    while True:
        ready = [n for n in nodes if n not in done
                 and all(x not in producer or producer[x] in done for x in n.operand_values)
                 and any(uses[x] == _count(n, x) for x in n.operand_values)]
        if not ready:
            return
        place(min(ready, key=rank.__getitem__))


def _closure(node: Node, producer: dict[Value, Node]) -> set[Node]:
    seen: set[Node] = set()
    stack = [producer[x] for x in node.operand_values if x in producer]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(producer[x] for x in n.operand_values if x in producer)
    return seen


def _count(node: Node, x: Value) -> int:
    return sum(1 for y in node.operand_values if y is x)


def _use_counts(nodes: Sequence[Node]) -> dict[Value, int]:
    counts: dict[Value, int] = {}
    for n in nodes:
        for x in n.operand_values:
            counts[x] = counts.get(x, 0) + 1
    return counts


def _peak(order: Sequence[Node], demand: dict[Node, int]) -> int:
    """The most values live at once (loads included), a call counting CALL_REGISTERS more."""
    last = {x: i for i, n in enumerate(order) for x in n.operand_values}
    live: set[Value] = set()
    peak = 0
    for i, node in enumerate(order):
        live |= set(node.operand_values)
        extra = demand[node] or 1
        peak = max(peak, len(live) + extra)
        live = {x for x in live if last[x] > i}
        if node.out in last:
            live.add(node.out)
    return peak
