"""Every registered planner against brute force, and the DP against CLRS."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainopt.costs import steps_cost
from chainopt.planners import (
    EXACT,
    PLANNERS,
    approx,
    brute_force,
    check_memory_limit,
    cost_table,
    dp,
    resolve_method,
)
from chainopt.trees import all_trees, catalan, steps_to_tree, tree_to_steps

CLRS_DIMS = [30, 35, 15, 5, 10, 20, 25]


def shapes_of(dims):
    return [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]


def test_clrs_table_matches_the_textbook():
    # CLRS 3rd ed., figure 15.5 (the m table, 0-based here).
    expected = {(0, 1): 15750, (1, 2): 2625, (2, 3): 750, (3, 4): 1000,
                (4, 5): 5000, (0, 2): 7875, (1, 3): 4375, (2, 4): 2500,
                (3, 5): 3500, (0, 3): 9375, (1, 4): 7125, (2, 5): 5375,
                (0, 4): 11875, (1, 5): 10500, (0, 5): 15125}
    table = cost_table(CLRS_DIMS)
    for (i, j), value in expected.items():
        assert table[i, j] == value


def test_clrs_optimum():
    cost, steps = dp(CLRS_DIMS)
    assert cost == 15125
    assert steps_to_tree(steps, 6) == ((0, (1, 2)), ((3, 4), 5))


def dims_strategy(max_factors=8, max_dim=30):
    return st.lists(st.integers(1, max_dim), min_size=2, max_size=max_factors + 1)


@settings(max_examples=300, deadline=None)
@given(dims_strategy())
def test_dp_equals_brute_force(dims):
    cost, steps = dp(dims)
    assert cost == brute_force(dims)[0]
    assert steps_cost(shapes_of(dims), ["dense"] * (len(dims) - 1), steps) == cost


@st.composite
def structured_chains(draw, max_factors=7):
    kinds = draw(st.lists(st.sampled_from(["dense", "diagonal"]), min_size=1,
                          max_size=max_factors))
    dims = [draw(st.integers(1, 25))]
    for kind in kinds:
        dims.append(dims[-1] if kind == "diagonal" else draw(st.integers(1, 25)))
    return dims, kinds


@settings(max_examples=300, deadline=None)
@given(structured_chains())
def test_structure_aware_dp_equals_brute_force(chain):
    dims, kinds = chain
    assert dp(dims, kinds)[0] == brute_force(dims, kinds)[0]


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_every_planner_gives_a_valid_bracketing(name, rng):
    for _ in range(30):
        n = int(rng.integers(1, 9))
        dims = [int(d) for d in rng.integers(1, 50, n + 1)]
        cost, steps = PLANNERS[name](dims, None)
        tree = steps_to_tree(steps, n) if steps else 0
        assert tree_to_steps(tree, n) == steps  # every factor once, in order
        assert cost == steps_cost(shapes_of(dims), ["dense"] * n, steps)
        best = brute_force(dims)[0]
        if name in EXACT:
            assert cost == best
        else:
            assert cost >= best


@settings(max_examples=200, deadline=None)
@given(dims_strategy(max_factors=12, max_dim=1000))
def test_optimum_is_invariant_under_reversal(dims):
    # (A1…An)ᵀ = Anᵀ…A1ᵀ: the transposed chain has the reversed dims.
    assert dp(dims)[0] == dp(dims[::-1])[0]


@settings(max_examples=200, deadline=None)
@given(dims_strategy(max_factors=7, max_dim=40))
def test_optimum_never_costs_more_than_any_bracketing(dims):
    n = len(dims) - 1
    best = dp(dims)[0]
    for tree in all_trees(0, n - 1):
        assert best <= steps_cost(shapes_of(dims), ["dense"] * n, tree_to_steps(tree, n))


def test_approx_is_near_optimal(rng):
    worst = 1.0
    for _ in range(300):
        n = int(rng.integers(2, 30))
        dims = [int(d) for d in rng.integers(1, 200, n + 1)]
        worst = max(worst, approx(dims)[0] / dp(dims)[0])
    assert worst <= 1.155  # Hu and Shing's bound for this heuristic


def test_ties_go_to_the_leftmost_split_like_numpy():
    from numpy.linalg._linalg import _multi_dot_matrix_chain_order

    class Fake:
        def __init__(self, shape):
            self.shape = shape

    dims = [4, 4, 4, 4, 4, 4]
    _, steps = dp(dims)
    order = _multi_dot_matrix_chain_order([Fake(s) for s in shapes_of(dims)])
    assert steps_to_tree(steps, 5)[0] == 0  # outermost split after factor 0
    assert order[0, 4] == 0


def test_costs_are_exact_beyond_int64():
    dims = [10**9, 10**9 + 7, 10**9 - 3, 10**9 + 1, 10**9 + 9]
    cost = dp(dims)[0]
    assert type(cost) is int
    assert cost == brute_force(dims)[0]
    assert cost > 2**63


def test_exact_with_many_factors_and_large_dims(rng):
    dims = [int(d) for d in rng.integers(10**8, 10**9, 41)]
    cost, steps = dp(dims)
    assert cost == steps_cost(shapes_of(dims), ["dense"] * 40, steps)


def test_catalan_counts_the_bracketings():
    for n in range(1, 9):
        assert sum(1 for _ in all_trees(0, n - 1)) == catalan(n - 1)


def test_resolve_method():
    assert resolve_method("auto", 6) == "dp"
    assert resolve_method("auto", 10**5) == "hu-shing"  # more in test_hushing.py
    assert resolve_method("auto", 10**5, cost="time") == "approx"
    with pytest.raises(ValueError, match="method must be one of"):
        resolve_method("fastest", 3)


def test_brute_force_refuses_long_chains():
    with pytest.raises(ValueError, match="brute force is limited"):
        brute_force([2] * 20)


def test_dp_matches_numpy_cost_on_long_random_chains(rng):
    from numpy.linalg._linalg import _multi_dot_matrix_chain_order

    class Fake:
        def __init__(self, shape):
            self.shape = shape

    dims = [int(d) for d in rng.integers(1, 300, 61)]
    _, table = _multi_dot_matrix_chain_order(
        [Fake(s) for s in shapes_of(dims)], return_costs=True)
    assert dp(dims)[0] == int(table[0, -1])
    assert np.array_equal(cost_table(dims)[np.triu_indices(60)],
                          table[np.triu_indices(60)].astype(np.int64))


# -- cost="memory", memory_limit= and cost="time" ---------------------------------
def tree_sizes(tree, dims, kinds):
    """(result elements, is diagonal, mults, intermediates) of a tree, recursively."""
    if isinstance(tree, int):
        return [], kinds[tree] == "diagonal", 0, tree, tree
    left, right = tree
    l_inner, l_diag, l_mults, l_first, l_last = tree_sizes(left, dims, kinds)
    r_inner, r_diag, r_mults, r_first, r_last = tree_sizes(right, dims, kinds)
    m, k, n = dims[l_first], dims[l_last + 1], dims[r_last + 1]
    mults = m if l_diag and r_diag else m * n if l_diag or r_diag else m * k * n
    size = m if l_diag and r_diag else m * n
    return (l_inner + r_inner + [size], l_diag and r_diag, l_mults + r_mults + mults,
            l_first, r_last)


def reference_memory(dims, kinds, limit=None):
    """Independent brute force: (peak, mults) of every bracketing within the limit."""
    n = len(dims) - 1
    found = []
    for tree in all_trees(0, n - 1):
        sizes, _, mults, _, _ = tree_sizes(tree, dims, kinds)
        peak = max(sizes[:-1], default=0)  # the final product is not an intermediate
        if limit is None or peak <= limit:
            found.append((peak, mults))
    return found


@settings(max_examples=300, deadline=None)
@given(structured_chains())
def test_memory_dp_equals_brute_force(chain):
    dims, kinds = chain
    best = min(reference_memory(dims, kinds))
    peak, steps = dp(dims, kinds, cost="memory")
    assert peak == best[0]
    assert steps_cost(shapes_of(dims), kinds, steps) == best[1]
    assert brute_force(dims, kinds, cost="memory")[0] == best[0]


@settings(max_examples=300, deadline=None)
@given(structured_chains(), st.integers(0, 700))
def test_memory_limit_equals_brute_force(chain, limit):
    dims, kinds = chain
    feasible = reference_memory(dims, kinds, limit)
    if not feasible:
        smallest = min(reference_memory(dims, kinds))[0]
        with pytest.raises(ValueError, match=f"largest intermediate is {smallest:,} elements"):
            dp(dims, kinds, memory_limit=limit)
        with pytest.raises(ValueError, match="no order keeps every intermediate"):
            brute_force(dims, kinds, memory_limit=limit)
        return
    cost, steps = dp(dims, kinds, memory_limit=limit)
    assert cost == min(mults for _, mults in feasible)
    assert max(tree_sizes(steps_to_tree(steps, len(kinds)), dims, kinds)[0][:-1],
               default=0) <= limit
    assert brute_force(dims, kinds, memory_limit=limit)[0] == cost


def test_memory_costs_are_exact_for_huge_dims():
    dims = [2**40, 3, 2**40, 5]
    peak, _ = dp(dims, cost="memory")
    assert type(peak) is int and peak == brute_force(dims, cost="memory")[0]
    assert dp(dims, memory_limit=peak)[0] == brute_force(dims, memory_limit=peak)[0]


def test_a_generous_limit_changes_nothing(rng):
    for _ in range(20):
        dims = [int(d) for d in rng.integers(1, 60, 9)]
        assert dp(dims, memory_limit=10**9) == dp(dims)


@settings(max_examples=100, deadline=None)
@given(structured_chains(max_factors=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_time_dp_equals_brute_force(chain, gram_flags):
    from chainopt.timemodel import DEFAULT_MODEL

    dims, kinds = chain
    gram = [i for i in range(len(kinds) - 1) if gram_flags[i]]
    value, steps = dp(dims, kinds, cost="time", model=DEFAULT_MODEL, gram=gram)
    best, _ = brute_force(dims, kinds, cost="time", model=DEFAULT_MODEL, gram=gram)
    assert value == pytest.approx(best, rel=1e-12)
    total = sum(DEFAULT_MODEL.order_times(shapes_of(dims), kinds, steps, gram))
    assert total == pytest.approx(value, rel=1e-12)


def test_objective_options_are_checked():
    with pytest.raises(ValueError, match="minimize must be one of"):
        dp([2, 3, 4], cost="speed")
    with pytest.raises(ValueError, match="needs a time model"):
        dp([2, 3, 4], cost="time")
    with pytest.raises(TypeError, match="memory_limit must be"):
        check_memory_limit(1.5)
    assert check_memory_limit(None) is None
    assert dp([7, 3], cost="time") == (0.0, [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=40))
def test_python_and_vectorised_dp_agree_to_the_split(dims):
    # Short chains run in plain Python, long ones vectorised: same optimum,
    # same bracketing (the tie-break included).
    from chainopt.planners import _dp_python, _dp_tables, _multiplications, _steps_from_split

    n = len(dims) - 1
    if n == 1:
        return
    tables = _dp_tables(n, _multiplications(dims, None))
    assert _dp_python(dims) == (tables.value(0, n - 1), _steps_from_split(tables.split, n))


def test_python_dp_ties_like_the_vectorised_one():
    from chainopt.planners import _dp_python, _dp_tables, _multiplications, _steps_from_split

    dims = [4] * 12
    split = _dp_tables(11, _multiplications(dims, None)).split
    assert _dp_python(dims)[1] == _steps_from_split(split, 11)


# -- exact arithmetic beyond int64: float64 kept exact by residues ---------------------
def exact_tables(dims, kinds=None, arithmetic=None, exact=True):
    """(optimum, split table, exact value table) of the multiplications DP."""
    from chainopt.planners import _diag_count, _dp_tables, _multiplications

    n = len(dims) - 1
    objective = _multiplications(dims, _diag_count(kinds, n), arithmetic)
    if not exact:
        objective = objective._replace(exact=None)  # the float argmin alone
    tables = _dp_tables(n, objective)
    return tables.value(0, n - 1), tables.split.tolist(), tables.exact_by_start().tolist()


def draw_kinds(draw, dims):
    """None, or random kinds with some diagonal factors (their dims made square)."""
    if not draw(st.booleans()):
        return None
    n = len(dims) - 1
    kinds = draw(st.lists(st.sampled_from(["dense", "dense", "diagonal"]), min_size=n,
                          max_size=n))
    for i, kind in enumerate(kinds):
        if kind == "diagonal":
            dims[i + 1] = dims[i]
    return kinds


@st.composite
def huge_chains(draw, max_factors=30):
    """Dims near 1e9 or 2**31 (near-ties float64 cannot see), below 2**32 with 1s and
    repeats (exact ties); sometimes with diagonal factors."""
    n = draw(st.integers(2, max_factors))
    base = draw(st.sampled_from([10**9, 2**31, 2**32 - 8]))
    spread = draw(st.sampled_from([3, 1000]))
    values = st.one_of(st.integers(base, base + spread), st.just(1), st.integers(1, 2**32 - 1))
    dims = draw(st.lists(values, min_size=n + 1, max_size=n + 1))
    kinds = draw_kinds(draw, dims)
    return dims, kinds


@settings(max_examples=300, deadline=None)
@given(huge_chains())
def test_residue_dp_equals_the_python_int_dp_exactly(chain):
    # Every table entry and every split (ties included) as the object-int DP.
    dims, kinds = chain
    assert exact_tables(dims, kinds, "residues") == exact_tables(dims, kinds, "object")


@settings(max_examples=200, deadline=None)
@given(huge_chains(), st.sampled_from([10**3, 10**12, 10**30]))
def test_float_dp_beside_python_ints_equals_the_python_int_dp_exactly(chain, scale):
    # Beyond the residues' reach (1e12 to 1e39 here): floats pick, Python ints recheck.
    dims, kinds = chain
    dims = [d * scale for d in dims]
    assert exact_tables(dims, kinds, "floats") == exact_tables(dims, kinds, "object")


def test_near_ties_need_the_exact_recheck(rng):
    # The float argmin alone picks other splits on most of these chains (so the
    # test above has teeth); the residues put every one right.
    wrong = 0
    for _ in range(40):
        dims = [int(10**9 + d) for d in rng.integers(0, 4, int(rng.integers(4, 25)))]
        reference = exact_tables(dims, arithmetic="object")
        wrong += exact_tables(dims, arithmetic="residues", exact=False)[1] != reference[1]
        assert exact_tables(dims, arithmetic="residues") == reference
    assert wrong >= 10


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(10**9, 10**12), st.just(1)), min_size=3, max_size=8))
def test_huge_dims_plan_exactly_like_brute_force(dims):
    # 1e9 to 1e12 with 1s: residues, or floats beside Python ints, as the bound picks.
    cost, steps = dp(dims)
    assert type(cost) is int and cost == brute_force(dims)[0]
    assert cost == steps_cost(shapes_of(dims), ["dense"] * (len(dims) - 1), steps)
    assert exact_tables(dims) == exact_tables(dims, arithmetic="object")


def test_arithmetic_boundaries():
    # bound = (factors - 1) · max(dims)³: int64 below 2**61, residues below 2**106.
    from chainopt.planners import _multiplications, _peak

    # float64 beside Python ints below 2**1000, Python ints alone beyond.
    for top, dtype, kept in [(2**20 - 1, np.int64, None), (2**20, np.float64, np.uint64),
                             (2**35 - 1, np.float64, np.uint64), (2**35, np.float64, object),
                             (2**333 - 1, np.float64, object), (2**333, object, None)]:
        dims = [top, 3, top, top]  # three factors: bound = 2 · top³
        objective = _multiplications(dims, None)
        assert objective.dtype is dtype
        assert (objective.exact and objective.exact.dtype) == kept
        assert dp(dims) == brute_force(dims)
        assert dp(dims, memory_limit=top * top) == brute_force(dims, memory_limit=top * top)
    assert _peak([2**30, 5, 2**30], None).dtype is np.int64  # peak bound max(dims)²
    assert _peak([2**31, 5, 2**31], None).dtype is object


def test_memory_limit_with_residues_equals_brute_force(rng):
    for _ in range(30):
        dims = [int(d) for d in rng.choice([1, 3, 10**9, 10**9 + 1], int(rng.integers(3, 8)))]
        sizes = sorted({a * b for a in dims for b in dims})
        limit = int(rng.choice(sizes))
        try:
            expected = brute_force(dims, memory_limit=limit)
        except ValueError:
            with pytest.raises(ValueError, match="no order keeps"):
                dp(dims, memory_limit=limit)
            continue
        assert dp(dims, memory_limit=limit)[0] == expected[0]


def test_cost_table_is_exact_beyond_int64():
    dims = [10**9 + d for d in (0, 7, 3, 1, 9, 4)]
    table = cost_table(dims)
    for i in range(5):
        for j in range(i, 5):
            assert table[i, j] == brute_force(dims[i : j + 2])[0]


# -- the time DP's pruning ----------------------------------------------------------------
def full_time_dp(dims, kinds=None, gram=(), memory_limit=None):
    """The time DP costing every split (no pruning)."""
    from chainopt.planners import _diag_count, _solve, _time
    from chainopt.timemodel import DEFAULT_MODEL

    n = len(dims) - 1
    diag_count = _diag_count(kinds, n)
    objective = _time(dims, diag_count, gram, DEFAULT_MODEL)._replace(bound=None)
    return _solve(dims, objective, diag_count, memory_limit)


@st.composite
def timed_chains(draw):
    """Chains of 2-60 factors: random dims, repeats (exact ties), 1s, diagonal
    factors, Gram pairs."""
    n = draw(st.integers(2, 60))
    pool = draw(st.sampled_from([st.integers(2, 900), st.sampled_from([8, 64, 500]),
                                 st.integers(1, 40)]))
    dims = draw(st.lists(pool, min_size=n + 1, max_size=n + 1))
    kinds = draw_kinds(draw, dims)
    gram = draw(st.lists(st.integers(0, n - 2), max_size=3, unique=True)) if n > 2 else []
    return dims, kinds, gram


@settings(max_examples=60, deadline=None)
@given(timed_chains(), st.booleans())
def test_pruned_time_dp_is_the_full_dp(chain, limited):
    # Pruning changes no split and no value, exact ties (repeated dims) included.
    from chainopt.timemodel import DEFAULT_MODEL

    dims, kinds, gram = chain
    limit = int(dp(dims, kinds, cost="memory")[0]) if limited else None
    value, steps = dp(dims, kinds, cost="time", model=DEFAULT_MODEL, gram=gram,
                      memory_limit=limit)
    reference, reference_steps = full_time_dp(dims, kinds, gram, limit)
    assert steps == reference_steps
    assert value == pytest.approx(reference, rel=1e-12)


def gemm_variants():
    """The default model's GEMM and variants: no overlap, no ramp, a pad on k,
    no thin table, memory-bound, first touch of fresh results."""
    from chainopt.timemodel import DEFAULT_MODEL

    gemm = DEFAULT_MODEL.kernels["gemm"]
    return [gemm, dataclasses.replace(gemm, overlap=0.0),
            dataclasses.replace(gemm, ramp=0.0, pads=(1.0, 3.0, 2.0), thin=()),
            dataclasses.replace(gemm, overlap=4.0, per_byte_read=1e-9, beyond_cache=5.0),
            # calibrated models since the read norm: reads overlap the arithmetic in part
            dataclasses.replace(gemm, read_norm=1.5, left_read=1.0, per_byte_read=3e-10),
            dataclasses.replace(gemm, read_norm=0.8, left_read=0.5),
            # BLAS's one-thread small path writes slowly
            dataclasses.replace(gemm, read_norm=1.5, left_read=1.0, small_write=1.2)]


def test_gemm_bounds_hold(rng):
    # floor <= predict <= ceiling for log-uniform shapes up to 2**24, thin ones included.
    from chainopt.timemodel import DEFAULT_MODEL

    for gemm in gemm_variants():
        m, k, n = (np.exp(rng.uniform(np.log(2), np.log(2**24), 4000)).round() for _ in "mkn")
        m[::7], n[::5] = rng.integers(2, 17, len(m[::7])), rng.integers(2, 17, len(n[::5]))
        k[::3] = rng.integers(1, 17, len(k[::3]))
        time = gemm.predict("gemm", m, k, n)
        slope, floor = gemm.gemm_floor(m, n)
        ceiling, offset = gemm.gemm_ceiling(m, n)
        assert np.all(slope * k + floor <= time * (1 + 1e-12))
        assert np.all(time <= (ceiling * (k + gemm.pads[1]) + offset) * (1 + 1e-12))
        # the model's ceiling: k as the kernel runs it (padded onto the threaded path)
        model = dataclasses.replace(DEFAULT_MODEL, kernels={**DEFAULT_MODEL.kernels,
                                                            "gemm": gemm})
        ceiling, offset = model.gemm_ceiling(m, n)
        time = model.kernel_time("gemm", m, k, n) - model.fresh_time("gemm", m, n)
        assert np.all(time <= (ceiling * k + offset) * (1 + 1e-12))
        assert np.all(slope * k + floor <= time * (1 + 1e-12))
    gemm = gemm_variants()[0]  # not a vacuous bound: within 3x on a random chain's GEMMs
    m, k, n = (rng.integers(10, 1001, 4000).astype(float) for _ in "mkn")
    slope, floor = gemm.gemm_floor(m, n)
    assert np.median((slope * k + floor) / gemm.predict("gemm", m, k, n)) > 1 / 3
    assert dataclasses.replace(gemm, overlap=-0.5).gemm_floor(3, 3) is None


def test_pruned_dp_on_a_long_chain_is_the_full_dp(rng):
    # A chain of 150 GEMMs, near-ties and all, under every variant's model.
    from chainopt.planners import _solve, _time
    from chainopt.timemodel import DEFAULT_MODEL

    dims = [int(d) for d in rng.integers(2, 400, 151)]
    for gemm in gemm_variants():
        model = dataclasses.replace(DEFAULT_MODEL, kernels={**DEFAULT_MODEL.kernels,
                                                            "gemm": gemm})
        objective = _time(dims, None, (), model)
        assert objective.bound is not None
        pruned = _solve(dims, objective, None, None)
        full = _solve(dims, objective._replace(bound=None), None, None)
        assert pruned[1] == full[1] and pruned[0] == pytest.approx(full[0], rel=1e-12)
