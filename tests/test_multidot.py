import functools

import numpy as np
import pytest
from numpy.linalg import multi_dot as np_multi_dot

from chainopt import ChainError, multi_dot, plan_chain
from chainopt.errors import NotMatrixError


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_matches_numpy(rng, n):
    dims = [int(d) for d in rng.integers(1, 20, n + 1)]
    arrays = [rng.standard_normal((dims[i], dims[i + 1])) for i in range(n)]
    np.testing.assert_allclose(multi_dot(arrays), np_multi_dot(arrays), rtol=1e-12)
    np.testing.assert_allclose(multi_dot(arrays), functools.reduce(np.matmul, arrays),
                               rtol=1e-10)


@pytest.mark.parametrize("first_1d, last_1d", [(True, False), (False, True), (True, True)])
def test_one_dimensional_ends_match_numpy(rng, first_1d, last_1d):
    a = rng.standard_normal(4) if first_1d else rng.standard_normal((3, 4))
    B, C = rng.standard_normal((4, 6)), rng.standard_normal((6, 2))
    d = rng.standard_normal(2) if last_1d else rng.standard_normal((2, 5))
    ours, theirs = multi_dot([a, B, C, d]), np_multi_dot([a, B, C, d])
    assert np.shape(ours) == np.shape(theirs)
    assert type(ours) is type(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_two_vectors(rng):
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    assert multi_dot([a, b]) == pytest.approx(np_multi_dot([a, b]))


def test_out_matches_numpy(rng):
    arrays = [rng.standard_normal(s) for s in [(10, 30), (30, 5), (5, 40), (40, 3)]]
    out = np.empty((10, 3))
    result = multi_dot(arrays, out=out)
    assert result is out
    np.testing.assert_allclose(out, np_multi_dot(arrays), rtol=1e-12)


def test_out_with_vector_end_matches_numpy(rng):
    a, B, C = rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    ours, theirs = np.empty((1, 5)), np.empty((1, 5))
    multi_dot([a, B, C], out=ours)
    np_multi_dot([a, B, C], out=theirs)
    np.testing.assert_allclose(ours, theirs)


def test_bad_out_is_rejected_like_numpy(rng):
    arrays = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 5)]]
    with pytest.raises(ValueError):
        multi_dot(arrays, out=np.empty((2, 5), dtype=np.float32))


def test_needs_two_arrays():
    with pytest.raises(ChainError, match="at least two arrays; got 1"):
        multi_dot([np.ones((2, 2))])


def test_mismatch_names_position_and_shapes():
    with pytest.raises(ChainError, match=r"factor 2 \(16×5\) cannot follow factor 1 \(35×15\)"):
        multi_dot([np.ones((30, 35)), np.ones((35, 15)), np.ones((16, 5))])


def test_plans_are_cached():
    from chainopt.multidot import _cached_plan

    arrays = [np.ones((4, 4))] * 10
    multi_dot(arrays)
    hits = _cached_plan.cache_info().hits
    multi_dot(arrays)
    assert _cached_plan.cache_info().hits == hits + 1


def test_out_with_1d_result_is_returned_like_numpy():
    out = np.zeros(4)
    assert multi_dot([np.ones(3), np.ones((3, 4))], out=out) is out


# -- drop-in parity with numpy.linalg.multi_dot --------------------------------------
ZERO_SIZE_CHAINS = [
    [(0, 3), (3, 4), (4, 5)],
    [(3, 0), (0, 4), (4, 5)],
    [(3, 4), (4, 0), (0, 5)],
    [(3, 4), (4, 5), (5, 0)],
    [(2, 0), (0, 2)],
    [(0, 0), (0, 0), (0, 0), (0, 0)],
    [(4, 3), (3, 0), (0, 6), (6, 2), (2, 5)],
    [(0,), (0, 3), (3, 2)],
    [(3, 0), (0,)],
]


@pytest.mark.parametrize("shapes", ZERO_SIZE_CHAINS, ids=str)
def test_zero_size_dimensions_match_numpy(rng, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    ours, theirs = multi_dot(arrays), np_multi_dot(arrays)
    assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shapes", ZERO_SIZE_CHAINS[:7], ids=str)
def test_zero_size_plans_cost_what_their_products_cost(rng, shapes):
    from chainopt.costs import steps_cost
    from chainopt.trees import all_trees, tree_to_steps

    for method in ["dp", "brute", "approx", "left", "right"]:
        plan = plan_chain(shapes, method=method)
        assert plan.cost == steps_cost(plan.shapes, plan.kinds, plan.pairs)
    n = len(shapes)
    best = min(steps_cost(shapes, ["dense"] * n, tree_to_steps(t, n))
               for t in all_trees(0, n - 1))
    assert plan_chain(shapes).cost == best
    arrays = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_array_equal(plan_chain(shapes).execute(*arrays),
                                  functools.reduce(np.matmul, arrays))


def test_a_free_plan_is_infinitely_faster_than_a_costly_order():
    plan = plan_chain([(5, 0), (0, 5), (5, 5)])
    assert (plan.cost, plan.left_to_right_cost) == (0, 125)
    assert plan.left_to_right_speedup == float("inf")


@pytest.mark.parametrize("arrays", [
    [np.ones((2, 2)), np.ones(2), np.ones((2, 2))],
    [np.ones((2, 2)), np.ones((2, 2, 2)), np.ones((2, 2))],
    [np.ones((2, 2, 2)), np.ones((2, 2)), np.ones((2, 2))],
    [np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2, 2))],
    [np.float64(1.0), np.ones((2, 2)), np.ones((2, 2))],
    [np.ones((2, 2)), np.ones((2, 2)), np.ones(2), np.ones((2, 2))],
])
def test_numpy_linalg_errors_are_linalg_errors_in_the_chainopt_family(arrays):
    with pytest.raises(np.linalg.LinAlgError):
        np_multi_dot(arrays)
    with pytest.raises(NotMatrixError, match="must be 2-D") as caught:
        multi_dot(arrays)
    assert isinstance(caught.value, np.linalg.LinAlgError)
    assert isinstance(caught.value, ChainError)


def _chain_order_by_chainopt(arrays, i=None, j=None, return_costs=False):
    """numpy's ``_multi_dot_matrix_chain_order`` (s, m) from chainopt's plans."""
    from chainopt.planners import cost_table

    dims = [a.shape[0] for a in arrays] + [arrays[-1].shape[1]]
    n = len(arrays)
    split = np.zeros((n, n), dtype=int)
    for first in range(n):
        for last in range(first + 1, n):
            left = plan_chain([(dims[k], dims[k + 1]) for k in range(first, last + 1)]).tree[0]
            while not isinstance(left, int):
                left = left[1]
            split[first, last] = first + left
    return (split, cost_table(dims).astype(float)) if return_costs else split


_numpy_tests = pytest.importorskip("numpy.linalg.tests.test_linalg")


class TestNumpysOwnMultiDotTests(_numpy_tests.TestMultiDot):
    """numpy's TestMultiDot (from the installed wheel), run on chainopt.multi_dot."""

    @pytest.fixture(autouse=True)
    def _use_chainopt(self, monkeypatch):
        monkeypatch.setattr(_numpy_tests, "multi_dot", multi_dot)
        monkeypatch.setattr(_numpy_tests, "_multi_dot_matrix_chain_order",
                            _chain_order_by_chainopt)


@pytest.mark.parametrize("dims", [
    (3000, 1, 40),            # an outer product
    (300, 4, 200),            # a thin GEMM (np.matmul)
    (90, 64, 90),             # k beyond MATMUL_K: np.dot
    (1500, 20, 1, 1500),      # (AB)C ending in an outer product
    (1500, 64, 4, 300),       # (AB)C ending in a thin GEMM
    (5, 1, 3000, 1, 5),       # the outer products come first
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
def test_large_products_of_two_and_three_arrays_match_numpy(rng, dims, dtype):
    """Two arrays run np.dot, as NumPy does; three run the kernels Plan.execute would."""
    arrays = [rng.standard_normal((a, b)).astype(dtype) if dtype is not np.int64
              else rng.integers(-4, 5, (a, b)) for a, b in zip(dims, dims[1:])]
    expected = np_multi_dot(arrays)
    found = multi_dot(arrays)
    assert found.dtype == expected.dtype and found.shape == expected.shape
    rtol = 1e-4 if dtype is np.float32 else 1e-12
    np.testing.assert_allclose(found, expected, rtol=rtol, atol=rtol)
    if len(arrays) == 3:  # 1-D ends as row and column vectors
        ends = [arrays[0][0], arrays[1], arrays[2][:, 0]]
        np.testing.assert_allclose(multi_dot(ends), np_multi_dot(ends), rtol=rtol, atol=rtol)
