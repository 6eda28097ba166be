"""What the bench tests share: one ``chainopt run --quick``, and no idle tails.

- :func:`quick_suite` runs ``chainopt run --quick --repeats 1`` once per session.
  The command's own tests (tests/bench/test_cli_experiments.py) check what it
  writes and prints; each in-suite experiment's tests read their quick run from
  it rather than measuring it again (the same settings as
  ``settings_for(experiment, quick=True, repeats=1)``). It is the real command,
  idle tail included. Tests that change its files work on :func:`copy_of_suite`.
- A run shorter than :data:`chainopt.machine.JUDGE_WINDOW_S` judges the load over
  an idle tail: the runner sleeps out the rest of the window (0.5 s). Tests of
  other things skip that sleep (:func:`_no_idle_tail`); the tail is still read, and
  the window's rules are tested with fake clocks in test_hardening.py. A test
  marked ``idle_tail`` keeps the real sleep.
"""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from chainopt import machine
from chainopt.bench import runner
from chainopt.cli import main


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "idle_tail: keep the runner's real idle tail (a short run sleeps it out)")


def pytest_collection_modifyitems(config, items):
    """Every test of the quick suite must be in a file that the root conftest.py's
    ``SHARED_QUICK_RUN`` names, or pytest-xdist would run the suite in two workers."""
    root = config.pluginmanager.get_plugin(str(config.rootpath / "conftest.py"))
    shared = getattr(root, "SHARED_QUICK_RUN", None)
    if shared is None:
        return
    for item in items:
        if "quick_suite" in getattr(item, "fixturenames", ()):
            path = item.nodeid.split("::", 1)[0]
            if path not in shared:
                raise pytest.UsageError(f"{path} uses quick_suite: add it to "
                                        "SHARED_QUICK_RUN in conftest.py")


@pytest.fixture(autouse=True)
def _no_idle_tail(request, monkeypatch):
    """The runner judges a short run's load without sleeping out the window."""
    if request.node.get_closest_marker("idle_tail") is None:
        monkeypatch.setattr(runner, "measure_load",
                            functools.partial(machine.measure_load, sleep=lambda seconds: None))


class Suite(NamedTuple):
    """A ``chainopt run`` into ``out``: its exit status and what it printed."""

    out: Path
    status: int
    lines: list[str]


@pytest.fixture(scope="session")
def quick_suite(tmp_path_factory) -> Suite:
    """``chainopt run --quick --repeats 1`` into a temporary directory, once."""
    out = tmp_path_factory.mktemp("suite")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["run", "--quick", "--repeats", "1", "--out", str(out)])
    return Suite(out, status, printed.getvalue().splitlines())


@pytest.fixture
def copy_of_suite(quick_suite, tmp_path) -> Path:
    """A copy of the quick suite's reports, for a test that changes them."""
    return Path(shutil.copytree(quick_suite.out, tmp_path / "suite"))
