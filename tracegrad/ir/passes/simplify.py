"""Algebraic simplification: identities that are exact under the reference semantics.

Every rewrite gives bit-identical results to the node it replaces (numpy's `compute` is the
reference) and keeps the exact type of the replaced value. A rule answers a node with an
earlier Value (an alias), a replacement Node defining the same output Value, or None; a
replacement is offered to the rules again, so chains collapse in one pass (nodes are visited
in order, so operands are already simplified).

Rules (x, y: Values; "one"/"zero": a literal or a `full` node's value):
- `x*1`, `1*x`, `x/1`, `pow(x, 1)` -> x;  `pow(x, 2)` -> `mul(x, x)`;  `pow(x, 0)` -> `full(1)`
  (C99/IEEE: pow(x, ±0) = 1 even for NaN; measured bit-exact for f16/f32/f64 in numpy);
- `x+0`, `0+x`, `x-0` -> x, with signed zeros honoured (see below);
- `neg(neg(x))` -> x;  negation moves out of products and quotients and into differences:
  `mul(neg(a), b)`, `mul(a, neg(b))` -> `neg(mul(a, b))` and `mul(neg(a), neg(b))` ->
  `mul(a, b)` (likewise `div`), `add(a, neg(b))` ->
  `sub(a, b)`, `add(neg(a), b)` -> `sub(b, a)`, `sub(a, neg(b))` -> `add(a, b)`: exact for
  floats under round-to-nearest, signed zeros, infinities and NaN included (IEEE 754 defines
  `a - b` as `a + (-b)`, and rounding is symmetric), up to the sign bit of a NaN result; only
  when the neg's dtype is the result's (no promotion between them). So `(-x) * x` and `x * x`
  become one product, as do the adjoint terms `g * (-x)` and `-(g * x)`;
- `where(c, a, a)` -> a;  `where(full(c), a, b)` -> a or b;
- reshape, broadcast_to, sum_to, cast and slice that do not change the type -> x;
- `reshape(reshape(x))` and `broadcast_to(broadcast_to(x))` -> one node; `transpose` of
  `transpose` -> one transpose with the composed permutation, or x when that is the identity;
- `sum_to(broadcast_to(x, s), x.shape)` when the broadcast only added size-1 axes -> x (see
  below); `sum`/`sum_to` over no real axes likewise; `max`/`min` over no axes -> x;
- `matmul` contracting an axis of size 1 -> the broadcast product as a one-term sum (below),
  a unit operand dropped: an outer product is elementwise work, fused, not a BLAS call.

A literal takes part only when numpy's promotion keeps the tensor's dtype: a bool literal
fits any tensor, an int literal an int or float tensor, a float literal only a float tensor
(`mul(i64, 1.0)` computes in float64 and rounds large integers, so it stays).

Signed zeros. `x + 0.0` maps -0.0 to +0.0, so by default (`signed_zeros=True`) only the
exact forms fold: `x + (-0.0)` and `x - (+0.0)` for floats, any zero for integers. numpy's
`sum` starts from +0.0, so summing over size-1 axes also maps -0.0 to +0.0: by default such a
sum becomes `add(x, 0.0)` (still exact, and cheaper). With `signed_zeros=False` the pass treats
`x + 0.0` and those sums as x, as PyTorch's and XLA's simplifiers do. `x * 0` is never folded
(0 * inf is NaN), nor is the replicating `sum_to(broadcast_to(x))` (that is n * x, rounded).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..graph import Graph, Node, Value
from .rewrite import GraphRewriter, rewrite_nodes

Literal = bool | int | float
_MAX_STEPS = 16        # replacements offered back to the rules per node


@dataclass(frozen=True)
class _Context:
    rewriter: GraphRewriter
    signed_zeros: bool

    def producer(self, x: object) -> Node | None:
        return self.rewriter.producer(x)

    def scalar(self, x: object) -> Literal | None:
        """The uniform value of operand `x`: a literal, or a `full` node's value."""
        if isinstance(x, (bool, int, float)):
            return x
        source = self.producer(x)
        return source.attr_dict["value"] if source is not None and source.op == "full" else None


Rule = Callable[[Node, _Context], "Node | Value | None"]


def simplify(graph: Graph, *, signed_zeros: bool = True) -> Graph:
    """`graph` with exact algebraic identities applied (see the module docstring)."""
    def visit(node: Node, rewriter: GraphRewriter) -> Node | Value:
        return _simplify_node(node, _Context(rewriter, signed_zeros))

    return rewrite_nodes(graph, visit)


def _simplify_node(node: Node, ctx: _Context) -> Node | Value:
    for _ in range(_MAX_STEPS):
        result = _first_rewrite(node, ctx)
        if not isinstance(result, Node):
            return node if result is None else result
        node = result
    return node


def _first_rewrite(node: Node, ctx: _Context) -> Node | Value | None:
    for rule in RULES.get(node.op, ()):
        result = rule(node, ctx)
        if result is not None:
            return result
    return None


# ---- predicates on constant operands ----

def _category(x: object, ctx: _Context) -> int:
    """Promotion category of an operand: 0 bool, 1 int, 2 float; a tensor fits its own dtype."""
    if isinstance(x, Value):
        return x.type.dtype.category
    return 0 if isinstance(x, bool) else 1 if isinstance(x, int) else 2


def _constant_is(x: object, like: Value, ctx: _Context, target: float) -> bool:
    """`x` is a constant equal to `target` that leaves `like`'s dtype unchanged."""
    value = ctx.scalar(x)
    return (value is not None and value == target
            and _category(x, ctx) <= like.type.dtype.category)


def _zero_is_exact(x: object, like: Value, ctx: _Context, negative: bool) -> bool:
    """`x` is a zero whose addition (negative=True) or subtraction is exact on `like`."""
    if not _constant_is(x, like, ctx, 0):
        return False
    if not like.type.dtype.is_floating_point or not ctx.signed_zeros:
        return True
    return (math.copysign(1.0, ctx.scalar(x)) < 0) == negative


def _replace(node: Node, op: str, inputs: tuple, attrs: tuple = ()) -> Node:
    return Node(op, inputs, attrs, node.outputs, node.loc)


# ---- arithmetic identities ----

def _mul_by_one(node: Node, ctx: _Context) -> Value | None:
    a, b = node.inputs
    if isinstance(a, Value) and _constant_is(b, a, ctx, 1):
        return a
    if isinstance(b, Value) and _constant_is(a, b, ctx, 1):
        return b
    return None


def _div_by_one(node: Node, ctx: _Context) -> Value | None:
    a, b = node.inputs
    return a if isinstance(a, Value) and _constant_is(b, a, ctx, 1) else None


def _add_zero(node: Node, ctx: _Context) -> Value | None:
    a, b = node.inputs
    if isinstance(a, Value) and _zero_is_exact(b, a, ctx, negative=True):
        return a
    if isinstance(b, Value) and _zero_is_exact(a, b, ctx, negative=True):
        return b
    return None


def _sub_zero(node: Node, ctx: _Context) -> Value | None:
    a, b = node.inputs
    return a if isinstance(a, Value) and _zero_is_exact(b, a, ctx, negative=False) else None


def _neg_neg(node: Node, ctx: _Context) -> Value | None:
    inner = ctx.producer(node.inputs[0])
    return inner.inputs[0] if inner is not None and inner.op == "neg" else None


def _negated(x: object, node: Node, ctx: _Context) -> Value | None:
    """The operand of `x = neg(y)` when that moves exactly through `node` (see the docstring)."""
    inner = ctx.producer(x)
    if inner is None or inner.op != "neg" or not node.out.type.dtype.is_floating_point:
        return None
    y = inner.inputs[0]
    return y if y.type.dtype is node.out.type.dtype else None


def _neg_out_of_product(node: Node, ctx: _Context) -> Node | None:
    """mul/div with a negated operand -> neg of the product of the plain operands."""
    a, b = node.inputs
    plain_a, plain_b = _negated(a, node, ctx), _negated(b, node, ctx)
    if plain_a is None and plain_b is None:
        return None
    if plain_a is not None and plain_b is not None:          # the signs cancel
        return _replace(node, node.op, (plain_a, plain_b))
    operands = (a, plain_b) if plain_a is None else (plain_a, b)
    inner = ctx.rewriter.emit_new(node.op, operands, node)
    return _replace(node, "neg", (inner,))


def _neg_into_difference(node: Node, ctx: _Context) -> Node | None:
    """add(a, neg(b)) -> sub(a, b); add(neg(a), b) -> sub(b, a); sub(a, neg(b)) -> add(a, b)."""
    a, b = node.inputs
    if a is b:                                   # -t + -t: already one add
        return None
    plain_b = _negated(b, node, ctx)
    if plain_b is not None:
        return _replace(node, "sub" if node.op == "add" else "add", (a, plain_b))
    plain_a = _negated(a, node, ctx) if node.op == "add" else None
    return _replace(node, "sub", (b, plain_a)) if plain_a is not None else None


def _pow_literal(node: Node, ctx: _Context) -> Node | Value | None:
    x, y = node.inputs
    if not isinstance(x, Value) or x.type.dtype.category == 0:
        return None
    if _constant_is(y, x, ctx, 1):
        return x
    if _constant_is(y, x, ctx, 2):
        return _replace(node, "mul", (x, x))
    if _constant_is(y, x, ctx, 0):
        t = node.out.type
        one = 1.0 if t.dtype.is_floating_point else 1
        return _replace(node, "full", (), (("value", one), ("shape", t.shape), ("dtype", t.dtype)))
    return None


# ---- selection ----

def _where_same(node: Node, ctx: _Context) -> Value | None:
    _, a, b = node.inputs
    return a if isinstance(a, Value) and a is b else None


def _where_constant(node: Node, ctx: _Context) -> Value | None:
    cond = ctx.scalar(node.inputs[0])
    if cond is None:
        return None
    chosen = node.inputs[1] if cond else node.inputs[2]
    return chosen if isinstance(chosen, Value) else None


# ---- movement and reductions ----

def _same_type(node: Node, ctx: _Context) -> Value | None:
    """reshape/broadcast_to/sum_to/cast/slice whose result has its operand's type are identities."""
    x = node.inputs[0]
    return x if x.type == node.out.type else None


def _compose_with_inner(node: Node, ctx: _Context) -> Node | None:
    """reshape(reshape(x)) -> reshape(x); broadcast_to(broadcast_to(x)) -> broadcast_to(x)."""
    inner = ctx.producer(node.inputs[0])
    if inner is None or inner.op != node.op:
        return None
    return _replace(node, node.op, (inner.inputs[0],), node.attrs)


def _transpose(node: Node, ctx: _Context) -> Node | Value | None:
    perm = node.attr_dict["perm"]
    if perm == tuple(range(len(perm))):
        return node.inputs[0]
    inner = ctx.producer(node.inputs[0])
    if inner is None or inner.op != "transpose":
        return None
    first = inner.attr_dict["perm"]
    composed = tuple(first[p] for p in perm)
    return _replace(node, "transpose", (inner.inputs[0],), (("perm", composed),))


def _sum_to_broadcast(node: Node, ctx: _Context) -> Node | Value | None:
    """sum_to(broadcast_to(x, s), x.shape) where s only adds size-1 axes: a one-term sum."""
    inner = ctx.producer(node.inputs[0])
    if inner is None or inner.op != "broadcast_to":
        return None
    x = inner.inputs[0]
    if x.type != node.out.type or inner.out.type.size != x.type.size:
        return None
    return _one_term_sum(node, x, ctx)


def _reduce_nothing(node: Node, ctx: _Context) -> Node | Value | None:
    """sum/max/min over no axes: the identity (a sum still adds numpy's +0.0 start)."""
    x = node.inputs[0]
    if node.attr_dict["axes"] != () or x.type != node.out.type:
        return None
    return x if node.op != "sum" else _one_term_sum(node, x, ctx)


def _outer_product(node: Node, ctx: _Context) -> Node | Value | None:
    """matmul(a, b) contracting an axis of size 1 (a: (..., m, 1), b: (..., 1, n)) is the
    broadcast product a * b, summed once: numpy's matmul adds it to +0.0 (`[[-1.]] @ [[0.]]`
    is +0.0), so it is a one-term sum. A unit operand (the seed of a reverse pass) drops out."""
    a, b = node.inputs
    t = node.out.type
    if not (isinstance(a, Value) and isinstance(b, Value)) or len(a.type.shape) < 2 \
            or len(b.type.shape) < 2 or a.type.shape[-1] != 1:
        return None
    if not (a.type.dtype is b.type.dtype is t.dtype):
        return None

    def wide(x: Value) -> Value:
        if x.type == t:
            return x
        return ctx.rewriter.emit_new("broadcast_to", (x,), node, (("shape", t.shape),))

    if _constant_is(a, b, ctx, 1):
        product = wide(b)
    elif _constant_is(b, a, ctx, 1):
        product = wide(a)
    else:
        product = ctx.rewriter.emit_new("mul", (wide(a), wide(b)), node)
    return _one_term_sum(node, product, ctx)


def _one_term_sum(node: Node, x: Value, ctx: _Context) -> Node | Value:
    """numpy sums from +0.0: a one-term float sum is `x + 0.0` unless signed zeros are ignored."""
    if x.type.dtype.is_floating_point and ctx.signed_zeros:
        return _replace(node, "add", (x, 0.0))
    return x


RULES: dict[str, tuple[Rule, ...]] = {
    "mul": (_mul_by_one, _neg_out_of_product),
    "div": (_div_by_one, _neg_out_of_product),
    "add": (_add_zero, _neg_into_difference),
    "sub": (_sub_zero, _neg_into_difference),
    "neg": (_neg_neg,),
    "pow": (_pow_literal,),
    "where": (_where_same, _where_constant),
    "reshape": (_same_type, _compose_with_inner),
    "broadcast_to": (_same_type, _compose_with_inner),
    "sum_to": (_same_type, _sum_to_broadcast),
    "cast": (_same_type,),
    "slice": (_same_type,),
    "transpose": (_transpose,),
    "sum": (_reduce_nothing,),
    "max": (_reduce_nothing,),
    "min": (_reduce_nothing,),
    "matmul": (_outer_product,),
}
