"""Collection rules for the whole repository: tests, doctests and the README.

The framework adapters' modules import their framework at the top, so their
doctests are collected only where it is installed (CI installs JAX, never
torch); their tests skip themselves with ``pytest.importorskip``.

The whole suite (``pytest`` with no paths: the README's command) runs on every
core with pytest-xdist, which the test extra installs (:func:`pytest_cmdline_main`,
:func:`pytest_xdist_make_scheduler`).
A run of chosen files, ``-n 0``, ``-p no:xdist`` or an environment without
pytest-xdist runs in one process, as before.
"""

import importlib.util

import pytest


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules
        return False


collect_ignore = [
    path
    for framework in ("jax", "torch")
    if not _installed(framework)
    for path in (f"chainopt/jacobians/{framework}.py", f"chainopt/{framework}.py")
]


#: The test files that read the one ``chainopt run --quick`` of a session
#: (``quick_suite``, tests/bench/conftest.py, which checks this list): pytest-xdist
#: gives them all to one worker, so the run happens once.
SHARED_QUICK_RUN = frozenset({
    "tests/bench/test_cli_experiments.py",
    "tests/bench/test_dask_experiment.py",
    "tests/bench/test_experiments.py",
    "tests/bench/test_frameworks_experiment.py",
})


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """``-n auto --dist loadgroup`` for the whole suite, unless ``-n`` was given."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if config.option.numprocesses is None and whole_suite:
        config.option.numprocesses = "auto"
    if config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "loadgroup"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``loadgroup``, with the files of :data:`SHARED_QUICK_RUN` as one more group.

    The group is named here, from the test ids, rather than by ``xdist_group``
    marks: pytest-xdist 3.8 cannot apply those with pytest 9.2 (pytest-xdist
    issue 1386), and the tests would then run the quick suite in every worker.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedRunScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.split("::", 1)[0] in SHARED_QUICK_RUN:
                return "quick_suite"
            return super()._split_scope(nodeid)

    return SharedRunScheduling(config, log)
