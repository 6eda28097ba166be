"""What an experiment is: its columns, cases, variants and settings.

An experiment (one module in the repository's ``experiments/`` folder,
installed as :mod:`chainopt.experiments`) is a declarative
:class:`Experiment`: its columns, and a function that yields :class:`Case`
objects. A case is one set of inputs; its :class:`Variant` objects are the
things compared on those inputs (orders, modes, planners). The runner
(:mod:`chainopt.bench.runner`) measures them; the reports
(:mod:`chainopt.bench.reports`) write them. Neither is imported here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ChainError

__all__ = ["Case", "Column", "Experiment", "ExperimentError", "Settings", "TIMING_COLUMNS",
           "Variant"]


class ExperimentError(ChainError):
    """An experiment that cannot run as asked (unknown name, bad option)."""


class Column(NamedTuple):
    """One documented CSV column: its name, dtype and meaning.

    ``dtype`` is one of ``"int"``, ``"float"``, ``"str"``, ``"bool"``; it is
    the dtype :func:`chainopt.bench.reports.load_frame` gives the column.
    """

    name: str
    dtype: str
    description: str


#: Columns the runner appends to every experiment's rows.
TIMING_COLUMNS = (
    Column("repeats", "int", "timed samples of this variant"),
    Column("loops", "int", "consecutive calls per sample (each time is per call)"),
    Column("time_median_s", "float", "median time per call, seconds"),
    Column("time_q1_s", "float", "first quartile of the time per call, seconds"),
    Column("time_q3_s", "float", "third quartile of the time per call, seconds"),
    Column("time_min_s", "float", "fastest sample, seconds per call"),
    Column("time_max_s", "float", "slowest sample, seconds per call"),
    Column("time_cold_median_s", "float", "median time of the call that opens each sample, "
           "right after another variant (untimed in the sample; includes the page faults "
           "and cache misses the variant before it left), seconds"),
)


class Variant(NamedTuple):
    """One thing compared within a case: its column values and the call timed.

    ``values`` fills the experiment's ``variant_columns`` (e.g. the order's
    parenthesization and its predicted multiplications), or is a function
    that computes them from what ``run`` returned (e.g. the cost of the
    order a planner found). ``run`` takes no arguments and does the work
    once.
    """

    values: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]]
    run: Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class Case:
    """One set of inputs and the variants compared on them.

    Parameters
    ----------
    params : mapping
        Values of the experiment's ``case_columns``; they identify the case
        (``--resume`` skips a case whose params are already in the CSV).
    variants : callable
        Builds the inputs and returns the variants. Called only when the case
        is measured, so skipped cases allocate nothing.
    compare : bool
        Check that every variant's result is numerically the same product.
    repeats : int, optional
        Samples per variant for this case (default: the run's ``repeats``).
    followup : callable, optional
        Called with this case's CSV rows (dicts of strings) once they are
        measured, or found measured by ``--resume``; returns another case to
        measure next, or None. A screening case uses it to re-time its few
        best variants head to head with more repeats.
    elsewhere : callable, optional
        Measures the case somewhere else (a child process with its own
        threads, say) and returns its rows, one mapping of column values per
        variant; the runner then stores those instead of timing
        ``variants()`` here. Whoever measures them times the variants as the
        runner would (:func:`chainopt.bench.runner.measure_case`).
    before_round : callable, optional
        Passed to :func:`chainopt.bench.timing.time_interleaved`: called
        before each round of samples with its number.
    """

    params: Mapping[str, Any]
    variants: Callable[[], Sequence[Variant]]
    compare: bool = True
    repeats: int | None = None
    followup: Callable[[list[dict[str, str]]], Case | None] | None = None
    elsewhere: Callable[[], Sequence[Mapping[str, Any]]] | None = None
    before_round: Callable[[int], None] | None = None


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved options of one run of one experiment."""

    sizes: tuple[int, ...]
    repeats: int
    seed: int
    quick: bool = False
    warmup: int = 2
    prime: bool = True
    min_sample_s: float = 1e-3
    threads: int | None = None

    def rng(self, *key: int) -> np.random.Generator:
        """A generator determined by the seed and ``key`` alone.

        Seeding each case from its own key keeps a case's inputs the same
        whether or not other cases run (``--resume``, other ``--sizes``).

        Examples
        --------
        >>> s = Settings(sizes=(3,), repeats=1, seed=7)
        >>> int(s.rng(3, 0).integers(100)) == int(s.rng(3, 0).integers(100))
        True
        """
        return np.random.default_rng([self.seed, *key])

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "sizes": list(self.sizes)}


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment: what it measures and how to report it.

    Each experiment module in :mod:`experiments` defines one of these as
    ``EXPERIMENT``; see that package's docstring for the fields in use.
    ``warmup`` (untimed calls per variant first) and ``prime`` (open each
    sample with an untimed call of its own variant) are the timing method;
    an experiment whose calls take seconds (a cluster's) sets ``warmup=1,
    prime=False``.
    """

    name: str
    title: str
    summary: str
    case_columns: tuple[Column, ...]
    variant_columns: tuple[Column, ...]
    cases: Callable[[Settings], Iterable[Case]]
    summarize: Callable[[Any], Any]
    conclude: Callable[[Any], str]
    plot: Callable[[Any, Any], None]
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    sizes_help: str
    size_range: tuple[int, int]
    repeats: int = 5
    quick_repeats: int = 2
    notes: str = ""
    in_suite: bool = True
    warmup: int = 2
    prime: bool = True

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every CSV column, in order: case, variant, then timing columns."""
        return self.case_columns + self.variant_columns + TIMING_COLUMNS

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a measured case."""
        return tuple(column.name for column in self.case_columns)
