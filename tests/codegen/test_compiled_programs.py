"""Compiled == eager == interpreter on every seed program's function and on random programs:
values, first derivatives (backward through the compiled call) and second derivatives
(create_graph=True through it), in float32 and float64.

Most cases run the generated kernels as plain Python (`support.compiled.plain_python`, what
TRACEGRAD_JIT=0 selects): the same generated source, in milliseconds. Cases marked `numba`
compile it (about a second per kernel); they are chosen so each kind of code the seeds produce
(concat, composites of nn.functional, 0-d float32, matmul second order) meets Numba once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import seed_functions as seeds
from support.compiled import MODES, assert_all_same, assert_same, magnitude, plain_python
from support.random_programs import assert_results_close, programs, random_programs

import tracegrad as tg
from tracegrad import dtypes as dt
from tracegrad.ir.interpret import evaluate

# ---- the seed programs' functions ----


def scalar_product(a, b):
    """Seed 001: y = a * b on 0-d float32 tensors."""
    return a * b


def times_two(x):
    """Seed 001: y = x * 2, backward with an explicit grad_output."""
    return x * 2


def weighted_cat(w, x):
    """Seed 002: loss = cat([y, y1]) for y = (w + x)(w + 1), y1 = (w + x) + (w + 1)."""
    a = tg.add(w, x)
    b = tg.add(w, 1)
    y = tg.mul(a, b)
    y1 = tg.add(a, b)
    return tg.cat([y, y1], dim=0)


def square(x):
    """Seed 002: y = torch.pow(x, 2), differentiated twice."""
    return tg.pow(x, 2)


def ones_mean(x):
    """Seed 002: out = (3 (x + 2)^2).mean()."""
    y = x + 2
    z = y * y * 3
    return z.mean()


def logistic_layer(x, w, b, y):
    """Seed 003: binary_cross_entropy_with_logits(x @ w + b, y)."""
    z = tg.matmul(x, w) + b
    return tg.nn.functional.binary_cross_entropy_with_logits(z, y)


def three_x(x):
    """Seed 003's notes: (3 * x).sum()."""
    return (3 * x).sum()


def squared_shift_t(inp):
    """Seed 003: out = (inp + 1).pow(2).t(), backward with ones three times."""
    return (inp + 1).pow(2).t()


def quadratic(w):
    """Seed 004: loss = w ** 2 + 20 on a 0-d float32 w."""
    return w ** 2 + 20


def mse_linear(x, w, b, y):
    """Seed 004: nn.MSELoss()(x @ w + b, y)."""
    z = tg.matmul(x, w) + b
    return tg.nn.MSELoss()(z, y)


def _f32(*values):
    return tuple(np.asarray(v, np.float32) for v in values)


def _normal(seed, *shapes, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


@dataclass(frozen=True)
class Seed:
    name: str
    fn: Callable
    arrays: Callable[[], tuple[np.ndarray, ...]]
    grad: tuple[int, ...]                      # positions of arguments that require grad
    gradient: np.ndarray | None = None         # the seed's backward(gradient); None: backward()
    documented: tuple | None = None            # the gradients the seed prints, per grad position

    def leaves(self) -> list[tg.Tensor]:
        return [tg.tensor(a, requires_grad=i in self.grad) for i, a in enumerate(self.arrays())]


SEEDS = [
    Seed("seed000_dot", seeds.dot, seeds.dot_args, (0,), documented=([18.0],)),
    Seed("seed001_scalar_product", scalar_product, lambda: _f32(2.0, 3.0), (0, 1),
         documented=(3.0, 2.0)),
    Seed("seed001_grad_output", times_two, lambda: _f32([1.0, 2.0, 3.0]), (0,),
         gradient=np.ones(3, np.float32), documented=([2.0, 2.0, 2.0],)),
    Seed("seed002_add_mul", seeds.add_mul, seeds.add_mul_args, (0, 1), documented=([5.0], [2.0])),
    Seed("seed002_weighted_cat", weighted_cat, lambda: _f32([1.0], [2.0]), (0, 1),
         gradient=np.array([1, 2]), documented=([9.0], [4.0])),
    Seed("seed002_square", square, lambda: _f32([3.0]), (0,), documented=([6.0],)),
    Seed("seed002_ones_mean", ones_mean, lambda: _f32(np.ones((2, 2))), (0,),
         documented=(np.full((2, 2), 4.5),)),
    Seed("seed002_two_layer", seeds.two_layer_loss, seeds.two_layer_args, (2, 3)),
    Seed("seed003_logistic_layer", logistic_layer,
         lambda: (np.ones(5, np.float32), *_normal(3, (5, 3), (3,)), np.zeros(3, np.float32)),
         (1, 2)),
    Seed("seed003_three_x", three_x, lambda: _f32(np.ones(5)), (0,), documented=(np.full(5, 3.0),)),
    Seed("seed003_squared_shift_t", squared_shift_t, lambda: _f32(np.eye(4, 5)), (0,),
         gradient=np.ones((5, 4), np.float32), documented=(2 * (np.eye(4, 5) + 1),)),
    Seed("seed004_quadratic", quadratic, lambda: _f32(10.0), (0,), documented=(20.0,)),
    Seed("seed004_mse_linear", mse_linear,
         lambda: (np.ones((2, 5), np.float32), *_normal(4, (5, 3), (3,)),
                  np.zeros((2, 3), np.float32)), (1, 2)),
    Seed("architecture_tanh_net", seeds.tanh_net, seeds.tanh_net_args, (0, 1)),
]
NUMBA_FIRST_ORDER = {"seed002_weighted_cat", "seed003_logistic_layer", "seed004_quadratic"}
NUMBA_SECOND_ORDER = {"seed004_mse_linear"}


def _cases(numba_names: set[str]) -> list:
    cases = [pytest.param(s, "python", id=f"{s.name}-python") for s in SEEDS]
    cases += [pytest.param(s, "numba", id=f"{s.name}-numba", marks=pytest.mark.numba)
              for s in SEEDS if s.name in numba_names]
    return cases


def _cotangent(seed: Seed, out: tg.Tensor) -> tg.Tensor:
    if seed.gradient is not None:
        return tg.tensor(seed.gradient)
    return tg.ones_like(out)


def _interpreted_grads(fn: Callable, arrays: tuple, grad: tuple[int, ...],
                       cotangent: np.ndarray) -> list[np.ndarray]:
    """d<u, fn(x)>/dx by the IR's reverse-mode pass, run by the interpreter."""
    def weighted(*xs):
        out = fn(*xs)
        return (out * tg.tensor(cotangent).to(out.dtype)).sum()
    return [g.numpy() for g in tg.grad(weighted, argnums=grad)(*arrays)]


@pytest.mark.parametrize(("seed", "mode"), _cases(NUMBA_FIRST_ORDER))
def test_seed_function_values_and_gradients_match_eager_and_interpreter(seed: Seed, mode: str):
    eager_leaves, compiled_leaves = seed.leaves(), seed.leaves()
    with MODES[mode]():
        compiled = tg.compile(seed.fn)
        out = compiled(*compiled_leaves)
        expected = seed.fn(*eager_leaves)
        (interpreted,) = evaluate(tg.make_graph(seed.fn)(*seed.arrays()), *seed.arrays())
        scale = magnitude(expected)
        assert_same(out, expected, scale, "value vs eager")
        assert_same(out, interpreted, scale, "value vs interpreter")
        assert out.requires_grad and out.grad_fn.name() == "CompiledFunctionBackward"

        out.backward(_cotangent(seed, out))
        expected.backward(_cotangent(seed, expected))
    grads = [compiled_leaves[i].grad for i in seed.grad]
    eager_grads = [eager_leaves[i].grad for i in seed.grad]
    scale = magnitude(*eager_grads)
    assert_all_same(grads, eager_grads, scale, "gradients vs eager")
    u = _cotangent(seed, expected).numpy()
    assert_all_same(grads, _interpreted_grads(seed.fn, seed.arrays(), seed.grad, u), scale,
                    "gradients vs interpreter")
    assert all(compiled_leaves[i].grad is None for i in range(len(compiled_leaves))
               if i not in seed.grad)
    if seed.documented is not None:
        for g, number in zip(grads, seed.documented, strict=True):
            np.testing.assert_allclose(g.numpy(), np.asarray(number, g.numpy().dtype), rtol=1e-6)


def _second_order(out: tg.Tensor, xs: list[tg.Tensor], u: tg.Tensor,
                  vs: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """First derivatives d<u, out>/dx (create_graph=True) and the derivative of <v, those>."""
    firsts = tg.autograd.grad(out, xs, u, create_graph=True, materialize_grads=True)
    total = sum(((g * tg.tensor(v)).sum() for g, v in zip(firsts, vs, strict=True)), tg.tensor(0.0))
    seconds: list = [None] * len(xs)
    if total.requires_grad:
        seconds = list(tg.autograd.grad(total, xs, allow_unused=True))
    seconds = [np.zeros(x.shape, x.dtype.np) if s is None else s.numpy()
               for s, x in zip(seconds, xs, strict=True)]
    return [g.detach().numpy() for g in firsts], seconds


@pytest.mark.parametrize(("seed", "mode"), _cases(NUMBA_SECOND_ORDER))
def test_seed_function_second_derivatives_through_create_graph_match_eager(seed: Seed, mode: str):
    rng = np.random.default_rng(5)
    eager_leaves, compiled_leaves = seed.leaves(), seed.leaves()
    vs = [rng.standard_normal(eager_leaves[i].shape).astype(eager_leaves[i].dtype.np)
          for i in seed.grad]
    with MODES[mode]():
        out = tg.compile(seed.fn)(*compiled_leaves)
        first, second = _second_order(out, [compiled_leaves[i] for i in seed.grad],
                                      _cotangent(seed, out), vs)
    expected = seed.fn(*eager_leaves)
    eager_first, eager_second = _second_order(expected, [eager_leaves[i] for i in seed.grad],
                                              _cotangent(seed, expected), vs)
    assert_all_same(first, eager_first, magnitude(*eager_first), "first derivatives")
    assert_all_same(second, eager_second, magnitude(*eager_second), "second derivatives")
    assert all(x.grad is None for x in compiled_leaves)      # autograd.grad leaves .grad alone


def test_seed_second_derivative_of_square_is_the_documented_two():
    x = tg.tensor([3.0], requires_grad=True)
    with plain_python():
        (g,) = tg.autograd.grad(tg.compile(square)(x), x, create_graph=True)
        (h,) = tg.autograd.grad(g, x)
    assert g.item() == 6.0 and h.item() == 2.0
    assert g.grad_fn is not None and g.dtype is tg.float32


def _two_layer_training(loss_fn: Callable, steps: int) -> tuple[list[float], np.ndarray]:
    """Seed 002's autograd_network loop (smaller): backward, SGD under no_grad, zero_()."""
    tg.manual_seed(0)
    x, y = tg.randn(8, 30), tg.randn(8, 4)
    w1, w2 = tg.randn(30, 6, requires_grad=True), tg.randn(6, 4, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = loss_fn(x, y, w1, w2)
        losses.append(loss.item())
        loss.backward()
        with tg.no_grad():
            w1 -= 1e-3 * w1.grad
            w2 -= 1e-3 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses, np.concatenate([w1.detach().numpy().ravel(), w2.detach().numpy().ravel()])


def test_seed_training_loop_with_a_compiled_loss_follows_the_eager_loop():
    with plain_python():
        compiled = tg.compile(seeds.two_layer_loss)
        losses, weights = _two_layer_training(compiled, 6)
    eager_losses, eager_weights = _two_layer_training(seeds.two_layer_loss, 6)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(weights, eager_weights, rtol=1e-5, atol=1e-6)
    assert losses[-1] < losses[0]
    assert len(compiled._entries) == 1                      # in-place updates do not retrace


# ---- random programs: forward ----

def _eager_outputs(program, arrays) -> list[np.ndarray]:
    return [np.asarray(t.numpy()) for t in program(*(tg.from_numpy(a.copy()) for a in arrays))]


@pytest.mark.parametrize("dtype", [dt.float64, dt.float32, dt.int64], ids=["f64", "f32", "i64"])
@settings(report_multiple_bugs=False)       # one shrunk failure: each example builds kernels
@given(data=st.data())
def test_compiled_random_programs_equal_interpreter_and_eager(dtype, data):
    program = data.draw(random_programs(dtype=dtype), label="program")
    with plain_python():
        outs = tg.compile(program)(*(tg.from_numpy(a.copy()) for a in program.inputs))
    got = [o.numpy() for o in outs]
    assert_results_close(evaluate(program.graph, *program.inputs), got, program.scale,
                         signed_zeros=False)
    assert_results_close(_eager_outputs(program, program.inputs), got, program.scale,
                         signed_zeros=False)


# ---- random programs: first order, the compiled call inside a larger eager graph ----

def _weighted_loss(outs, cotangents):
    """sum_k <u_k, out_k> over floating outputs, computed eagerly after the (compiled) call:
    exercises multi-output calls, outputs used more than once and integer outputs."""
    pairs = zip(outs, cotangents, strict=True)
    terms = [(o * tg.tensor(u)).sum() for o, u in pairs if u is not None]
    return sum(terms[1:], terms[0]) if terms else None


def _random_backward(program, call, cotangents, dtype) -> list[np.ndarray | None]:
    leaves = [tg.tensor(a, dtype=dtype, requires_grad=True) for a in program.inputs]
    loss = _weighted_loss(call(*leaves), cotangents)
    if loss is not None and loss.requires_grad:
        loss.backward()
    return [np.zeros(x.shape, x.dtype.np) if x.grad is None else x.grad.numpy() for x in leaves]


@pytest.mark.parametrize("dtype", [dt.float64, dt.float32], ids=["f64", "f32"])
@settings(report_multiple_bugs=False)
@given(data=st.data())
def test_backward_through_compiled_random_programs_equals_eager_and_interpreter(dtype, data):
    program = data.draw(random_programs(dtype=dtype, max_steps=8), label="program")
    rng = np.random.default_rng(11)
    cotangents = [rng.standard_normal(o.shape).astype(o.dtype) if o.dtype.kind == "f" else None
                  for o in evaluate(program.graph, *program.inputs)]
    with plain_python():
        got = _random_backward(program, tg.compile(program), cotangents, dtype)
    eager = _random_backward(program, program, cotangents, dtype)
    n = len(program.inputs)

    def loss(*xs):
        total = _weighted_loss(program(*xs), cotangents)
        return xs[0].sum() * 0.0 if total is None else total
    interpreted = [g.numpy() for g in tg.grad(loss, argnums=tuple(range(n)),
                                              allow_unused=True)(*program.inputs)]
    scale = max(magnitude(*eager), program.scale)
    assert_all_same(got, eager, scale, f"vs eager\n{program!r}")
    assert_all_same(got, interpreted, scale, f"vs interpreter\n{program!r}")


# ---- random programs: second order through create_graph ----

@settings(report_multiple_bugs=False)
@given(programs(max_inputs=2, max_steps=4))
def test_second_order_through_compiled_random_programs_equals_eager_and_interpreter(
        program_and_args):
    program, arrays = program_and_args
    rng = np.random.default_rng(3)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    n = len(arrays)

    def run(call):
        xs = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays]
        return _second_order(call(*xs), xs, tg.tensor(1.0, dtype=tg.float64), vs)

    with plain_python():
        first, second = run(tg.compile(program))
    eager_first, eager_second = run(program)

    def directional(*xs):
        gs = tg.grad(program, argnums=tuple(range(n)), allow_unused=True)(*xs)
        terms = [(g * tg.tensor(v)).sum() for g, v in zip(gs, vs, strict=True)]
        return sum(terms[1:], terms[0])
    interpreted = [g.numpy() for g in tg.grad(directional, argnums=tuple(range(n)),
                                              allow_unused=True)(*arrays)]
    scale = magnitude(*eager_first, *eager_second)
    assert_all_same(first, eager_first, scale, f"first order {program!r}")
    assert_all_same(second, eager_second, scale, f"second order {program!r}")
    assert_all_same(second, interpreted, scale, f"second order vs interpreter {program!r}")


# ---- a few random programs through Numba itself ----

@pytest.mark.numba
@settings(max_examples=3, report_multiple_bugs=False)
@given(data=st.data())
def test_numba_kernels_of_random_programs_equal_the_interpreter(data):
    program = data.draw(random_programs(dtype=dt.float64, max_steps=6), label="program")
    rng = np.random.default_rng(13)
    expected = evaluate(program.graph, *program.inputs)
    cotangents = [rng.standard_normal(o.shape) if o.dtype.kind == "f" else None for o in expected]
    leaves = [tg.tensor(a, requires_grad=True) for a in program.inputs]
    outs = tg.compile(program)(*leaves)
    assert_results_close(expected, [o.detach().numpy() for o in outs], program.scale,
                         signed_zeros=False)
    loss = _weighted_loss(outs, cotangents)
    if loss is not None and loss.requires_grad:
        loss.backward()
    got = [np.zeros(x.shape) if x.grad is None else x.grad.numpy() for x in leaves]
    eager = _random_backward(program, program, cotangents, dt.float64)
    assert_all_same(got, eager, max(magnitude(*eager), program.scale), repr(program))


def test_plain_python_mode_runs_the_generated_source_without_numba():
    from support.compiled import is_numba_dispatcher
    x = tg.ones(3, dtype=tg.float64)
    with plain_python():
        compiled = tg.compile(lambda x: (x.exp() * 2).sum())
        compiled(x)
        kernel = compiled.entry_for(x).forward.fn
    assert not is_numba_dispatcher(kernel)
    assert kernel.__name__.endswith("_forward")
