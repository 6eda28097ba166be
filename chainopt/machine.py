"""How busy the machine was while something was measured, and whether that was contention.

Shared by the experiment runner (:mod:`chainopt.bench`) and ``chainopt calibrate``
(:mod:`chainopt.timemodel.calibrate`), so it sits low in the layers and uses
the standard library only.

A report records, from before and after the run (:func:`snapshot`,
:func:`load_record`):

- the load averages (``os.getloadavg``);
- the CPU time the whole machine spent, from ``/proc/stat`` (Linux), and
  the part of it that the hypervisor gave to other guests (*steal*);
- this run's own CPU time: this process (all its threads, BLAS included)
  and every process it started (a Dask ``LocalCluster``'s workers and
  nanny, for instance), read from ``/proc`` while they live and from
  :func:`os.times`' children once they are reaped.

From these, ``other_cores`` is the number of cores that *other* jobs kept
busy on average during the run: machine busy time minus ours, over the
wall time. It is the measure of contention that matters here: the load
average counts our own BLAS threads too (a 2-thread run on 2 cores shows a
load near 2 with no one else on the machine), while 2-thread OpenBLAS slows
down as soon as another job holds part of one core (a thin product measured
40 ms under contention against 1.08 ms alone).

A run is *contended* (:func:`is_contended`) by :data:`RULE`. The counters
tick at 100 Hz, so a reading is good to about ``(cores + 2)`` ticks over the
window (``other_cores_error``); a run shorter than :data:`JUDGE_WINDOW_S` is
judged over a window that goes on, this process asleep, until it is that
long (:func:`measure_load`: others' CPU right after the run, rather than a
1-minute load average that still remembers the run before). The headline of
a contended report says so first (:func:`contention_note`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["JUDGE_WINDOW_S", "RULE", "Snapshot", "contention_note", "is_contended",
           "load_record", "measure_load", "own_cpu_s", "snapshot"]

#: Other jobs holding more than this many cores, on average, contend.
OTHER_CORES_LIMIT = 0.5

#: Steal above this share of the machine's CPU time contends.
STEAL_LIMIT = 0.05

#: Other jobs' cores are judged over at least this many seconds (a shorter run
#: is followed by an idle tail): the tick error is then below 0.1 core.
JUDGE_WINDOW_S = 0.5

#: How a report decides that its run was contended (the reports quote it).
RULE = ("A run is contended when other jobs held more than half a core on average "
        "(`other_cores`: the machine's busy time from /proc/stat minus the run's own CPU "
        "time, children included, over the run; a run shorter than "
        f"{JUDGE_WINDOW_S:g} s is judged over a window extended to {JUDGE_WINDOW_S:g} s "
        "while chainopt sleeps, `judged_over_s`, good to `other_cores_error` cores) or "
        f"steal took more than {100 * STEAL_LIMIT:g}% of the CPU time. The load averages "
        "are a secondary record: they decide (above the cores minus one half, before or "
        "after) only where /proc/stat is missing.")


class Snapshot(NamedTuple):
    """The machine's counters at one moment (None where the system has none)."""

    wall: float
    loadavg: tuple[float, float, float] | None
    busy_s: float | None
    steal_s: float | None
    own_cpu_s: float


def _proc_stat(path: str = "/proc/stat") -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of all cores since boot, or None."""
    try:
        with open(path, encoding="ascii") as handle:
            fields = handle.readline().split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) < 5 or fields[0] != "cpu":
        return None
    try:
        ticks = [int(value) for value in fields[1:9]]
    except ValueError:
        return None
    ticks += [0] * (8 - len(ticks))
    idle = ticks[3] + ticks[4]  # idle, iowait
    per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (sum(ticks) - idle - ticks[7]) / per_second, ticks[7] / per_second


def snapshot() -> Snapshot:
    """The counters now.

    Examples
    --------
    >>> s = snapshot()
    >>> s.own_cpu_s >= 0 and s.wall > 0
    True
    """
    try:
        loadavg: tuple[float, float, float] | None = os.getloadavg()
    except (OSError, AttributeError):
        loadavg = None
    stat = _proc_stat()
    return Snapshot(time.monotonic(), loadavg, None if stat is None else stat[0],
                    None if stat is None else stat[1], own_cpu_s())


def own_cpu_s() -> float:
    """CPU seconds of this process and of every process it started, so far.

    Examples
    --------
    >>> own_cpu_s() > 0
    True
    """
    times = os.times()
    reaped = times.children_user + times.children_system
    return times.user + times.system + reaped + _live_descendants_cpu_s()


def _live_descendants_cpu_s(proc: str = "/proc") -> float:
    """CPU seconds of the live processes below this one (0 without ``/proc``)."""
    try:
        entries = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return 0.0
    parents, ticks = {}, {}
    for name in entries:
        try:
            with open(f"{proc}/{name}/stat", encoding="ascii", errors="replace") as handle:
                text = handle.read()
            fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
            parents[int(name)], ticks[int(name)] = int(fields[1]), int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile, or the file is not as expected
    me, total = os.getpid(), 0
    for pid, used in ticks.items():
        ancestor, hops = parents.get(pid), 0
        while ancestor not in (None, 0, 1, me) and hops < 64:
            ancestor, hops = parents.get(ancestor), hops + 1
        if ancestor == me and pid != me:
            total += used
    per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return total / per_second


def _tick_s() -> float:
    return 1 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def load_record(before: Snapshot, after: Snapshot, tail: Snapshot | None = None
                ) -> dict[str, Any]:
    """What a report records about the machine's load during a run (JSON-ready).

    ``after`` ends the run; other jobs' cores and steal are judged from
    ``before`` to ``tail`` (default ``after``), an idle window that extends a
    short run (:func:`measure_load`).

    Examples
    --------
    >>> a = Snapshot(0.0, (0.1, 0.1, 0.1), 100.0, 0.0, 1.0)
    >>> b = Snapshot(10.0, (1.9, 0.5, 0.2), 118.0, 0.0, 9.0)
    >>> record = load_record(a, b)
    >>> record["other_cores"], record["steal_percent"], record["contended"]
    (1.0, 0.0, True)
    """
    end = after if tail is None else tail
    window = max(end.wall - before.wall, 0.0)
    cores = os.cpu_count() or 1
    record: dict[str, Any] = {
        "cores": cores,
        "wall_s": round(max(after.wall - before.wall, 0.0), 3),
        "load_before": None if before.loadavg is None else [round(x, 2) for x in before.loadavg],
        "load_after": None if after.loadavg is None else [round(x, 2) for x in after.loadavg],
        "own_cpu_s": round(after.own_cpu_s - before.own_cpu_s, 3),
        "other_cores": None,
        "steal_percent": None,
    }
    if None not in (before.busy_s, end.busy_s, before.steal_s, end.steal_s) and window > 0:
        busy = end.busy_s - before.busy_s  # type: ignore[operator]
        steal = end.steal_s - before.steal_s  # type: ignore[operator]
        own = end.own_cpu_s - before.own_cpu_s
        record["other_cores"] = round(max(busy - own, 0.0) / window, 2)
        record["other_cores_error"] = round((cores + 2) * _tick_s() / window, 2)
        record["judged_over_s"] = round(window, 3)
        record["steal_percent"] = round(100 * steal / max(busy + steal, 1e-9), 1)
    record["contended"] = is_contended(record)
    return record


def measure_load(before: Snapshot, now=snapshot, sleep=time.sleep) -> dict[str, Any]:
    """:func:`load_record` from ``before`` to now, a short run judged over
    :data:`JUDGE_WINDOW_S` (this process sleeps out the rest of the window).

    ``now`` and ``sleep`` are :func:`snapshot` and :func:`time.sleep` (tests
    pass fakes).
    """
    after = now()
    short = after.wall - before.wall < JUDGE_WINDOW_S
    if not short or after.busy_s is None:
        return load_record(before, after)
    sleep(JUDGE_WINDOW_S - (after.wall - before.wall))
    return load_record(before, after, now())


def is_contended(record: Mapping[str, Any]) -> bool:
    """Whether a :func:`load_record` shows contention (see the module's rules).

    Examples
    --------
    >>> is_contended({"cores": 2, "other_cores": 0.2, "steal_percent": 0.0})
    False
    >>> is_contended({"cores": 2, "other_cores": None, "load_before": [1.7, 1, 1]})
    True
    >>> is_contended({"cores": 2, "other_cores": 0.0, "load_before": [1.9, 2, 3.4]})
    False
    """
    other, steal = record.get("other_cores"), record.get("steal_percent")
    if isinstance(steal, (int, float)) and steal > 100 * STEAL_LIMIT:
        return True
    error = record.get("other_cores_error")
    fine = not isinstance(error, (int, float)) or error < OTHER_CORES_LIMIT
    if isinstance(other, (int, float)) and fine:  # the run's own measure decides
        return other > OTHER_CORES_LIMIT
    cores = record.get("cores") or 1
    loads = [record.get("load_before"), record.get("load_after")]
    return any(isinstance(load, list) and load and isinstance(load[0], (int, float))
               and load[0] > cores - 0.5 for load in loads)


def contention_note(record: Mapping[str, Any] | None) -> str:
    """The sentence a contended report's headline opens with ("" when it was not).

    Examples
    --------
    >>> print(contention_note({"cores": 2, "other_cores": 1.3, "steal_percent": 0.0,
    ...       "load_before": [2.1, 1.0, 0.5], "load_after": [3.0, 2.0, 1.0]}))
    Measured under contention (other jobs held 1.3 of 2 cores on average; load average
    2.1 before, 3 after): the times are not reliable.
    >>> contention_note({"cores": 2, "other_cores": 0.1})
    ''
    """
    if not isinstance(record, Mapping) or not is_contended(record):
        return ""
    facts = []
    if isinstance(record.get("other_cores"), (int, float)):
        facts.append(f"other jobs held {record['other_cores']:g} of {record.get('cores')} "
                     "cores on average")
        if isinstance(record.get("judged_over_s"), (int, float)):
            facts[-1] += f" over {record['judged_over_s']:g} s"
    steal = record.get("steal_percent")
    if isinstance(steal, (int, float)) and steal > 100 * STEAL_LIMIT:
        facts.append(f"{steal:g}% of the CPU time was stolen by other guests")
    before, after = record.get("load_before"), record.get("load_after")
    if isinstance(before, list) and isinstance(after, list) and before and after:
        facts.append(f"load average {before[0]:g} before, {after[0]:g} after")
    return (f"Measured under contention ({'; '.join(facts)}): the times are not "
            "reliable. ")
