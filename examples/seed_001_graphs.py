"""Seed 001: computation graphs, leaves, `backward(grad_output)` and `no_grad()` (PyTorch autograd).

The seed's three programs in order, each in a `# %%` cell. The code is the seed's, unchanged except
that `import torch` became `import tracegrad as torch` and the body of the `with` block, whose
indentation the seed lost, is indented again. The seed's comments show the expected output.
"""

# ruff: noqa: E402, I001  (each seed program has its own `import torch`)

# %% scalar_product: y = a * b on 0-d tensors, then the gradients of a and b
import tracegrad as torch  # the seed's `import torch`
# 创建一个需要求导的张量
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(3.0, requires_grad=True)
# 进行计算
y = a * b
# 计算梯度
y.backward()
# 打印梯度
print(f"Gradient of a: {a.grad}") # 输出: Gradient of a: 3.0
print(f"Gradient of b: {b.grad}") # 输出: Gradient of b: 2.0

# %% grad_output: non-scalar output: y = x * 2, backward with an explicit grad_output
import tracegrad as torch  # the seed's `import torch`
# 创建需要求导的张量
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * 2
# 定义 grad_output
grad_output = torch.tensor([1.0, 1.0, 1.0])
# 进行反向传播
y.backward(grad_output)
# 打印梯度
print(f"Gradient of x: {x.grad}") # 输出: Gradient of x: tensor([2., 2., 2.])

# %% no_grad: results computed inside torch.no_grad() do not require grad
import tracegrad as torch  # the seed's `import torch`
# 创建需要求导的张量
x = torch.tensor(2.0, requires_grad=True)
# 启用自动求导
with torch.no_grad():
    y = x * 2
# 检查 y 是否需要求导
print(f"Requires grad of y: {y.requires_grad}") # 输出: Requires grad of y: False
