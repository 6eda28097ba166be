"""Deprecated module paths from before the layered layout, kept importable.

``import chainopt.layers`` still works and gives :mod:`chainopt.jacobians.layers`,
with a :class:`DeprecationWarning` naming the new path. The aliases resolve
only when imported, so they cost ``import chainopt`` nothing.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

#: Old module path -> new module path.
MOVED = {
    "chainopt.shapes": "chainopt.validation",
    "chainopt.calibrate": "chainopt.timemodel.calibrate",
    "chainopt.layers": "chainopt.jacobians.layers",
    "chainopt.matrix_free": "chainopt.jacobians.matrix_free",
    "chainopt.elimination": "chainopt.graph.elimination",
    "chainopt.expression": "chainopt.graph.expression",
    "chainopt.drawing": "chainopt.graph.drawing",
    "chainopt.runner": "chainopt.bench.runner",
    "chainopt.timing": "chainopt.bench.timing",
    "chainopt.reports": "chainopt.bench.reports",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and hands out the module at its new one."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> Any:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already loaded."""


def install() -> None:
    """Put the alias finder on :data:`sys.meta_path` (once)."""
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.append(_Alias())
