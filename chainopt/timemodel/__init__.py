"""The time model: predicted seconds per kernel, fitted on this machine.

:mod:`~chainopt.timemodel.model` predicts, fits and stores models;
:mod:`~chainopt.timemodel.calibrate` times the kernels for
``chainopt calibrate``. ``plan_chain(minimize="time")`` loads the model that
applies (:func:`load_model`).
"""

from .model import (
    DEFAULT_MODEL,
    ENV_CACHE_DIR,
    ENV_MODEL,
    KernelTime,
    TimeModel,
    cache_dir,
    cache_path,
    fingerprint,
    fit_kernel,
    fit_model,
    load_model,
    save_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "ENV_CACHE_DIR",
    "ENV_MODEL",
    "KernelTime",
    "TimeModel",
    "cache_dir",
    "cache_path",
    "fingerprint",
    "fit_kernel",
    "fit_model",
    "load_model",
    "save_model",
]
