"""``dask``: chainopt's plan on a Dask cluster, against left to right and opt_einsum.

A chain of Dask arrays is planned from shapes and executed lazily: every
step is Dask's own ``@`` in the planned order, and nothing is computed
until the user asks. This experiment starts its own
``dask.distributed.LocalCluster`` (2 worker processes, 1 thread each),
stopped after the last case; it builds the inputs on the workers (seeded,
persisted, so every variant multiplies the same arrays and the client never
holds them) and compares, interleaved:

- ``planned``: ``chainopt.multi_dot(arrays)``, a lazy graph, then computed;
- ``left to right``: ``functools.reduce(operator.matmul, arrays)``, computed;
- ``opt_einsum``: ``opt_einsum.contract`` on the same chain (its Dask backend,
  also lazy), computed;
- ``eager``: what ``chainopt.multi_dot`` did before it dispatched on the
  array library: ``numpy.asarray`` on every factor (each input pulled into
  the client), then NumPy's product, for the record.

The chains, for ``--sizes`` N (float32, chunks of (N/4)×(N/4)):

- ``A·B·x``: N×N · N×N · N×10;
- ``AᵀA·x``: the Gram chain Aᵀ·A·x with A of N×(N/2) and x of (N/2)×10.

Columns of ``dask.csv`` (one row per case and variant, plus the runner's
timing columns, which time the whole call: building the graph, computing it
and gathering the result):

- ``chain`` (str): ``A·B·x`` or ``AᵀA·x``; ``n`` (int): N; ``chunk`` (int):
  the chunks' side.
- ``variant`` (str): ``planned``, ``left to right``, ``opt_einsum`` or
  ``eager``.
- ``tasks`` (int): tasks in the variant's graph beyond the persisted inputs
  (0 for ``eager``, which computes only the inputs' chunks it gathers).
- ``transfer_bytes`` (int): bytes the workers fetched from each other during
  the call (the workers' incoming transfer logs; results gathered by the
  client are not counted).
- ``client_peak_bytes`` (int): the client process's peak resident memory
  during the call, above its level before the call (sampled every 5 ms).
- ``input_bytes`` (int): bytes of the largest input array.
- ``difference`` (float): relative (Frobenius) difference of the result from
  the float64 product of the same inputs.
"""

from __future__ import annotations

import functools
import importlib.util
import operator
import os
import threading

import numpy as np

import chainopt
from chainopt.bench.experiment import Case, Column, Experiment, ExperimentError, Settings, Variant

from ._common import ratio_text

VARIANTS = ("planned", "left to right", "opt_einsum", "eager")
CHAINS = ("A·B·x", "AᵀA·x")
#: Columns of the thin factor x.
COLUMNS_OF_X = 10
#: Targets of issue 12 on the A·B·x chain.
TARGET_SPEEDUP, TARGET_EINSUM = 20.0, 1.3


def _installed() -> bool:
    return all(importlib.util.find_spec(name) is not None
               for name in ("dask", "distributed", "opt_einsum", "psutil"))


# -- the cluster and the inputs -----------------------------------------------------
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class _Cluster:
    """A 2-worker LocalCluster and its client, stopped by :meth:`close`."""

    def __init__(self):
        import dask
        import distributed

        # Keep every transfer in the workers' logs (the default keeps the last 1000).
        # LocalCluster sets OMP/MKL/OPENBLAS_NUM_THREADS=1 in *this* process's
        # environment for its workers; put them back, or a library imported later
        # in the run (torch, in the frameworks experiment) starts on one thread.
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        try:
            with dask.config.set({"distributed.admin.low-level-log-length": 1_000_000}):
                self.cluster = distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self.client = distributed.Client(self.cluster)

    def close(self) -> None:
        self.client.close()
        self.cluster.close()

    def transferred(self) -> int:
        """Bytes the workers have fetched from each other so far."""
        return sum(self.client.run(_incoming_bytes).values())


def _incoming_bytes(dask_worker) -> int:
    return int(sum(entry["total"] for entry in dask_worker.transfer_incoming_log))


def _inputs(cluster: _Cluster, chain: str, n: int, chunk: int, seed: int) -> list:
    """The chain's factors, generated and kept on the workers."""
    import dask.array as da
    import distributed

    rng = da.random.default_rng(seed)
    if chain == "A·B·x":
        shapes = [(n, n), (n, n), (n, COLUMNS_OF_X)]
    else:
        shapes = [(n, n // 2), (n // 2, COLUMNS_OF_X)]
    factors = [rng.standard_normal(s, chunks=chunk, dtype=np.float32) / np.float32(s[0] ** 0.5)
               for s in shapes]
    factors = cluster.client.persist(factors)
    distributed.wait(factors)
    if chain == "AᵀA·x":
        factors = [factors[0].T, *factors]
    return factors


# -- one measured call ----------------------------------------------------------------
class _PeakMemory:
    """The process's peak resident memory above its level at the start."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self.process, self.interval = psutil.Process(), interval
        self.start = self.peak = self.process.memory_info().rss
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def bytes(self) -> int:
        return int(self.peak - self.start)


def _subscripts(n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ",".join(letters[i : i + 2] for i in range(n)) + f"->a{letters[n]}"


def _lazy(variant: str, arrays: list):
    if variant == "planned":
        return chainopt.multi_dot(arrays)
    if variant == "left to right":
        return functools.reduce(operator.matmul, arrays)
    import opt_einsum

    return opt_einsum.contract(_subscripts(len(arrays)), *arrays)


def _graph_tasks(lazy, arrays: list) -> int:
    inputs = set().union(*(a.__dask_graph__().keys() for a in arrays))
    return len(set(lazy.__dask_graph__().keys()) - inputs)


def _call(variant: str, cluster: _Cluster, arrays: list, record: dict) -> np.ndarray:
    """Build (if lazy) and compute one variant; record its tasks, bytes and memory."""
    before = cluster.transferred()
    with _PeakMemory() as memory:
        if variant == "eager":
            tasks = 0
            result = chainopt.multi_dot([np.asarray(a) for a in arrays])
        else:
            lazy = _lazy(variant, arrays)
            tasks = _graph_tasks(lazy, arrays)
            result = cluster.client.compute(lazy).result()
    record.update(tasks=tasks, transfer_bytes=cluster.transferred() - before,
                  client_peak_bytes=memory.bytes)
    return result


# -- cases ------------------------------------------------------------------------------
def _variants(settings: Settings, chain: str, n: int, chunk: int, holder: dict):
    if "cluster" not in holder:
        holder["cluster"] = _Cluster()
    cluster = holder["cluster"]
    arrays = _inputs(cluster, chain, n, chunk, settings.seed)
    reference = cluster.client.compute(
        chainopt.multi_dot([a.astype(np.float64) for a in arrays])).result()
    input_bytes = max(int(a.nbytes) for a in arrays)
    variants = []
    for name in VARIANTS:
        record: dict = {}
        variants.append(Variant(
            functools.partial(_values, name, record, reference, input_bytes),
            functools.partial(_call, name, cluster, arrays, record)))
    return variants


def _values(name: str, record: dict, reference: np.ndarray, input_bytes: int, result):
    difference = float(np.linalg.norm(result - reference) / np.linalg.norm(reference))
    if not difference < 1e-3:
        raise RuntimeError(f"dask: {name} differs from the float64 product by {difference:.2g}")
    return {"variant": name, **record, "input_bytes": input_bytes, "difference": difference}


def _stop(holder: dict, rows) -> None:
    """The last case's follow-up: stop the cluster (started by the first case measured)."""
    cluster = holder.pop("cluster", None)
    if cluster is not None:
        cluster.close()


def cases(settings: Settings):
    if not _installed():
        raise ExperimentError("the dask experiment needs Dask, dask.distributed, opt_einsum "
                              "and psutil: pip install 'chainopt[dask,compare]'")
    holder: dict = {}
    todo = [(chain, n, max(1, n // 4)) for n in settings.sizes for chain in CHAINS]
    for i, (chain, n, chunk) in enumerate(todo):
        last = i == len(todo) - 1
        yield Case({"chain": chain, "n": n, "chunk": chunk},
                   functools.partial(_variants, settings, chain, n, chunk, holder),
                   compare=False, followup=functools.partial(_stop, holder) if last else None)


# -- the report -------------------------------------------------------------------------
def summarize(frame):
    table = frame[["chain", "n", "chunk", "variant", "time_median_s", "tasks",
                   "transfer_bytes", "client_peak_bytes", "input_bytes"]].copy()
    planned = table[table["variant"] == "planned"].set_index(["chain", "n"])["time_median_s"]
    table["time / planned"] = table["time_median_s"].to_numpy() / planned.loc[
        list(zip(table["chain"], table["n"]))].to_numpy()
    table["holds an input"] = table["client_peak_bytes"] >= table["input_bytes"]
    for column in ("transfer_bytes", "client_peak_bytes", "input_bytes"):
        table[column.replace("_bytes", " MB").replace("_", " ")] = table.pop(column) / 1e6
    return table.rename(columns={"time_median_s": "median s"})


def _ratios(frame, chain: str, n: int) -> tuple[float, float, float]:
    times = frame[(frame["chain"] == chain) & (frame["n"] == n)].set_index("variant")[
        "time_median_s"]
    return times["planned"], times["left to right"] / times["planned"], \
        times["planned"] / times["opt_einsum"]


def conclude(frame) -> str:
    parts = []
    for (chain, n, chunk), _ in frame.groupby(["chain", "n", "chunk"], sort=False):
        planned, speedup, einsum = _ratios(frame, chain, n)
        line = (f"{chain} (n={n}, chunks {chunk}²): planned {planned:.3g} s, "
                f"{ratio_text(speedup)} faster than left to right and {einsum:.2f}× "
                f"opt_einsum's time")
        if chain == "A·B·x":
            met = ["met" if ok else "not met"
                   for ok in (speedup >= TARGET_SPEEDUP, einsum <= TARGET_EINSUM)]
            line += (f" (targets: ≥ {TARGET_SPEEDUP:g}× {met[0]}; "
                     f"≤ {TARGET_EINSUM}× {met[1]})")
        parts.append(line)
    lazy = frame[frame["variant"] != "eager"]
    held = lazy[lazy["client_peak_bytes"] >= lazy["input_bytes"]]
    memory = ("the client never held a whole input in a lazy variant" if held.empty else
              "the client held a whole input in " + ", ".join(
                  f"{r.variant} on {r.chain} (n={r.n})" for r in held.itertuples()))
    eager = frame[frame["variant"] == "eager"]
    ratio = (eager["client_peak_bytes"] / eager["input_bytes"]).max()
    return (f"{'; '.join(parts)}. Client memory: {memory} (target: never); the eager path "
            f"peaked at {ratio:.1f}× the largest input.")


def plot(frame, figure) -> None:
    axes = figure.subplots()
    cases_ = list(frame.groupby(["chain", "n"], sort=False))
    width = 0.8 / len(VARIANTS)
    for j, name in enumerate(VARIANTS):
        times = [group.set_index("variant").loc[name, "time_median_s"] for _, group in cases_]
        axes.bar(np.arange(len(cases_)) + j * width, times, width, label=name)
    axes.set_xticks(np.arange(len(cases_)) + 0.4 - width / 2,
                    [f"{chain}, n={n}" for (chain, n), _ in cases_])
    axes.set_yscale("log")
    axes.set(ylabel="median wall time per call (s)",
             title="A chain on a 2-worker Dask cluster: planned order vs others")
    axes.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="dask",
    title="dask: chainopt's plan on a Dask cluster, against left to right and opt_einsum",
    summary="Dask chains on a 2-worker LocalCluster: planned (lazy) vs left to right, "
            "opt_einsum and the eager path",
    case_columns=(Column("chain", "str", "A·B·x or AᵀA·x"),
                  Column("n", "int", "N: the square factors are N×N"),
                  Column("chunk", "int", "chunks are chunk×chunk (N/4)")),
    variant_columns=(
        Column("variant", "str", "planned, left to right, opt_einsum or eager"),
        Column("tasks", "int", "tasks in the graph beyond the persisted inputs"),
        Column("transfer_bytes", "int", "bytes the workers fetched from each other"),
        Column("client_peak_bytes", "int", "the client's peak resident memory during the "
               "call, above its level before"),
        Column("input_bytes", "int", "bytes of the largest input"),
        Column("difference", "float", "relative difference from the float64 product"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(8000,),
    quick_sizes=(1000,),
    sizes_help="N (float32 factors of N×N, chunks (N/4)²)",
    size_range=(8, 40000),
    repeats=2,
    quick_repeats=1,
    notes=("The run starts a 2-worker LocalCluster (processes, 1 thread each) and stops it "
           "after the last case. The inputs are generated on the workers and persisted; "
           "every variant multiplies the same arrays. Each variant is called once untimed "
           "(its tasks, transfers and client memory are read from that call), then timed. "
           "Transfers are the workers' incoming-transfer logs, read through the scheduler "
           "(client.run). chainopt chooses the order only: chunking is the user's."),
    in_suite=_installed(),
    warmup=1,
    prime=False,
)
