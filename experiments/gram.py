"""``gram``: A(AᵀA) against (AAᵀ)A, predicted and measured.

For A of size m×n both orders compute AAᵀA. ``A(AᵀA)`` forms the n×n Gram
matrix first: n·m·n + m·n·n = 2mn² multiplications. ``(AAᵀ)A`` forms the
m×m one: 2m²n. So the predicted ratio (AAᵀ)A / A(AᵀA) is m/n: the order
that makes the small Gram matrix wins, by the aspect ratio (the lecture's
problem 2).

Every ordered pair (m, n) of distinct ``--sizes`` is a case. Its variants
are the two orders, each with Aᵀ passed two ways:

- ``view``: ``A.T``, as a user writes ``A @ (A.T @ A)``. The Gram product's
  operands then share memory and NumPy calls BLAS SYRK (which computes
  only one triangle) instead of GEMM;
- ``copy``: a contiguous copy of Aᵀ made before timing, so every product
  is a plain GEMM, as the multiplication count assumes.

Columns of ``gram.csv`` (one row per case and variant, plus the runner's
timing columns):

- ``m``, ``n`` (int): the shape of A.
- ``order`` (str): ``A(AᵀA)`` or ``(AAᵀ)A``.
- ``transpose`` (str): ``view`` or ``copy``, as above.
- ``multiplications`` (int): predicted scalar multiplications of the order.
"""

from __future__ import annotations

import itertools

import numpy as np

from chainopt.bench.claims import difference, outcome
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant
from chainopt.costs import steps_cost
from chainopt.trees import left_to_right, right_to_left

from ._common import percent, ratio_text

GRAM_FIRST, OUTER_FIRST = "A(AᵀA)", "(AAᵀ)A"


def multiplications(m: int, n: int, order: str) -> int:
    """Predicted multiplications of one order, by chainopt's cost model.

    >>> multiplications(30, 10, "A(AᵀA)"), 2 * 30 * 10**2
    (6000, 6000)
    """
    shapes = [(m, n), (n, m), (m, n)]
    steps = right_to_left(3) if order == GRAM_FIRST else left_to_right(3)
    return steps_cost(shapes, ["dense"] * 3, steps)


def _variants(settings: Settings, m: int, n: int) -> list[Variant]:
    A = settings.rng(m, n).standard_normal((m, n)) / np.sqrt(max(m, n))
    At = np.ascontiguousarray(A.T)
    runs = {
        (GRAM_FIRST, "view"): lambda: A @ (A.T @ A),
        (OUTER_FIRST, "view"): lambda: (A @ A.T) @ A,
        (GRAM_FIRST, "copy"): lambda: A @ (At @ A),
        (OUTER_FIRST, "copy"): lambda: (A @ At) @ A,
    }
    return [Variant({"order": order, "transpose": transpose,
                     "multiplications": multiplications(m, n, order)}, run)
            for (order, transpose), run in runs.items()]


def cases(settings: Settings):
    for m, n in itertools.permutations(settings.sizes, 2):
        yield Case({"m": m, "n": n}, lambda m=m, n=n: _variants(settings, m, n))


def _wide(frame):
    """One row per (m, n, transpose) with both orders side by side."""
    wide = frame.pivot_table(index=["m", "n", "transpose"], columns="order",
                             values=["multiplications", "time_median_s"], aggfunc="first")
    out = wide.index.to_frame(index=False)
    for order in (GRAM_FIRST, OUTER_FIRST):
        out[f"{order} mults"] = wide["multiplications", order].to_numpy()
        out[f"{order} ms"] = 1e3 * wide["time_median_s", order].to_numpy()
    out["predicted (AAᵀ)A / A(AᵀA)"] = out[f"{OUTER_FIRST} mults"] / out[f"{GRAM_FIRST} mults"]
    out["measured (AAᵀ)A / A(AᵀA)"] = out[f"{OUTER_FIRST} ms"] / out[f"{GRAM_FIRST} ms"]
    return out


def summarize(frame):
    table = _wide(frame)
    table = table.sort_values(["transpose", "m", "n"], ascending=[False, True, True])
    return table.astype({f"{o} mults": "int64" for o in (GRAM_FIRST, OUTER_FIRST)})


def conclude(frame) -> str:
    table = _wide(frame)
    views = table[table["transpose"] == "view"]
    predicted = views["predicted (AAᵀ)A / A(AᵀA)"]
    measured = views["measured (AAᵀ)A / A(AᵀA)"]
    agree = int(((predicted > 1) == (measured > 1)).sum())
    extreme = views.loc[np.log(predicted).abs().idxmax()]
    flip = extreme["predicted (AAᵀ)A / A(AᵀA)"] < 1
    cheaper = OUTER_FIRST if flip else GRAM_FIRST
    gap_predicted = extreme["predicted (AAᵀ)A / A(AᵀA)"] ** (-1 if flip else 1)
    shape = frame[(frame["m"] == extreme["m"]) & (frame["n"] == extreme["n"])
                  & (frame["transpose"] == "view")]
    rows = {order: shape[shape["order"] == order] for order in (GRAM_FIRST, OUTER_FIRST)}
    dearer = GRAM_FIRST if flip else OUTER_FIRST
    text = (f"The order with fewer predicted multiplications (A(AᵀA) when m > n, (AAᵀ)A "
            f"when m < n) was measured faster for {agree} of {len(views)} shapes; at the "
            f"most lopsided shape, {extreme['m']}×{extreme['n']}, {cheaper} was "
            f"{_against(difference(rows[cheaper], rows[dearer]))} (predicted "
            f"{ratio_text(gap_predicted)} fewer multiplications).")
    return text + _syrk_sentence(frame)


def _against(text: str) -> str:
    """``difference`` as the comparison with the other order."""
    return text if text.startswith("no measurable") else f"{text} than the other"


def _syrk_sentence(frame) -> str:
    """How much a copied Aᵀ (GEMM) changes the time against the view (SYRK)."""
    times = frame.pivot_table(index=["m", "n", "order"], columns="transpose",
                              values="time_median_s", aggfunc="first")
    if not {"view", "copy"} <= set(times.columns):
        return ""
    large = times[times["view"] >= 1e-3]
    if not len(large):
        return ""
    change = float(np.median(large["copy"] / large["view"]) - 1)
    views = frame[frame["transpose"] == "view"].set_index(["m", "n", "order"])
    copies = frame[frame["transpose"] == "copy"].set_index(["m", "n", "order"])
    signs = [outcome(views.loc[key], copies.loc[key]) for key in large.index]
    if not any(signs):
        effect = "made no measurable difference"
    else:
        effect = (f"made it {percent(abs(change))} {'slower' if change > 0 else 'faster'} "
                  f"(median; SYRK measurably faster in {signs.count(1)}, slower in "
                  f"{signs.count(-1)}, no measurable difference in {signs.count(0)})")
    return (f" Passing a copied Aᵀ (plain GEMM) instead of the view A.T (SYRK for the "
            f"Gram product) {effect} over the {len(large)} products taking ≥ 1 ms.")


def plot(frame, figure) -> None:
    left, right = figure.subplots(1, 2)
    for (order, transpose), group in frame.groupby(["order", "transpose"]):
        left.loglog(group["multiplications"], group["time_median_s"],
                    "o" if transpose == "view" else "x",
                    color="tab:green" if order == GRAM_FIRST else "tab:purple",
                    label=f"{order}, Aᵀ {transpose}")
    left.set(xlabel="predicted multiplications", ylabel="median time per call (s)",
             title="Time against predicted cost")
    left.legend(fontsize="small")
    table = _wide(frame)
    for transpose, group in table.groupby("transpose"):
        right.loglog(group["predicted (AAᵀ)A / A(AᵀA)"], group["measured (AAᵀ)A / A(AᵀA)"],
                     "o" if transpose == "view" else "x", label=f"Aᵀ {transpose}")
    lims = table[["predicted (AAᵀ)A / A(AᵀA)", "measured (AAᵀ)A / A(AᵀA)"]].stack()
    bounds = [lims.min() / 1.5, lims.max() * 1.5]
    right.loglog(bounds, bounds, ":", color="gray", label="measured = predicted")
    right.set(xlabel="predicted ratio m/n", ylabel="measured time ratio",
              title="(AAᵀ)A / A(AᵀA)")
    right.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="gram",
    title="gram: A(AᵀA) against (AAᵀ)A",
    summary="A(AᵀA) vs (AAᵀ)A for A m×n: predicted 2mn² vs 2m²n against measured times",
    case_columns=(Column("m", "int", "rows of A"), Column("n", "int", "columns of A")),
    variant_columns=(
        Column("order", "str", "A(AᵀA) (Gram matrix AᵀA first) or (AAᵀ)A (AAᵀ first)"),
        Column("transpose", "str", "view: Aᵀ passed as A.T (NumPy uses SYRK for the Gram "
               "product); copy: a contiguous copy of Aᵀ (plain GEMM)"),
        Column("multiplications", "int", "predicted scalar multiplications: 2mn² for "
               "A(AᵀA), 2m²n for (AAᵀ)A"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(10, 100, 1000, 2000),
    quick_sizes=(8, 48),
    sizes_help="dimensions; every ordered pair (m, n) of distinct sizes is a shape",
    size_range=(1, 5000),
    repeats=5,
    notes=(
        "Both orders compute AAᵀA. The predicted counts are chainopt's (m·n·n + m·n·n "
        "= 2mn², and 2m²n). Rows with `transpose = view` pass `A.T`, a view sharing A's "
        "memory, as a user writes `A @ (A.T @ A)`: NumPy then computes the Gram product "
        "with BLAS SYRK, which does about half the multiplications of GEMM. Rows with "
        "`transpose = copy` use a contiguous copy of Aᵀ made before timing, so every "
        "product is a GEMM, as the count assumes. Times in the table are medians in "
        "milliseconds."
    ),
)
