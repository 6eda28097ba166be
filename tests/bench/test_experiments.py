"""Every experiment, run --quick into a temporary directory, and its pieces
checked against independent references (brute force, closed forms, NumPy).

Timing values are never asserted.
"""

import importlib
import itertools

import numpy as np
import pytest
from chainopt.experiments import discover, gram, jacobian, orders, planner
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt
from chainopt.bench import reports
from chainopt.bench.experiment import Settings
from chainopt.bench.reports import load_frame, read_meta
from chainopt.bench.runner import run_experiment, settings_for
from chainopt.costs import steps_cost
from chainopt.planners import dp
from chainopt.trees import all_trees, catalan, tree_to_steps

NAMES = ["gram", "orders", "jacobian", "planner"]
DTYPES = {"int": "int64", "float": "float64", "bool": "bool"}


@pytest.fixture(scope="module")
def quick_runs(quick_suite):
    """Each experiment run once with --quick --repeats 1: `chainopt run`'s reports
    (tests/bench/conftest.py), which has the settings ``settings_for(experiment,
    quick=True, repeats=1)``."""
    assert set(NAMES) <= {name for name, e in discover().items() if e.in_suite}
    return quick_suite.out


def test_registry_matches_modules():
    known = discover()
    for name in NAMES:
        module = importlib.import_module(f"chainopt.experiments.{name}")
        assert known[name] is module.EXPERIMENT
        assert known[name].in_suite


@pytest.mark.parametrize("name", NAMES)
def test_every_column_is_documented_in_the_module_docstring(name):
    experiment = discover()[name]
    doc = importlib.import_module(f"chainopt.experiments.{name}").__doc__
    for column in experiment.case_columns + experiment.variant_columns:
        assert f"``{column.name}``" in doc, column.name
        assert column.description


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_writes_every_file(quick_runs, name):
    for suffix in (".csv", ".md", ".png", ".json"):
        assert (quick_runs / f"{name}{suffix}").stat().st_size > 0
    index = (quick_runs / "README.md").read_text()
    assert f"[{name}]({name}.md)" in index


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_columns_and_dtypes(quick_runs, name):
    experiment = discover()[name]
    frame = load_frame(quick_runs, experiment)
    assert list(frame.columns) == [c.name for c in experiment.columns]
    assert len(frame) > 0
    for column in experiment.columns:
        if column.dtype in DTYPES:
            assert frame[column.name].dtype == DTYPES[column.dtype], column.name
    assert (frame["repeats"] == 1).all() and (frame["loops"] >= 1).all()
    assert (frame["time_min_s"] <= frame["time_median_s"]).all()
    assert (frame["time_median_s"] <= frame["time_max_s"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_markdown(quick_runs, name):
    experiment = discover()[name]
    text = (quick_runs / f"{name}.md").read_text()
    headline = text.split("\n")[2]
    meta = read_meta(quick_runs, name)
    assert headline == reports.headline(experiment, load_frame(quick_runs, experiment), meta)
    assert "target" not in headline and "issue" not in headline.lower()  # --quick: no verdicts
    assert "## Machine load" in text and "| other_cores |" in text
    assert len(headline) > 40 and "No measurements" not in headline
    env = read_meta(quick_runs, name)["environment"]
    assert "## Environment" in text and f"| blas_threads | {env['blas_threads']} |" in text
    assert "## Results" in text and f"## Data: `{name}.csv`" in text


def test_quick_runs_resume_without_measuring(copy_of_suite):
    experiment = discover()["gram"]
    summary = run_experiment(experiment, settings_for(experiment, quick=True, repeats=1),
                             copy_of_suite, resume=True, progress=False)
    assert summary.measured == 0 and summary.skipped == 2


# -- gram ---------------------------------------------------------------------
def test_gram_counts_are_2mn2_and_2m2n():
    for m, n in [(30, 10), (10, 30), (7, 7)]:
        assert gram.multiplications(m, n, gram.GRAM_FIRST) == 2 * m * n * n
        assert gram.multiplications(m, n, gram.OUTER_FIRST) == 2 * m * m * n


def test_gram_quick_rows(quick_runs):
    frame = load_frame(quick_runs, discover()["gram"])
    assert set(zip(frame["m"], frame["n"])) == {(8, 48), (48, 8)}
    assert len(frame) == 2 * 4  # two orders × view/copy per shape
    table = gram.summarize(frame)
    assert np.allclose(table["predicted (AAᵀ)A / A(AᵀA)"], table["m"] / table["n"])


def test_gram_orders_compute_the_same_product(rng):
    variants = gram._variants(Settings((8, 20), 1, seed=0), 20, 8)
    results = [variant.run() for variant in variants]
    for result in results[1:]:
        assert np.allclose(result, results[0])


# -- orders -------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=3, max_size=8))
def test_worst_tree_is_the_costliest_bracketing(dims):
    n = len(dims) - 1
    shapes = [(dims[i], dims[i + 1]) for i in range(n)]

    def cost(tree):
        return steps_cost(shapes, ["dense"] * n, tree_to_steps(tree, n))

    worst = max(cost(tree) for tree in all_trees(0, n - 1))
    assert cost(orders.worst_tree(dims)) == worst


def test_orders_times_every_bracketing_of_short_chains(quick_runs):
    frame = load_frame(quick_runs, discover()["orders"])
    for chain, group in frame.groupby("chain"):
        n = int(group["n"].iloc[0])
        expected = catalan(n - 1) if n <= orders.ALL_ORDERS_LIMIT else None
        if expected:
            assert len(group) == expected and group["order"].is_unique, chain
            assert group.loc[group["optimal"], "cost"].item() == group["cost"].min()
            assert group.loc[group["worst"], "cost"].item() == group["cost"].max()
        else:
            assert 2 <= len(group) <= 4
        for role in orders.ROLES:
            assert group[role].sum() == 1, (chain, role)
        dims = [int(d) for d in group["dims"].iloc[0].split(",")]
        assert group.loc[group["optimal"], "cost"].item() == dp(dims)[0]
    clrs = frame[frame["chain"] == "clrs"]
    assert clrs.loc[clrs["optimal"], "order"].item() == "((A(BC))((DE)F))"
    assert clrs.loc[clrs["optimal"], "cost"].item() == 15125


def test_orders_same_seed_same_chains():
    def chains(seed):
        return [case.params["dims"] for case in orders.cases(Settings((4, 9), 1, seed))]

    assert chains(3) == chains(3)
    assert chains(3) != chains(4)
    assert chains(3)[:5] == chains(4)[:5]  # the classic chains do not depend on the seed


def test_orders_per_chain_regret_and_correlation(quick_runs):
    table = orders.per_chain(load_frame(quick_runs, discover()["orders"]))
    assert (table["regret"] >= 0).all()
    assert (table.loc[table["optimal is fastest"], "regret"] == 0).all()
    assert table["spearman"].dropna().between(-1, 1).all()


# -- planner ------------------------------------------------------------------
def test_numpy_split_table_converts_to_the_optimal_steps(rng):
    dims = [int(d) for d in rng.integers(1, 50, 9)]
    objects = [np.empty((dims[i], dims[i + 1])) for i in range(8)]
    split = planner.numpy_planner()(objects)
    shapes = [o.shape for o in objects]
    assert steps_cost(shapes, ["dense"] * 8, planner.split_to_steps(split, 8)) == dp(dims)[0]


def test_einsum_paths_convert_to_steps(rng):
    opt_einsum = pytest.importorskip("opt_einsum")
    dims = [int(d) for d in rng.integers(1, 50, 8)]
    shapes = [(dims[i], dims[i + 1]) for i in range(7)]
    path, _ = opt_einsum.contract_path("ab,bc,cd,de,ef,fg,gh->ah", *shapes, shapes=True,
                                       optimize="dp")
    assert steps_cost(shapes, ["dense"] * 7, planner.path_to_steps(path, 7)) == dp(dims)[0]
    with pytest.raises(ValueError, match="not adjacent"):
        planner.path_to_steps([(0, 2)], 3)


def test_cotengra_paths_convert_to_steps(rng):
    cotengra = pytest.importorskip("cotengra")
    dims = [int(d) for d in rng.integers(1, 50, 8)]
    shapes = [(dims[i], dims[i + 1]) for i in range(7)]
    path = cotengra.array_contract_path([(i, i + 1) for i in range(7)], (0, 7), shapes=shapes,
                                        optimize="optimal", cache=False)
    assert steps_cost(shapes, ["dense"] * 7, planner.path_to_steps(path, 7)) == dp(dims)[0]


def test_planner_quick_rows(quick_runs):
    frame = load_frame(quick_runs, discover()["planner"])
    random = frame[frame["case"] == planner.RANDOM]
    assert set(random["n"]) == set(discover()["planner"].quick_sizes)
    assert set(frame["case"]) == {planner.RANDOM, "huge dims", "objectives", "matrix-free"}
    for (case, n), group in frame[frame["case"].isin([planner.RANDOM, "huge dims"])].groupby(
            ["case", "n"]):
        costs = group["cost"].map(int)
        exact = costs[group["exact"]]
        assert exact.nunique() == 1, (case, n)
        assert (costs >= exact.iloc[0]).all()
    for _, group in random.groupby("n"):
        assert {planner.CHAINOPT, "chainopt planners.dp", planner.NUMPY,
                planner.HU_SHING, planner.AUTO} <= set(group["planner"])
        assert (group.loc[group["planner"] == planner.HU_SHING, "peak_mib"] > 0).all()
    headline = planner.conclude(frame)
    assert "All exact planners found the same optimal cost" in headline
    assert "than the DP kernel" in headline  # timings themselves are never asserted
    assert ": met" not in headline and ": not met" not in headline  # quick sizes judge none
    assert "DP targets" not in headline


def test_growth_exponent_recovers_a_power_law():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    assert planner.growth_exponent(n, 3e-7 * n**1.25) == pytest.approx(1.25)


# -- jacobian -----------------------------------------------------------------
def test_jacobian_quick_rows(quick_runs):
    frame = load_frame(quick_runs, discover()["jacobian"])
    assert set(frame["profile"]) == set(jacobian.PROFILES) | {"ceiling"}
    assert set(frame["threads"]) == set(jacobian.thread_counts())
    nets = frame[frame["profile"] != "ceiling"]
    for (widths, _), group in nets.groupby(["widths", "threads"]):
        net = chainopt.mlp([int(w) for w in widths.split("-")], seed=0)
        plan = chainopt.plan_jacobian(net.widths, net.kinds)
        by_mode = dict(zip(group["mode"], group["multiplications"]))
        assert {k: by_mode[k] for k in jacobian.MODES} == {
            "forward": plan.forward_cost, "reverse": plan.reverse_cost, "optimal": plan.cost}
        assert by_mode["hand-written"] == by_mode["optimal out="] == plan.cost
        assert group["plan_mode"].iloc[0] == plan.mode
        assert (group["bytes"] == jacobian.traffic_bytes(net)).all()
    hourglass = nets[nets["profile"] == "hourglass"]
    assert (hourglass["plan_mode"] == "mixed").all()
    assert {"hand-written plain", "hand-written fused"} <= set(hourglass["mode"])
    table = jacobian.per_network(frame)
    assert (table["ceiling ms"] > 0).all()
    assert (table["optimal out= / ceiling"] > 0).all()


def test_jacobian_profiles_include_the_issue_3_hourglass():
    assert jacobian.PROFILES["hourglass"](1000) == (1000, 1000, 10, 1000, 1000)
    assert 1000 in discover()["jacobian"].sizes


def test_jacobian_variants_agree():
    for profile in jacobian.PROFILES:
        variants = jacobian._variants(Settings((12,), 1, seed=0), profile, 12, threads=1)
        results = [np.asarray(variant.run()) for variant in variants]
        assert len(results) >= 5
        for result in results[1:]:
            assert np.allclose(result, results[0]), profile


def test_default_suite_covers_every_size_range():
    for experiment in discover().values():
        low, high = experiment.size_range
        for size in itertools.chain(experiment.sizes, experiment.quick_sizes):
            assert low <= size <= high, experiment.name


# -- threads -------------------------------------------------------------------
def test_threads_quick_rows_and_the_neighbour_stops(tmp_path):
    from chainopt.experiments import threads

    experiment = discover()["threads"]
    assert not experiment.in_suite
    run_experiment(experiment, settings_for(experiment, quick=True, repeats=1), tmp_path,
                   progress=False, registry=discover())
    frame = load_frame(tmp_path, experiment)
    assert set(frame["kernel"]) == set(threads.KERNELS)
    assert set(frame["load"]) == {"quiet", "busy"}
    assert set(frame["threads"]) == set(threads.thread_counts())
    for row in frame.itertuples():
        assert row.flops == threads._flops(row.kernel, row.n)
    assert threads.per_kernel(frame)["1 thread GFLOP/s"].gt(0).all()
    threads._NEIGHBOUR.stop()
    assert not threads._NEIGHBOUR.running
