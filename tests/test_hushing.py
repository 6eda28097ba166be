"""Hu–Shing against brute force, the DP, textbook examples and invariants."""

import functools
import itertools
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainopt
from chainopt.costs import steps_cost
from chainopt.hushing import _rotate, _sweep, hu_shing
from chainopt.planners import (
    DP_AUTO_LIMIT,
    HU_SHING_FROM,
    brute_force,
    dp,
    resolve_method,
)
from chainopt.trees import steps_to_tree, tree_to_steps


def shapes_of(dims):
    return [(int(dims[i]), int(dims[i + 1])) for i in range(len(dims) - 1)]


def recomputed(dims, steps):
    """The multiplications of the returned order, by chainopt.costs alone."""
    n = len(dims) - 1
    assert tree_to_steps(steps_to_tree(steps, n), n) == steps if steps else n == 1
    return steps_cost(shapes_of(dims), ["dense"] * n, steps)


def batched_dp(P):
    """CLRS's DP for a batch of chains of one length (rows of ``P``), in int64."""
    count, n = P.shape[0], P.shape[1] - 1
    m = np.zeros((count, n, n), dtype=np.int64)
    for span in range(1, n):
        for i in range(n - span):
            j = i + span
            m[:, i, j] = (m[:, i, i:j] + m[:, i + 1 : j + 1, j]
                          + P[:, i, None] * P[:, i + 1 : j + 1] * P[:, j + 1, None]).min(axis=1)
    return m[:, 0, n - 1]


def adversarial(rng, count, n):
    """``count`` chains of n factors: a mix of dimension families that tie."""
    family = rng.integers(0, 9, count)[:, None]
    width = n + 1
    uniform = rng.integers(1, 1001, (count, width))
    powers = 2 ** rng.integers(0, 11, (count, width))
    tiny = rng.integers(1, 4, (count, width))
    ones = np.where(rng.random((count, width)) < 0.5, 1, rng.integers(1, 60, (count, width)))
    minima = np.where(rng.random((count, width)) < 0.3, 3, rng.integers(3, 40, (count, width)))
    runs = np.repeat(rng.integers(1, 30, (count, width)), 7, axis=1)[:, :width]
    monotone = np.sort(rng.integers(1, 500, (count, width)), axis=1)
    valley = np.abs(np.arange(width) - rng.integers(0, width, (count, 1))) + rng.integers(
        1, 4, (count, 1))
    near = rng.integers(100, 103, (count, width))
    choices = [uniform, powers, tiny, ones, minima, runs, monotone, valley, near]
    dims = np.choose(family, choices)
    flip = rng.random(count) < 0.5
    dims[flip] = dims[flip, ::-1]
    return dims.astype(np.int64)


def test_clrs():
    cost, steps = hu_shing([30, 35, 15, 5, 10, 20, 25])
    assert cost == 15125
    assert steps_to_tree(steps, 6) == ((0, (1, 2)), ((3, 4), 5))


@pytest.mark.parametrize("dims, cost", [
    ([5, 10, 3, 12, 5, 50, 6], 2010),  # CLRS exercise 15.2-1
    ([10, 30, 5, 60], 4500),  # Wikipedia's (AB)C example
    ([40, 20, 30, 10, 30], 26000),  # a chain whose optimum is not a fan
    ([10, 20, 30, 40, 30], 30000),
    ([10, 100, 5, 50], 7500),  # numpy.linalg.multi_dot's docstring
])
def test_published_examples(dims, cost):
    found, steps = hu_shing(dims)
    assert found == cost == brute_force(dims)[0] == recomputed(dims, steps)


def test_hu_and_shings_pentagon_whose_stable_partition_is_not_optimal():
    # Hu and Shing, Part I: the polygon 12, 40, 25, 11, 10 has a *stable*
    # partition (no single arc flip improves it), the fan from the lightest
    # vertex, 10·12·40 + 10·40·25 + 10·25·11 = 17,550, that is not optimal.
    # The optimum keeps the h-arc 12-25 (40 is heavier than both ends):
    # 12·40·25 + 12·25·11 + 12·11·10 = 16,620. Every rotation of the polygon
    # is a different chain of 4 factors with that same optimum.
    weights = [12, 40, 25, 11, 10]
    fan_from_lightest = 10 * 12 * 40 + 10 * 40 * 25 + 10 * 25 * 11
    assert fan_from_lightest == 17550
    for r in range(5):
        dims = weights[r:] + weights[:r]
        cost, steps = hu_shing(dims)
        assert cost == 16620 == brute_force(dims)[0] == recomputed(dims, steps)
    assert steps_to_tree(hu_shing(weights)[1], 4) == (((0, 1), 2), 3)


def candidate_arcs(dims):
    """Arcs (x, y) of the rotated polygon whose inside vertices are all heavier.

    Straight from the definition, O(n³): the independent reference for the
    sweep. Vertices are ordered by (weight, position after the rotation),
    the module's tie rule; arcs touching V1 are left out, as in the sweep.
    """
    w, _ = _rotate(dims)
    last = len(w) - 1
    key = [(w[p], p) for p in range(last)]
    return {(x, y) for x in range(1, last) for y in range(x + 2, last)
            if all(key[p] > key[x] and key[p] > key[y] for p in range(x + 1, y))}


def test_the_sweep_finds_exactly_the_candidate_h_arcs(rng):
    for _ in range(3000):
        n = int(rng.integers(2, 10))
        dims = [int(d) for d in rng.choice([1, 2, 3, 4, 5, 8], n + 1)]
        w, _ = _rotate(dims)
        found = {(x, y) for x, y, _ in _sweep(w) if x is not None}
        assert found == candidate_arcs(dims), dims


def test_without_candidate_h_arcs_the_fan_from_the_lightest_vertex_is_optimal(rng):
    # The lemma whose proof Schwartz and Weiss (2019) found false as stated
    # and repaired: a minimum partition without h-arcs is the fan from V1.
    # Checked here against brute force wherever the polygon has no candidate
    # h-arc at all (then its minimum partition cannot have one).
    checked = 0
    for _ in range(4000):
        n = int(rng.integers(2, 9))
        dims = [int(d) for d in rng.integers(1, 30, n + 1)]
        if candidate_arcs(dims):
            continue
        w, _ = _rotate(dims)
        fan = sum(w[0] * w[p] * w[p + 1] for p in range(1, len(w) - 2))
        assert hu_shing(dims)[0] == brute_force(dims)[0] == fan, dims
        checked += 1
    assert checked > 300


def test_brute_force_for_every_n_up_to_9(rng):
    # Every chain over {1, 2, 3} up to 5 factors, then random adversarial ones.
    for n in range(1, 6):
        for dims in itertools.product((1, 2, 3), repeat=n + 1):
            cost, steps = hu_shing(list(dims))
            assert cost == brute_force(list(dims))[0] == recomputed(dims, steps), dims
    for n in range(6, 10):
        for dims in adversarial(rng, 12, n).tolist():
            cost, steps = hu_shing(dims)
            assert cost == brute_force(dims)[0] == recomputed(dims, steps), dims


def test_equals_the_dp_on_ten_thousand_adversarial_chains(rng):
    # 10,000 chains of 2..40 factors and 176 of 50..300, every dimension
    # family of `adversarial`; the reference is a batched int64 CLRS DP.
    batches = [(n, 260) for n in range(2, 41)] + [(50, 64), (100, 64), (200, 32), (300, 16)]
    checked = 0
    for n, count in batches:
        chains = adversarial(rng, count, n)
        expected = batched_dp(chains)
        for dims, best in zip(chains.tolist(), expected.tolist()):
            cost, steps = hu_shing(dims)
            assert cost == best == recomputed(dims, steps), dims
        checked += count
    assert checked >= 10_000


def test_equals_the_dp_on_random_chains_of_every_length(rng):
    for n in range(2, 120, 7):
        dims = [int(d) for d in rng.integers(1, 10**6, n + 1)]
        assert hu_shing(dims)[0] == dp(dims)[0]


def test_costs_are_exact_python_ints_at_any_size():
    rng = np.random.default_rng(3)
    for scale in (10**9, 10**30, 2**1100):  # beyond int64, beyond float range
        dims = [scale + int(d) for d in rng.integers(0, 1000, 16)]
        cost, steps = hu_shing(dims)
        assert type(cost) is int
        assert cost == dp(dims)[0] == recomputed(dims, steps)


def dims_strategy(max_factors=40):
    return st.lists(st.one_of(st.integers(1, 6), st.integers(1, 2000),
                              st.sampled_from([1, 2, 4, 8, 1024])),
                    min_size=2, max_size=max_factors + 1)


@settings(max_examples=300, deadline=None)
@given(dims_strategy())
def test_reversal_invariance_and_the_returned_tree(dims):
    cost, steps = hu_shing(dims)
    assert cost == recomputed(dims, steps)
    assert hu_shing(dims[::-1])[0] == cost


@settings(max_examples=100, deadline=None)
@given(dims_strategy(max_factors=25), st.integers(0, 25))
def test_rotating_the_polygon_keeps_the_cost(dims, shift):
    # The chain is a polygon: every rotation of its n+1 weights is a chain
    # with the same optimal triangulation cost (V1 lands elsewhere).
    shift %= len(dims)
    assert hu_shing(dims[shift:] + dims[:shift])[0] == hu_shing(dims)[0]


def test_ties_are_deterministic():
    dims = [4] * 12 + [2, 2, 8, 8, 2]
    assert hu_shing(dims) == hu_shing(list(dims))
    assert len({tuple(hu_shing(dims)[1]) for _ in range(3)}) == 1


def _depth():
    frame, depth = sys._getframe(), 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


@pytest.mark.parametrize("shape", ["valley", "peak", "zigzag", "equal"])
def test_iterative_under_a_low_recursion_limit(shape):
    # Deeply nested arcs and trees thousands of levels deep, run with a
    # recursion limit a few frames above the caller: nothing may recurse.
    n = 20_000
    i = np.arange(n + 1)
    dims = {"valley": np.abs(i - n // 2) + 1, "peak": n - np.abs(i - n // 2) + 1,
            "zigzag": np.where(i % 2, 1000, i % 7 + 1), "equal": np.full(n + 1, 7)}[shape]
    dims = dims.tolist()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + 40)
    try:
        cost, steps = hu_shing(dims)
    finally:
        sys.setrecursionlimit(limit)
    assert len(steps) == n - 1
    assert cost == steps_cost(shapes_of(dims), ["dense"] * n, steps)


def test_plan_chain_returns_an_executable_exact_plan(rng):
    shapes = shapes_of([int(d) for d in rng.integers(1, 9, 14)])
    plan = chainopt.plan_chain(shapes, method="hu-shing")
    assert plan.method == "hu-shing" and plan.exact
    assert plan.cost == dp([r for r, _ in shapes] + [shapes[-1][1]])[0]
    assert tree_to_steps(plan.tree, plan.n) == list(plan.pairs)
    assert len(plan.steps) == plan.n - 1
    arrays = [rng.standard_normal(shape) for shape in shapes]
    expected = functools.reduce(np.matmul, arrays)
    np.testing.assert_allclose(plan.execute(*arrays), expected, rtol=1e-9)
    np.testing.assert_allclose(plan.execute(*arrays), np.linalg.multi_dot(arrays), rtol=1e-9)


def test_hu_shing_is_not_called_exact_where_it_does_not_apply():
    shapes = [(5, 5), (5, 40), (40, 3), (3, 3), (3, 30)]
    assert chainopt.plan_chain(shapes, method="hu-shing").exact
    diagonal = chainopt.plan_chain(shapes, method="hu-shing",
                                   kinds=["diagonal", "dense", "dense", "diagonal", "dense"])
    assert not diagonal.exact
    assert not chainopt.plan_chain(shapes, method="hu-shing", minimize="memory").exact


def test_auto_chooses_by_length_and_objective():
    assert resolve_method("auto", HU_SHING_FROM - 1) == "dp"
    assert resolve_method("auto", HU_SHING_FROM) == "hu-shing"
    assert resolve_method("auto", 10**6) == "hu-shing"
    for other in [{"dense": False}, {"cost": "time"}, {"cost": "memory"},
                  {"cost": lambda m, k, n: m * k * n}, {"memory_limit": 10}]:
        assert resolve_method("auto", DP_AUTO_LIMIT, **other) == "dp"
    for other in [{"dense": False}, {"cost": "time"}, {"cost": "memory"},
                  {"cost": lambda m, k, n: m * k * n}]:
        assert resolve_method("auto", DP_AUTO_LIMIT + 1, **other) == "approx"
    assert resolve_method("auto", DP_AUTO_LIMIT + 1, memory_limit=10) == "hu-shing"


def test_auto_is_exact_beyond_the_dp_limit_and_says_when_it_is_not(rng):
    n = DP_AUTO_LIMIT + 50
    shapes = shapes_of([int(d) for d in rng.integers(1, 100, n + 1)])
    plan = chainopt.plan_chain(shapes)
    assert (plan.method, plan.exact) == ("hu-shing", True)
    assert "exact optimum" in str(plan).splitlines()[1]
    fallback = chainopt.plan_chain(shapes, minimize="memory")
    assert (fallback.method, fallback.exact) == ("approx", False)
    assert "approximate" in str(fallback).splitlines()[1]
    assert fallback.cost >= plan.cost


def test_auto_beyond_the_dp_limit_keeps_a_memory_limit(rng):
    n = DP_AUTO_LIMIT + 10
    shapes = shapes_of([int(d) for d in rng.integers(1, 50, n + 1)])
    free = chainopt.plan_chain(shapes)
    fits = chainopt.plan_chain(shapes, memory_limit=free.peak_elements)
    assert (fits.method, fits.exact, fits.cost) == ("hu-shing", True, free.cost)
    with pytest.raises(chainopt.ChainError, match="memory_limit"):
        chainopt.plan_chain(shapes, memory_limit=0)
