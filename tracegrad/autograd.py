"""`tracegrad.autograd`: backward, grad, gradcheck and gradgradcheck, as in `torch.autograd`."""

from __future__ import annotations

from .runtime.backward import backward, grad
from .runtime.grad_mode import enable_grad, no_grad, set_grad_enabled
from .runtime.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "gradcheck", "gradgradcheck", "GradcheckError", "no_grad",
           "enable_grad", "set_grad_enabled"]
