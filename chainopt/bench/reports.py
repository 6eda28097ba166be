"""Reports: the CSV, Markdown and PNG files of experiments, and their index.

For an experiment called NAME, a directory of reports holds

- ``NAME.csv``: tidy, one row per measurement, the columns documented by
  the experiment (and listed in the Markdown);
- ``NAME.json``: the run's settings, environment and status;
- ``NAME.md``: the headline conclusion computed from the data, the plot, a
  pandas-rendered table, the method and the environment;
- ``NAME.png``: a matplotlib plot;
- ``README.md``: an index linking them all.

Every file is written atomically (a temporary file in the same directory,
flushed and fsynced, then :func:`os.replace`), so a crash or Ctrl-C leaves
either the old file or the new one, never a truncated one. The Markdown,
plots and index are derived from the CSV and JSON files alone, so
:func:`rebuild` (``chainopt report``) regenerates them.

pandas and matplotlib are imported here, at the edge of the package.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import ChainError
from ..machine import RULE, contention_note

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .experiment import Column, Experiment

__all__ = [
    "ReportError",
    "csv_path",
    "load_frame",
    "read_csv",
    "read_meta",
    "rebuild",
    "write_csv",
    "write_index",
    "write_meta",
    "write_report",
]

_DTYPES = {"int": "int64", "float": "float64", "str": "str", "bool": "bool"}


class ReportError(ChainError):
    """A report that cannot be written or read (a full disk, a damaged file)."""


# -- files --------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
    """Write ``path`` through a temporary file and :func:`os.replace`.

    An OS error (a read-only, immutable or full directory) leaves the old
    file as it was, removes the temporary one and becomes a :class:`ReportError`.
    """
    try:
        _replace(path, write, binary)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        name = errno.errorcode.get(exc.errno or 0, "")
        fix = ("free some space" if exc.errno == errno.ENOSPC else
               "choose a writable directory with --out")
        raise ReportError(f"cannot write {path}: {reason}{f' ({name})' if name else ''}; "
                          f"{fix} (the previous file, if any, is unchanged)") from None


def _replace(path: Path, write: Callable[[IO[Any]], object], binary: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would, not mkstemp's 0600
        handle: IO[Any]
        with (os.fdopen(fd, "wb") if binary else
              os.fdopen(fd, "w", encoding="utf-8", newline="")) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def csv_path(out: str | os.PathLike, name: str) -> Path:
    """Where the CSV of experiment ``name`` lives."""
    return Path(out) / f"{name}.csv"


def write_csv(out: str | os.PathLike, name: str, columns: Sequence[Column],
              rows: Sequence[Mapping[str, str]]) -> Path:
    """Write every row (already formatted as strings) atomically."""
    path = csv_path(out, name)
    names = [column.name for column in columns]

    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    _atomic_write(path, write)
    return path


def read_csv(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV, as strings (for ``--resume``).

    Raises
    ------
    ReportError
        If the file cannot be read, is not UTF-8 text or is not CSV.
    """
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = " ".join(str(exc).split())[:100]
        raise ReportError(f"{path} is not a readable UTF-8 CSV ({reason}); delete it, or "
                          f"measure it again without --resume") from None


def _meta_path(out: str | os.PathLike, name: str) -> Path:
    return Path(out) / f"{name}.json"


def write_meta(out: str | os.PathLike, name: str, meta: Mapping[str, Any]) -> None:
    """Write the run's settings, environment and status as JSON."""
    text = json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n"
    _atomic_write(_meta_path(out, name), lambda handle: handle.write(text))


#: The parts of a run's JSON that must be objects (a damaged one reads as empty).
_META_OBJECTS = ("settings", "environment", "load")


def read_meta(out: str | os.PathLike, name: str) -> dict[str, Any]:
    """The run's JSON, or ``{}`` when there is none (or it is unreadable).

    A JSON that is not an object reads as ``{}``; ``settings``,
    ``environment`` and ``load`` that are not objects read as ``{}``, and a
    ``status`` that is not a string as ``"unknown"``, so a damaged file
    never stops a report.
    """
    try:
        with open(_meta_path(out, name), encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(meta, dict):
        return {}
    for key in _META_OBJECTS:
        if key in meta and not isinstance(meta[key], dict):
            meta[key] = {}
    if not isinstance(meta.get("status", ""), str):
        meta["status"] = "unknown"
    return meta


def load_frame(out: str | os.PathLike, experiment: Experiment) -> pd.DataFrame:
    """Read ``NAME.csv`` into a DataFrame with the documented dtypes."""
    import pandas as pd

    path = csv_path(out, experiment.name)
    header, _ = read_csv(path)
    expected = [column.name for column in experiment.columns]
    if header != expected:
        raise ChainError(f"{path} has columns {', '.join(header) or 'none'}; "
                         f"{experiment.name} writes {', '.join(expected)}; measure it again "
                         f"with 'chainopt experiment {experiment.name}'")
    dtypes = {column.name: _DTYPES[column.dtype] for column in experiment.columns}
    try:
        return pd.read_csv(path, dtype=dtypes)
    except (ValueError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())
        raise ChainError(f"{path} is damaged ({reason}); measure it again with "
                         f"'chainopt experiment {experiment.name} --resume'") from None


# -- one report -------------------------------------------------------------
def format_value(value: Any) -> str:
    """A table cell: ints with thousands separators, floats to 3 significant digits.

    Examples
    --------
    >>> [format_value(v) for v in (15125, 0.012345, 5457.18, float("nan"), True, "ab")]
    ['15,125', '0.0123', '5,457', 'n/a', 'True', 'ab']
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    value = float(value)  # type: ignore[arg-type]  # a Real, which has __float__
    if value != value:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (via tabulate), numbers right-aligned."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    align = ["right" if is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c]) else "left"
             for c in frame.columns]
    text = frame.map(format_value)
    return text.to_markdown(index=False, disable_numparse=True, colalign=align)


def _columns_table(columns: Sequence[Column]) -> str:
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.description} |" for c in columns]
    return "\n".join(lines)


def environment_table(env: Mapping[str, Any]) -> str:
    """The environment block of a report, as a Markdown table.

    Examples
    --------
    >>> print(environment_table({"numpy": "2.1.0", "blas_threads": 2}))
    | | |
    |---|---|
    | numpy | 2.1.0 |
    | blas_threads | 2 |
    """
    if not env:
        return "Not recorded (no NAME.json beside the CSV)."
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in env.items()]
    return "\n".join(lines)


def _rerun_command(name: str, settings: Mapping[str, Any]) -> str:
    parts = ["chainopt experiment", name]
    if settings.get("quick"):
        parts.append("--quick")
    if isinstance(settings.get("sizes"), list):
        parts.append("--sizes " + ",".join(str(s) for s in settings["sizes"]))
    for option in ("repeats", "seed", "threads"):
        if settings.get(option) is not None:
            parts.append(f"--{option} {settings[option]}")
    return " ".join(parts)


def _number(value: Any, default: Any) -> Any:
    """A number from a run's JSON, or ``default`` when it is not one."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def load_table(load: Mapping[str, Any]) -> str:
    """The machine's load during the run (:mod:`chainopt.machine`), as Markdown.

    Examples
    --------
    >>> print(load_table({"cores": 2, "load_before": [0.5, 0.4, 0.3], "other_cores": 0.1,
    ...                   "steal_percent": 0.0, "contended": False}))
    | | |
    |---|---|
    | cores | 2 |
    | load_before | 0.5, 0.4, 0.3 |
    | other_cores | 0.1 |
    | steal_percent | 0.0 |
    | contended | no |
    """
    if not load:
        return "Not recorded (a report from before chainopt recorded the load)."
    lines = ["| | |", "|---|---|"]
    for key, value in load.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"| {key} | {str(value).replace('|', '/')} |")
    return "\n".join(lines)


def headline(experiment: Experiment, frame: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    """The report's headline: contention first (if any), then the experiment's conclusion.

    The run's settings go to ``frame.attrs["settings"]`` so that the
    conclusion can tell a ``--quick`` run (:func:`chainopt.bench.claims.target`).
    """
    if not len(frame):
        return "No measurements yet."
    frame.attrs["settings"] = dict(meta.get("settings", {}))
    return contention_note(meta.get("load")) + experiment.conclude(frame)


_PRIMED = ("Each sample opens with one call of its own variant, timed apart "
           "(`time_cold_median_s`: the first call right after another variant, which pays "
           "the page faults and cache misses that variant left), so the sample measures the "
           "variant's steady state.")
_UNPRIMED = ("Samples are not primed (each call takes long enough): a sample is one call "
             "right after another variant's, and `time_cold_median_s` is NaN.")


def _method(experiment: Experiment, meta: Mapping[str, Any], rows: int) -> str:
    name, settings = experiment.name, meta.get("settings", {})
    status = meta.get("status", "unknown")
    warmup = _number(settings.get("warmup"), 1)
    sample_ms = 1e3 * _number(settings.get("min_sample_s"), float("nan"))
    text = [
        "Every variant of a case runs on the same inputs. Each is first called "
        f"{'once' if warmup == 1 else f'{warmup} times'} untimed (warm-up; where variants "
        "compute the same product, the results are checked to agree; the fastest call "
        "after the first, which may pay one-off costs, sets how many consecutive calls, `loops`, "
        f"make a sample of at least {sample_ms:g} ms). Then "
        f"{settings.get('repeats', '?')} rounds each take one sample of every variant, "
        "in a fresh seeded random order, so drift hits all alike and no variant always "
        "follows the same neighbour. "
        + (_PRIMED if settings.get("prime", True) else _UNPRIMED) + " Clock: "
        "`time.perf_counter_ns`, garbage collector off. Reported: the median per call, the "
        "quartiles (IQR) and min/max.",
        "",
        f"Sizes (`--sizes`): {experiment.sizes_help}. Rerun: "
        f"`{_rerun_command(name, settings)}` (add `--resume` to keep measured rows).",
    ]
    if status != "complete":
        text += ["", f"**This run is {status}:** {rows} rows so far; "
                 "`--resume` measures the rest."]
    return "\n".join(text)


def markdown(experiment: Experiment, frame: pd.DataFrame, meta: Mapping[str, Any],
             headline: str) -> str:
    """The text of ``NAME.md``."""
    name = experiment.name
    parts = [f"# {experiment.title}", "", headline, ""]
    if len(frame):
        parts += [f"![{experiment.title}]({name}.png)", "",
                  "## Results", "", markdown_table(experiment.summarize(frame)), ""]
    if experiment.notes:
        parts += ["## Notes", "", experiment.notes.strip(), ""]
    parts += ["## Method", "", _method(experiment, meta, len(frame)), "",
              "## Environment", "", environment_table(meta.get("environment", {})), "",
              "## Machine load", "", load_table(meta.get("load", {})), "", RULE, "",
              f"## Data: `{name}.csv`", "",
              "One row per measurement (one variant of one case). Columns:", "",
              _columns_table(experiment.columns), ""]
    return "\n".join(parts)


def _write_plot(experiment: Experiment, frame: pd.DataFrame, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5.5), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no global pyplot state
    experiment.plot(frame, figure)
    _atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=110),
                  binary=True)


def write_report(experiment: Experiment, out: str | os.PathLike) -> str:
    """Write ``NAME.md`` and ``NAME.png`` from ``NAME.csv``; return the headline."""
    out = Path(out)
    frame = load_frame(out, experiment)
    meta = read_meta(out, experiment.name)
    text = headline(experiment, frame, meta)
    if len(frame):
        _write_plot(experiment, frame, out / f"{experiment.name}.png")
    page = markdown(experiment, frame, meta, text)
    _atomic_write(out / f"{experiment.name}.md", lambda handle: handle.write(page))
    return text


# -- the index --------------------------------------------------------------
def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def write_index(out: str | os.PathLike, experiments: Mapping[str, Experiment]) -> Path:
    """Write ``README.md``: one line per experiment whose CSV exists."""
    out = Path(out)
    lines = [
        "# Reports", "",
        "Measured by `chainopt run` (the default suite) or `chainopt experiment NAME`; "
        "`chainopt report` rebuilds the Markdown and plots from the CSVs. Each report "
        "records the environment it was measured in.", "",
        "| experiment | what it measures | headline | measured | files |",
        "|---|---|---|---|---|",
    ]
    walls: dict[str, float | None] = {}  # the suite's run times, None where not recorded
    for name, experiment in experiments.items():
        if not csv_path(out, name).exists():
            continue
        meta = read_meta(out, name)
        text = _index_headline(experiment, out, meta)
        when = str(meta.get("environment", {}).get("date", "?"))[:10]
        status = "" if meta.get("status", "complete") == "complete" else f" ({meta['status']})"
        wall = _number(meta.get("load", {}).get("wall_s"), None)
        if experiment.in_suite:
            walls[name] = wall
        if wall is not None:
            when += f", {wall:.0f} s"
        lines.append(f"| [{name}]({name}.md) | {_cell(experiment.summary)} | "
                     f"{_cell(text)} | {when}{status} | "
                     f"[csv]({name}.csv) · [plot]({name}.png) |")
    lines += _duration_lines(walls)
    path = out / "README.md"
    text = "\n".join(lines) + "\n"
    _atomic_write(path, lambda handle: handle.write(text))
    return path


def _duration_lines(walls: Mapping[str, float | None]) -> list[str]:
    """How long the suite's runs took: a total only when every run recorded its time.

    Examples
    --------
    >>> _duration_lines({"a": 60.0, "b": 90.0})
    ['', "The experiments of `chainopt run` took 2.5 min in all (each run's time is in its row)."]
    >>> print(_duration_lines({"a": 60.0, "b": None})[1])
    Run times are recorded for 1 of the 2 experiments of `chainopt run` (a: 1.0 min); the
    others were measured before chainopt recorded them.
    """
    known = {name: wall for name, wall in walls.items() if wall is not None}
    if not known:
        return []
    total = sum(known.values()) / 60
    if len(known) == len(walls):
        return ["", f"The experiments of `chainopt run` took {total:.1f} min in all (each "
                "run's time is in its row)."]
    return ["", f"Run times are recorded for {len(known)} of the {len(walls)} experiments of "
            f"`chainopt run` ({', '.join(known)}: {total:.1f} min); the others were measured "
            "before chainopt recorded them."]


#: What a damaged but parseable CSV raises inside an experiment's conclusion.
_DAMAGE = (ChainError, ValueError, KeyError, IndexError, TypeError, AttributeError,
           ZeroDivisionError)


def _index_headline(experiment: Experiment, out: Path, meta: Mapping[str, Any]) -> str:
    """The headline for the index; a damaged CSV gets a line saying so, not a crash."""
    try:
        return headline(experiment, load_frame(out, experiment), meta)
    except _DAMAGE as exc:  # a stale or damaged CSV: say so, index the others
        reason = " ".join(str(exc).split())[:160]
        return (f"Not readable: {reason} (measure it again with 'chainopt experiment "
                f"{experiment.name}')")


def rebuild(out: str | os.PathLike, experiments: Mapping[str, Experiment]) -> list[str]:
    """Rewrite every report whose CSV exists in ``out``, and the index.

    Returns the names of the experiments rebuilt.
    """
    names = [name for name in experiments if csv_path(out, name).exists()]
    rebuilt, problems = [], []
    for name in names:
        try:
            write_report(experiments[name], out)
            rebuilt.append(name)
        except ChainError as exc:  # one bad CSV must not stop the others
            problems.append(str(exc))
        except _DAMAGE as exc:  # readable, but not a whole run
            reason = " ".join(str(exc).split())[:120]
            problems.append(f"{csv_path(out, name)} is damaged or incomplete ({reason}); "
                            f"measure it again with 'chainopt experiment {name} --resume'")
    if rebuilt:
        write_index(out, experiments)
    if problems:
        done = f"rebuilt {', '.join(rebuilt)}; " if rebuilt else ""
        raise ChainError(done + "; ".join(problems))
    return names
