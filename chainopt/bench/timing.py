"""Timing: how chainopt measures, and the environment it records.

Used by the experiment runner (:mod:`chainopt.bench.runner`); nothing here
imports pandas, matplotlib or tqdm.

Timing methodology (:func:`time_interleaved`)
---------------------------------------------
- Warm-up: each variant is called ``warmup`` times (default 2) before
  timing; the fastest warm-up call after the first (which may pay one-off
  costs such as building a cached plan) sets ``loops``, the number of consecutive calls per
  sample, so that a sample lasts at least ``min_sample_s`` (as
  :mod:`timeit` does). The first warm-up result of each variant goes to
  ``on_result``, where the runner checks that every order computes the
  same product.
- Priming: each sample opens with one call of the same variant, timed on
  its own (the "cold" time, reported as ``time_cold_median_s``). The
  sample then measures the variant's steady state, as a loop of its own
  calls would see it: after an order that allocated and freed 50 MB, a
  fresh 8 MB result costs 2-7 ms of page faults on this VM instead of
  0.4 ms, a cost of the previous variant, not of this one. The cold time
  shows that first-call cost. (Without priming, a variant timed with
  ``loops`` = 4 paid it once per 4 calls and one timed with ``loops`` = 1
  on every call: the same function measured 0.48 and 1.15 ms.)
- Repeats: ``repeats`` rounds; each round takes one sample of every variant,
  in a fresh random order (seeded, so runs are repeatable). Drift of the
  machine hits all variants alike, and no variant always runs right after
  the same neighbour (whose cache and memory churn it would otherwise
  always pay: a fixed rotation A B C, B C A, … measured one identical call
  at 0.38 ms or 0.60 ms depending on its predecessor).
- Clock: :func:`time.perf_counter_ns`, with the garbage collector off.
- Summary per variant: the median, the quartiles (IQR) and min/max of the
  per-call times, in seconds.

The environment (:func:`environment`) names what the numbers depend on:
Python, NumPy and SciPy versions, NumPy's BLAS (vendor, version, the
kernel architecture it runs and its threads, from threadpoolctl), the CPU
model, the date, and the OpenBLAS variables that choose a kernel.
"""

from __future__ import annotations

import datetime
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..timemodel.store import cpu_model

__all__ = ["Timing", "environment", "time_interleaved"]

class Timing(NamedTuple):
    """Per-call times (ns) of one variant, and the calls per sample.

    ``cold_ns`` holds the untimed-in-the-sample call that opens each sample
    (right after another variant ran): empty when samples were not primed.
    """

    samples_ns: tuple[float, ...]
    loops: int
    cold_ns: tuple[float, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The values of :data:`TIMING_COLUMNS`, in seconds."""
        s = np.asarray(self.samples_ns) * 1e-9
        q1, median, q3 = np.percentile(s, [25, 50, 75])
        return {
            "repeats": len(s), "loops": self.loops,
            "time_median_s": float(median), "time_q1_s": float(q1),
            "time_q3_s": float(q3), "time_min_s": float(s.min()),
            "time_max_s": float(s.max()),
            "time_cold_median_s": float(np.median(self.cold_ns) * 1e-9)
            if self.cold_ns else math.nan,
        }


def _sample(run: Callable[[], Any], loops: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(loops):
        run()
    return (time.perf_counter_ns() - start) / loops


def _primed_sample(run: Callable[[], Any], loops: int) -> tuple[float, float]:
    """One call to settle in (timed apart: the cold time), then a sample."""
    start = time.perf_counter_ns()
    run()
    return time.perf_counter_ns() - start, _sample(run, loops)


def _warm_up(run: Callable[[], Any], warmup: int, min_sample_ns: float):
    """Call ``run`` ``warmup`` times; return (its first result, loops per sample).

    ``loops`` grows (as in :mod:`timeit`) until one sample lasts at least
    ``min_sample_ns``; a call that already does costs no extra calls.
    """
    fastest = math.inf
    result = None
    for call in range(max(1, warmup)):
        start = time.perf_counter_ns()
        value = run()
        if call or warmup == 1:  # the first call may pay one-off costs (caches, plans)
            fastest = min(fastest, time.perf_counter_ns() - start)
        result = value if call == 0 else result
    loops = 1
    while fastest * loops < min_sample_ns and loops < 1_000_000:
        loops = min(1_000_000, math.ceil(loops * min(10.0, 1.2 * min_sample_ns /
                                                     max(fastest * loops, 1))))
        fastest = min(fastest, _sample(run, loops))
    return result, loops


def time_interleaved(
    runs: Sequence[Callable[[], Any]],
    repeats: int,
    *,
    warmup: int = 2,
    min_sample_s: float = 1e-3,
    on_result: Callable[[int, Any], None] | None = None,
    seed: int = 0,
    prime: bool = True,
    before_round: Callable[[int], None] | None = None,
) -> list[Timing]:
    """Time several calls on the same inputs, interleaved.

    Parameters
    ----------
    runs : sequence of callables
        The variants, each taking no arguments.
    repeats : int
        Samples per variant; each round visits the variants in a random order.
    warmup : int
        Untimed calls per variant first; they also set ``loops``.
    min_sample_s : float
        Shortest sample: fast calls are repeated ``loops`` times per sample.
    on_result : callable, optional
        Called as ``on_result(j, result)`` with the result of variant ``j``'s
        first warm-up call (to check it, or to compute from it), before any
        timing. Results are not kept.
    seed : int
        Seeds the order of the variants in each round.
    prime : bool
        Open each sample with one call of the same variant, timed apart
        (``cold_ns``), so that the sample measures the variant in its own
        steady state, not the memory and caches the variant before it left.
    before_round : callable, optional
        Called untimed as ``before_round(r)`` before round ``r`` (0, 1, ...;
        the warm-up runs before round 0's call): to give every variant, say,
        the same fresh copy of the inputs in each round.

    Returns
    -------
    list of Timing
        One per variant, per-call times in nanoseconds.

    Examples
    --------
    >>> timings = time_interleaved([lambda: 1, lambda: 2], repeats=3, on_result=print)
    0 1
    1 2
    >>> [len(t.samples_ns) for t in timings]
    [3, 3]
    """
    loops = []
    for j, run in enumerate(runs):
        result, count = _warm_up(run, warmup, min_sample_s * 1e9)
        if on_result is not None:
            on_result(j, result)
        del result
        loops.append(count)
    samples: list[list[float]] = [[] for _ in runs]
    cold: list[list[float]] = [[] for _ in runs]
    orders = np.random.default_rng(seed).permuted(
        np.tile(np.arange(len(runs)), (repeats, 1)), axis=1)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for number, order in enumerate(orders.tolist()):
            if before_round is not None:
                before_round(number)
            for j in order:
                if prime:
                    first, sample = _primed_sample(runs[j], loops[j])
                    cold[j].append(first)
                else:
                    sample = _sample(runs[j], loops[j])
                samples[j].append(sample)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [Timing(tuple(s), count, tuple(c)) for s, count, c in zip(samples, loops, cold)]


def _blas() -> dict[str, Any]:
    """NumPy's BLAS as threadpoolctl sees it: vendor, kernel, threads."""
    from threadpoolctl import threadpool_info

    libraries = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    if not libraries:
        return {"blas": "not found by threadpoolctl"}
    ours = [info for info in libraries if "numpy" in info.get("filepath", "")]
    info = (ours or libraries)[0]
    found = {
        "blas": f"{info.get('internal_api')} {info.get('version')}",
        "blas_architecture": info.get("architecture") or "unknown",
        "blas_threads": info.get("num_threads"),
    }
    others = [f"{i.get('internal_api')} {i.get('version')} ({Path(i['filepath']).name})"
              for i in libraries if i is not info]
    if others:
        found["other_blas_loaded"] = "; ".join(others)
    return found


def _program() -> str:
    name = Path(sys.argv[0]).name
    return "python -m chainopt" if name == "__main__.py" else name


def environment() -> dict[str, Any]:
    """Facts about this machine and software that every report records.

    Python, NumPy and SciPy versions, NumPy's BLAS (vendor, version, the
    kernel architecture it runs and its thread count, from threadpoolctl),
    the CPU model, the date, and the OpenBLAS variables that pick a kernel.

    Examples
    --------
    >>> env = environment()
    >>> sorted(k for k in env if k.startswith(("blas", "numpy", "OPENBLAS")))
    ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'blas', 'blas_architecture', 'blas_threads', 'numpy']
    """
    import scipy

    from .._version import __version__

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpu": cpu_model() or "unknown",
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "chainopt": __version__,
        **_blas(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "unset"),
        "command": " ".join([_program(), *sys.argv[1:]]),
    }
