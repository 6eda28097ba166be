"""The experiments behind ``chainopt run``, each defined once, here.

Every module in this package that defines ``EXPERIMENT`` (a
:class:`chainopt.bench.experiment.Experiment`) is an experiment, registered under its
``name`` (which must equal the module's name). ``chainopt list`` lists them,
``chainopt experiment NAME`` runs one, ``chainopt run`` runs those with
``in_suite=True``.

Adding an experiment
--------------------
Write one module, ``experiments/NAME.py``; nothing else needs editing. It
defines::

    EXPERIMENT = Experiment(
        name="NAME",
        title="One-line title of the report",
        summary="what it measures, one line for 'chainopt list'",
        case_columns=(Column("n", "int", "chain length"), ...),
        variant_columns=(Column("order", "str", "..."), Column("cost", "int", "...")),
        cases=cases,            # Settings -> iterable of Case
        summarize=summarize,    # DataFrame of the CSV -> DataFrame for the Markdown table
        conclude=conclude,      # DataFrame -> headline sentence computed from the data
        plot=plot,              # (DataFrame, matplotlib Figure) -> None, draws the figure
        sizes=(...), quick_sizes=(...),   # defaults of --sizes, full and --quick
        sizes_help="chain lengths n", size_range=(2, 200),
        repeats=5, quick_repeats=2,       # defaults of --repeats
        notes="fixed remarks on the method (never the conclusion)",
        in_suite=True,          # part of 'chainopt run'
    )

The interface, from :mod:`chainopt.bench.experiment`:

- ``cases(settings)`` yields :class:`~chainopt.bench.experiment.Case` objects, cheaply:
  ``Case(params, variants, compare=True)``. ``params`` gives a value for
  every case column and identifies the case (``--resume`` skips a case
  whose params are already in the CSV). ``variants()`` builds the inputs
  (draw them from ``settings.rng(*key)`` so the same seed gives the same
  inputs whatever else runs) and returns the
  :class:`~chainopt.bench.experiment.Variant` objects compared on them:
  ``Variant(values, run)``, where ``values`` fills the variant columns and
  ``run()`` does the timed work once. With ``compare=True`` the runner
  checks that every variant returns the same array.
  ``Case(..., elsewhere=f)`` has the case measured somewhere else (a child
  process with its own threads, say): ``f()`` returns its rows, timed there
  by :func:`chainopt.bench.runner.measure_case` (``frameworks`` does this).
- ``settings`` (:class:`~chainopt.bench.experiment.Settings`) carries ``sizes``,
  ``repeats``, ``seed`` and ``quick``.
- The runner times the variants of a case interleaved and appends
  :data:`~chainopt.bench.experiment.TIMING_COLUMNS` (median, quartiles, min, max per
  call, and the median "cold" first call of a sample, in seconds) to every
  row: one CSV row per (case, variant).
- ``summarize``, ``conclude`` and ``plot`` receive the CSV as a DataFrame
  with the declared dtypes and must work from it alone (``chainopt report``
  rebuilds reports from CSVs). Document the columns in the module
  docstring too.

numpy and chainopt may be imported at module level; pandas, scipy and
matplotlib only inside the functions that need them, so ``chainopt list``
stays quick.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["discover"]


def discover() -> dict:
    """Import every experiment module; return ``{name: Experiment}`` by name."""
    found = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        experiment = getattr(module, "EXPERIMENT", None)
        if experiment is None:
            continue
        if experiment.name != module_info.name:
            raise RuntimeError(f"experiments/{module_info.name}.py registers "
                               f"{experiment.name!r}; the names must match")
        found[experiment.name] = experiment
    return found
