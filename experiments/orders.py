"""``orders``: does the predicted cost of an order predict its measured time?

Chains are the classic examples (CLRS's 30×35…20×25, the
:func:`numpy.linalg.multi_dot` docstring's 10×100, 100×5, 5×50, Wikipedia's
10×30, 30×5, 5×60, CLRS scaled by 10, and a matrix-matrix-matrix-vector
product) and, for every chain length n in ``--sizes``, random chains whose
dimensions are drawn log-uniformly from 4 to 512.

For n ≤ 7 every bracketing (Catalan(n−1) of them, 132 for n = 7) is timed;
for longer chains the optimum (chainopt's exact DP), left to right
``((AB)C)…``, right to left ``A(B(C…))`` and the worst (a max-cost DP, here).
All orders of a chain multiply the same arrays with the same loop, so they
differ only in their products.

Columns of ``orders.csv`` (one row per chain and order, plus the runner's
timing columns):

- ``chain`` (str): the chain's name, e.g. ``clrs`` or ``random-n5-2``.
- ``family`` (str): ``classic`` or ``random``.
- ``n`` (int): number of factors.
- ``dims`` (str): the n+1 boundary dimensions, comma-separated.
- ``order`` (str): the bracketing, e.g. ``((A(BC))((DE)F))``.
- ``cost`` (int): its scalar multiplications.
- ``optimal``, ``left_to_right``, ``right_to_left``, ``worst`` (bool):
  whether this order is chainopt's plan, ``((AB)C)…``, ``A(B(C…))``, or
  the worst bracketing (the max-cost DP's choice, leftmost split on ties).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainopt import plan_chain
from chainopt.bench.claims import outcome
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant
from chainopt.costs import steps_cost
from chainopt.trees import all_trees, left_to_right, right_to_left, steps_to_tree, tree_to_steps

from ._common import (
    ROLE_COLOURS,
    multiply_steps,
    parenthesize,
    percent,
    random_factors,
    ratio_text,
)

#: Chains up to this length have every bracketing timed.
ALL_ORDERS_LIMIT = 7

#: Random chains per length.
CHAINS_PER_SIZE, QUICK_CHAINS_PER_SIZE = 3, 1

CLASSICS = {
    "clrs": (30, 35, 15, 5, 10, 20, 25),
    "multi_dot": (10, 100, 5, 50),
    "wikipedia": (10, 30, 5, 60),
    "clrs-x10": tuple(10 * d for d in (30, 35, 15, 5, 10, 20, 25)),
    "matrices-vector": (1000, 1000, 1000, 1000, 1),
}
QUICK_CLASSICS = ("clrs", "multi_dot", "wikipedia")

ROLES = ("optimal", "left_to_right", "right_to_left", "worst")


def worst_tree(dims):
    """The most expensive bracketing, by the CLRS recurrence with max for min.

    Plain Python, O(n³): meant for experiments, not for long chains. Ties go
    to the leftmost split.

    >>> worst_tree((10, 100, 5, 50))
    (0, (1, 2))
    """
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for span in range(1, n):
        for i in range(n - span):
            j = i + span
            cost[i][j], split[i][j] = max(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], -k)
                for k in range(i, j))
            split[i][j] = -split[i][j]
    return _tree_from_split(split, 0, n - 1)


def _tree_from_split(split, i, j):
    if i == j:
        return i
    k = split[i][j]
    return (_tree_from_split(split, i, k), _tree_from_split(split, k + 1, j))


def random_dims(rng: np.random.Generator, n: int, low: int = 4, high: int = 512):
    """n+1 dimensions drawn log-uniformly from ``low`` to ``high``."""
    return tuple(int(d) for d in np.rint(np.exp(rng.uniform(math.log(low), math.log(high),
                                                             n + 1))))


def _trees(dims):
    """The bracketings to time, and which roles each plays."""
    n = len(dims) - 1
    special = {
        "optimal": steps_to_tree(list(plan_chain(_shapes(dims), method="dp").pairs), n),
        "left_to_right": steps_to_tree(left_to_right(n), n),
        "right_to_left": steps_to_tree(right_to_left(n), n),
        "worst": worst_tree(dims),
    }
    if n <= ALL_ORDERS_LIMIT:
        trees = list(all_trees(0, n - 1))
    else:
        trees = list(dict.fromkeys(special.values()))
    return [(tree, {role: tree == special[role] for role in ROLES}) for tree in trees]


def _shapes(dims):
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def _variants(settings: Settings, key, dims) -> list[Variant]:
    n = len(dims) - 1
    arrays = random_factors(settings.rng(*key), dims)
    variants = []
    for tree, roles in _trees(dims):
        steps = tree_to_steps(tree, n)
        values = {"order": parenthesize(tree, n),
                  "cost": steps_cost(_shapes(dims), ["dense"] * n, steps), **roles}
        variants.append(Variant(values, lambda steps=steps: multiply_steps(arrays, steps)))
    return variants


def _case(settings, chain, family, dims, key) -> Case:
    params = {"chain": chain, "family": family, "n": len(dims) - 1,
              "dims": ",".join(map(str, dims))}
    return Case(params, lambda: _variants(settings, key, dims))


def cases(settings: Settings):
    names = QUICK_CLASSICS if settings.quick else tuple(CLASSICS)
    for index, name in enumerate(names):
        yield _case(settings, name, "classic", CLASSICS[name], (0, index))
    count = QUICK_CHAINS_PER_SIZE if settings.quick else CHAINS_PER_SIZE
    for n in settings.sizes:
        for k in range(count):
            dims = random_dims(settings.rng(1, n, k), n)
            yield _case(settings, f"random-n{n}-{k}", "random", dims, (2, n, k))


# -- analysis -----------------------------------------------------------------
def _spearman(group) -> float:
    from scipy.stats import spearmanr

    if len(group) < 3 or group["cost"].nunique() < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(group["cost"], group["time_median_s"]).statistic)


def per_chain(frame):
    """One row per chain: the optimum against the measured fastest."""
    import pandas as pd

    rows = []
    for chain, group in frame.groupby("chain", sort=False):
        fastest = group.loc[group["time_median_s"].idxmin()]
        optimal = group[group["optimal"]].iloc[0]
        worst = group[group["worst"]].iloc[0]
        rows.append({
            "chain": chain, "n": int(group["n"].iloc[0]), "orders timed": len(group),
            "optimal order": optimal["order"], "optimal cost": int(optimal["cost"]),
            "worst / optimal cost": worst["cost"] / optimal["cost"],
            "worst / optimal time": worst["time_median_s"] / optimal["time_median_s"],
            "optimal ms": 1e3 * optimal["time_median_s"],
            "optimal GFLOP/s": 2e-9 * optimal["cost"] / optimal["time_median_s"],
            "fastest ms": 1e3 * fastest["time_median_s"],
            "optimal is fastest": bool(optimal["order"] == fastest["order"]),
            "measurably slower": outcome(optimal, fastest) < 0,
            "regret": optimal["time_median_s"] / fastest["time_median_s"] - 1,
            "spearman": _spearman(group),
        })
    return pd.DataFrame(rows)


def summarize(frame):
    return per_chain(frame)


def conclude(frame) -> str:
    table = per_chain(frame)
    wins = int(table["optimal is fastest"].sum())
    slower = table[table["measurably slower"]]
    rho = table["spearman"].dropna()
    spread = table.loc[table["worst / optimal cost"].idxmax()]
    text = (f"Over {len(table)} chains, the cost-optimal order was the measured fastest in "
            f"{wins} ({percent(wins / len(table))}) and measurably slower than the fastest "
            f"(quartiles apart) in {len(slower)}")
    if len(slower):
        worst_regret = slower.loc[slower["regret"].idxmax()]
        text += (f", with a regret (time over the fastest, minus 1) of median "
                 f"{percent(slower['regret'].median())} and maximum "
                 f"{percent(worst_regret['regret'])} ({worst_regret['chain']})")
    text += "."
    if len(rho):
        text += (f" The rank correlation between predicted cost and measured time "
                 f"(Spearman, per chain with ≥ 3 orders) had median {rho.median():.2f}.")
    return text + (f" The widest spread was {spread['chain']}: the worst order costs "
                   f"{ratio_text(spread['worst / optimal cost'])} the optimum and took "
                   f"{ratio_text(spread['worst / optimal time'])} its time.")


def _role(row) -> str:
    for role in ROLES:
        if row[role]:
            return role.replace("_", "-")
    return "other"


def plot(frame, figure) -> None:
    ax = figure.subplots()
    roles = frame.apply(_role, axis=1)
    for role, colour in ROLE_COLOURS.items():
        subset = frame[roles == role]
        if len(subset):
            ax.loglog(subset["cost"], subset["time_median_s"], "o", color=colour,
                      alpha=0.35 if role == "other" else 0.9, markersize=4 if role == "other"
                      else 6, label=role)
    ax.set(xlabel="predicted multiplications", ylabel="median time per call (s)",
           title="Every order of every chain: measured time against predicted cost")
    ax.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="orders",
    title="orders: predicted cost against measured time, every order",
    summary="every bracketing (n ≤ 7) or optimum/left/right/worst of classic and random "
            "chains: cost vs time, rank correlation, regret",
    case_columns=(
        Column("chain", "str", "the chain's name, e.g. clrs or random-n5-2"),
        Column("family", "str", "classic or random"),
        Column("n", "int", "number of factors"),
        Column("dims", "str", "the n+1 boundary dimensions, comma-separated"),
    ),
    variant_columns=(
        Column("order", "str", "the bracketing, e.g. ((A(BC))((DE)F))"),
        Column("cost", "int", "its scalar multiplications"),
        Column("optimal", "bool", "this is chainopt's exact plan"),
        Column("left_to_right", "bool", "this is ((AB)C)…, what A @ B @ C does"),
        Column("right_to_left", "bool", "this is A(B(C…))"),
        Column("worst", "bool", "this is the most expensive bracketing"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(3, 4, 5, 6, 7, 10, 20, 50),
    quick_sizes=(3, 5, 8),
    sizes_help="lengths n of the random chains (every bracketing timed for n ≤ 7)",
    size_range=(3, 200),
    repeats=7,
    notes=(
        f"For chains of up to {ALL_ORDERS_LIMIT} factors every bracketing is timed; beyond, "
        "the optimum, left to right, right to left and the worst. Random chains have "
        f"dimensions drawn log-uniformly from 4 to 512 ({CHAINS_PER_SIZE} chains per length, "
        f"{QUICK_CHAINS_PER_SIZE} with --quick). "
        "The regret of a chain is the optimal order's median time over the fastest order's, "
        "minus 1 (0% when the optimum is the fastest). Spearman's ρ ranks every timed order "
        "of a chain by cost and by median time (n/a with fewer than 3 orders). Times are "
        "medians in milliseconds; ratios are worst over optimal; GFLOP/s counts 2 × "
        "multiplications of the optimal order over its median time (compare with the "
        "machine's peak GEMM rate to see how close a chain gets to its physical limit)."
    ),
)
