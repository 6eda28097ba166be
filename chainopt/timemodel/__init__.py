"""The time model: predicted seconds of each kernel, fitted on the machine.

- :mod:`chainopt.timemodel.model`: the prediction (:class:`TimeModel`,
  :class:`KernelTime`, :data:`DEFAULT_MODEL`) and its formula;
- :mod:`chainopt.timemodel.fit`: least-squares fitting to measured seconds;
- :mod:`chainopt.timemodel.store`: the per-machine cache, model files and
  their validation, and which model applies (:func:`load_model`);
- :mod:`chainopt.timemodel.calibrate`: ``chainopt calibrate``'s measuring.

Every public name of these modules is available here too. Only the model
is imported with the package: planning with ``minimize="multiplications"``
never loads the cache's I/O or SciPy; the other names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .model import (
    DEFAULT_MODEL,
    FRESH_FROM,
    ITEMSIZE,
    PADS,
    THIN,
    THIN_FACTORS,
    KernelTime,
    TimeModel,
)

#: Names loaded from a submodule on first use.
_LAZY = {
    **dict.fromkeys(["FITTED", "MIN_POINTS", "fit_kernel", "fit_model", "kernel_errors"],
                    "fit"),
    **dict.fromkeys(["CacheWarning", "ENV_CACHE_DIR", "ENV_MODEL", "MAX_FILE_BYTES",
                     "cache_dir", "cache_path", "cached_model", "check_writable", "cpu_model",
                     "fingerprint", "load_model", "model_from_dict", "read_model",
                     "save_model"], "store"),
}

__all__ = ["DEFAULT_MODEL", "FRESH_FROM", "ITEMSIZE", "PADS", "THIN", "THIN_FACTORS",
           "KernelTime", "TimeModel", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
