"""Seed 004: "自动微分模块" (the autograd module): gradient descent on w**2 + 20, a linear layer.

The seed's two programs in order, each in a `# %%` cell. The code is the seed's, unchanged except
that `import torch` became `import tracegrad as torch` and `torch.manual_seed(0)` seeds the second
program's random weights. A cell between them, marked as ours, runs the update the seed comments
out as wrong (`w -= lr * w.grad` on a leaf that requires grad) and prints PyTorch's error.
"""

# ruff: noqa: E402, I001  (each seed program has its own `import torch`)

# %% gradient_descent: gradient descent on w**2 + 20 from w = 10 with .data updates, 100 steps
import tracegrad as torch  # the seed's `import torch`

# 参数1: 初始值, 参数2: 是否需要计算梯度(自动微分), 参数3: 数据类型
w = torch.tensor(10.0, requires_grad=True, dtype=torch.float)  # 权重

loss = w ** 2 + 20 # 损失函数 = w²+20 -> 求导: 2w

# 反向传播计算梯度,梯度 = dloss/dw = 2w,即导数,计算完毕后会记录到 w.grad 中
loss.sum().backward() # 反向传播计算梯度 .sum()保证loss是标量

lr = 0.01  # 学习率

for i in range(100):
    #正向传播计算损失
    loss = w ** 2 + 20

    # 清零梯度
    if w.grad is not None: # 第一次迭代时 w.grad 为 None
        w.grad.zero_() # 每次迭代前清零梯度,否则梯度会累加

    loss.sum().backward()  # 反向传播计算梯度

    w.data -= lr * w.grad.data # 梯度更新, 使用 .data 访问张量数据,避免跟踪梯度
    # w -= lr * w.grad           # 错误!会破坏计算图

    print(f'Iteration {i+1}: w = {w.item():.4f}, loss = {loss.item():.4f}')
    # 第一次结果: w = 9.8000, loss = 120.0000
    # 第二次结果: w = 9.6040, loss = 116.0000
    # ...

# %% wrong_update: (ours) the update the seed comments out as wrong: w is a leaf that requires grad
try:
    w -= lr * w.grad           # 错误!会破坏计算图
except RuntimeError as e:
    print("RuntimeError:", e)
# RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.

# %% mse_linear: linear layer z = x @ w + b with nn.MSELoss, then the gradients of w and b
import tracegrad as torch  # the seed's `import torch`
torch.manual_seed(0)  # ours: w and b are random

x = torch.ones(2, 5)  # 表示:特征(输入张量),2个样本,5个特征
y = torch.zeros(2, 3) # 表示:标签(目标张量,真实值),2个样本,3个类别
w = torch.randn(5, 3, requires_grad=True)  # 权重,5个输入特征,3个神经元(类别)
b = torch.randn(3, requires_grad=True)     # 偏置,3个神经元(类别)

z = torch.matmul(x, w) + b # z - x @ w + b, 前向传播计算输出预测值

criterion = torch.nn.MSELoss() # 均方误差损失函数 nn: neural network 神经网络
loss = criterion(z, y) # 计算损失

loss.backward()

print(f'Gradient w.r.t w:\n{w.grad}') # 打印权重的梯度
print(f'Gradient w.r.t b:\n{b.grad}') # 打印偏置
