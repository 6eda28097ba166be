"""Time models on disk: the per-machine cache, model files and their validation.

Models live as JSON in the user's cache directory, one file per machine
fingerprint (CPU model, BLAS vendor, architecture, version and threads, see
:func:`fingerprint`); a changed fingerprint finds no file and falls back to
:data:`chainopt.timemodel.DEFAULT_MODEL`. :func:`load_model` resolves which
model applies. Every file is validated as it is read
(:func:`model_from_dict`): a wrong value is a :class:`~chainopt.ChainError`
naming the file, the field, what was expected and the fix. A damaged
*cache* file is ignored with a :class:`CacheWarning` (every ``minimize="time"``
plan would fail otherwise); a file the user named is an error.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import platform
import stat
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ChainError, ChainTypeError
from ..kernels import KERNELS
from .model import DEFAULT_MODEL, FRESH_FROM, OLD_THIN, PADS, THIN, KernelTime, TimeModel

__all__ = ["CacheWarning", "ENV_CACHE_DIR", "ENV_MODEL", "MAX_FILE_BYTES", "cache_dir",
           "cache_path", "cached_model", "check_writable", "cpu_model", "fingerprint",
           "load_model", "model_from_dict", "read_model", "save_model"]

#: Environment variable naming a model file to use instead of the cache.
ENV_MODEL = "CHAINOPT_TIME_MODEL"

#: Environment variable overriding the cache directory (tests use it).
ENV_CACHE_DIR = "CHAINOPT_CACHE_DIR"

#: A model file is a few kilobytes; anything larger is not one.
MAX_FILE_BYTES = 1 << 20

#: The fix every message about a bad file suggests.
_FIX = "fix the file, or recreate it with 'chainopt calibrate'"


class CacheWarning(UserWarning):
    """This machine's cached time model is damaged and was ignored."""


# -- the machine ----------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def _blas_controller():
    import scipy.linalg.blas  # noqa: F401  (load SciPy's BLAS too: a stable list)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def fingerprint() -> dict[str, Any]:
    """What a calibration depends on: CPU model, BLAS libraries and threads.

    Examples
    --------
    >>> sorted(fingerprint())
    ['blas', 'cpu', 'machine']
    """
    blas = sorted(
        (
            {
                "vendor": lib.internal_api,
                "architecture": getattr(lib, "architecture", None),
                "version": lib.version,
                "threads": lib.num_threads,
            }
            for lib in _blas_controller().lib_controllers
            if lib.user_api == "blas"
        ),
        key=lambda entry: json.dumps(entry, sort_keys=True),
    )
    return {"cpu": cpu_model(), "machine": platform.machine(), "blas": blas}


def _fingerprint_key(print_: Mapping) -> str:
    text = json.dumps(print_, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- validation -----------------------------------------------------------------
def _number(value: Any, where: str, field: str, what: str, positive: bool = False) -> float:
    """``value`` as a finite float (non-negative, or positive), else a ChainError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        ok = ok and math.isfinite(value) and (value > 0 if positive else value >= 0)
    except OverflowError:  # an int beyond float
        ok = False
    if not ok:
        sign = "positive" if positive else "non-negative"
        raise ChainError(f"time model {where}: {field} must be a finite {sign} number "
                         f"({what}); got {value!r}; {_FIX}")
    return float(value)


def _numbers(value: Any, where: str, field: str, lengths: tuple[int, ...], what: str,
             positive: bool = False) -> tuple[float, ...]:
    """A list of numbers of one of ``lengths``, each checked by :func:`_number`."""
    if not isinstance(value, (list, tuple)) or len(value) not in lengths:
        expected = " or ".join(str(length) for length in lengths)
        raise ChainError(f"time model {where}: {field} must be a list of {expected} numbers "
                         f"({what}); got {value!r}; {_FIX}")
    return tuple(_number(v, where, f"{field}[{i}]", what, positive) for i, v in enumerate(value))


_UNITS = {"overhead": "seconds per call", "per_madd": "seconds per multiply-add",
          "per_byte_read": "seconds per byte", "per_byte_written": "seconds per byte",
          "cache_bytes": "bytes", "beyond_cache": "a factor", "ramp": "a factor",
          "ramp_work": "multiply-adds", "overlap": "an exponent above 1, minus 1",
          "write_cache_bytes": "bytes", "write_beyond_cache": "a factor",
          "read_norm": "an exponent, 0 for the maximum",
          "left_read": "a factor, minus 1", "row_vector": "a factor, minus 1",
          "small_write": "a factor, minus 1"}


def _kernel_from_dict(name: str, params: Any, where: str) -> KernelTime:
    field = f"kernels.{name}"
    if not isinstance(params, dict):
        raise ChainError(f"time model {where}: {field} must be an object of parameters; "
                         f"got {params!r}; {_FIX}")
    unknown = sorted(set(params) - {f.name for f in dataclasses.fields(KernelTime)})
    if unknown or "overhead" not in params:
        problem = f"unknown fields {unknown}" if unknown else "no 'overhead'"
        raise ChainError(f"time model {where}: {field} has {problem}; expected "
                         f"{sorted(_UNITS)}, 'pads' and 'thin'; {_FIX}")
    values = {key: _number(params[key], where, f"{field}.{key}", unit)
              for key, unit in _UNITS.items() if key in params}
    if "write_cache_bytes" not in params:  # format 1: one knee for reads and writes
        values["write_cache_bytes"] = values.get("cache_bytes", 0.0)
        values["write_beyond_cache"] = values.get("beyond_cache", 0.0)
    pads = _numbers(params.get("pads", []), where, f"{field}.pads", (PADS[name],),
                    "the padding of each dimension")
    lengths = (0, OLD_THIN, 2 * OLD_THIN, len(THIN), 2 * len(THIN)) if name == "gemm" else (0,)
    thin = _numbers(params.get("thin", []), where, f"{field}.thin", lengths,
                    f"a factor per thin size {THIN[0]}-{THIN[-1]}", positive=True)
    return KernelTime(**values, pads=pads, thin=thin)


def model_from_dict(data: Any, source: str | None = None, where: str = "data") -> TimeModel:
    """A :class:`TimeModel` from its :meth:`~TimeModel.to_dict` form, every field checked.

    Raises
    ------
    ChainError
        Naming ``where`` (the file), the field, what was expected and the fix.

    Examples
    --------
    >>> model_from_dict(DEFAULT_MODEL.to_dict()).kernels == DEFAULT_MODEL.kernels
    True
    >>> bad = DEFAULT_MODEL.to_dict()
    >>> bad["kernels"]["gemv"]["per_byte_read"] = float("nan")
    >>> model_from_dict(bad, where="m.json")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: time model m.json: kernels.gemv.per_byte_read must be a \
finite non-negative number (seconds per byte); got nan; fix the file, or recreate it with \
'chainopt calibrate'
    """
    if not isinstance(data, dict) or not isinstance(data.get("kernels"), dict):
        got = type(data).__name__ if not isinstance(data, dict) else "no 'kernels' object"
        raise ChainError(f"time model {where}: not a chainopt time model (a JSON object with "
                         f"'kernels'); got {got}; {_FIX}")
    if data.get("format", 1) not in (1, 2):
        raise ChainError(f"time model {where}: format must be 1 or 2; got "
                         f"{data.get('format')!r}; {_FIX}")
    kernels = data["kernels"]
    missing, unknown = sorted(set(KERNELS) - set(kernels)), sorted(set(kernels) - set(KERNELS))
    if missing or unknown:
        raise ChainError(f"time model {where}: kernels must be exactly {sorted(KERNELS)}; "
                         f"missing {missing}, unknown {unknown}; {_FIX}")
    for key in ("fingerprint", "quality"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ChainError(f"time model {where}: {key} must be an object or null; got "
                             f"{data[key]!r}; {_FIX}")
    return TimeModel(
        {name: _kernel_from_dict(name, kernels[name], where) for name in KERNELS},
        source or str(data.get("source", "file")), data.get("fingerprint"),
        _number(data.get("first_touch", 0.0), where, "first_touch", "seconds per byte"),
        _number(data.get("fresh_from", FRESH_FROM), where, "fresh_from", "bytes"),
        data.get("quality"))


# -- files ----------------------------------------------------------------------
def read_model(path: str | os.PathLike) -> TimeModel:
    """A model from a JSON file, whatever machine it was made on.

    Only a regular file of at most :data:`MAX_FILE_BYTES` is read (a device
    such as ``/dev/zero`` would never end).
    """
    where = repr(str(path))
    try:
        with open(path, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ChainError(f"time model {where} is not a regular file; give the path "
                                 "of a JSON file written by 'chainopt calibrate'")
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ChainError(f"cannot read the time model {where}: {exc.strerror or exc}; give "
                         "the path of a JSON file written by 'chainopt calibrate'") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ChainError(f"time model {where} is larger than {MAX_FILE_BYTES} bytes, so not a "
                         f"time model; {_FIX}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChainError(f"cannot read the time model {where}: not JSON ({exc}); "
                         f"{_FIX}") from None
    return model_from_dict(data, source=str(path), where=where)


def _write_error(target: Path, exc: OSError) -> ChainError:
    reason = exc.strerror or str(exc)
    return ChainError(f"cannot write the time model to {str(target)!r}: {reason}; give a "
                      f"writable file with --output, or set ${ENV_CACHE_DIR} to a writable "
                      "directory")


def _target(path: str | os.PathLike | None, model: TimeModel | None = None) -> Path:
    target = Path(path) if path is not None else cache_path(
        model.fingerprint if model is not None else None)
    if target.is_dir():
        raise ChainError(f"cannot write the time model to {str(target)!r}: it is a directory; "
                         f"give a file name such as {str(target / 'timemodel.json')!r}")
    return target


def _write_atomically(target: Path, text: str) -> None:
    """Write through a temporary file in the same directory, removed if anything fails."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp")
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _write_error(target, exc) from None


def check_writable(path: str | os.PathLike | None = None) -> Path:
    """Where :func:`save_model` would write, after checking it can (nothing is left behind).

    ``chainopt calibrate`` calls it before a minute of measuring.
    """
    target = _target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        raise _write_error(target, exc) from None
    return target


def save_model(model: TimeModel, path: str | os.PathLike | None = None) -> Path:
    """Write ``model`` as JSON (atomically); default: this machine's cache file."""
    target = _target(path, model)
    _write_atomically(target, json.dumps(model.to_dict(), indent=2) + "\n")
    return target


# -- the cache, and which model applies -----------------------------------------
def cache_dir() -> Path:
    """``$CHAINOPT_CACHE_DIR``, else ``platformdirs.user_cache_dir("chainopt")``."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("chainopt"))


def cache_path(print_: Mapping | None = None) -> Path:
    """The cache file of a fingerprint (default: this machine's)."""
    key = _fingerprint_key(fingerprint() if print_ is None else print_)
    return cache_dir() / f"timemodel-{key}.json"


def cached_model() -> TimeModel | None:
    """This machine's calibrated model, or None if there is none (or it is stale).

    A file whose recorded fingerprint differs from the machine's (another
    CPU, BLAS or thread count) is ignored; so is a damaged one, with a
    :class:`CacheWarning` that names it and the fix.
    """
    current = fingerprint()
    path = cache_path(current)
    if not path.exists():
        return None
    try:
        model = read_model(path)
    except ChainError as exc:
        warnings.warn(f"ignored this machine's damaged time-model cache ({exc}); planning "
                      f"with the default model; run 'chainopt calibrate' to rebuild it, or "
                      f"delete {str(path)!r}", CacheWarning, stacklevel=3)
        return None
    return model if model.fingerprint == current else None


def load_model(model: TimeModel | str | os.PathLike | None = None) -> TimeModel:
    """The time model that applies, in order of precedence.

    1. ``model`` itself, or the JSON file it names;
    2. the file named by ``$CHAINOPT_TIME_MODEL``;
    3. this machine's cached calibration (``chainopt calibrate``);
    4. :data:`DEFAULT_MODEL`.

    Examples
    --------
    >>> load_model(DEFAULT_MODEL) is DEFAULT_MODEL
    True
    """
    if isinstance(model, TimeModel):
        return model
    if model is not None:
        if not isinstance(model, (str, os.PathLike)):
            raise ChainTypeError(
                f"time_model must be a TimeModel or the path of a JSON model; got "
                f"{type(model).__name__}"
            )
        return read_model(model)
    if os.environ.get(ENV_MODEL):
        return read_model(os.environ[ENV_MODEL])
    return cached_model() or DEFAULT_MODEL
