"""The experiment bench: what an experiment is, how it is timed, run and reported.

The modules, bottom up: :mod:`~chainopt.bench.experiment` (the declarative
types every experiment module uses), :mod:`~chainopt.bench.timing`
(interleaved timing and the environment a report records),
:mod:`~chainopt.bench.reports` (CSV, Markdown, plots, index; pandas and
matplotlib are imported only here) and :mod:`~chainopt.bench.runner`
(settings, resumable runs). The experiments themselves live in
:mod:`chainopt.experiments`; the command line wires the two together.
"""
