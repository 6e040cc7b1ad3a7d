"""BufferPool: recycles the memory of big eager results, so steady loops stop page-faulting.

Why: a fresh multi-megabyte numpy array comes from mmap (or from heap glibc has just trimmed),
and touching its pages for the first time costs more than the arithmetic that fills it (here:
1-2.5 ms for 4 MB, against 0.2-0.3 ms for a multiply into memory already mapped). An eager
training step frees its temporaries at the end and allocates them again in the next step.

How: the pool keeps every buffer it hands out, keyed by (shape, dtype). A buffer is free when
nothing but the pool refers to it: no tensor, no view (a numpy view holds its base), no user
reference. Only then is it handed out again, so sharing memory is impossible by construction;
the cost is that up to `capacity` bytes of freed buffers stay with the process. When a new
buffer does not fit, idle buffers are dropped oldest first; if that is not enough, the new
buffer is simply not kept.

Used by the eager fast paths (`ir/ops/fast.py`) for outputs of at least fast.MIN_SIZE elements.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

import numpy as np

_DEFAULT_CAPACITY_MB = 1024
# The references a buffer has while the pool inspects it: its slot in the pool's list, the
# loop variable, and getrefcount's own argument.
_IDLE_REFERENCES = 3


def _refcounts_reliable() -> bool:
    gil = getattr(sys, "_is_gil_enabled", None)      # free-threaded builds count differently
    return gil is None or gil()


class BufferPool:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.kept = 0                                # bytes of all buffers the pool holds
        self.reused = 0                              # statistics, for tests and tuning
        self.allocated = 0
        self._buffers: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()
        self._ids: set[int] = set()                  # id() of each buffer held (kept alive)
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A C-contiguous array nobody else refers to (uninitialised, as np.empty)."""
        key = (shape, dtype)
        with self._lock:
            buffers = self._buffers.get(key)
            if buffers is not None:
                for buf in buffers:
                    if sys.getrefcount(buf) == _IDLE_REFERENCES:
                        self.reused += 1
                        self._buffers.move_to_end(key)
                        return buf
            out = np.empty(shape, dtype)
            self.allocated += 1
            if self._make_room(out.nbytes):
                self._buffers.setdefault(key, []).append(out)
                self._ids.add(id(out))
                self._buffers.move_to_end(key)
                self.kept += out.nbytes
            return out

    def _make_room(self, nbytes: int) -> bool:
        if self.kept + nbytes <= self.capacity:
            return True
        for key in list(self._buffers):              # least recently used shapes first
            buffers = self._buffers[key]
            busy = [b for b in buffers if sys.getrefcount(b) > _IDLE_REFERENCES]
            self.kept -= sum(b.nbytes for b in buffers) - sum(b.nbytes for b in busy)
            self._ids.difference_update(id(b) for b in buffers)
            self._ids.update(id(b) for b in busy)
            if busy:
                self._buffers[key] = busy
            else:
                del self._buffers[key]
            if self.kept + nbytes <= self.capacity:
                return True
        return False

    def clear(self) -> None:
        """Forget every buffer (live ones stay valid: their holders keep them)."""
        with self._lock:
            self._buffers.clear()
            self._ids.clear()
            self.kept = 0

    def owns(self, array: np.ndarray) -> int:
        """1 when the pool holds a reference to `array` (count it when checking that nobody
        else does, e.g. before stealing a gradient), else 0."""
        return int(id(array) in self._ids)


def _capacity_from_environment() -> int:
    text = os.environ.get("TRACEGRAD_EAGER_POOL_MB", str(_DEFAULT_CAPACITY_MB)).strip()
    try:
        return max(0, int(text)) << 20
    except ValueError:
        return _DEFAULT_CAPACITY_MB << 20


POOL = BufferPool(_capacity_from_environment() if _refcounts_reliable() else 0)
