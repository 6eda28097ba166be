"""``regret``: does ``minimize="time"`` pick the measured fastest order?

Held-out random chains of 3 to 7 factors (``--sizes``) mix vectors, thin
inner dimensions (2 to 8), dimensions up to 2000 and Gram pairs (a factor
next to its own transpose, passed as the view ``X.T``). Each dimension is 1
with probability 0.1, from 2 to 8 with probability 0.15, and otherwise
log-uniform from 32 to 2000; a third of the chains get a Gram pair at a
random position. Chains whose bracketings add up to more than
:data:`MAX_TOTAL_MULTIPLICATIONS` are redrawn, to bound the run time.

Every bracketing of every chain is timed (interleaved, on the same arrays,
each executed by :meth:`chainopt.Plan.execute`, so every order runs the
same kernels a plan would; each sample opens with one untimed-in-the-sample
call of its own order, so no order is charged the caches and memory the
order before it left). That screen is followed by a confirmation: the
screen's :data:`CONFIRM_TOP` fastest orders and both models' picks are
timed again, head to head, with :data:`CONFIRM_REPEATS` times the repeats.
The fastest of 132 noisy medians is biased low (a near-tie wins by luck),
so regrets read off the screen alone mix model error with measurement
noise; the confirmation measures the few orders that matter more closely.
The regret of a cost model on a chain is the median time of the order it
picks over the fastest order's, minus 1, in the confirmation:
``minimize="multiplications"`` (the textbook count) against ``minimize="time"``
(the kernel-aware time model, :func:`chainopt.timemodel.load_model`: this
machine's ``chainopt calibrate`` cache, else the built-in default; its
source is in the CSV). The time model is fitted on single kernels timed on
a grid of shapes, never on these chains.

Columns of ``regret.csv`` (one row per chain and order, plus the runner's
timing columns):

- ``chain`` (str): e.g. ``n5-3``, the 4th chain of 5 factors.
- ``n`` (int): number of factors.
- ``dims`` (str): the n+1 boundary dimensions, comma-separated.
- ``gram`` (str): the Gram pair's positions, e.g. ``1-2`` (``none`` if none).
- ``vector``, ``thin``, ``has_gram`` (bool): whether a dimension is 1,
  whether one is from 2 to 8, and whether the chain has a Gram pair.
- ``time_model`` (str): where the time model's parameters come from.
- ``stage`` (str): ``screen`` (every order) or ``confirm`` (the re-timed
  few); ``confirm-2`` and ``confirm-3`` when the confirmation before was
  noisy (its fastest order's IQR over median above :data:`NOISY`).
- ``order`` (str): the bracketing, e.g. ``((AB)C)``.
- ``multiplications`` (int): its scalar multiplications.
- ``predicted_s`` (float): the time model's predicted seconds for it.
- ``mults_pick``, ``time_pick`` (bool): whether ``plan_chain`` picks it with
  ``minimize="multiplications"`` or with ``minimize="time"``.
- ``load`` (float): the machine's 1-minute load average when the order was
  first run (other processes' work shows up here; ours adds about 1-2).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from chainopt import plan_chain
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant
from chainopt.costs import steps_cost
from chainopt.timemodel import load_model
from chainopt.trees import all_trees, tree_to_steps

from ._common import parenthesize, random_factors

#: Random chains per length (``--quick``: one).
CHAINS_PER_SIZE, QUICK_CHAINS_PER_SIZE = 20, 1

#: Chains whose bracketings add up to more multiplications are redrawn.
MAX_TOTAL_MULTIPLICATIONS = 2.5e10

#: The largest dimension (``--quick``: 64).
LARGEST, QUICK_LARGEST = 2000, 64

#: Probability that a chain has a Gram pair.
GRAM_PROBABILITY = 1 / 3

#: The screen's fastest orders re-timed in the confirmation, beside the picks.
CONFIRM_TOP = 3

#: The confirmation takes this many times the screen's repeats.
CONFIRM_REPEATS = 3

#: A confirmation whose fastest order spread more than this (IQR over
#: median) was disturbed: it is measured again, at most ``ATTEMPTS`` times in
#: all, and the last one counts.
NOISY, ATTEMPTS = 0.2, 3


def _dimension(rng: np.random.Generator, largest: int) -> int:
    u = rng.random()
    if u < 0.1:
        return 1
    if u < 0.25:
        return int(rng.integers(2, 9))
    return int(round(math.exp(rng.uniform(math.log(32), math.log(largest)))))


def _total_multiplications(dims) -> int:
    n = len(dims) - 1
    shapes = _shapes(dims)
    return sum(steps_cost(shapes, ["dense"] * n, tree_to_steps(tree, n))
               for tree in all_trees(0, n - 1))


def random_chain(rng: np.random.Generator, n: int, largest: int = LARGEST):
    """Boundary dimensions and Gram positions of one random chain.

    >>> dims, gram = random_chain(np.random.default_rng(1), 4)
    >>> len(dims), all(1 <= d <= LARGEST for d in dims)
    (5, True)
    """
    while True:
        dims = [_dimension(rng, largest) for _ in range(n + 1)]
        gram: tuple[int, ...] = ()
        if rng.random() < GRAM_PROBABILITY:
            i = int(rng.integers(0, n - 1))
            dims[i + 2] = dims[i]
            gram = (i,)
        if _total_multiplications(dims) <= MAX_TOTAL_MULTIPLICATIONS:
            return tuple(dims), gram


def _shapes(dims):
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def _arrays(settings: Settings, key, dims, gram):
    arrays = random_factors(settings.rng(*key), dims)
    for i in gram:
        arrays[i + 1] = arrays[i].T  # a view: NumPy and chainopt see a Gram pair
    return arrays


def _variants(settings: Settings, key, dims, gram, model, only=None) -> list[Variant]:
    """A variant per bracketing (or per bracketing named in ``only``)."""
    n = len(dims) - 1
    arrays = _arrays(settings, key, dims, gram)
    picks = {cost: plan_chain(arrays, minimize=cost, time_model=model)
             for cost in ("multiplications", "time")}
    base = picks["multiplications"]
    variants = []
    for tree in all_trees(0, n - 1):
        if only is not None and parenthesize(tree, n) not in only:
            continue
        steps = tuple(tree_to_steps(tree, n))
        plan = dataclasses.replace(base, pairs=steps, cost=steps_cost(base.shapes, base.kinds,
                                                                      steps), method="brute")
        values = {
            "order": parenthesize(tree, n),
            "multiplications": plan.cost,
            "predicted_s": float(sum(model.order_times(plan.shapes, plan.kinds, steps,
                                                       plan.gram))),
            "mults_pick": steps == picks["multiplications"].pairs,
            "time_pick": steps == picks["time"].pairs,
        }
        variants.append(Variant(lambda _, values=values: {**values, "load": _load()},
                                lambda plan=plan: plan.execute(*arrays)))
    return variants


def _load() -> float:
    try:
        return float(os.getloadavg()[0])
    except OSError:  # not available on this platform
        return math.nan


def cases(settings: Settings):
    model = load_model()
    count = QUICK_CHAINS_PER_SIZE if settings.quick else CHAINS_PER_SIZE
    largest = QUICK_LARGEST if settings.quick else LARGEST
    for n in settings.sizes:
        for k in range(count):
            dims, gram = random_chain(settings.rng(1, n, k), n, largest)
            params = {
                "chain": f"n{n}-{k}", "n": n, "dims": ",".join(map(str, dims)),
                "gram": ",".join(f"{i}-{i + 1}" for i in gram) or "none",
                "vector": 1 in dims, "thin": any(2 <= d <= 8 for d in dims),
                "has_gram": bool(gram), "time_model": model.source,
            }
            key = (2, n, k)
            yield Case({**params, "stage": "screen"},
                       lambda key=key, dims=dims, gram=gram:
                       _variants(settings, key, dims, gram, model),
                       followup=lambda rows, params=params, key=key, dims=dims, gram=gram:
                       _confirmation(settings, params, rows, key, dims, gram, model))


def confirmation_orders(rows) -> list[str]:
    """The orders a screen's rows send to confirmation, fastest first.

    The :data:`CONFIRM_TOP` fastest by median, then each cost model's pick.

    >>> rows = [{"order": o, "time_median_s": t, "mults_pick": m, "time_pick": "False"}
    ...         for o, t, m in [("a", "3.0", "True"), ("b", "1.0", "False"),
    ...                         ("c", "2.0", "False"), ("d", "1.5", "False")]]
    >>> confirmation_orders(rows)
    ['b', 'd', 'c', 'a']
    """
    ranked = sorted(rows, key=lambda row: float(row["time_median_s"]))
    chosen = [row["order"] for row in ranked[:CONFIRM_TOP]]
    chosen += [row["order"] for row in rows
               if "True" in (row["mults_pick"], row["time_pick"])]
    return list(dict.fromkeys(chosen))


def _confirmation(settings, params, rows, key, dims, gram, model, attempt=1):
    """The confirmation case; a noisy one is followed by another, up to :data:`ATTEMPTS`."""
    if attempt > 1 and (attempt > ATTEMPTS or spread(rows) <= NOISY):
        return None
    only = set(confirmation_orders(rows))
    return Case({**params, "stage": "confirm" if attempt == 1 else f"confirm-{attempt}"},
                lambda: _variants(settings, key, dims, gram, model, only),
                repeats=CONFIRM_REPEATS * settings.repeats,
                followup=lambda again: _confirmation(settings, params, again, key, dims,
                                                     gram, model, attempt + 1))


def spread(rows) -> float:
    """The fastest order's interquartile range over its median (rows of one stage).

    >>> spread([{"time_median_s": "2.0", "time_q1_s": "1.9", "time_q3_s": "2.3"},
    ...         {"time_median_s": "3.0", "time_q1_s": "2.0", "time_q3_s": "4.0"}])
    0.2
    """
    best = min(rows, key=lambda row: float(row["time_median_s"]))
    q1, median, q3 = (float(best[c]) for c in ("time_q1_s", "time_median_s", "time_q3_s"))
    return round((q3 - q1) / median, 12)


# -- analysis -----------------------------------------------------------------
def per_chain(frame):
    """One row per chain: each cost model's pick against the measured fastest."""
    import pandas as pd

    rows = []
    for chain, group in frame.groupby("chain", sort=False):
        screen = group[group["stage"] == "screen"]
        confirm = group[group["stage"] != "screen"]
        last = confirm["stage"].iloc[-1] if len(confirm) else "screen"
        stage = group[group["stage"] == last]
        best = stage.loc[stage["time_median_s"].idxmin()]
        fastest = best["time_median_s"]
        mults = stage[stage["mults_pick"]].iloc[0]
        timed = stage[stage["time_pick"]].iloc[0]
        first = group.iloc[0]
        screen_fastest = screen["time_median_s"].min()
        noise = (best["time_q3_s"] - best["time_q1_s"]) / fastest  # what spread() measures
        rows.append({
            "chain": chain, "n": int(first["n"]), "dims": first["dims"],
            "gram": first["gram"],
            "subset": bool(first["vector"] or first["thin"] or first["has_gram"]),
            "orders": len(screen), "confirmed": len(stage) if len(confirm) else 0,
            "attempts": int(confirm["stage"].nunique()), "fastest ms": 1e3 * fastest,
            "mults pick": mults["order"], "time pick": timed["order"],
            "mults regret": mults["time_median_s"] / fastest - 1,
            "time regret": timed["time_median_s"] / fastest - 1,
            "mults regret (fastest sample)": mults["time_min_s"] / stage["time_min_s"].min() - 1,
            "time regret (fastest sample)": timed["time_min_s"] / stage["time_min_s"].min() - 1,
            "mults fastest": bool(mults["time_median_s"] == fastest),
            "time fastest": bool(timed["time_median_s"] == fastest),
            "screen mults regret": _screen_time(screen, "mults_pick") / screen_fastest - 1,
            "screen time regret": _screen_time(screen, "time_pick") / screen_fastest - 1,
            "noise": noise,
            "load": group["load"].max(),
            "unsettled": bool(_disturbed(mults) or _disturbed(timed)
                              or (len(confirm) and noise > NOISY)),
        })
    return pd.DataFrame(rows)


def _screen_time(screen, pick: str) -> float:
    return float(screen.loc[screen[pick], "time_median_s"].iloc[0])


#: A picked order whose median is this many times its fastest sample was
#: measured while something else ran (a stalled BLAS thread costs milliseconds);
#: with a confirmation still noisy after every attempt, it makes a chain
#: "unsettled": its regret says more about the machine than about the model.
DISTURBED = 2.0


def _disturbed(row) -> bool:
    return row["time_median_s"] > DISTURBED * row["time_min_s"]


def summarize(frame):
    return per_chain(frame)


def _stats(table, label: str) -> str:
    if not len(table):
        return f"{label}: no chains"
    parts = []
    for cost in ("time", "mults"):
        regret = table[f"{cost} regret"]
        wins = int(table[f"{cost} fastest"].sum())
        name = "minimize='time'" if cost == "time" else "minimize='multiplications'"
        parts.append(f"{name} median regret {percent1(regret.median())}, max "
                     f"{percent1(regret.max())}, fastest in {wins}/{len(table)}")
    return f"{label} ({len(table)} chains): " + "; ".join(parts)


def percent1(value: float) -> str:
    """A percentage with one decimal: regrets are often below 1%.

    >>> percent1(0.0123)
    '1.2%'
    """
    return "n/a" if not np.isfinite(value) else f"{100 * value:.1f}%"


def conclude(frame) -> str:
    table = per_chain(frame)
    model = str(frame["time_model"].iloc[0])
    if model.endswith(".json"):  # a calibrated model's file: its name holds the fingerprint
        model = f"calibrated on this machine, {os.path.basename(model)}"
    subset = table[table["subset"]]
    unsettled = table[table["unsettled"]]
    clean = ""
    if len(unsettled):
        clean = (f" {len(unsettled)} chain(s) stayed unsettled ({', '.join(unsettled['chain'])}: "
                 f"the fastest order still spread more than {percent1(NOISY)} in its last "
                 f"confirmation, or a pick's median was over {DISTURBED:g}× its fastest sample); "
                 f"without them, {_stats(table[~table['unsettled']], 'all chains')}.")
    clean += (" Read off each order's fastest sample instead of its median, the maximum "
              f"regret was {percent1(table['time regret (fastest sample)'].max())} for "
              f"minimize='time' and {percent1(table['mults regret (fastest sample)'].max())} for "
              "minimize='multiplications'.")
    again = int((table["attempts"] > 1).sum())
    screen = (f" {again} chain(s) were confirmed again because the first confirmation "
              f"spread more than {percent1(NOISY)}." if again else "")
    screen += (f" In the screen alone (every order {_repeats(frame, 'screen')} samples, "
              f"regret against the fastest screened median), the maximum regret was "
              f"{percent1(table['screen time regret'].max())} for minimize='time' and "
              f"{percent1(table['screen mults regret'].max())} for minimize='multiplications'.")
    return (f"{_stats(table, 'All chains')}. {_stats(subset, 'Thin/vector/Gram chains')}."
            f"{clean}{screen} The fastest order's own spread (IQR over median) was "
            f"{percent1(table['noise'].median())} in the median chain, and the 1-minute "
            f"load average reached {table['load'].max():.1f} (time model: {model}).")


def _repeats(frame, stage: str) -> str:
    counts = frame.loc[frame["stage"] == stage, "repeats"]
    return str(int(counts.max())) if len(counts) else "n/a"


def plot(frame, figure) -> None:
    table = per_chain(frame)
    ax = figure.subplots()
    for cost, colour in (("mults", "tab:blue"), ("time", "tab:green")):
        regret = np.sort(table[f"{cost} regret"].to_numpy())
        share = np.arange(1, len(regret) + 1) / len(regret)
        label = "minimize='time'" if cost == "time" else "minimize='multiplications'"
        ax.step(100 * regret, share, where="post", color=colour, label=label)
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlabel="regret: time of the picked order over the fastest, minus 1 (%)",
           ylabel="share of chains with at most this regret",
           title="Regret of each cost model over held-out random chains")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


EXPERIMENT = Experiment(
    name="regret",
    title="regret: the multiplication count against the kernel-aware time model",
    summary="every bracketing of random chains with vectors, thin dims and Gram pairs: "
            "regret of minimize='multiplications' vs minimize='time'",
    case_columns=(
        Column("chain", "str", "the chain's name, e.g. n5-3"),
        Column("n", "int", "number of factors"),
        Column("dims", "str", "the n+1 boundary dimensions, comma-separated"),
        Column("gram", "str", "positions of the Gram pair (X next to X.T), e.g. 1-2"),
        Column("vector", "bool", "a dimension is 1"),
        Column("thin", "bool", "a dimension is from 2 to 8"),
        Column("has_gram", "bool", "the chain has a Gram pair"),
        Column("time_model", "str", "where the time model's parameters come from"),
        Column("stage", "str", "screen (every order) or confirm (the screen's fastest "
               "orders and the picks, re-timed with more repeats; confirm-2, confirm-3 when "
               "the previous confirmation was noisy)"),
    ),
    variant_columns=(
        Column("order", "str", "the bracketing, e.g. ((AB)C)"),
        Column("multiplications", "int", "its scalar multiplications"),
        Column("predicted_s", "float", "the time model's predicted seconds"),
        Column("mults_pick", "bool", "plan_chain(minimize='multiplications') picks it"),
        Column("time_pick", "bool", "plan_chain(minimize='time') picks it"),
        Column("load", "float", "1-minute load average when the order was first run"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(3, 4, 5, 6, 7),
    quick_sizes=(3, 4),
    sizes_help="chain lengths n (every bracketing is timed)",
    size_range=(2, 8),
    repeats=7,
    quick_repeats=2,
    in_suite=False,
    notes=(
        f"{CHAINS_PER_SIZE} random chains per length ({QUICK_CHAINS_PER_SIZE} with --quick, "
        f"dimensions up to {QUICK_LARGEST}); each dimension is 1 (probability 0.1), "
        f"2-8 (0.15) or log-uniform 32-{LARGEST}; a third of the chains have a Gram pair "
        "passed as the view X.T. Every bracketing is executed by Plan.execute on the same "
        "arrays, interleaved in a fresh random order each round, each sample opening with "
        "one call of its own order (see Method). The screen's "
        f"{CONFIRM_TOP} fastest orders and both picks are then re-timed head to head with "
        f"{CONFIRM_REPEATS}x the repeats (stage 'confirm'), again (up to {ATTEMPTS} times in "
        f"all) while the fastest order's IQR exceeds {NOISY:.0%} of its median. Regret = "
        "median time of the picked order / the fastest's - 1, in the last confirmation. "
        "'Thin/vector/Gram' chains "
        "have a dimension of 1 to 8 or a Gram pair. A chain is 'unsettled' when its last "
        f"confirmation still spread more than {NOISY:.0%} or a picked order's median exceeds "
        f"{DISTURBED:g}x its fastest sample; the headline gives the figures with and without "
        "such chains, and the regrets read off each order's fastest sample. Run "
        "'chainopt calibrate' first so that minimize='time' uses this machine's model."
    ),
)
