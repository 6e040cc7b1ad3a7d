"""The optimization pipeline: run graph passes to a fixed point, with node counts per pass.

Each pass is a pure function `Graph -> Graph` in its own module (dce, cse, fold, simplify) and
returns its input object unchanged when it finds nothing to do; a round that changes nothing
ends the pipeline (at most `max_rounds` rounds). Graph inputs keep their identity; outputs
keep their order and types.

Checks and debugging (STYLE.md, debug knobs):
- `TRACEGRAD_CHECKS=1`: `verify()` after every pass; a failure names the pass.
- `TRACEGRAD_DEBUG>=2`: each pipeline run logs its summary line and the final optimized IR
  (callers need not print it again);
- `TRACEGRAD_DEBUG>=3`: each pass also logs its node counts and the IR after it, and writes
  `<graph>.opt<round>.<k>-<pass>.txt` when TRACEGRAD_DUMP_DIR is set.
`optimize_with_report` also returns a `PassReport` (node counts before/after each pass) for
callers that print it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...debug import dump as debug_dump
from ...debug import level as debug_level
from ...debug import log as debug_log
from ..graph import Graph, VerifyError, verify
from ..printer import format_graph
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold import fold_constants
from .simplify import simplify

Pass = Callable[[Graph], Graph]

DEFAULT: tuple[Pass, ...] = (simplify, fold_constants, eliminate_common_subexpressions,
                             eliminate_dead_code)
MAX_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class PassStat:
    """One pass run: its round, name, node counts and wall time."""

    round: int
    name: str
    nodes_before: int
    nodes_after: int
    seconds: float


@dataclass(frozen=True, slots=True)
class PassReport:
    """Node counts along one pipeline run. `format()` is deterministic (no times by default)."""

    graph: str
    nodes_before: int
    nodes_after: int
    rounds: int
    converged: bool
    stats: tuple[PassStat, ...]

    def summary(self) -> str:
        state = "fixed point" if self.converged else "round limit"
        return (f"optimize {self.graph}: {self.nodes_before} -> {self.nodes_after} nodes, "
                f"{self.rounds} round(s), {state}")

    def format(self, times: bool = False) -> str:
        lines = [self.summary()]
        width = max((len(s.name) for s in self.stats), default=0)
        for s in self.stats:
            line = (f"  round {s.round}  {s.name:<{width}}  {s.nodes_before:>5} -> "
                    f"{s.nodes_after:<5} ({s.nodes_after - s.nodes_before:+d})")
            lines.append(line + (f"  {s.seconds * 1e3:.2f} ms" if times else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def optimize(graph: Graph, passes: Sequence[Pass] = DEFAULT, *,
             max_rounds: int = MAX_ROUNDS) -> Graph:
    """Run `passes` in order, repeatedly, until a round changes nothing."""
    return optimize_with_report(graph, passes, max_rounds=max_rounds)[0]


def optimize_with_report(graph: Graph, passes: Sequence[Pass] = DEFAULT, *,
                         max_rounds: int = MAX_ROUNDS) -> tuple[Graph, PassReport]:
    """Like `optimize`, also returning the node counts before and after each pass."""
    stats: list[PassStat] = []
    current, rounds, converged = graph, 0, False
    while rounds < max_rounds and not converged:
        rounds += 1
        before = current
        for k, one_pass in enumerate(passes):
            current = _run_pass(one_pass, current, rounds, k, stats)
        converged = current is before or _same_structure(current, before)
    report = PassReport(graph.name, len(graph.nodes), len(current.nodes), rounds, converged,
                        tuple(stats))
    debug_log(2, lambda: f"{report.summary()}\n{format_graph(current)}")
    return current, report


def _run_pass(one_pass: Pass, graph: Graph, round_: int, k: int, stats: list[PassStat]) -> Graph:
    name = pass_name(one_pass)
    start = time.perf_counter()
    result = one_pass(graph)
    stats.append(PassStat(round_, name, len(graph.nodes), len(result.nodes),
                          time.perf_counter() - start))
    if _checks_enabled():
        _verify_after(result, name)
    _debug_pass(result, stats[-1], k)
    return result


def pass_name(one_pass: Pass) -> str:
    """A pass's function name (also through functools.partial)."""
    target = getattr(one_pass, "func", one_pass)
    return getattr(target, "__name__", type(target).__name__)


def _checks_enabled() -> bool:
    return os.environ.get("TRACEGRAD_CHECKS", "0") not in ("", "0")


def _verify_after(graph: Graph, name: str) -> None:
    try:
        verify(graph)
    except VerifyError as e:
        raise VerifyError(f"after pass {name}: {e}") from e


def _same_structure(a: Graph, b: Graph) -> bool:
    """A fallback fixed-point test for passes that always rebuild their result."""
    return len(a.nodes) == len(b.nodes) and \
        format_graph(a, anonymous=True) == format_graph(b, anonymous=True)


def _debug_pass(graph: Graph, stat: PassStat, k: int) -> None:
    """The per-pass dump hook (TRACEGRAD_DEBUG >= 3): node-count delta and the IR after it."""
    if debug_level() < 3:
        return
    delta = stat.nodes_after - stat.nodes_before
    debug_log(3, lambda: f"pass {stat.name} (round {stat.round}): {stat.nodes_before} -> "
                         f"{stat.nodes_after} nodes ({delta:+d})\n{format_graph(graph)}")
    debug_dump(f"{graph.name}.opt{stat.round}.{k}-{stat.name}.txt", lambda: format_graph(graph))


__all__ = ["optimize", "optimize_with_report", "DEFAULT", "MAX_ROUNDS", "Pass", "PassReport",
           "PassStat", "pass_name", "simplify", "fold_constants",
           "eliminate_common_subexpressions", "eliminate_dead_code"]
