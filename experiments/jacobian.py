"""``jacobian``: forward vs reverse vs optimal Jacobian accumulation.

Networks from :func:`chainopt.mlp` (tanh between affine layers) whose width
profiles favour different orders, for each width w in ``--sizes``:

- ``scalar-output`` w-w-w-1: reverse mode (row by row) wins;
- ``wide-output`` 10-w-w-w: forward mode (column by column) wins;
- ``hourglass`` w-w-10-w-w: a mixed order, multiplying through the 10-wide
  waist from both sides, beats both modes (target: at w = 1000,
  ≥ 10× faster than the better mode); above w = 1000 only this profile runs;
- ``square`` w-w-w-w and ``tapering`` w-w/2-w/4-w/10: plain networks, where
  the optimum is one of the modes (target: never more than 10%
  slower than the better mode).

Each network's Jacobian at one point is computed by
``chainopt.jacobian(net, x, mode=...)`` in the three modes, interleaved;
the predicted multiplications come from ``chainopt.plan_jacobian`` with
the network's widths and layer kinds (activations are diagonal).

Columns of ``jacobian.csv`` (one row per network and mode, plus the
runner's timing columns):

- ``profile`` (str): the width profile's name, as above.
- ``width`` (int): w.
- ``widths`` (str): the affine layers' widths n_0-…-n_L.
- ``plan_mode`` (str): what the optimal order is: ``forward``, ``reverse``
  or ``mixed`` (strictly cheaper than both).
- ``mode`` (str): the order timed: ``forward``, ``reverse`` or ``optimal``.
- ``multiplications`` (int): its predicted scalar multiplications.
"""

from __future__ import annotations

import numpy as np

import chainopt
from chainopt.bench.claims import difference, target
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant

from ._common import percent, ratio_text

PROFILES = {
    "scalar-output": lambda w: (w, w, w, 1),
    "wide-output": lambda w: (10, w, w, w),
    "hourglass": lambda w: (w, w, 10, w, w),
    "square": lambda w: (w, w, w, w),
    "tapering": lambda w: (w, max(1, w // 2), max(1, w // 4), max(1, w // 10)),
}
MODES = ("forward", "reverse", "optimal")

#: The targets (see the README), and the width of the hourglass they name.
HOURGLASS_TARGET, PLAIN_TOLERANCE, TARGET_WIDTH = 10.0, 0.10, 1000

#: Above this width only the hourglass runs (the others' modes take seconds).
HOURGLASS_ONLY_ABOVE = 1000


def _network(settings: Settings, profile: str, width: int):
    widths = PROFILES[profile](width)
    net = chainopt.mlp(widths, seed=settings.seed)
    return widths, net, chainopt.plan_jacobian(net.widths, net.kinds)


def _variants(settings: Settings, profile: str, width: int) -> list[Variant]:
    widths, net, plan = _network(settings, profile, width)
    x = settings.rng(list(PROFILES).index(profile), width).standard_normal(widths[0])
    predicted = {"forward": plan.forward_cost, "reverse": plan.reverse_cost,
                 "optimal": plan.cost}
    return [Variant({"mode": mode, "multiplications": predicted[mode]},
                    lambda mode=mode: chainopt.jacobian(net, x, mode=mode))
            for mode in MODES]


def cases(settings: Settings):
    for width in settings.sizes:
        for profile in PROFILES:
            if width > HOURGLASS_ONLY_ABOVE and profile != "hourglass":
                continue
            widths, _, plan = _network(settings, profile, width)
            params = {"profile": profile, "width": width,
                      "widths": "-".join(map(str, widths)), "plan_mode": plan.mode}
            yield Case(params, lambda p=profile, w=width: _variants(settings, p, w))


# -- analysis -----------------------------------------------------------------
def per_network(frame):
    """One row per network: the three modes side by side, and the ratios."""
    index = ["profile", "width", "widths", "plan_mode"]
    wide = frame.pivot_table(index=index, columns="mode", aggfunc="first",
                             values=["multiplications", "time_median_s", "time_cold_median_s"])
    out = wide.index.to_frame(index=False)
    for mode in MODES:
        out[f"{mode} mults"] = wide["multiplications", mode].to_numpy().astype("int64")
    for mode in MODES:
        out[f"{mode} ms"] = 1e3 * wide["time_median_s", mode].to_numpy()
    best_cost = np.minimum(out["forward mults"], out["reverse mults"])
    out["predicted better mode / optimal"] = best_cost / out["optimal mults"]
    best_time = np.minimum(out["forward ms"], out["reverse ms"])
    out["measured better mode / optimal"] = best_time / out["optimal ms"]
    cold = wide["time_cold_median_s"]
    out["cold better mode / optimal"] = (np.minimum(cold["forward"], cold["reverse"])
                                         / cold["optimal"]).to_numpy()
    return out.sort_values(["width", "profile"], kind="stable").reset_index(drop=True)


def summarize(frame):
    return per_network(frame)



def _faster_or_slower(ratio: float) -> str:
    """``2.5× faster`` for a ratio above 1, ``2.1× slower`` below."""
    return f"{ratio_text(ratio)} faster" if ratio >= 1 else f"{ratio_text(1 / ratio)} slower"


def _hourglass_sentence(table, frame) -> str:
    hourglass = table[table["profile"] == "hourglass"]
    if not len(hourglass):
        return ""
    at = hourglass["width"] == TARGET_WIDTH
    row = hourglass[at].iloc[0] if at.any() else hourglass.loc[hourglass["width"].idxmax()]
    ratio = row["measured better mode / optimal"]
    verdict = target(frame, f"≥ {HOURGLASS_TARGET:.0f}×", ratio >= HOURGLASS_TARGET,
                     covered=bool(row["width"] == TARGET_WIDTH))
    verdict = f"; {verdict}" if verdict else ""
    text = (f"On the hourglass {row['widths']}, the optimal ({row['plan_mode']}) order was "
            f"{_versus_better(frame, row)} the better of forward and reverse mode "
            f"(predicted {ratio_text(row['predicted better mode / optimal'])} fewer "
            f"multiplications{verdict}); a first call right after another mode (cold) was "
            f"{_faster_or_slower(row['cold better mode / optimal'])}.")
    wider = hourglass[hourglass["width"] > row["width"]]
    for _, other in wider.iterrows():
        text += (f" At {other['widths']}: {ratio_text(other['measured better mode / optimal'])}"
                 f" (predicted {ratio_text(other['predicted better mode / optimal'])}).")
    return text


def _plain_sentence(table, frame) -> str:
    plain = table[table["profile"] != "hourglass"]
    if not len(plain):
        return ""
    # Where the optimum is the faster mode's own bracketing, a gap is noise, not a cost.
    faster = np.where(plain["forward ms"] <= plain["reverse ms"], "forward", "reverse")
    own = plain["plan_mode"].to_numpy() == faster
    if own.all():
        return (f" On the {len(plain)} plain networks the optimal order is the faster mode's "
                "own bracketing, so it costs nothing against it.")
    others = plain[~own]
    slowdown = 1 / others["measured better mode / optimal"] - 1
    worst = others.loc[slowdown.idxmax()]
    extra = float(slowdown.max())
    change = _versus_better(frame, worst)
    verdict = target(frame, f"≤ {percent(PLAIN_TOLERANCE)} slower",
                     extra <= PLAIN_TOLERANCE or change.startswith("not measurably"))
    same = f"; on {int(own.sum())} it is that mode's own bracketing" if own.any() else ""
    return (f" On the {len(plain)} plain networks the optimal order at its worst "
            f"({worst['profile']} {worst['widths']}) was {change} the better mode"
            f"{f' ({verdict})' if verdict else ''}{same}.")


def _versus_better(frame, network) -> str:
    """The optimal order against the faster mode on one network, beyond the noise only."""
    rows = frame[frame["widths"] == network["widths"]]
    modes = {mode: rows[rows["mode"] == mode] for mode in MODES}
    better = min(("forward", "reverse"), key=lambda m: float(modes[m]["time_median_s"].iloc[0]))
    text = difference(modes["optimal"], modes[better])
    return "not measurably different from" if text.startswith("no measurable") else f"{text} than"


def _modes_sentence(table) -> str:
    spread = table["forward ms"] / table["reverse ms"]
    wide, tall = table.loc[spread.idxmax()], table.loc[spread.idxmin()]
    return (f" The wrong mode costs most on {wide['profile']} {wide['widths']} (forward "
            f"{ratio_text(spread.max())} slower than reverse) and {tall['profile']} "
            f"{tall['widths']} (reverse {ratio_text(1 / spread.min())} slower than forward).")


def conclude(frame) -> str:
    table = per_network(frame)
    return (_hourglass_sentence(table, frame) + _plain_sentence(table, frame)
            + _modes_sentence(table)).strip()


def plot(frame, figure) -> None:
    """Bars per network and mode: predicted multiplications, then measured time."""
    table = per_network(frame)
    labels = [f"{row.profile}\nw={row.width}" for row in table.itertuples()]
    x = np.arange(len(table))
    colours = {"forward": "tab:orange", "reverse": "tab:blue", "optimal": "tab:green"}
    top, bottom = figure.subplots(2, 1, sharex=True)
    for offset, mode in zip((-0.27, 0, 0.27), MODES):
        top.bar(x + offset, table[f"{mode} mults"], 0.27, color=colours[mode], label=mode)
        bottom.bar(x + offset, table[f"{mode} ms"], 0.27, color=colours[mode], label=mode)
    top.set(yscale="log", ylabel="predicted multiplications",
            title="Jacobian accumulation: forward, reverse and optimal order")
    bottom.set(yscale="log", ylabel="median time (ms)")
    bottom.set_xticks(x, labels, fontsize=7)
    top.legend(fontsize="small")


EXPERIMENT = Experiment(
    name="jacobian",
    title="jacobian: forward vs reverse vs optimal accumulation",
    summary="Jacobians of MLPs (scalar output, wide output, hourglass, plain) in forward, "
            "reverse and optimal order: multiplications and time",
    case_columns=(
        Column("profile", "str", "scalar-output, wide-output, hourglass, square or tapering"),
        Column("width", "int", "the width w the profile is built from"),
        Column("widths", "str", "the affine layers' widths n_0-…-n_L"),
        Column("plan_mode", "str", "the optimal order: forward, reverse or mixed"),
    ),
    variant_columns=(
        Column("mode", "str", "the order timed: forward, reverse or optimal"),
        Column("multiplications", "int", "its predicted scalar multiplications "
               "(plan_jacobian, activations diagonal)"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(100, 1000, 2000),
    quick_sizes=(30,),
    sizes_help="widths w of the profiles (w-w-10-w-w is the hourglass)",
    size_range=(10, 3000),
    repeats=21,
    notes=(
        "Every mode runs `chainopt.jacobian(net, x, mode=...)` on the same network (tanh "
        "activations) and point, so each includes the network's forward evaluation. The "
        "multiplications are plan_jacobian's structure-aware counts. `better mode / optimal` "
        "is min(forward, reverse) over optimal, predicted (multiplications) and measured "
        "(median times, in milliseconds, each sample opening with one call of its own mode); "
        "`cold` is the same ratio for the call that opens a sample, right after another "
        "mode, which pays the page faults and cache misses that mode left (forward and "
        "reverse mode allocate and free about 50 MB at w = 1000). Targets: on the "
        "hourglass "
        f"1000-1000-10-1000-1000 the optimal order ≥ {HOURGLASS_TARGET:.0f}× faster than the "
        "better mode; on plain networks never more than "
        f"{percent(PLAIN_TOLERANCE)} slower."
    ),
)
