"""What a headline may claim: differences beyond the noise, and targets judged fairly.

Every experiment's headline states its comparisons through :func:`difference`
and its targets through :func:`target`, so that all reports follow the same
rules:

- Two timed variants differ measurably only when their interquartile ranges
  (first to third quartile of the samples) do not overlap. Otherwise the
  headline says "no measurable difference", never "3% slower": with the 5 to
  21 samples of these experiments, a gap inside the IQRs is within what
  another run on the same machine would reverse.
- A ``--quick`` run measures small sizes with few repeats to check that the
  pipeline works; it judges no target (:func:`target` returns ""), and a
  target over a range of sizes is judged only when the run measured that
  whole range.
- Headlines name targets by what they ask ("target ≥ 10×"); the README says
  where each target comes from.

The report adds the run's settings to ``frame.attrs["settings"]`` before it
calls an experiment's ``conclude``; :func:`is_quick` reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["difference", "is_quick", "outcome", "percent", "ratio_text", "target"]

_Q1, _MEDIAN, _Q3 = "time_q1_s", "time_median_s", "time_q3_s"


def ratio_text(value: float) -> str:
    """A ratio as people say it: 1.3×, 12×, 1,200× (two significant digits below 10).

    Examples
    --------
    >>> [ratio_text(v) for v in (1.3, 9.96, 12.4, 1234.0, 0.4, 0.004, float("nan"))]
    ['1.3×', '10×', '12×', '1,234×', '0.4×', '0.004×', 'n/a']
    """
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.2g}×" if value < 9.5 else f"{value:,.0f}×"


def percent(value: float) -> str:
    """A fraction as a whole percentage.

    Examples
    --------
    >>> percent(0.084), percent(float("inf"))
    ('8%', 'n/a')
    """
    return "n/a" if not math.isfinite(value) else f"{100 * value:.0f}%"


def _times(row: Any) -> tuple[float, float, float]:
    """(q1, median, q3) of a row, a Series or a one-row DataFrame."""
    if hasattr(row, "iloc") and getattr(row, "ndim", 1) == 2:
        row = row.iloc[0]
    return float(row[_Q1]), float(row[_MEDIAN]), float(row[_Q3])


def outcome(a: Any, b: Any) -> int:
    """+1 if ``a`` is measurably faster than ``b``, -1 if slower, 0 within the noise.

    ``a`` and ``b`` are rows of an experiment's frame (``time_q1_s``,
    ``time_median_s``, ``time_q3_s``).

    Examples
    --------
    >>> fast = {"time_q1_s": 1.0, "time_median_s": 1.1, "time_q3_s": 1.2}
    >>> slow = {"time_q1_s": 2.0, "time_median_s": 2.2, "time_q3_s": 2.5}
    >>> noisy = {"time_q1_s": 1.1, "time_median_s": 1.5, "time_q3_s": 2.1}
    >>> outcome(fast, slow), outcome(slow, fast), outcome(fast, noisy)
    (1, -1, 0)
    """
    a_q1, _, a_q3 = _times(a)
    b_q1, _, b_q3 = _times(b)
    if a_q3 < b_q1:
        return 1
    if b_q3 < a_q1:
        return -1
    return 0


def difference(a: Any, b: Any) -> str:
    """``a`` against ``b``: "2.5× faster", "8% slower" or "no measurable difference".

    The ratio is of the medians; it is stated only when the interquartile
    ranges do not overlap (:func:`outcome`). Below 1.5× it is a percentage.

    Examples
    --------
    >>> fast = {"time_q1_s": 1.0, "time_median_s": 1.1, "time_q3_s": 1.2}
    >>> slow = {"time_q1_s": 2.0, "time_median_s": 2.2, "time_q3_s": 2.5}
    >>> near = {"time_q1_s": 1.25, "time_median_s": 1.3, "time_q3_s": 1.35}
    >>> difference(fast, slow), difference(slow, fast), difference(near, fast)
    ('2× faster', '2× slower', '18% slower')
    >>> difference(fast, {"time_q1_s": 1.15, "time_median_s": 1.3, "time_q3_s": 1.4})
    'no measurable difference'
    """
    sign = outcome(a, b)
    if sign == 0:
        return "no measurable difference"
    ratio = _times(b)[1] / _times(a)[1]
    if sign < 0:
        ratio = 1 / ratio
    word = "faster" if sign > 0 else "slower"
    return f"{ratio_text(ratio)} {word}" if ratio >= 1.5 else f"{percent(ratio - 1)} {word}"


def is_quick(frame: Any) -> bool:
    """Whether the frame's run was a ``--quick`` one (see the module).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame()
    >>> frame.attrs["settings"] = {"quick": True}
    >>> is_quick(frame), is_quick(pd.DataFrame())
    (True, False)
    """
    settings = getattr(frame, "attrs", {}).get("settings")
    return bool(settings.get("quick")) if isinstance(settings, Mapping) else False


def target(frame: Any, label: str, met: bool, covered: bool = True) -> str:
    """The verdict on one target: "target LABEL: met", "not met", or "" for --quick.

    ``covered=False`` says the run did not measure everything the target is
    about (e.g. sizes up to 40 for a target up to 400): the verdict is then
    "not judged".

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame()
    >>> target(frame, "≥ 10×", True), target(frame, "≤ 1 s", False, covered=False)
    ('target ≥ 10×: met', 'target ≤ 1 s: not judged (the run did not measure all it covers)')
    >>> frame.attrs["settings"] = {"quick": True}
    >>> target(frame, "≥ 10×", True)
    ''
    """
    if is_quick(frame):
        return ""
    if not covered:
        return f"target {label}: not judged (the run did not measure all it covers)"
    return f"target {label}: {'met' if met else 'not met'}"
