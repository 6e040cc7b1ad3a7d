"""`device`: tracegrad computes on the CPU only; any other device is a clear error."""

from __future__ import annotations

from typing import Any


class device:  # noqa: N801  (PyTorch spells it lower-case)
    """A compute device. Only 'cpu' exists; `device('cuda')` raises at once."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        name = type.type if isinstance(type, device) else str(type)
        kind, _, number = name.partition(":")
        if kind != "cpu":
            raise RuntimeError(f"tracegrad runs on the CPU only: expected device 'cpu', got {name!r}")
        self.type = "cpu"
        self.index = int(number) if number else index

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and str(other).partition(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")

    def __str__(self) -> str:
        return "cpu"


def check_device(value: Any) -> device:
    """Validate a `device=` argument (None, 'cpu' or a device) and return the CPU device."""
    return device("cpu") if value is None else device(value)
