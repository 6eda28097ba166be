"""Collection rules for the whole repository: tests, doctests and the README.

The framework adapters' modules import their framework at the top, so their
doctests are collected only where it is installed (CI installs JAX, never
torch); their tests skip themselves with ``pytest.importorskip``.

The whole suite (``pytest`` with no paths: the README's command) runs on every
core with pytest-xdist, which the test extra installs (:func:`pytest_cmdline_main`).
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


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """``-n auto --dist loadgroup`` for the whole suite, unless ``-n`` was given.

    ``loadgroup`` keeps the tests marked ``xdist_group`` (those of the shared
    ``chainopt run --quick``, tests/bench/conftest.py) in one worker. The workers
    parse the command line, not these settings: :func:`pytest_configure_node`
    tells them the mode.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: name the groups in the test ids
        if workerinput.get("chainopt_dist") == "loadgroup":
            config.option.loadgroup = True
        return
    if not config.pluginmanager.hasplugin("xdist"):
        return
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if config.option.numprocesses is None and whole_suite:
        config.option.numprocesses = "auto"
    if config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist, before a worker starts: pass it the distribution mode."""
    node.workerinput["chainopt_dist"] = node.config.option.dist
