"""Seed 003: the official tutorial "Automatic differentiation with torch.autograd" (translated).

The tutorial's code in order, each snippet in a `# %%` cell; the cells share one namespace, as the
tutorial's snippets do. The code is the tutorial's, unchanged except that `import torch` became
`import tracegrad as torch`, `torch.manual_seed(0)` seeds the random weights (the tutorial's
numbers are random), and one cell, marked as ours, runs the `requires_grad_` and
`backward(torch.tensor(1.0))` of the tutorial's notes, which have no code.
"""

# ruff: noqa: E402, I001  (each seed program has its own `import torch`)

# %% setup: a one-layer network: z = x @ w + b, loss = binary_cross_entropy_with_logits(z, y)
import tracegrad as torch  # the tutorial's `import torch`
torch.manual_seed(0)  # ours: w and b are random

x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w)+b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

# %% grad_fn: the grad_fn of z and loss
print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
# Gradient function for z = <AddBackward0 object at 0x...>
# Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at 0x...>

# %% gradients: loss.backward(), then the gradients of w (five equal rows, as x is ones) and b
loss.backward()
print(w.grad)
print(b.grad)

# %% no_grad: disabling gradient tracking with torch.no_grad()
z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)
# True
# False

# %% detach: disabling gradient tracking with detach()
z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
# False

# %% notes: (ours, the notes have no code) x.requires_grad_(True) sets the flag later; on a
# scalar, backward() is backward(torch.tensor(1.0))
x.requires_grad_(True)
print(x.requires_grad)
s = (3 * x).sum()
s.backward(torch.tensor(1.0))
print(x.grad)
# True
# tensor([3., 3., 3., 3., 3.])

# %% jacobian: vector-Jacobian products: backward(ones_like(out)) three times; grads accumulate
inp = torch.eye(4, 5, requires_grad=True)
out = (inp+1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")
