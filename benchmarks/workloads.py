"""Benchmarks of the codegen issue: W1-W5 steady-state times and W6 compile latency.

Run: `python benchmarks/workloads.py [--quick] [--markdown] [--only W2,W6]` (part of `make bench`).

Every system computes the same value and gradients from the same data and dtypes (W2 also takes
the SGD step): hand-written numpy (the reference row: forward and backward formulas by hand),
tracegrad eager, tracegrad.compile and, when importable, torch eager, torch.compile and jax.jit.
W1 and W3 show tracegrad.compile twice: "compiled" runs `f(x).backward()` as PyTorch code does
(a compiled call is one node of eager autograd), "compiled value_and_grad" runs
`compile(value_and_grad(f))(x)`, one kernel call and no autograd, as jax.jit(value_and_grad(f)).
tracegrad and torch run literally the same Python function; jax gets the same math in jnp.
Before timing, each system's first result is checked against numpy's (a mismatch fails the run).

Timing excludes compiles (warm-up calls), then runs rounds that call each system once in turn, so
load changes on a shared machine hit every row alike. torch and jax run in a child process each
(`--together` keeps them in this one): their thread pools and numpy's OpenBLAS pool spin-wait
after work, and on two cores they slowed each other's rows by up to 7x in one process, which no
program using one framework sees. The parent drives each child round by round (a round here,
then one there, with SWITCH_PAUSE_S of idle time around each switch so the other side's
workers go to sleep), so the machine's drift in speed hits every row alike; a child checks its
rows against numpy's result once and makes no numpy call while timing. Every ratio is to this
process's numpy row. A sample times a batch of calls long enough
to measure (W1 is microseconds). The table shows the median and min per call, the median's ratio
to the numpy row's median of the same run (the verdict against the issue's target uses it), and
the min's ratio to numpy's min, which is steadier on a busy machine.

W6 runs the first call of W2 and of W3 (1e6) in a new process: first with empty cache directories
(fresh TRACEGRAD_CACHE_DIR and NUMBA_CACHE_DIR), then in a second new process on the same, now
warm, directories. The child times its imports (numpy, numba, tracegrad, and torch or jax for
their rows) and its first call separately. Without --quick, torch.compile and jax.jit get W2 rows
too, with their own caches (TORCHINDUCTOR_CACHE_DIR, JAX_COMPILATION_CACHE_DIR) in the same dirs.

Thread settings are left alone (BLAS, numba, torch and XLA use their defaults) and printed with
the machine and versions.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

import tracegrad as tg
from tracegrad.runtime.cache import default_cache

LR = 1e-6  # the seed's learning rate
MIN_SAMPLE_S = 0.005  # a timing sample is a batch of calls at least this long
SWITCH_PAUSE_S = 0.15  # idle time when timing passes to or from a reference's process: OpenBLAS
#                        workers spin for about 0.1 s after a product before they sleep
W6_TIMEOUT_S = 600
Step = Callable[[], tuple]  # one call of a system: returns (value, gradients...)


@dataclass(frozen=True)
class Workload:
    key: str  # "W3": selects the builders
    label: str
    data: Callable[[], dict[str, np.ndarray]]
    target: float  # compiled / numpy
    anchors: dict[str, float]  # the ratios for torch eager, torch.compile, jax.jit


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _w2_data() -> dict[str, np.ndarray]:
    shapes = {"x": (64, 1000), "y": (64, 10), "w1": (1000, 100), "w2": (100, 10)}
    rng = _rng()
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def _w3_data(n: int) -> Callable[[], dict[str, np.ndarray]]:
    return lambda: {"x": _rng().standard_normal(n).astype(np.float32)}


def _w4_data() -> dict[str, np.ndarray]:
    rng = _rng()
    return {
        "x": rng.standard_normal((4096, 512)).astype(np.float32),
        "y": (rng.random((4096, 64)) > 0.5).astype(np.float32),
        "w": (rng.standard_normal((512, 64)) * 0.05).astype(np.float32),
        "b": np.zeros(64, np.float32),
    }


def _anchors(eager: float, compiled: float, jax: float) -> dict[str, float]:
    return {"torch eager": eager, "torch.compile": compiled, "jax.jit": jax}


WORKLOADS = [
    Workload("W1", "W1 tiny x@x", lambda: {"x": np.array([3.0])}, 8.0, _anchors(18.7, 16.5, 6.5)),
    Workload("W2", "W2 two-layer step", _w2_data, 0.65, _anchors(0.75, 0.57, 1.18)),
    *(Workload("W3", f"W3 elementwise 1e{e}", _w3_data(10**e), 0.15, _anchors(1.0, 0.17, 0.23))
      for e in (6, 7)),
    Workload("W4", "W4 logistic layer", _w4_data, 0.75, _anchors(0.81, 0.80, 1.16)),
    Workload(
        "W5",
        "W5 second order",
        lambda: {"x": _rng().standard_normal(10**6)},
        0.10,
        _anchors(0.76, 0.05, 0.22),
    ),
]
EAGER_SLACK = 1.5  # tracegrad eager / numpy <= 1.5 x PyTorch eager's ratio (W2-W5)
W6_TARGETS = {("W2", "empty"): 3.0, ("W2", "warm"): 0.3}
W6_ANCHORS = {
    ("torch.compile", "empty"): 10.6,
    ("torch.compile", "warm"): 1.7,
    ("jax.jit", "empty"): 0.17,
    ("jax.jit", "warm"): 0.07,
}  # the issue's, seconds


# ---- the functions, written once for tracegrad and torch tensors ----------------------------


def dot_self(x):
    return x @ x


def two_layer_loss(x, w1, w2, y):
    return ((x.mm(w1).relu().mm(w2) - y) ** 2).sum()


def elementwise(x):
    return (x.tanh() * x.sigmoid() + 0.5 * x**2 + (-x * x).exp()).sum()


def sin_cube(x):
    return (x.sin() * x**3).sum()


# ---- hand-written numpy: the reference row ------------------------------------------------------


def numpy_w1(d: dict) -> Step:
    x = d["x"]
    return lambda: (x @ x, 2 * x)


def numpy_w2(d: dict) -> Step:
    x, y, w1, w2 = d["x"], d["y"], d["w1"], d["w2"]

    def step():
        h = x @ w1
        h_relu = np.maximum(h, 0)
        diff = h_relu @ w2 - y
        loss = np.square(diff).sum()
        grad_y_pred = 2.0 * diff
        grad_w2 = h_relu.T @ grad_y_pred
        grad_w1 = x.T @ ((grad_y_pred @ w2.T) * (h > 0))
        w1.__isub__(LR * grad_w1)
        w2.__isub__(LR * grad_w2)
        return loss, grad_w1, grad_w2

    return step


def numpy_w3(d: dict) -> Step:
    x = d["x"]

    def step():
        t, s, e = np.tanh(x), 1 / (1 + np.exp(-x)), np.exp(-x * x)
        value = (t * s + 0.5 * x * x + e).sum()
        return value, (1 - t * t) * s + t * s * (1 - s) + x - 2 * x * e

    return step


def numpy_w4(d: dict) -> Step:
    x, y, w, b = d["x"], d["y"], d["w"], d["b"]

    def step():
        z = x @ w + b
        loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
        dz = (1 / (1 + np.exp(-z)) - y) / z.size
        return loss, x.T @ dz, dz.sum(0)

    return step


def numpy_w5(d: dict) -> Step:
    x = d["x"]

    def step():
        s, c = np.sin(x), np.cos(x)
        return (-s * x**3 + 6 * x * x * c + 6 * x * s,)

    return step


# ---- tracegrad (eager when compile_ is False) and torch (eager or torch.compile) ---------------
# `lib` is tracegrad or torch; `wrap` is the identity, tracegrad.compile or torch.compile.


def _value_and_grad(fn: Callable) -> Callable:
    """A builder of the step `value = f(x); value.backward()` for one input `d["x"]`."""

    def build(lib, wrap: Callable, d: dict) -> Step:
        x = lib.tensor(d["x"], requires_grad=True)
        f = wrap(fn)

        def step():
            x.grad = None
            value = f(x)
            value.backward()
            return value, x.grad

        return step

    return build


tensor_w1 = _value_and_grad(dot_self)


def tensor_w2(lib, wrap: Callable, d: dict) -> Step:
    x, y = lib.from_numpy(d["x"]), lib.from_numpy(d["y"])
    w1, w2 = lib.tensor(d["w1"], requires_grad=True), lib.tensor(d["w2"], requires_grad=True)
    loss_fn = wrap(two_layer_loss)

    def step():
        loss = loss_fn(x, w1, w2, y)
        loss.backward()
        grads = (w1.grad, w2.grad)
        with lib.no_grad():
            w1.sub_(LR * w1.grad)
            w2.sub_(LR * w2.grad)
        w1.grad = w2.grad = None
        return (loss, *grads)

    return step


tensor_w3 = _value_and_grad(elementwise)


def tensor_w4(lib, wrap: Callable, d: dict) -> Step:
    x, y = lib.from_numpy(d["x"]), lib.from_numpy(d["y"])
    w, b = lib.tensor(d["w"], requires_grad=True), lib.tensor(d["b"], requires_grad=True)
    functional = lib.nn.functional

    def logistic_loss(x, w, b, y):
        return functional.binary_cross_entropy_with_logits(x @ w + b, y)

    f = wrap(logistic_loss)

    def step():
        w.grad = b.grad = None
        loss = f(x, w, b, y)
        loss.backward()
        return loss, w.grad, b.grad

    return step


def eager_w5(lib, d: dict) -> Step:
    x = lib.tensor(d["x"], requires_grad=True)

    def step():
        (g,) = lib.autograd.grad(sin_cube(x), x, create_graph=True)
        return lib.autograd.grad(g.sum(), x)

    return step


def tracegrad_rows(key: str, d: Callable[[], dict]) -> dict[str, Step]:
    if key == "W5":
        compiled = tg.compile(tg.grad(lambda x: tg.grad(sin_cube)(x).sum()))
        x = d()["x"]
        return {"eager": eager_w5(tg, d()), "compiled": lambda: (compiled(x),)}
    build = TENSOR_BUILDERS[key]
    rows = {"eager": build(tg, lambda f: f, d()), "compiled": build(tg, tg.compile, d())}
    if key in FUNCTIONAL:   # the same value and gradient as one kernel call, as jax.jit runs it
        value_and_grad = tg.compile(tg.value_and_grad(FUNCTIONAL[key]))
        x = d()["x"]
        rows["compiled value_and_grad"] = lambda: value_and_grad(x)
    return rows


def torch_rows(key: str, d: Callable[[], dict]) -> dict[str, Step]:
    torch = _optional("torch")
    if torch is None:
        return {}

    def compile_(f):
        return torch.compile(f, dynamic=False)

    if key == "W5":
        # torch.compile refuses double backward through autograd.grad; torch.func composes.
        func = torch.func
        compiled = compile_(func.grad(lambda x: func.grad(sin_cube)(x).sum()))
        x = torch.from_numpy(d()["x"])
        return {"torch eager": eager_w5(torch, d()), "torch.compile": lambda: (compiled(x),)}
    build = TENSOR_BUILDERS[key]
    return {
        "torch eager": build(torch, lambda f: f, d()),
        "torch.compile": build(torch, compile_, d()),
    }


TENSOR_BUILDERS = {"W1": tensor_w1, "W2": tensor_w2, "W3": tensor_w3, "W4": tensor_w4}
# one-input workloads that also get the functional row `compile(value_and_grad(f))(x)`: no
# autograd node, no backward() (the row "compiled" is PyTorch's style: f(x).backward())
FUNCTIONAL = {"W1": dot_self, "W3": elementwise}


# ---- jax.jit: the same math in jnp --------------------------------------------------------------


def jax_rows(key: str, d: Callable[[], dict]) -> dict[str, Step]:
    jax = _optional("jax")
    if jax is None:
        return {}
    jax.config.update("jax_enable_x64", True)  # W1 and W5 are float64; float32 stays float32
    jnp = jax.numpy
    data = {k: jnp.asarray(v) for k, v in d().items()}
    if key == "W2":
        return {"jax.jit": _jax_w2(jax, data)}
    if key == "W1":
        f = jax.jit(jax.value_and_grad(lambda x: x @ x))
    elif key == "W3":
        f = jax.jit(
            jax.value_and_grad(
                lambda x: jnp.sum(jnp.tanh(x) * jax.nn.sigmoid(x) + 0.5 * x**2 + jnp.exp(-x * x))
            )
        )
    elif key == "W4":

        def logistic_loss(w, b, x, y):
            z = x @ w + b
            return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

        f = jax.jit(jax.value_and_grad(logistic_loss, argnums=(0, 1)))
        args = (data["w"], data["b"], data["x"], data["y"])

        def step():
            value, grads = jax.block_until_ready(f(*args))
            return (value, *grads)

        return {"jax.jit": step}
    else:
        f = jax.jit(jax.grad(lambda x: jax.grad(lambda x: jnp.sum(jnp.sin(x) * x**3))(x).sum()))
        return {"jax.jit": lambda: (jax.block_until_ready(f(data["x"])),)}
    return {"jax.jit": lambda: jax.block_until_ready(f(data["x"]))}


def _jax_w2(jax, data: dict) -> Step:
    def loss(w1, w2, x, y):
        return jax.numpy.sum((jax.nn.relu(x @ w1) @ w2 - y) ** 2)

    @jax.jit
    def train_step(w1, w2, x, y):  # value, gradients and the SGD step in one program
        value, (g1, g2) = jax.value_and_grad(loss, argnums=(0, 1))(w1, w2, x, y)
        return value, g1, g2, w1 - LR * g1, w2 - LR * g2

    weights = [data["w1"], data["w2"]]

    def step():
        value, g1, g2, *weights[:] = jax.block_until_ready(
            train_step(*weights, data["x"], data["y"])
        )
        return value, g1, g2

    return step


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


NUMPY_BUILDERS = {"W1": numpy_w1, "W2": numpy_w2, "W3": numpy_w3, "W4": numpy_w4, "W5": numpy_w5}


REFERENCE_ROWS = {"torch": torch_rows, "jax": jax_rows}


def systems_for(w: Workload, frameworks: tuple[str, ...] = ("tracegrad", "torch", "jax")
                ) -> dict[str, Step]:
    """The numpy row, then the rows of each framework named (absent ones are skipped)."""
    systems = {"numpy": NUMPY_BUILDERS[w.key](w.data())}
    for name in frameworks:
        systems.update(tracegrad_rows(w.key, w.data) if name == "tracegrad"
                       else REFERENCE_ROWS[name](w.key, w.data))
    return systems


class Reference:
    """A reference framework's rows, timed in a child process of its own (see the module
    docstring) that the parent drives round by round, so drift of the machine's speed hits
    them as it hits the parent's rows. `ready`: per workload label, its systems and their
    errors against numpy; empty when the framework is missing or the child failed."""

    def __init__(self, framework: str, chosen: list[Workload]) -> None:
        self.framework, self.ready, self.threads, self._child = framework, {}, None, None
        if importlib.util.find_spec(framework) is None:
            return
        command = [sys.executable, str(Path(__file__).resolve()), "--child", framework,
                   "--only", ",".join(w.key for w in chosen)]
        print(f"starting {framework}'s process", file=sys.stderr, flush=True)
        self._child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
        reply = self._read()
        self.ready, self.threads = (reply or {}).get("ready", {}), (reply or {}).get("threads")

    def _read(self) -> dict | None:
        line = self._child.stdout.readline()
        if not line:
            print(f"{self.framework} rows skipped: its process ended", file=sys.stderr)
            self._child = None
            return None
        return json.loads(line)

    def round(self, label: str) -> dict[str, float]:
        """One sample of each of the workload's systems: seconds per call."""
        if self._child is None:
            return {}
        time.sleep(SWITCH_PAUSE_S)          # the parent's thread pools go idle first
        self._child.stdin.write(label + "\n")
        self._child.stdin.flush()
        reply = self._read()
        time.sleep(SWITCH_PAUSE_S)          # and the child's
        return reply or {}

    def close(self) -> None:
        if self._child is not None:
            self._child.stdin.close()
            self._child.wait(timeout=60)


def child_main(framework: str, chosen: list[Workload]) -> int:
    """`--child`: build and check one reference framework's rows (each against numpy's one
    call), print them as a JSON line, then time one round of a workload per label read."""
    built = {}
    for w in chosen:
        systems = systems_for(w, (framework,))
        if len(systems) > 1:
            built[w.label] = (systems, check(systems))
            del systems["numpy"]
    batch = {label: {k: calls_per_sample(fn) for k, fn in systems.items()}
             for label, (systems, _) in built.items()}
    ready = {label: {"systems": list(systems), "errors": errors}
             for label, (systems, errors) in built.items()}
    print(json.dumps({"ready": ready, "threads": thread_settings()}), flush=True)
    for line in sys.stdin:
        label = line.strip()
        systems = built[label][0]
        print(json.dumps({k: timed_sample(fn, batch[label][k]) for k, fn in systems.items()}),
              flush=True)
    return 0


# ---- checking and timing ------------------------------------------------------------------------


def as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def max_relative_error(got: tuple, want: tuple) -> float:
    errors = []
    for g, w in zip(got, want, strict=True):
        g, w = as_numpy(g), as_numpy(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            return float("inf")
        scale = max(float(np.abs(w).max()), 1e-30)
        errors.append(float(np.abs(g.astype(np.float64) - w).max()) / scale)
    return max(errors)


def check(systems: dict[str, Step]) -> dict[str, float]:
    """Each system's first call (also a warm-up) against numpy's: max relative error."""
    want = systems["numpy"]()
    return {name: max_relative_error(fn(), want) for name, fn in systems.items() if name != "numpy"}


def calls_per_sample(fn: Step) -> int:
    start = time.perf_counter()
    fn()
    return max(1, int(MIN_SAMPLE_S / max(time.perf_counter() - start, 1e-9)))


def timed_sample(fn: Step, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def time_interleaved(systems: dict[str, Step], rounds: int, label: str = "",
                     references: tuple[Reference, ...] = ()) -> dict[str, np.ndarray]:
    """Seconds per call, `rounds` samples per system, each round calling every system in turn,
    then each reference process for its rows of workload `label`."""
    batch = {name: calls_per_sample(fn) for name, fn in systems.items()}
    samples: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, fn in systems.items():
            samples[name].append(timed_sample(fn, batch[name]))
        for reference in references:
            for name, seconds in reference.round(label).items():
                samples.setdefault(name, []).append(seconds)
    return {name: np.array(s) for name, s in samples.items()}


# ---- the table ----------------------------------------------------------------------------------


def target_text(w: Workload, system: str, torch_ratio: float | None = None
                ) -> tuple[str, float | None]:
    """The target of a row: compiled against the issue's ratio; eager within 1.5x of PyTorch
    eager's ratio to numpy, measured in this run when torch is there, else the issue's."""
    if system.startswith("compiled"):
        return f"<= {w.target:g}", w.target
    if system == "eager" and w.key != "W1":
        if torch_ratio is not None:
            limit = EAGER_SLACK * torch_ratio
            return f"<= {limit:.2f} (1.5x this run's torch eager {torch_ratio:.3g})", limit
        limit = EAGER_SLACK * w.anchors["torch eager"]
        return f"<= {limit:.2f} (1.5x the issue's torch eager {w.anchors['torch eager']:g})", limit
    if system in w.anchors:
        return f"(issue: {w.anchors[system]:g})", None
    return "", None


def workload_rows(w: Workload, times: dict[str, np.ndarray], errors: dict[str, float]) -> list:
    """The table rows of one workload; every ratio is to the numpy row's time."""
    base, base_min = float(np.median(times["numpy"])), float(times["numpy"].min())
    torch_eager = times.get("torch eager")
    torch_ratio = None if torch_eager is None else float(np.median(torch_eager)) / base
    rows = []
    for system, t in times.items():
        ratio = float(np.median(t)) / base
        text, limit = target_text(w, system, torch_ratio)
        verdict = "" if limit is None else ("ok" if ratio <= limit else "MISS")
        if errors.get(system, 0.0) > _tol(w):
            verdict = f"WRONG (rel err {errors[system]:.1e})"
        rows.append(
            [
                w.label,
                system,
                f"{np.median(t) * 1e3:.4g}",
                f"{t.min() * 1e3:.4g}",
                f"{ratio:.3g}",
                f"{t.min() / base_min:.3g}",
                text,
                verdict,
            ]
        )
    return rows


def _tol(w: Workload) -> float:
    return 1e-8 if w.key in ("W1", "W5") else 1e-3


HEADER = [
    "workload",
    "system",
    "median ms",
    "min ms",
    "/ numpy",
    "min / numpy min",
    "target",
    "verdict",
]
W6_HEADER = [
    "workload",
    "system",
    "cache",
    "import s",
    "first call s",
    "second call ms",
    "target",
    "verdict",
    "cache events",
]


def format_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    )


# ---- machine, versions, threads -----------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> str:
    import llvmlite
    import scipy

    found = [
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("numba", numba.__version__),
        ("llvmlite", llvmlite.__version__),
        ("scipy", scipy.__version__),
        ("tracegrad", tg.__version__),
    ]
    for name in ("torch", "jax", "jaxlib"):
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(f"{k} {v}" for k, v in found)


def blas_threads() -> str:
    """The effective BLAS thread count: threadpoolctl when installed, else OpenBLAS's own getter."""
    try:
        from threadpoolctl import threadpool_info

        return (
            ", ".join(
                f"{i['internal_api']} {i.get('version')} {i['num_threads']} threads"
                for i in threadpool_info()
                if i["user_api"] == "blas"
            )
            or "unknown"
        )
    except ImportError:
        pass
    found = []
    for path in sorted(
        {
            line.split()[-1]
            for line in Path("/proc/self/maps").read_text().splitlines()
            if "openblas" in line.lower()
        }
    ):
        lib = ctypes.CDLL(path)
        for symbol in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads",
            "openblas_get_num_threads",
        ):
            if hasattr(lib, symbol):
                found.append(f"{Path(path).name} {getattr(lib, symbol)()} threads")
                break
    return ", ".join(found) or "unknown (no threadpoolctl, no OpenBLAS found)"


def thread_settings() -> str:
    names = (
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "TRACEGRAD_JIT",
        "TRACEGRAD_VMATH",
        "XLA_FLAGS",
    )
    env = ", ".join(f"{n}={os.environ[n]}" for n in names if n in os.environ) or "none set"
    parts = [f"BLAS: {blas_threads()}", f"numba: {numba.get_num_threads()} threads"]
    if "torch" in sys.modules:
        parts.append(f"torch: {sys.modules['torch'].get_num_threads()} intra-op threads")
    return f"{'; '.join(parts)}; env: {env}"


def machine() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{cpu_model()}, {os.cpu_count()} cores ({usable} usable), load {load} (1/5/15 min)"


# ---- W6: first call in a new process ------------------------------------------------------------

_CHILD = (
    "import sys, time; start = time.perf_counter(); sys.path.insert(0, sys.argv[1]); "
    "import workloads; workloads.first_call_child(sys.argv[2], sys.argv[3], start)"
)


def first_call_child(system: str, label: str, start: float) -> None:
    """In the new process: time the imports, then the first and second call of one system."""
    if system != "compiled":
        _optional(system.split(".")[0])  # torch or jax: their import counts as import
    imported = time.perf_counter()
    w = next(w for w in WORKLOADS if w.label == label)
    if system == "compiled":
        step = tracegrad_rows(w.key, w.data)["compiled"]
    else:
        rows = torch_rows if system.startswith("torch") else jax_rows
        step = rows(w.key, w.data)[system]
    built = time.perf_counter()  # data made, nothing compiled yet
    step()
    first = time.perf_counter()
    step()
    second = time.perf_counter()
    stats = default_cache().stats if system == "compiled" else None
    events = f"{stats.disk_hits} disk hits {stats.misses} misses" if stats else ""
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "setup_s": built - imported,
                "first_call_s": first - built,
                "second_call_s": second - first,
                "cache": events,
            }
        )
    )


def run_child(system: str, w: Workload, cache_dir: Path) -> dict:
    # Cache directories get names no import can mistake for a package (`python -c` puts its
    # working directory first on sys.path, and an empty `tracegrad/` there would shadow an
    # editable install); the child runs in an empty directory of its own.
    env = {
        **os.environ,
        "TRACEGRAD_CACHE_DIR": str(cache_dir / "tracegrad-kernels"),
        "NUMBA_CACHE_DIR": str(cache_dir / "numba-cache"),
        "TORCHINDUCTOR_CACHE_DIR": str(cache_dir / "inductor-cache"),
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    workdir = cache_dir / "cwd"
    workdir.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(Path(__file__).parent), system, w.label],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=W6_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise RuntimeError(f"W6 child {system} {w.label} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def w6_rows(repeats: int, references: bool) -> list[list[str]]:
    cases = [("compiled", WORKLOADS[1]), ("compiled", WORKLOADS[2])]
    if references:
        cases += [
            (s, WORKLOADS[1]) for s in ("torch.compile", "jax.jit") if _importable(s.split(".")[0])
        ]
    rows = []
    for system, w in cases:
        runs: dict[str, list[dict]] = {"empty": [], "warm": []}
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="tracegrad-w6-") as tmp:
                for cache in ("empty", "warm"):  # the same directories, twice
                    runs[cache].append(run_child(system, w, Path(tmp)))
        rows += [w6_row(system, w, cache, r) for cache, r in runs.items()]
    return rows


def w6_row(system: str, w: Workload, cache: str, runs: list[dict]) -> list[str]:
    first = float(np.median([r["first_call_s"] for r in runs]))
    limit = W6_TARGETS.get((w.key, cache)) if system == "compiled" else None
    verdict = "" if limit is None else ("ok" if first <= limit else "MISS")
    target = f"<= {limit:g}" if limit else ""
    if (system, cache) in W6_ANCHORS:
        target = f"(issue: {W6_ANCHORS[system, cache]:g})"
    return [
        w.label,
        system,
        cache,
        f"{np.median([r['import_s'] for r in runs]):.2f}",
        f"{first:.3f}",
        f"{np.median([r['second_call_s'] for r in runs]) * 1e3:.3g}",
        target,
        verdict,
        "; ".join(r["cache"] for r in runs if r["cache"]),  # one entry per process
    ]


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# ---- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timing rounds, 1 W6 process pair")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--only", default="", help="comma-separated keys, e.g. W2,W6")
    parser.add_argument("--no-references", action="store_true", help="skip torch and jax rows")
    parser.add_argument("--together", action="store_true",
                        help="time torch and jax in this process too (their thread pools then "
                             "compete with numpy's and numba's on every row)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    keys = {k.strip().upper() for k in args.only.split(",") if k.strip()}
    rounds = 5 if args.quick else 21
    references = not args.no_references
    chosen = [w for w in WORKLOADS if not keys or w.key in keys]
    if args.child:
        return child_main(args.child, [w for w in chosen if w.key != "W6"])
    here = ("tracegrad", "torch", "jax") if references and args.together else ("tracegrad",)
    prepared = [(w, systems_for(w, here)) for w in chosen]  # imports torch/jax if there
    bullet = "- " if args.markdown else ""
    print(f"{bullet}date: {datetime.date.today()}; rounds: {rounds}; medians of per-call times")
    print(f"{bullet}machine: {machine()}")
    print(f"{bullet}versions: {versions()}")
    print(f"{bullet}threads: {thread_settings()}", flush=True)
    others = [] if args.together or not references or not chosen else [
        Reference(name, chosen) for name in REFERENCE_ROWS]
    for reference in others:
        if reference.ready:
            print(f"{bullet}{reference.framework} process threads: {reference.threads}")
    print()
    rows, wrong = [], False
    for w, systems in prepared:
        errors = check(systems)
        mine = tuple(r for r in others if w.label in r.ready)
        for reference in mine:
            errors.update(reference.ready[w.label]["errors"])
        names = [*systems, *(k for r in mine for k in r.ready[w.label]["systems"])]
        print(f"timing {w.label}: {', '.join(names)}", file=sys.stderr, flush=True)
        times = time_interleaved(systems, rounds, w.label, mine)
        wrong |= any(e > _tol(w) for e in errors.values())
        rows += workload_rows(w, times, errors)
    for reference in others:
        reference.close()
    if rows:
        print(format_table(HEADER, rows, args.markdown))
    if not keys or "W6" in keys:
        print(
            f"\nW6 first call in a new process (imports excluded; median of "
            f"{1 if args.quick else 3} process pairs; torch/jax rows only without --quick)"
        )
        table = w6_rows(1 if args.quick else 3, references and not args.quick)
        print(format_table(W6_HEADER, table, args.markdown))
    print(f"\n{bullet}load at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
