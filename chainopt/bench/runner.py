"""Run experiments: settings, interleaved measurement, resumable reports.

The runner times every variant of a case interleaved
(:mod:`chainopt.bench.timing`), writes one CSV row per (case, variant) and
rewrites the CSV atomically after every case (:mod:`chainopt.bench.reports`),
so an interrupted run keeps every completed row and ``--resume`` measures
only the cases that are missing. What an experiment is lives in
:mod:`chainopt.bench.experiment`. The runner never imports the experiments
themselves: the command line (:mod:`chainopt.cli`) discovers them
(:func:`chainopt.experiments.discover`) and passes them in as a *registry*,
a mapping from name to :class:`Experiment`.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..machine import measure_load, snapshot
from . import reports
from .experiment import (
    Case,
    Experiment,
    ExperimentError,
    Settings,
)
from .timing import environment, time_interleaved

__all__ = [
    "Registry",
    "RunSummary",
    "describe",
    "get_experiment",
    "measure_case",
    "rebuild_reports",
    "run_experiment",
    "run_experiments",
    "settings_for",
]

#: The most samples per variant ``--repeats`` may ask for (the experiments use 2 to 21;
#: every sample is kept in memory, and 10⁸ of them grew to 12.6 GB).
MAX_REPEATS = 1000

#: The most BLAS threads ``--threads`` may ask for.
MAX_THREADS = 256

#: Experiments by name, as :func:`chainopt.experiments.discover` returns them.
Registry = Mapping[str, Experiment]


def get_experiment(registry: Registry, name: str) -> Experiment:
    """The experiment called ``name``, or an :class:`ExperimentError`."""
    if name not in registry:
        choices = ", ".join(registry)
        raise ExperimentError(
            f"unknown experiment {name!r}; choose one of {choices} (see 'chainopt list')"
        )
    return registry[name]


# -- settings ---------------------------------------------------------------
def settings_for(
    experiment: Experiment,
    *,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    repeats: int | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> Settings:
    """Check the options for ``experiment`` and fill in its defaults.

    Examples
    --------
    >>> from chainopt.experiments import discover
    >>> exp = discover()["gram"]
    >>> settings_for(exp, quick=True, seed=3).seed
    3
    >>> settings_for(exp, repeats=0)
    Traceback (most recent call last):
    ...
    chainopt.bench.experiment.ExperimentError: --repeats must be a positive integer; got 0
    """
    _check_count("--repeats", repeats, MAX_REPEATS)
    _check_count("--threads", threads, MAX_THREADS)
    if isinstance(seed, bool) or seed < 0:
        raise ExperimentError(f"--seed must be a non-negative integer; got {seed}")
    low, high = experiment.size_range
    if sizes is not None:
        if not sizes:
            raise ExperimentError("--sizes is empty; give at least one size, e.g. 10,100")
        for size in sizes:
            if not low <= size <= high:
                raise ExperimentError(
                    f"--sizes for {experiment.name} are {experiment.sizes_help}, from "
                    f"{low} to {high}; got {size}"
                )
    default_sizes = experiment.quick_sizes if quick else experiment.sizes
    return Settings(
        sizes=tuple(sorted(set(sizes))) if sizes else default_sizes,
        repeats=repeats or (experiment.quick_repeats if quick else experiment.repeats),
        seed=seed,
        quick=quick,
        warmup=experiment.warmup,
        prime=experiment.prime,
        min_sample_s=2e-4 if quick else 1e-3,
        threads=threads,
    )


def _check_count(option: str, value: int | None, high: int) -> None:
    """An optional count must be an int from 1 to ``high``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ExperimentError(f"{option} must be a positive integer; got {value!r}")
    if value > high:
        raise ExperimentError(f"{option} must be at most {high:,}; got {value:,}")


class _SameResult:
    """Checks that every variant of a case computes the same array."""

    def __init__(self, where: str, rtol: float = 1e-6):
        self.where, self.rtol, self.reference = where, rtol, None

    def __call__(self, j: int, result: Any) -> None:
        result = np.asarray(result, dtype=float)
        if self.reference is None:
            self.reference = result
            return
        if result.shape != self.reference.shape:
            raise RuntimeError(f"{self.where}: variant {j} has shape {result.shape}, "
                               f"variant 0 {self.reference.shape}")
        scale = max(float(np.linalg.norm(self.reference)), np.finfo(float).tiny)
        error = float(np.linalg.norm(result - self.reference)) / scale
        if not error <= self.rtol:
            raise RuntimeError(f"{self.where}: variant {j} differs from variant 0 "
                               f"(relative difference {error:.2g})")


# -- running ----------------------------------------------------------------
class RunSummary(NamedTuple):
    """What one run of one experiment did."""

    name: str
    csv: Path
    measured: int
    skipped: int
    headline: str


def _cell(value: Any) -> str:
    """A value as the CSV stores it (exact ints, round-tripping floats)."""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _key(experiment: Experiment, row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_cell(row[name]) for name in experiment.key)


def _measure(experiment: Experiment, case: Case, settings: Settings) -> list[dict[str, str]]:
    """The CSV rows of one case: timed here, or by ``case.elsewhere``."""
    rows = case.elsewhere() if case.elsewhere is not None else measure_case(
        experiment, case, settings)
    names = [column.name for column in experiment.columns]
    for row in rows:
        if sorted(row) != sorted(names):
            raise RuntimeError(f"{experiment.name}: a row has columns {sorted(row)}; "
                               f"its experiment declares {sorted(names)}")
    return [{name: _cell(row[name]) for name in names} for row in rows]


def measure_case(experiment: Experiment, case: Case, settings: Settings) -> list[dict[str, Any]]:
    """Time the variants of one case interleaved; return its rows (column values).

    Examples
    --------
    >>> from chainopt.experiments import discover
    >>> exp = discover()["gram"]
    >>> settings = settings_for(exp, quick=True, repeats=1)
    >>> rows = measure_case(exp, next(iter(exp.cases(settings))), settings)
    >>> rows[0]["repeats"], sorted(rows[0]) == sorted(c.name for c in exp.columns)
    (1, True)
    """
    variants = case.variants()
    same = _SameResult(f"{experiment.name} {dict(case.params)}") if case.compare else None
    values: list[Mapping[str, Any]] = []

    def on_result(j: int, result: Any) -> None:
        given = variants[j].values
        values.append(given(result) if callable(given) else given)
        if same is not None:
            same(j, result)

    timings = time_interleaved([variant.run for variant in variants],
                               case.repeats or settings.repeats,
                               warmup=settings.warmup, min_sample_s=settings.min_sample_s,
                               on_result=on_result, prime=settings.prime,
                               before_round=case.before_round)
    return [{**case.params, **given, **timing.summary()}
            for given, timing in zip(values, timings)]


def _out_dir(out: str | os.PathLike) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ExperimentError(f"--out {str(path)!r} is a file; give a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out {str(path)!r} cannot be created: {exc.strerror}") from None
    return path


def _resumed_rows(experiment: Experiment, settings: Settings, out: Path) -> list[dict]:
    """Rows already measured, if the CSV was made with compatible settings."""
    csv_path = reports.csv_path(out, experiment.name)
    if not csv_path.exists():
        return []
    header, rows = reports.read_csv(csv_path)
    if header != [column.name for column in experiment.columns]:
        raise ExperimentError(f"cannot resume {csv_path}: its columns are not "
                              f"{experiment.name}'s; rerun without --resume")
    before = reports.read_meta(out, experiment.name).get("settings", {})
    for option in ("seed", "quick", "repeats", "threads"):
        if option in before and before[option] != getattr(settings, option):
            raise ExperimentError(
                f"cannot resume {csv_path}: it was measured with {option}="
                f"{before[option]}, not {getattr(settings, option)}; use the same "
                f"options or rerun without --resume")
    return _intact_rows(experiment, rows, csv_path)


def _valid(value: str | None, dtype: str) -> bool:
    if value is None:
        return False
    try:
        {"int": int, "float": float}.get(dtype, str)(value)
    except ValueError:
        return False
    return dtype != "bool" or value in ("True", "False")


def _intact_rows(experiment: Experiment, rows: list[dict], csv_path: Path) -> list[dict]:
    """Drop every case with a row cut short or unreadable: it is measured again."""
    bad: set[tuple[str, ...]] = set()
    for i, row in enumerate(rows):
        if None in row or not all(_valid(row.get(c.name), c.dtype) for c in experiment.columns):
            # A cut row's own key may be cut too: it belongs to its case or the one before.
            bad.update(_key(experiment, r) for r in rows[max(0, i - 1): i + 1])
    with open(csv_path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 1))
        if rows and size and handle.read(1) != b"\n":  # cut inside the last line
            bad.update(_key(experiment, r) for r in rows[-2:])
    return [row for row in rows if _key(experiment, row) not in bad]


def _progress(cases: list[Case], name: str, progress: bool | None):
    """A tqdm bar on a terminal; else one line per case on stderr (``progress=None``)."""
    from tqdm import tqdm

    if progress is None and not _is_terminal(sys.stderr):
        return _progress_lines(cases, name)
    return tqdm(cases, desc=name, unit="case", disable=None if progress is None
                else not progress, leave=False, file=sys.stderr)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _progress_lines(cases: list[Case], name: str):
    """Yield the cases, printing ``name: case i/n (params), elapsed`` before each."""
    start = time.perf_counter()
    for i, case in enumerate(cases, start=1):
        params = ", ".join(f"{key}={value}" for key, value in case.params.items())
        print(f"{name}: case {i}/{len(cases)} ({params}) at "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        yield case


def _threads(count: int | None):
    """Limit the BLAS threads to ``count`` (threadpoolctl) for the block; None: as is."""
    import contextlib

    if count is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=count, user_api="blas")


def run_experiment(
    experiment: Experiment,
    settings: Settings,
    out: str | os.PathLike = "reports",
    *,
    resume: bool = False,
    progress: bool | None = None,
    echo: Callable[[str], None] | None = None,
    registry: Registry | None = None,
) -> RunSummary:
    """Measure ``experiment`` and write its CSV, Markdown, plot and the index.

    The CSV is rewritten atomically after every case, so an interrupted run
    (Ctrl-C, a crash) leaves every completed row and never a truncated file;
    ``resume=True`` keeps those rows and measures only the missing cases.
    ``progress=None`` shows a tqdm bar when stderr is a terminal, else one
    line per case; ``echo``, if given, receives a line saying what is about
    to be measured. ``settings.threads`` limits the BLAS threads for the
    run. The machine's load before and after (:mod:`chainopt.machine`)
    goes into ``NAME.json``, and a contended run's headline says so first.
    """
    with _threads(settings.threads):
        return _run(experiment, settings, _out_dir(out), resume, progress, echo, registry)


def _run(experiment: Experiment, settings: Settings, out: Path, resume: bool,
         progress: bool | None, echo: Callable[[str], None] | None,
         registry: Registry | None) -> RunSummary:
    rows = _resumed_rows(experiment, settings, out) if resume else []
    done = {_key(experiment, row) for row in rows}
    cases = list(experiment.cases(settings))
    if not cases:
        raise ExperimentError(f"--sizes {','.join(map(str, settings.sizes))} give "
                              f"{experiment.name} nothing to measure; they are "
                              f"{experiment.sizes_help}")
    pending = [case for case in cases if _key(experiment, case.params) not in done]
    # A measured case with a follow-up is visited again: its follow-up may be missing.
    todo = [case for case in cases
            if _key(experiment, case.params) not in done or case.followup is not None]
    if echo is not None:
        echo(f"{experiment.name}: measuring {len(pending)} of {len(cases)} cases (sizes "
             f"{','.join(map(str, settings.sizes))}; {settings.repeats} repeats"
             f"{'; quick' if settings.quick else ''}"
             f"{f'; {settings.threads} BLAS threads' if settings.threads else ''})")
    meta = {"experiment": experiment.name, "settings": settings.as_dict(),
            "environment": environment(), "status": "running",
            "resumed_rows": len(rows)}
    before = snapshot()
    csv_path = reports.write_csv(out, experiment.name, experiment.columns, rows)
    reports.write_meta(out, experiment.name, meta)
    measured = 0
    try:
        for case in _progress(todo, experiment.name, progress):
            while case is not None:
                key = _key(experiment, case.params)
                if key in done:
                    case_rows = [row for row in rows if _key(experiment, row) == key]
                else:
                    case_rows = _measure(experiment, case, settings)
                    rows += case_rows
                    measured += 1
                    reports.write_csv(out, experiment.name, experiment.columns, rows)
                case = case.followup(case_rows) if case.followup else None
    except BaseException:
        reports.write_meta(out, experiment.name, {**meta, "status": "interrupted",
                                                  "load": measure_load(before)})
        raise
    finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    reports.write_meta(out, experiment.name, {**meta, "status": "complete",
                                              "finished": finished,
                                              "load": measure_load(before)})
    headline = reports.write_report(experiment, out)
    reports.write_index(out, {experiment.name: experiment} if registry is None else registry)
    return RunSummary(experiment.name, csv_path, measured, len(cases) - len(pending), headline)


# -- what the command line calls ----------------------------------------------
def run_experiments(
    registry: Registry,
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    repeats: int | None = None,
    seed: int = 0,
    out: str | os.PathLike = "reports",
    resume: bool = False,
    threads: int | None = None,
    echo: Callable[[str], None] = print,
) -> list[RunSummary]:
    """Run the named experiments (default: the suite) and report each.

    Every option is checked for every experiment before anything runs, so a
    bad option fails at once with one :class:`ExperimentError`.
    """
    chosen = [get_experiment(registry, name) for name in names] if names else [
        experiment for experiment in registry.values() if experiment.in_suite]
    plans = [(experiment, settings_for(experiment, quick=quick, sizes=sizes,
                                       repeats=repeats, seed=seed, threads=threads))
             for experiment in chosen]
    summaries = []
    for experiment, settings in plans:
        start = time.perf_counter()
        try:
            summary = run_experiment(experiment, settings, out, resume=resume, echo=echo,
                                     registry=registry)
        except KeyboardInterrupt:
            echo(f"{experiment.name}: interrupted; completed rows are in "
                 f"{reports.csv_path(out, experiment.name)} (continue with --resume)")
            raise
        summaries.append(summary)
        skipped = f", {summary.skipped} already measured" if summary.skipped else ""
        echo(f"{experiment.name}: {summary.measured} cases measured{skipped} in "
             f"{time.perf_counter() - start:.0f} s -> {summary.csv.with_suffix('.md')}")
        echo(f"  {summary.headline}")
    echo(f"index: {Path(out) / 'README.md'}")
    return summaries


def describe(registry: Registry) -> list[str]:
    """One line per registered experiment, for ``chainopt list``."""
    known = registry
    width = max(len(name) for name in known)
    return [f"{name:<{width}}  {experiment.summary}"
            + ("" if experiment.in_suite else "  (not in 'chainopt run')")
            for name, experiment in known.items()]


def rebuild_reports(registry: Registry, out: str | os.PathLike = "reports") -> list[str]:
    """Rewrite the Markdown, plots and index from the CSVs in ``out``."""
    if not Path(out).is_dir():
        raise ExperimentError(f"--out {str(out)!r} is not a directory of reports; "
                              f"run 'chainopt run' first")
    rebuilt = reports.rebuild(out, registry)
    if not rebuilt:
        raise ExperimentError(f"no experiment CSVs in {str(out)!r}; run 'chainopt run' "
                              f"or 'chainopt experiment NAME' first")
    return [f"{name}: {Path(out) / name}.md, {name}.png" for name in rebuilt]
