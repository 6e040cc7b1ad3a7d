"""What an eager op's signature determines, computed once per signature: the output type
(`OpDef.infer`) and the class of the backward node (named by `OpDef.grad_fn_name`).

Why: the rules are pure functions of the operand types and the attributes, and eager code
calls the same few signatures over and over; running a rule costs microseconds, a dict lookup
a tenth of one.

A signature key is `(op name, then two entries per operand, then the attribute items)`: a
tensor operand gives its shape and dtype, a literal its Python type and value (so True, 1 and
1.0 differ). Attributes compare with `==`, so a rule must treat equal attribute values alike,
as every rule does. A key that cannot be hashed (an attribute holding a list) is never cached:
the rule runs every time. The cache is emptied when it holds LIMIT signatures, so programs
that make endless new shapes or literals cost no more than without it.
"""

from __future__ import annotations

from typing import Any

from ..ir.ops import OpDef
from ..ir.types import TensorType
from . import autograd as ag

LIMIT = 4096

# key -> (output type, OpNode subclass or None). `Tensor._apply` reads it directly (a hit
# is the common case) and calls `lookup` when the key is missing or unhashable.
FOUND: dict[tuple, tuple[TensorType, type | None]] = {}


def lookup(op_def: OpDef, key: tuple, operands: tuple, attrs: dict[str, Any]
           ) -> tuple[TensorType, type | None]:
    """(output type, OpNode subclass or None if the op has no VJP) for this signature."""
    try:
        found = FOUND.get(key)
    except TypeError:                   # an unhashable attribute value
        return _evaluate(op_def, operands, attrs)
    if found is None:
        found = _evaluate(op_def, operands, attrs)
        if len(FOUND) >= LIMIT:
            FOUND.clear()
        FOUND[key] = found
    return found


def _operand_types(operands: tuple) -> tuple:
    """What rules receive for eager operands: a tensor's TensorType, a literal itself."""
    return tuple([x.type_ if isinstance(x, ag.TensorOps) else x for x in operands])


def _evaluate(op_def: OpDef, operands: tuple, attrs: dict[str, Any]
              ) -> tuple[TensorType, type | None]:
    types = _operand_types(operands)
    out_type = op_def.infer(*types, **attrs)       # raises ShapeError/DTypeError: not cached
    if op_def.vjp is None:
        return out_type, None
    return out_type, ag.node_class(op_def.grad_fn_name(types, attrs), ag.OpNode)


def clear() -> None:
    """Forget every signature (tests)."""
    FOUND.clear()
