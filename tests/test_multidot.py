import functools

import numpy as np
import pytest
from numpy.linalg import multi_dot as np_multi_dot

from chainopt import ChainError, multi_dot


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
