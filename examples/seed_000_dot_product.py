"""Seed 000: "pytorch的梯度自动计算功能" (PyTorch's automatic gradients), by 老饼 (bbbdata.com).

The seed's programs in order, each in a `# %%` cell. The code is the seed's, unchanged except
that `import torch` became `import tracegrad as torch`. tests/runtime/test_seeds.py runs the
cells one by one and compares their output with what PyTorch prints.
"""

# ruff: noqa: E402, I001  (each seed program has its own `import torch`)

# %% traditional: the gradient of y = x**2 at x = 3 from its formula 2x, without autograd
x  = 3
dy = 2*x
print('y对x的梯度:',dy)
# y对x的梯度: 6

# %% dot_product: autograd: y = x@x on a one-element float64 tensor, then y.backward()
import tracegrad as torch  # the seed's `import torch`; everything else is the seed's code
x = torch.tensor([3],dtype=(float),requires_grad=True)   # 生成一个tensor数据x
y = x@x                                                  # 根据x计算y
y.backward()                                             # 将y反向传播
print('y对x的梯度:',x.grad)                               # 打印y对x的梯度
# y对x的梯度: tensor([6.], dtype=torch.float64)

# %% chain: z = 3*y, then z.backward() (the seed's "整体所有代码", all the code)
import tracegrad as torch  # the seed's `import torch`
x = torch.tensor([3],dtype=(float),requires_grad=True)   # 生成一个tensor数据x
y = x@x                                                  # 根据x计算y
z = 3*y                                                  # 根据y计算z
z.backward()                                             # 将z反向传播
print('z对x的梯度:',x.grad)
# z对x的梯度: tensor([18.], dtype=torch.float64)
