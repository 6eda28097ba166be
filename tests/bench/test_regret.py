"""The regret experiment: its chain sets, a --quick run, and its tables.

Timing values are never asserted.
"""

import numpy as np
import pytest
from chainopt.experiments import discover, regret
from hypothesis import given, settings
from hypothesis import strategies as st

from chainopt.bench.experiment import Settings
from chainopt.bench.reports import load_frame
from chainopt.bench.runner import run_experiment, settings_for
from chainopt.timemodel import DEFAULT_MODEL
from chainopt.trees import all_trees, tree_to_steps


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    registry = discover()
    experiment = registry["regret"]
    run_experiment(experiment, settings_for(experiment, quick=True, repeats=1), out,
                   progress=False, registry=registry)
    return out, load_frame(out, experiment)


def test_every_column_is_documented():
    for column in regret.EXPERIMENT.case_columns + regret.EXPERIMENT.variant_columns:
        assert f"``{column.name}``" in regret.__doc__, column.name


def test_quick_run_has_every_stage_and_file(quick_run):
    out, frame = quick_run
    for suffix in (".csv", ".md", ".png", ".json"):
        assert (out / f"regret{suffix}").stat().st_size > 0
    for chain, group in frame.groupby("chain"):
        stages = list(dict.fromkeys(group["stage"]))
        assert stages[0] == "screen" and stages[1] == "confirm" and stages[-1] == "steps", chain
        n = int(group["n"].iloc[0])
        assert len(group[group["stage"] == "screen"]) == len(list(all_trees(0, n - 1)))
    assert set(frame["set"]) == {"mixed", "listed"} and frame["quick"].all()


def test_steps_add_up_to_their_orders(quick_run):
    _, frame = quick_run
    confirm = frame[frame["stage"] == "confirm"].set_index(["chain", "order"])
    for (chain, order), steps in frame[frame["stage"] == "steps"].groupby(["chain", "order"]):
        n = int(steps["n"].iloc[0])
        assert sorted(steps["step"]) == list(range(1, n))
        whole = confirm.loc[(chain, order)]
        assert steps["predicted_s"].sum() == pytest.approx(whole["predicted_s"], rel=1e-12)
        assert steps["multiplications"].sum() == whole["multiplications"]


def test_tables_read_the_last_confirmation(quick_run):
    _, frame = quick_run
    table = regret.per_chain(frame)
    assert (table["time regret"] >= 0).all() and (table["mults regret"] >= 0).all()
    summary = regret.summarize(frame)
    assert list(summary["set"]) == ["mixed", "listed"]
    assert "NOT met" not in regret.conclude(frame)  # --quick gives no verdicts
    steps = regret.step_errors(frame)
    assert np.allclose(steps["error"], steps["predicted_s"] / steps["time_median_s"] - 1)


def _frame(screen, confirm, steps=(), mults="Y", time="Z"):
    """A one-chain frame: each stage's median time per order (``steps``: per
    order, its steps' times)."""
    import pandas as pd

    rows = []
    timed = [("screen", order, 0, seconds) for order, seconds in screen.items()]
    timed += [("confirm", order, 0, seconds) for order, seconds in confirm.items()]
    timed += [("steps", order, number, seconds) for order, times in dict(steps).items()
              for number, seconds in enumerate(times, 1)]
    for stage, order, step, seconds in timed:
        rows.append({"set": "mixed", "chain": "c", "n": 3, "dims": "2,3,4,5", "gram": "none",
                     "wide": False, "stage": stage, "order": order, "time_median_s": seconds,
                     "time_q1_s": seconds, "time_q3_s": seconds, "time_min_s": seconds,
                     "mults_pick": order == mults, "time_pick": order == time, "load": 0.0,
                     "quick": False, "step": step, "kernel": "order" if not step else "gemm",
                     "predicted_s": 1.0})
    return pd.DataFrame(rows)


def test_measured_pickers_are_judged_in_the_confirmation():
    # The screen times X fastest, 3% ahead of the count's pick Y; the confirmation reverses it.
    frame = _frame({"X": 1.0, "Y": 1.03, "Z": 1.2}, {"X": 1.1, "Y": 1.0, "Z": 1.3})
    row = regret.per_chain(frame).iloc[0]
    assert row["measured pick"] == "X" and row["measured regret"] == pytest.approx(0.1)
    assert row["measured differs"] and not row["measured faster"]
    assert row[f"{regret.HEDGED} pick"] == "Y" and row[f"{regret.HEDGED} regret"] == 0
    assert not row[f"{regret.HEDGED} differs"]
    assert row["time regret"] == pytest.approx(0.3) and not row["time faster"]
    stats = regret.set_stats(regret.per_chain(frame), "measured")
    assert (stats["differ"], stats["wins"]) == (1, 0)
    assert np.isnan(row["step sum regret"]) and not row["step sum differs"]  # no steps timed
    # Beyond the margin, the hedged picker follows the screen too; the step
    # sum takes the order whose steps add up to least (Z), not the fastest step.
    steps = {"X": (0.6, 0.6), "Y": (0.1, 1.0), "Z": (0.5, 0.5)}
    frame = _frame({"X": 1.0, "Y": 1.2, "Z": 1.3}, {"X": 0.9, "Y": 1.0, "Z": 1.3}, steps)
    row = regret.per_chain(frame).iloc[0]
    assert row[f"{regret.HEDGED} pick"] == "X" and row[f"{regret.HEDGED} faster"]
    assert row["step sum pick"] == "Z" and row["step sum regret"] == pytest.approx(1.3 / 0.9 - 1)
    assert row["step sum differs"] and not row["step sum faster"]
    text = regret.conclude(frame.assign(time_model="default"))
    assert "picking measured" in text and "picking step sum" in text


def brute_force_wide(dims):
    n = len(dims) - 1
    for tree in all_trees(0, n - 1):
        ranges = {i: (i, i + 1) for i in range(n)}
        for number, (left, right) in enumerate(tree_to_steps(tree, n), start=n):
            (start, inner), (_, end) = ranges[left], ranges[right]
            ranges[number] = (start, end)
            if 8 * dims[start] * dims[end] >= regret.WIDE_BYTES and dims[inner] <= 16:
                return True
    return False


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([1, 2, 16, 17, 700, 1024, 1536, 3000]), min_size=3,
                max_size=6))
def test_wide_matches_every_step_of_every_bracketing(dims):
    assert regret.is_wide(tuple(dims)) == brute_force_wide(dims)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 6))
def test_the_two_generators_draw_their_stated_distributions(seed, n):
    dims, gram = regret.mixed_chain(np.random.default_rng(seed), n)
    assert len(dims) == n + 1 and all(1 <= d <= regret.LARGEST for d in dims)
    assert not any(16 < d < 32 for d in dims)  # the gap between the thin and large ranges
    for i in gram:
        assert dims[i + 2] == dims[i]
    listed, none = regret.listed_chain(np.random.default_rng(seed), n)
    assert none == () and set(listed) <= set(regret.LISTED)
    for chain in (dims, listed):
        assert regret._total_multiplications(chain) <= regret.MAX_TOTAL_MULTIPLICATIONS


def test_chain_sets_are_seeded_independent_and_include_the_example():
    full = Settings(sizes=(3, 4), repeats=1, seed=0)
    chains = list(regret._chains(full))
    assert chains == list(regret._chains(full))  # the same seed, the same chains
    assert [c[0] for c in chains].count("example") == 1
    by_set = {name: {c[2] for c in chains if c[0] == name} for name in ("mixed", "listed")}
    assert not by_set["mixed"] & by_set["listed"]
    other = {c[2] for c in regret._chains(Settings(sizes=(3, 4), repeats=1, seed=1))}
    assert not other & by_set["mixed"]


def test_confirmations_take_the_arrays_copies_in_turn():
    # Every order of a round runs on the same copy; the copies are allocated apart.
    settings = settings_for(discover()["regret"], quick=True, repeats=1)
    chain = regret._Chain(settings, {"set": "mixed"}, (1, 3, 0), (40, 3, 50, 6), (),
                          DEFAULT_MODEL)
    rows = [{"order": order, "time_median_s": str(t), "mults_pick": str(m),
             "time_pick": str(not m)} for order, t, m in [("((AB)C)", 1.0, True),
                                                          ("(A(BC))", 2.0, False)]]
    case = chain.confirmation(rows)
    variants = case.variants()
    holder = case.before_round.__self__
    copies = holder.copies
    assert len(copies) == regret.PLACEMENTS and case.before_round is not None
    for one, other in zip(copies, copies[1:]):
        assert all(np.array_equal(x, y) and not np.shares_memory(x, y)
                   for x, y in zip(one, other))
    for round_number in range(4):
        case.before_round(round_number)
        assert holder.arrays() is copies[round_number % regret.PLACEMENTS]
        results = [variant.run() for variant in variants]
        np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
