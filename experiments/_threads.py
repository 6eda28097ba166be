"""BLAS thread counts for experiments, and a controlled busy neighbour.

- :func:`at_threads` runs a call with NumPy's BLAS at a given thread count,
  switching through threadpoolctl's controller (about 1 µs per switch) and
  switching back after, so one experiment can time 1 and 2 threads
  interleaved in one run.
- :class:`BusyNeighbour` is the "second busy process" of a contended
  measurement made on purpose: a child Python process pinned to one core
  that multiplies 300×300 matrices in a loop with one BLAS thread, until
  stopped.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["BusyNeighbour", "at_threads", "default_threads", "thread_counts"]


def _blas():
    from threadpoolctl import ThreadpoolController

    found = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return found[0] if found else None


def default_threads() -> int:
    """NumPy's BLAS thread count in this process (1 if threadpoolctl finds no BLAS)."""
    lib = _blas()
    return int(lib.num_threads) if lib is not None else 1


def thread_counts() -> tuple[int, ...]:
    """1 and the default count (just 1 where that is the default)."""
    default = default_threads()
    return (1, default) if default > 1 else (1,)


def at_threads(run: Callable[[], Any], threads: int) -> Callable[[], Any]:
    """``run`` with the BLAS at ``threads`` for each call, restored after it."""
    lib = _blas()
    if lib is None or threads == lib.num_threads:
        return run
    before = lib.num_threads

    def limited():
        lib.set_num_threads(threads)
        try:
            return run()
        finally:
            lib.set_num_threads(before)

    return limited


_LOOP = ("import os, numpy as np\n"
         "os.sched_setaffinity(0, {%d})\n"
         "a = np.random.default_rng(0).standard_normal((300, 300))\n"
         "while True:\n"
         "    a = np.tanh(a @ a)\n")


class BusyNeighbour:
    """A second process keeping one core busy, started and stopped by us.

    Examples
    --------
    >>> neighbour = BusyNeighbour()
    >>> neighbour.start().running
    True
    >>> neighbour.stop().running
    False
    """

    def __init__(self, core: int | None = None):
        cores = sorted(os.sched_getaffinity(0))
        self.core = cores[-1] if core is None else core
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> BusyNeighbour:
        if not self.running:
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            self.process = subprocess.Popen([sys.executable, "-c", _LOOP % self.core], env=env)
            atexit.register(self.stop)
        return self

    def stop(self) -> BusyNeighbour:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()
            self.process = None
        return self
