"""Seed 002: "PyTorch的自动微分(autograd)", a tour of PyTorch's autograd.

The seed's programs in order, each in a `# %%` cell; the cells share one namespace, as the seed's
snippets do. The code is the seed's, unchanged except for:
- `import torch` became `import tracegrad as torch`, and the first snippet, which has no import,
  gets one;
- the line breaks the seed lost (`import torchx = ...`, `for t in range(500):# ...y_pred = ...`)
  are restored and the loop bodies indented;
- the two-layer networks are seeded with `torch.manual_seed(0)` (their numbers are random);
- the second `grad_tensors` snippet reuses the freed graph in the seed, which PyTorch rejects:
  the seed's text explains this error and its arithmetic (5 + 2x2 = 9) is that of a fresh graph,
  so one cell shows the error and the next runs the snippet on a fresh graph;
- two cells, marked as ours, demonstrate what the seed's text says without code: `retain_grad`,
  `retain_graph=True`, and its bulleted "autograd tips".
The seed prints `tensor([7.])` after the second `grad_tensors` snippet: a misprint for 9.
"""

# ruff: noqa: E402, I001  (each seed program has its own `import torch`)

# %% graph: y = (x + w) * (w + 1): w.grad, is_leaf, .grad of leaves and non-leaves, grad_fn
import tracegrad as torch  # the seed's snippet has no import; PyTorch's `torch` is replaced
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward()
print(w.grad)
# tensor([5.])
print("is_leaf:\n", w.is_leaf, x.is_leaf, a.is_leaf, b.is_leaf, y.is_leaf)
# is_leaf:
#  True True False False False
print("gradient:\n", w.grad, x.grad, a.grad, b.grad, y.grad)
# gradient:
#  tensor([5.]) tensor([2.]) None None None
print("grad_fn:\n", w.grad_fn, x.grad_fn, a.grad_fn, b.grad_fn, y.grad_fn)
# grad_fn:
#  None None <AddBackward0 object at 0x...> <AddBackward0 object at 0x...> <MulBackward0 obj...>

# %% retain: (ours, the seed's text has no code for these) a.retain_grad() keeps the gradient of
# the non-leaf a; backward(retain_graph=True) keeps the graph for a second, accumulating backward
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
a = torch.add(w, x)
a.retain_grad()
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward(retain_graph=True)
print(a.grad, w.grad)
y.backward()
print(a.grad, w.grad)
# tensor([2.]) tensor([5.])
# tensor([4.]) tensor([10.])

# %% grad_weights_1_1: gradient weights (grad_tensors) [1, 1] on torch.cat([y, y1]): 5 + 2 = 7
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a ,b)
y1 = torch.add(a, b) # dy1/dw = 2
loss = torch.cat([y, y1], dim=0)
grad_tensors = torch.tensor([1, 1])
loss.backward(gradient=grad_tensors)
print(w.grad)
# tensor([7.])

# %% graph_freed: the seed's next snippet: backward with [1, 2] through the same, freed graph
grad_tensors = torch.tensor([1, 2])
try:
    loss.backward(gradient=grad_tensors)
except RuntimeError as e:
    print("RuntimeError:", e)
print(w.grad)
# RuntimeError: Trying to backward through the graph a second time (...)
# tensor([7.])

# %% grad_weights_1_2: gradient weights [1, 2] on a fresh graph: 5 + 2x2 = 9 (seed: tensor([7.]))
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a ,b)
y1 = torch.add(a, b) # dy1/dw = 2
loss = torch.cat([y, y1], dim=0)
grad_tensors = torch.tensor([1, 2])
loss.backward(gradient=grad_tensors)
print(w.grad)
# tensor([9.])

# %% autograd_grad: torch.autograd.grad with create_graph=True, then the 2nd derivative of x**2
# x需要设置requires_grad=True才可以后续求导
x = torch.tensor([3.], requires_grad=True)
y = torch.pow(x, 2)
# 创建导数计算图,用于高阶求导,即后续可以求二阶导数
grad_1 = torch.autograd.grad(y, x, create_graph=True)
print(grad_1)
# (tensor([6.], grad_fn=<MulBackward0>),)
# 求2阶导数
grad_2 = torch.autograd.grad(grad_1[0], x)
print(grad_2)
# (tensor([2.]),)

# %% tips: (ours, the seed has no code for its tips) gradients accumulate until w.grad.zero_();
# nodes that depend on leaves require grad; a leaf that requires grad cannot change in place
w = torch.tensor([1.], requires_grad=True)
x = torch.tensor([2.], requires_grad=True)
for _ in range(2):
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward()
    print(w.grad)
w.grad.zero_()
print(w.grad)
print(a.requires_grad, b.requires_grad, y.requires_grad)
try:
    w.add_(1)
except RuntimeError as e:
    print("RuntimeError:", e)
# tensor([5.])
# tensor([10.])
# tensor([0.])
# True True True
# RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.

# %% ones_mean: x = ones(2, 2), y = x + 2, z = y*y*3, out = z.mean(), out.backward(): x.grad = 4.5
import tracegrad as torch  # the seed's `import torch`
x = torch.ones(2, 2, requires_grad=True)
print(x)
y = x + 2
print(y)
print(x.grad_fn) # None
print(y.grad_fn) # y 作为操作的结果被创建,所以它有 grad_fn None
z = y*y*3
out = z.mean()
print(z)
print(out)
print(out.backward()) # 这里是没有返回值的
print(x.grad) # 需要先backward,才能得到x的grad
# tensor([[1., 1.],
#         [1., 1.]], requires_grad=True)
# tensor([[3., 3.],
#         [3., 3.]], grad_fn=<AddBackward0>)
# None
# <AddBackward0 object at 0x...>
# tensor([[27., 27.],
#         [27., 27.]], grad_fn=<MulBackward0>)
# tensor(27., grad_fn=<MeanBackward0>)
# None
# tensor([[4.5000, 4.5000],
#         [4.5000, 4.5000]])

# %% manual_network: a two-layer network trained by hand-written backprop, printing "t loss"
import tracegrad as torch  # the seed's `import torch`
torch.manual_seed(0)  # ours: the seed's data and weights are random
dtype = torch.float
device = torch.device("cpu")
# device = torch.device("cuda:0") # 取消注释以在GPU上运行
# N是批量大小,D_in是输入维度,H是隐藏层维度,D_out是输出维度
N, D_in, H, D_out = 64, 1000, 100, 10
# 创建随机输入和输出数据
x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)
# 随机初始化权重
w1 = torch.randn(D_in, H, device=device, dtype=dtype)
w2 = torch.randn(H, D_out, device=device, dtype=dtype)
learning_rate = 1e-6
for t in range(500):
    # 前向传递:计算预测y
    h = x.mm(w1) # mm表示tensor相乘
    # 将输入input张量的每个元素夹紧到区间[min, max]
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    # 计算和打印损失
    loss = (y_pred - y).pow(2).sum().item() # 求平方和
    print(t, loss)
    # Backprop计算w1和w2相对于损耗的梯度
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    # 使用梯度下降更新权重
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2

# %% autograd_network: the same network trained with loss.backward() and torch.no_grad() updates
import tracegrad as torch  # the seed's `import torch`
torch.manual_seed(0)  # ours: the seed's data and weights are random
dtype = torch.float
device = torch.device("cpu")
# device = torch.device("cuda:0") # 取消注释以在GPU上运行
# N是批量大小,D_in是输入维度,H是隐藏层维度,D_out是输出维度
N, D_in, H, D_out = 64, 1000, 100, 10
# 创建随机输入和输出数据
x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)
# 随机初始化权重
w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)
learning_rate = 1e-6
for t in range(500):
    # 前向传播:使用tensors上的操作计算预测值y;
    # 由于w1和w2有requires_grad=True,涉及这些张量的操作将让PyTorch构建计算图,
    # 从而允许自动计算梯度。由于我们不再手工实现反向传播,所以不需要保留中间值的引用。
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    # 使用Tensors上的操作计算和打印丢失。
    # loss是一个形状为(1,)的张量
    # loss.item() 得到这个张量对应的python数值
    loss = (y_pred - y).pow(2).sum()
    print(t, loss.item())
    # 使用autograd计算反向传播。这个调用将计算loss对所有requires_grad=True的tensor的梯度。
    # 这次调用后,w1.grad和w2.grad将分别是loss对w1和w2的梯度张量。
    loss.backward()
    # 使用梯度下降更新权重。对于这一步,我们只想对w1和w2的值进行原地改变;不想为更新阶段构建计算图,
    # 所以我们使用torch.no_grad()上下文管理器防止PyTorch为更新构建计算图
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        # 反向传播后手动将梯度设置为零
        w1.grad.zero_()
        w2.grad.zero_()
