import functools
import itertools

import numpy as np
import pandas as pd
import pytest

import chainopt
from chainopt import ChainError, PlanMismatchError, plan_chain

from .conftest import CLRS_SHAPES


def reference_product(arrays):
    return functools.reduce(np.matmul, arrays)


def random_chain(rng, dims):
    return [rng.standard_normal((dims[i], dims[i + 1])) for i in range(len(dims) - 1)]


def test_clrs_plan():
    plan = plan_chain(CLRS_SHAPES)
    assert plan.cost == 15125
    assert plan.parenthesization == "((A(BC))((DE)F))"
    assert plan.tree == ((0, (1, 2)), ((3, 4), 5))
    assert plan.left_to_right_cost == 40500
    assert plan.right_to_left_cost == 47500
    assert plan.left_to_right_speedup == pytest.approx(40500 / 15125)
    assert plan.flops == 30250
    assert plan.exact and plan.method == "dp"


def test_steps_describe_each_product():
    plan = plan_chain(CLRS_SHAPES)
    first = plan.steps[0]
    assert (first.left, first.right, first.result) == ("B", "C", "T1")
    assert first.shape == (35, 5) and first.multiplications == 2625
    assert sum(s.multiplications for s in plan.steps) == plan.cost
    assert plan.largest_intermediate.shape == (35, 5)


def test_explanation_mentions_everything():
    text = str(plan_chain(CLRS_SHAPES))
    for fragment in ["((A(BC))((DE)F))", "15,125 multiplications", "40,500",
                     "47,500", "2.68×", "3.14×", "Largest intermediate: T1 35×5",
                     "FLOPs"]:
        assert fragment in text


def test_to_frame_and_to_dict():
    plan = plan_chain(CLRS_SHAPES)
    frame = plan.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [1, 2, 3, 4, 5]
    assert frame["multiplications"].sum() == 15125
    assert (frame["flops"] == 2 * frame["multiplications"]).all()
    data = plan.to_dict()
    assert data["cost"] == 15125 and len(data["steps"]) == 5


def test_plan_is_immutable_and_comparable():
    plan = plan_chain(CLRS_SHAPES)
    with pytest.raises(AttributeError):
        plan.cost = 1
    assert plan == plan_chain(CLRS_SHAPES)
    assert hash(plan) == hash(plan_chain(CLRS_SHAPES))
    assert "((A(BC))((DE)F))" in repr(plan)


def test_names_are_used():
    plan = plan_chain([(2, 3), (3, 4)], names=["W", "x"])
    assert plan.parenthesization == "(Wx)"
    plan = plan_chain([(2, 3), (3, 4)], names=["W1", "W2"])
    assert plan.parenthesization == "(W1 W2)"
    assert plan_chain([(2, 2)] * 27).names[-1] == "A27"
    with pytest.raises(ChainError, match="names has 1 entries for 2"):
        plan_chain([(2, 3), (3, 4)], names=["W"])


def test_single_factor_is_a_trivial_plan(rng):
    plan = plan_chain([(3, 4)])
    assert plan.cost == 0 and plan.steps == () and plan.parenthesization == "A"
    a = rng.standard_normal((3, 4))
    assert np.array_equal(plan.execute(a), a)


@pytest.mark.parametrize("n", range(2, 9))
def test_execute_equals_reduce_matmul(rng, n):
    dims = [int(d) for d in rng.integers(1, 12, n + 1)]
    arrays = random_chain(rng, dims)
    result = plan_chain(arrays).execute(*arrays)
    np.testing.assert_allclose(result, reference_product(arrays), rtol=1e-10, atol=1e-12)


def test_every_method_executes_the_same_product(rng):
    arrays = random_chain(rng, [5, 1, 9, 3, 7, 2])
    expected = reference_product(arrays)
    for method in ["dp", "approx", "brute", "left", "right"]:
        plan = plan_chain(arrays, method=method)
        np.testing.assert_allclose(plan(*arrays), expected, rtol=1e-10)


def test_execute_vectors_and_out(rng):
    v, M, w = rng.standard_normal(4), rng.standard_normal((4, 5)), rng.standard_normal(5)
    plan = plan_chain([v, M, w])
    assert np.ndim(plan(v, M, w)) == 0
    assert plan(v, M, w) == pytest.approx(v @ M @ w)
    out = np.empty((4, 5))
    N = rng.standard_normal((5, 5))
    result = plan_chain([M, N, N.T]).execute(M, N, N.T, out=out)
    assert result is out
    np.testing.assert_allclose(out, M @ N @ N.T)


def test_execute_checks_arrays_against_the_plan(rng):
    plan = plan_chain(CLRS_SHAPES)
    arrays = [np.ones(s) for s in CLRS_SHAPES]
    with pytest.raises(PlanMismatchError, match="the plan is for 6 factors; got 5"):
        plan.execute(*arrays[:5])
    arrays[3] = np.ones((5, 11))
    expected = r"array 3 has shape 5×11 .* factor 3 \(D\) to be 5×10"
    with pytest.raises(PlanMismatchError, match=expected):
        plan.execute(*arrays)
    with pytest.raises(ChainError):  # one family
        plan.execute(*arrays)


def test_long_chain_executes_without_recursion(rng):
    arrays = [np.eye(3) + 0.01 * rng.standard_normal((3, 3)) for _ in range(10_000)]
    plan = plan_chain(arrays)
    np.testing.assert_allclose(plan(*arrays), reference_product(arrays), rtol=1e-8)
    assert len(plan.steps) == 9_999
    assert "10000 factors" in str(plan)
    assert plan.tree is not None  # built without recursion


def test_diagonal_kinds_cost_and_execute(rng):
    d = rng.standard_normal(6)
    A, B = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    plan = plan_chain([A, d, B], kinds=["dense", "diagonal", "dense"])
    assert plan.shapes[1] == (6, 6)
    dense = plan_chain([A, np.diag(d), B])
    assert plan.cost < dense.cost
    expected = A @ np.diag(d) @ B
    np.testing.assert_allclose(plan(A, d, B), expected)
    np.testing.assert_allclose(plan(A, np.diag(d), B), expected)
    with pytest.raises(PlanMismatchError, match="off its diagonal"):
        plan(A, np.ones((6, 6)), B)


def test_all_diagonal_chain(rng):
    ds = [rng.standard_normal(5) for _ in range(4)]
    plan = plan_chain(ds, kinds=["diagonal"] * 4)
    assert plan.cost == 3 * 5
    np.testing.assert_allclose(plan(*ds), np.diag(np.prod(ds, axis=0)))


def test_int_and_complex_dtypes(rng):
    ints = [rng.integers(-3, 3, s) for s in [(3, 4), (4, 2), (2, 5)]]
    assert np.array_equal(plan_chain(ints)(*ints), reference_product(ints))
    cplx = [rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in [(3, 4), (4, 2)]]
    np.testing.assert_allclose(plan_chain(cplx)(*cplx), cplx[0] @ cplx[1])


def test_plan_from_shapes_of_arrays_equals_plan_from_tuples(rng):
    arrays = random_chain(rng, [3, 8, 2, 6])
    assert plan_chain(arrays) == plan_chain([a.shape for a in arrays])


def test_every_bracketing_is_reachable_and_consistent(rng):
    # The cost reported for the optimum equals the minimum over all trees.
    from chainopt.costs import steps_cost
    from chainopt.trees import all_trees, tree_to_steps

    dims = [7, 2, 9, 4, 3, 8]
    shapes = [(dims[i], dims[i + 1]) for i in range(5)]
    costs = [steps_cost(shapes, ["dense"] * 5, tree_to_steps(t, 5)) for t in all_trees(0, 4)]
    assert plan_chain(shapes).cost == min(costs)
    assert plan_chain(shapes, method="left").cost in costs
    assert len(set(itertools.chain(costs))) > 1


def test_top_level_api():
    assert chainopt.plan_chain is plan_chain
    assert issubclass(chainopt.ChainError, ValueError)


# -- cost models --------------------------------------------------------------------
@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINOPT_TIME_MODEL", raising=False)


def test_default_cost_is_unchanged_multiplications():
    plan = plan_chain(CLRS_SHAPES)
    assert plan.minimized == "multiplications" and plan.objective == plan.cost == 15125
    assert plan.time_model is None and plan.predicted_time is None
    assert plan.memory_limit is None and plan.gram == ()
    assert plan_chain(CLRS_SHAPES, minimize="multiplications") == plan
    assert "Predicted" not in str(plan) and "Optimised for" not in str(plan)
    assert [s.kernel for s in plan.steps] == ["gemm"] * 5


def test_memory_plan_minimises_the_largest_intermediate():
    # (AB)C keeps a 10×5 intermediate, A(BC) a 100×50 one.
    shapes = [(100, 10), (10, 100), (100, 5)]
    by_mults = plan_chain(shapes)
    by_memory = plan_chain(shapes, minimize="memory")
    assert by_mults.parenthesization == "(A(BC))" and by_mults.peak_elements == 50
    assert by_memory.objective == by_memory.peak_elements == 50
    shapes = [(2, 50), (50, 2), (2, 50), (50, 50)]
    by_memory = plan_chain(shapes, minimize="memory")
    assert by_memory.peak_elements <= plan_chain(shapes).peak_elements
    assert by_memory.peak_elements == min(
        plan_chain(shapes, method="brute", minimize="memory").peak_elements, 100)
    assert "Optimised for: memory" in str(by_memory)
    assert repr(by_memory).endswith("for='memory'>")


def test_memory_limit_with_every_cost(private_cache):
    shapes = [(1, 40), (40, 40), (40, 40), (40, 1)]
    for cost in ("multiplications", "time", "memory"):
        plan = plan_chain(shapes, minimize=cost, memory_limit=40)
        assert plan.peak_elements <= 40 and plan.memory_limit == 40
        assert "Memory limit: 40 elements per intermediate" in str(plan)
        with pytest.raises(ChainError, match="smallest achievable largest intermediate is 40"):
            plan_chain(shapes, minimize=cost, memory_limit=39)
    with pytest.raises(ChainError, match="method='left' has an intermediate of 1,600"):
        plan_chain([(40, 40), (40, 40), (40, 1)], method="left", memory_limit=100)


def test_time_plan_reports_predicted_times(private_cache):
    from chainopt.timemodel import DEFAULT_MODEL

    plan = plan_chain(CLRS_SHAPES, minimize="time")
    assert plan.time_model is DEFAULT_MODEL and plan.minimized == "time"
    times = [s.predicted_time for s in plan.steps]
    assert all(t > 0 for t in times)
    assert plan.predicted_time == pytest.approx(sum(times)) == plan.objective
    assert plan.predicted_time <= min(plan.left_to_right_time, plan.right_to_left_time)
    assert plan.cost == sum(s.multiplications for s in plan.steps)  # still multiplications
    text = str(plan)
    assert "Optimised for: predicted time (default time model)" in text
    assert "Steps (multiplications, kernel and predicted time):" in text
    assert "gemm" in text and "µs" in text
    frame = plan.to_frame()
    assert {"kernel", "predicted_time"} <= set(frame.columns)
    assert frame["predicted_time"].sum() == pytest.approx(plan.predicted_time)
    data = plan.to_dict()
    assert data["minimized"] == "time" and data["time_model"] == "default"
    assert data["steps"][0]["predicted_time"] == times[0]
    annotated = plan_chain(CLRS_SHAPES, time_model=DEFAULT_MODEL)
    assert annotated.minimized == "multiplications" and annotated.predicted_time > 0
    assert plan_chain(CLRS_SHAPES).to_frame()["predicted_time"].isna().all()


def test_time_plan_prefers_gram_products_and_vectors(private_cache):
    from chainopt.timemodel import DEFAULT_MODEL

    rng = np.random.default_rng(0)
    A = rng.standard_normal((400, 300))
    found = plan_chain([A.T, A])
    assert found.gram == (0,) and found.kernels == ("syrk",)
    declared = plan_chain([(300, 400), (400, 300)], gram=[(0, 1)])
    assert declared.gram == (0,) and declared == found
    assert declared.to_dict()["gram"] == [[0, 1]]
    # The time model sees SYRK at about half the work of the same GEMM.
    with_gram = plan_chain([(300, 400), (400, 300)], gram=[(0, 1)], time_model=DEFAULT_MODEL)
    without = plan_chain([(300, 400), (400, 300)], time_model=DEFAULT_MODEL)
    assert with_gram.predicted_time < without.predicted_time
    with pytest.raises(ChainError, match="is not the transpose"):
        plan_chain([(300, 400), (400, 301)], gram=[(0, 1)])


def test_time_model_argument_and_errors(tmp_path, private_cache):
    from chainopt.timemodel import DEFAULT_MODEL, save_model

    path = save_model(DEFAULT_MODEL, tmp_path / "model.json")
    plan = plan_chain(CLRS_SHAPES, minimize="time", time_model=path)
    assert plan.time_model.source == str(path)
    with pytest.raises(ChainError, match="minimize must be one of"):
        plan_chain(CLRS_SHAPES, minimize="flops")
    with pytest.raises(ChainError, match="memory_limit must be"):
        plan_chain(CLRS_SHAPES, memory_limit=-5)


@pytest.mark.parametrize("cost", ["time", "memory"])
def test_every_cost_executes_the_same_product(rng, cost, private_cache):
    dims = [30, 1, 40, 4, 50, 1]
    arrays = random_chain(rng, dims)
    plan = plan_chain(arrays, minimize=cost)
    np.testing.assert_allclose(plan(*arrays), reference_product(arrays), rtol=1e-10)


def test_execute_rejects_objects_that_are_not_arrays():
    plan = plan_chain([(2, 3), (3, 4)])
    with pytest.raises(TypeError, match="array 1 must be an array; got NoneType"):
        plan.execute(np.ones((2, 3)), None)
    with pytest.raises(ChainError, match="out must be an ndarray"):
        plan.execute(np.ones((2, 3)), np.ones((3, 4)), out="x")


def test_out_of_the_returned_shape_is_returned_itself():
    plan = plan_chain([np.ones(3), np.ones((3, 4))])
    out = np.zeros(4)
    assert plan.execute(np.ones(3), np.ones((3, 4)), out=out) is out
    assert np.array_equal(out, np.full(4, 3.0))


def test_a_plan_20000_levels_deep_round_trips_through_json():
    # json.dumps(plan.tree) cannot work at this depth (the encoder recurses per
    # level); to_json holds the order flat and steps_to_tree rebuilds the tree.
    import json

    from chainopt.trees import steps_to_tree

    n = 20_000  # 20 times the recursion limit; 10**5 takes 4 s, as linearly
    plan = plan_chain([(2, 2)] * n, method="left")
    data = json.loads(plan.to_json())
    assert data["pairs"] == [list(pair) for pair in plan.pairs]
    assert steps_to_tree(data["pairs"], n) == plan.tree
    assert len(data["steps"]) == n - 1 and data["cost"] == 8 * (n - 1)
    assert data["parenthesization"] == "(" * (n - 1) + "A1 A2)" + "".join(
        f" A{i})" for i in range(3, n + 1))
    assert "plan.to_json()" in str(plan)
    with pytest.raises(RecursionError):
        json.dumps(plan.tree)
