"""The op registry: one frozen `OpDef` record per primitive op, filled at import, never mutated.

Each record holds everything about its op: the shape/dtype rule (`infer`), the numpy reference
(`compute`, the semantics of eager mode and of the interpreter), the VJP rule written with the
shared tensor methods (`vjp`), the scalar template codegen expands (`scalar`, elementwise only)
and the name PyTorch gives the op's backward node (`eager_name`). `grep 'define("mul"'` finds
everything about `mul`.

VJP rules have the signature `(g, out, *inputs, **attrs)` and return one entry per input: a
tensor, `None` (no gradient: a symbolic zero), or a zero-argument callable producing the tensor,
so that engines compute only the gradients somebody needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Kind(enum.Enum):
    ELEMENTWISE = "elementwise"   # operands share one shape (or are scalar literals); has a scalar formula
    REDUCE = "reduce"             # folds over axes (sum, max, sum_to, argmax)
    MOVEMENT = "movement"         # reshape, broadcast_to, transpose, slice, concat, take: index arithmetic
    CONTRACT = "contract"         # matmul: BLAS in kernels
    SOURCE = "source"             # full, const: no tensor inputs


VARIADIC = -1


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    kind: Kind
    arity: int                                   # number of inputs, or VARIADIC
    infer: Callable[..., Any]                    # (*operand types, **attrs) -> TensorType
    compute: Callable[..., Any]                  # (*arrays or scalars, **attrs) -> np.ndarray
    attrs: tuple[str, ...] = ()
    vjp: Callable[..., tuple] | None = None      # None: no gradient flows through this op
    scalar: str | None = None                    # ELEMENTWISE: expression over {0}, {1}, ...
    eager_name: str | Callable[..., str] = ""    # PyTorch's grad_fn name (define() fills in
                                                 # "<Name>Backward0"), or (operands, attrs) -> name

    def grad_fn_name(self, operands: tuple, attrs: dict[str, Any]) -> str:
        name = self.eager_name
        return name(operands, attrs) if callable(name) else name


OPS: dict[str, OpDef] = {}


def define(name: str, kind: Kind, **fields: Any) -> OpDef:
    """Create and register an op; defining a name twice is a bug."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already defined")
    if not fields.get("eager_name"):                       # PyTorch's usual spelling
        fields["eager_name"] = f"{name.title().replace('_', '')}Backward0"
    OPS[name] = op_def = OpDef(name=name, kind=kind, **fields)
    return op_def


def op(name: str) -> OpDef:
    """Look up an op by name, with a helpful error listing the known names."""
    try:
        return OPS[name]
    except KeyError:
        known = ", ".join(sorted(OPS))
        raise KeyError(f"unknown op {name!r}; known ops: {known}") from None


# Importing the category modules fills the registry.
from . import creation, elementwise, linalg, movement, reduce  # noqa: E402,F401
