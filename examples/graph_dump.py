"""Graph dump: the seed's two-layer network as a static graph, and its gradient graph.

The loss is seed 002's (`y_pred = x.mm(w1).clamp(min=0).mm(w2)`, squared error), traced with
`tracegrad.make_graph` into the IR; `tracegrad.grad` appends the adjoint nodes (one VJP per op,
the rules eager backward runs) and the optimizer cleans the result. Both graphs are printed, the
gradient is checked against eager `loss.backward()`, and, when Graphviz's `dot` is installed,
both graphs are drawn as SVG files (`graph_dump_forward.svg`, `graph_dump_grad.svg`) in the
directory given as the first argument (default: `tracegrad_graph_dump` in the temp directory).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

import tracegrad as torch  # the seed's spelling
from tracegrad.ir.export import GraphvizNotFoundError, render
from tracegrad.ir.printer import format_graph


def two_layer_loss(x, y, w1, w2):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum()
    return loss


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    N, D_in, H, D_out = 64, 1000, 100, 10        # the seed's sizes
    x, y = torch.randn(N, D_in), torch.randn(N, D_out)
    w1, w2 = torch.randn(D_in, H), torch.randn(H, D_out)

    forward = torch.make_graph(two_layer_loss)(x, y, w1, w2)
    backward = torch.make_graph(torch.grad(two_layer_loss, argnums=(2, 3)), optimize=True)(
        x, y, w1, w2)
    print(f"# forward graph ({len(forward.nodes)} nodes)")
    print(format_graph(forward))
    print(f"\n# gradient graph with respect to (w1, w2), optimized ({len(backward.nodes)} nodes)")
    print(format_graph(backward))

    # The graph's gradients are the eager ones.
    grad_w1, grad_w2 = torch.grad(two_layer_loss, argnums=(2, 3))(x, y, w1, w2)
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    two_layer_loss(x, y, w1, w2).backward()
    for name, got, want in (("w1", grad_w1, w1.grad), ("w2", grad_w2, w2.grad)):
        scale = float(np.abs(want.numpy()).max())
        error = float(np.abs(got.numpy() - want.numpy()).max()) / scale
        print(f"grad_{name}: max relative difference to eager backward {error:.1e}")
        assert error < 1e-5, name

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for stage, graph in (("forward", forward), ("grad", backward)):
            path = render(graph, out_dir / f"graph_dump_{stage}.svg")
            print(f"wrote {path}")
    except GraphvizNotFoundError as e:
        print(f"no SVG pictures: {e}")


if __name__ == "__main__":
    default = Path(tempfile.gettempdir()) / "tracegrad_graph_dump"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
