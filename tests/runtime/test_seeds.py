"""The seed programs, run as the files examples/seed_*.py, print what PyTorch 2.13 prints.

Each example is a sequence of `# %% key: description` cells, one per seed program or snippet. The
tests run an example's cells in order in one namespace, as `python examples/seed_….py` does, and
record each cell's stdout, warnings, exception and names. The expected text is what reference
PyTorch 2.13 (CPU) printed for the same files with `import torch` (dtypes spelled `tracegrad.`,
`object at 0x...` standing for any address); the hand-written arithmetic is noted where it helps.
Programs that use randn cannot match PyTorch's numbers: their tests check shapes, the printed
values against numpy formulas, and convergence. This file never imports torch.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tracegrad

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_CELL_HEADER = re.compile(r"# %% (?P<key>[\w-]+):")
_ADDRESS = re.compile(r"object at 0x[0-9a-fA-F]+>")


@dataclass(frozen=True)
class CellRun:
    """What one cell did: its stdout, warning messages, exception, and the names after it ran."""

    stdout: str
    warnings: tuple[str, ...]
    error: Exception | None
    names: dict[str, object]


def _split_cells(source: str) -> list[tuple[str, int, str]]:
    """(key, first line, source) of each `# %% key:` cell; the text before the first: _preamble."""
    cells: list[tuple[str, int, list[str]]] = [("_preamble", 1, [])]
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if match := _CELL_HEADER.match(line):
            cells.append((match["key"], number, []))
        cells[-1][2].append(line)
    return [(key, first, "".join(lines)) for key, first, lines in cells]


@functools.cache
def run_example(name: str) -> dict[str, CellRun]:
    """Run examples/<name>'s cells in order in one namespace and record each one."""
    path = EXAMPLES / name
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(path)}
    runs: dict[str, CellRun] = {}
    for key, first, source in _split_cells(path.read_text(encoding="utf-8")):
        assert key not in runs, f"{name}: two cells named {key!r}"
        code = compile("\n" * (first - 1) + source, str(path), "exec")  # keeps line numbers
        stdout, error = io.StringIO(), None
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout):
            warnings.simplefilter("always")
            try:
                exec(code, namespace)
            except Exception as exc:  # recorded; the cell's test re-raises it
                error = exc
        runs[key] = CellRun(
            stdout.getvalue(), tuple(str(w.message) for w in caught), error, dict(namespace)
        )
    return runs


def cell(example: str, key: str) -> CellRun:
    run = run_example(example)[key]
    if run.error is not None:
        raise AssertionError(f"cell {key!r} of {example} raised") from run.error
    return run


def output(run: CellRun) -> str:
    """The cell's stdout with memory addresses replaced by `0x...`."""
    return _ADDRESS.sub("object at 0x...>", run.stdout)


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


def to_numpy(t) -> np.ndarray:
    return t.detach().numpy()


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def printed_rows(text_lines: list[str]) -> np.ndarray:
    """The numbers of a printed 1-d or 2-d tensor, e.g. `tensor([[0.1, 0.2],` / `[0.3, 0.4]])`."""
    numbers = [re.findall(r"-?\d+\.\d*(?:e[+-]?\d+)?", line) for line in text_lines]
    return np.array([[float(n) for n in row] for row in numbers])


# ---- seed 000: y = x@x on a one-element float64 tensor --------------------------------------

SEED_000 = "seed_000_dot_product.py"


def test_seed_000_traditional_gradient_is_six():
    assert output(cell(SEED_000, "traditional")) == "y对x的梯度: 6\n"


def test_seed_000_dot_product_gradient_is_twice_x():
    run = cell(SEED_000, "dot_product")
    assert output(run) == "y对x的梯度: tensor([6.], dtype=tracegrad.float64)\n"
    x, y = run.names["x"], run.names["y"]
    assert x.grad.dtype == tracegrad.float64
    assert y.shape == ()
    assert re.fullmatch(r"<DotBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))


def test_seed_000_chain_rule_gradient_is_eighteen():
    run = cell(SEED_000, "chain")
    assert output(run) == "z对x的梯度: tensor([18.], dtype=tracegrad.float64)\n"
    assert run.names["z"].grad_fn.name() == "MulBackward0"


# ---- seed 001: graphs, backward(grad_output), no_grad ----------------------------------------

SEED_001 = "seed_001_graphs.py"


def test_seed_001_scalar_product_gradients_print_as_floats():
    run = cell(SEED_001, "scalar_product")
    assert output(run) == lines("Gradient of a: 3.0", "Gradient of b: 2.0")  # f"{0-d tensor}"
    assert repr(run.names["a"].grad) == "tensor(3.)"
    assert repr(run.names["b"].grad) == "tensor(2.)"


def test_seed_001_backward_with_grad_output():
    run = cell(SEED_001, "grad_output")
    assert output(run) == "Gradient of x: tensor([2., 2., 2.])\n"


def test_seed_001_no_grad_result_does_not_require_grad():
    run = cell(SEED_001, "no_grad")
    assert output(run) == "Requires grad of y: False\n"
    x, y = run.names["x"], run.names["y"]
    assert x.requires_grad
    assert y.grad_fn is None and y.is_leaf


# ---- seed 002: a tour of autograd -------------------------------------------------------------

SEED_002 = "seed_002_autograd_tour.py"


def test_seed_002_graph_leaves_gradients_and_grad_fn():
    run = cell(SEED_002, "graph")
    assert output(run) == lines(
        "tensor([5.])",
        "is_leaf:",
        " True True False False False",
        "gradient:",
        " tensor([5.]) tensor([2.]) None None None",
        "grad_fn:",
        " None None <AddBackward0 object at 0x...> <AddBackward0 object at 0x...> "
        "<MulBackward0 object at 0x...>",
    )
    assert any("is not a leaf Tensor is being accessed" in w for w in run.warnings), run.warnings


def test_seed_002_retain_grad_and_retain_graph():
    run = cell(SEED_002, "retain")
    # dy/da = b = 2 and dy/dw = 5, accumulated by the second backward through the retained graph
    assert output(run) == lines("tensor([2.]) tensor([5.])", "tensor([4.]) tensor([10.])")
    assert not run.names["a"].is_leaf


def test_seed_002_gradient_weights_one_one_give_seven():
    run = cell(SEED_002, "grad_weights_1_1")
    assert output(run) == "tensor([7.])\n"  # 1 x dy/dw + 1 x dy1/dw = 5 + 2
    assert run.names["grad_tensors"].dtype == tracegrad.int64
    assert run.names["w"].grad.dtype == tracegrad.float32  # integer weights cast to float32


def test_seed_002_second_backward_through_freed_graph_raises():
    error, grad = output(cell(SEED_002, "graph_freed")).splitlines()
    assert error.startswith("RuntimeError: Trying to backward through the graph a second time")
    assert "retain_graph=True" in error
    assert grad == "tensor([7.])"  # unchanged by the failed call


def test_seed_002_gradient_weights_one_two_give_nine():
    run = cell(SEED_002, "grad_weights_1_2")
    assert output(run) == "tensor([9.])\n"  # 5 + 2 x 2; the seed misprints tensor([7.])


def test_seed_002_autograd_grad_second_derivative():
    run = cell(SEED_002, "autograd_grad")
    assert output(run) == lines("(tensor([6.], grad_fn=<MulBackward0>),)", "(tensor([2.]),)")
    assert run.names["grad_1"][0].requires_grad
    assert not run.names["grad_2"][0].requires_grad
    assert run.names["x"].grad is None  # autograd.grad does not accumulate


def test_seed_002_tips_accumulation_zeroing_and_in_place_on_leaf():
    run = cell(SEED_002, "tips")
    assert output(run) == lines(
        "tensor([5.])",
        "tensor([10.])",  # accumulated
        "tensor([0.])",  # w.grad.zero_()
        "True True True",
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.",
    )
    assert repr(run.names["w"]) == "tensor([1.], requires_grad=True)"  # the failed add_ left w


def test_seed_002_ones_mean_backward():
    run = cell(SEED_002, "ones_mean")
    assert output(run) == lines(
        "tensor([[1., 1.],",
        "        [1., 1.]], requires_grad=True)",
        "tensor([[3., 3.],",
        "        [3., 3.]], grad_fn=<AddBackward0>)",
        "None",
        "<AddBackward0 object at 0x...>",
        "tensor([[27., 27.],",
        "        [27., 27.]], grad_fn=<MulBackward0>)",
        "tensor(27., grad_fn=<MeanBackward0>)",
        "None",
        "tensor([[4.5000, 4.5000],",  # d mean(3 (x+2)^2) / dx = 6 (x+2) / 4
        "        [4.5000, 4.5000]])",
    )


def _printed_losses(run: CellRun) -> np.ndarray:
    """The losses of the `print(t, loss)` lines, checking that t counts 0..499."""
    rows = [line.split() for line in run.stdout.splitlines()]
    assert [int(t) for t, _ in rows] == list(range(500))
    return np.array([float(loss) for _, loss in rows])


def _assert_converges(losses: np.ndarray) -> None:
    assert losses[0] > 1e6  # random weights: loss ~ 3e7
    assert losses[100] < 1e-3 * losses[0]
    assert losses[-1] < 1e-3 * losses[100]
    assert losses[-1] < 1e-2


def test_seed_002_manual_backprop_network_converges():
    run = cell(SEED_002, "manual_network")
    _assert_converges(_printed_losses(run))
    names = run.names
    assert names["w1"].shape == (1000, 100) and names["w2"].shape == (100, 10)
    assert names["w1"].dtype == tracegrad.float32 and names["grad_w1"].dtype == tracegrad.float32
    assert isinstance(names["loss"], float)
    grad_h, h = to_numpy(names["grad_h"]), to_numpy(names["h"])
    assert np.all(grad_h[h < 0] == 0) and np.any(grad_h[h > 0] != 0)


def test_seed_002_autograd_network_matches_manual_backprop():
    run = cell(SEED_002, "autograd_network")
    losses = _printed_losses(run)
    _assert_converges(losses)
    manual = _printed_losses(cell(SEED_002, "manual_network"))  # same seed, same data
    np.testing.assert_allclose(losses, manual, rtol=1e-3)
    for w in (run.names["w1"], run.names["w2"]):
        assert w.is_leaf and w.requires_grad and w.grad_fn is None
        assert w.dtype == tracegrad.float32
        assert not np.any(to_numpy(w.grad))  # zeroed after the last step


# ---- seed 003: the official tutorial ----------------------------------------------------------

SEED_003 = "seed_003_official_tutorial.py"


def test_seed_003_one_layer_network_loss():
    names = cell(SEED_003, "setup").names
    w, b = to_numpy(names["w"]), to_numpy(names["b"])
    z = np.ones(5, np.float32) @ w + b
    assert names["z"].shape == (3,) and names["loss"].shape == ()
    assert names["loss"].dtype == tracegrad.float32
    np.testing.assert_allclose(names["loss"].item(), np.mean(np.log1p(np.exp(z))), rtol=1e-5)


def test_seed_003_grad_fn_names():
    assert output(cell(SEED_003, "grad_fn")) == lines(
        "Gradient function for z = <AddBackward0 object at 0x...>",
        "Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at 0x...>",
    )


def test_seed_003_gradients_of_w_and_b():
    run = cell(SEED_003, "gradients")
    printed = run.stdout.splitlines()
    assert len(printed) == 6
    assert printed[0].startswith("tensor([[") and printed[4].endswith("]])")
    assert all(line.startswith("        [") for line in printed[1:5])
    assert printed[5].startswith("tensor([") and printed[5].endswith("])")
    w, b = to_numpy(run.names["w"]), to_numpy(run.names["b"])
    expected_b = sigmoid(np.ones(5) @ w + b) / 3  # d mean(bce(z, 0)) / dz = sigmoid(z) / 3
    np.testing.assert_allclose(printed_rows(printed[5:]), [expected_b], atol=5.1e-5)
    np.testing.assert_allclose(printed_rows(printed[:5]), np.tile(expected_b, (5, 1)), atol=5.1e-5)
    np.testing.assert_allclose(
        to_numpy(run.names["w"].grad), np.tile(expected_b, (5, 1)), rtol=1e-5
    )


def test_seed_003_no_grad_stops_tracking():
    assert output(cell(SEED_003, "no_grad")) == lines("True", "False")


def test_seed_003_detach_stops_tracking():
    run = cell(SEED_003, "detach")
    assert output(run) == "False\n"
    np.testing.assert_array_equal(to_numpy(run.names["z_det"]), to_numpy(run.names["z"]))


def test_seed_003_notes_requires_grad_and_default_backward_gradient():
    assert output(cell(SEED_003, "notes")) == lines("True", "tensor([3., 3., 3., 3., 3.])")


def test_seed_003_jacobian_vector_products_accumulate():
    # d sum((inp + 1)^2) / d inp = 2 (inp + 1): 4 on eye(4, 5)'s diagonal, 2 elsewhere
    first = lines(
        "tensor([[4., 2., 2., 2., 2.],",
        "        [2., 4., 2., 2., 2.],",
        "        [2., 2., 4., 2., 2.],",
        "        [2., 2., 2., 4., 2.]])",
    )
    second = lines(
        "tensor([[8., 4., 4., 4., 4.],",
        "        [4., 8., 4., 4., 4.],",
        "        [4., 4., 8., 4., 4.],",
        "        [4., 4., 4., 8., 4.]])",
    )
    assert output(cell(SEED_003, "jacobian")) == (
        "First call\n"
        + first
        + "\nSecond call\n"
        + second
        + "\nCall after zeroing gradients\n"
        + first
    )


# ---- seed 004: gradient descent on w**2 + 20, linear layer with MSELoss -----------------------

SEED_004 = "seed_004_gradient_descent.py"


def _float32_gradient_descent(steps: int) -> list[str]:
    """The seed's loop in numpy float32; PyTorch 2.13 prints these 100 lines exactly."""
    w, lr = np.float32(10.0), np.float32(0.01)
    printed = []
    for i in range(steps):
        loss = w * w + np.float32(20)
        w = w - lr * (np.float32(2) * w)
        printed.append(f"Iteration {i + 1}: w = {float(w):.4f}, loss = {float(loss):.4f}")
    return printed


def test_seed_004_gradient_descent_iterations():
    run = cell(SEED_004, "gradient_descent")
    printed = run.stdout.splitlines()
    assert printed[0] == "Iteration 1: w = 9.8000, loss = 120.0000"  # the seed's comment
    assert printed[1] == "Iteration 2: w = 9.6040, loss = 116.0400"  # seed: 116.0000 (sic)
    assert printed[-1] == "Iteration 100: w = 1.3262, loss = 21.8313"  # PyTorch 2.13
    assert printed == _float32_gradient_descent(100)
    assert run.names["w"].dtype == tracegrad.float32 and run.names["w"].is_leaf


def test_seed_004_in_place_update_of_leaf_raises():
    run = cell(SEED_004, "wrong_update")
    assert output(run) == (
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.\n"
    )
    assert abs(run.names["w"].item() - 1.3262) < 5e-5  # unchanged by the failed update


def test_seed_004_linear_layer_mse_gradients():
    run = cell(SEED_004, "mse_linear")
    printed = run.stdout.splitlines()
    assert len(printed) == 8
    assert printed[0] == "Gradient w.r.t w:" and printed[6] == "Gradient w.r.t b:"
    w, b = to_numpy(run.names["w"]), to_numpy(run.names["b"])
    z = np.ones(5) @ w + b  # both rows of x @ w + b
    expected_b = 2 * (2 * z / 6)  # mean over 2x3; summed over the 2 rows
    np.testing.assert_allclose(printed_rows(printed[7:]), [expected_b], atol=5.1e-5)
    np.testing.assert_allclose(printed_rows(printed[1:6]), np.tile(expected_b, (5, 1)), atol=5.1e-5)
    np.testing.assert_allclose(to_numpy(run.names["b"].grad), expected_b, rtol=1e-5)
    assert run.names["loss"].grad_fn.name() == "MseLossBackward0"
