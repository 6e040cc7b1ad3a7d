"""gradcheck / gradgradcheck: compare autograd's Jacobians with central finite differences.

Inputs should be float64; the Jacobian is built column by column (numerical) and row by row
(analytical, one `autograd.grad` per output element), so keep the inputs small.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .backward import grad as autograd_grad
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytical and numerical Jacobians disagree."""


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _numerical(fn: Callable, inputs: list[Any], i: int, eps: float) -> list[np.ndarray]:
    """d(output k)/d(input i) for every output k, shape (out.size, in.size)."""
    x = inputs[i]
    data = x._data                      # perturbed in place, element by element (any layout)
    columns: list[list[np.ndarray]] = []
    with no_grad():
        for j in np.ndindex(data.shape):
            saved = data[j]
            data[j] = saved + eps
            plus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            data[j] = saved - eps
            minus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            data[j] = saved
            columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    count = len(_outputs(fn, inputs))
    return [np.stack([c[k] for c in columns], axis=1) if columns else np.zeros((0, 0))
            for k in range(count)]


def _analytical(outputs: list[Tensor], inputs: list[Any], i: int) -> list[np.ndarray]:
    x = inputs[i]
    result = []
    for out in outputs:
        rows = []
        for r in range(out.numel()):
            seed = np.zeros(out._data.size, out.dtype.np)
            seed[r] = 1
            g = Tensor._make(seed.reshape(out._data.shape), out.dtype)
            (gx,) = autograd_grad(out, x, g, retain_graph=True, allow_unused=True) \
                if out.requires_grad else (None,)
            rows.append(np.zeros(x._data.size) if gx is None else gx._data.astype(np.float64).ravel())
        result.append(np.stack(rows) if rows else np.zeros((0, x._data.size)))
    return result


def gradcheck(fn: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True when autograd's Jacobian of `fn` at `inputs` matches finite differences."""
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    outputs = _outputs(fn, inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        numerical = _numerical(fn, inputs, i, eps)
        analytical = _analytical(outputs, inputs, i)
        for k, (num, ana) in enumerate(zip(numerical, analytical)):
            if not np.allclose(ana, num, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"Jacobian mismatch for output {k} with respect to input {i},"
                                     f"\nnumerical:{num}\nanalytical:{ana}\n")
    return True


def gradgradcheck(fn: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0) -> bool:
    """gradcheck of the map (inputs, v) -> VJP(v): second derivatives against finite differences."""
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor._make(rng.standard_normal(o._data.shape).astype(o.dtype.np),
                                     o.dtype).requires_grad_(True) for o in outputs]
    grad_outputs = list(grad_outputs)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first_order(*args: Any) -> tuple:
        xs, vs = list(args[:len(inputs)]), list(args[len(inputs):])
        with enable_grad():     # the numerical pass calls this under no_grad
            outs = _outputs(fn, xs)
            diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            grads = autograd_grad(outs, diff, vs, create_graph=True, allow_unused=True)
            return tuple(g if g is not None else (d * 0.0) for g, d in zip(grads, diff))

    if not wrt:
        return True
    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
