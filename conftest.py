"""Collection rules for the whole repository: tests, doctests and the README.

The framework adapters' modules import their framework at the top, so their
doctests are collected only where it is installed (CI installs JAX, never
torch); their tests skip themselves with ``pytest.importorskip``.
"""

import importlib.util


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
