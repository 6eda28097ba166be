import math

import numpy as np
import pytest

from chainopt import ChainError, ChainTypeError
from chainopt.validation import as_chain, as_dimension


def test_pairs_and_arrays_give_the_same_chain():
    arrays = [np.ones((2, 3)), np.ones((3, 4))]
    assert as_chain(arrays) == as_chain([(2, 3), (3, 4)])


def test_one_dimensional_ends_are_vectors():
    chain = as_chain([np.ones(3), np.ones((3, 4)), np.ones(4)])
    assert chain.shapes == ((1, 3), (3, 4), (4, 1))
    assert chain.vector_first and chain.vector_last


def test_numpy_integers_and_integral_floats_are_accepted():
    assert as_chain([(np.int32(2), 3.0)]).shapes == ((2, 3),)


def test_huge_dimensions_stay_python_ints():
    chain = as_chain([(10**9, 10**9), (10**9, 10**12)])
    assert all(type(d) is int for d in chain.dims)


@pytest.mark.parametrize(
    "value, fragment",
    [(-1, "got -1"), (-3, "got -3"), (2.5, "got 2.5"), (math.nan, "got nan"),
     (math.inf, "got inf")],
)
def test_bad_dimension_values(value, fragment):
    with pytest.raises(ChainError, match=fragment):
        as_chain([(2, 3), (3, value)])


def test_bad_dimension_message_names_position_and_shape():
    with pytest.raises(ChainError, match=r"factor 1 \(3×-2\) cols must be a non-negative"):
        as_chain([(2, 3), (3, -2)])


def test_zero_dimensions_are_accepted_as_numpy_does():
    assert as_chain([(0, 3), (3, 0), (0, 0)]).dims == (0, 3, 0, 0)
    assert as_chain([np.ones(0), np.ones((0, 2))]).shapes == ((1, 0), (0, 2))
    with pytest.raises(ChainError, match="width 0 must be a positive integer; got 0"):
        as_dimension(0, "width 0")


@pytest.mark.parametrize("value", [True, np.True_, "3", None])
def test_wrong_kind_of_dimension_is_a_type_error(value):
    with pytest.raises(TypeError, match="factor 0"):
        as_chain([(value, 3)])
    with pytest.raises(ChainError):  # and still one family
        as_dimension(value, "x")


def test_empty_chain():
    with pytest.raises(ChainError, match="empty"):
        as_chain([])


def test_mismatched_inner_dimensions_message():
    shapes = [(30, 35), (35, 15), (16, 5)]
    with pytest.raises(ChainError) as info:
        as_chain(shapes)
    assert str(info.value) == (
        "factor 2 (16×5) cannot follow factor 1 (35×15): "
        "inner dimensions 15 and 16 differ"
    )


def test_inner_vectors_and_3d_arrays_are_rejected():
    with pytest.raises(ChainError, match="factor 1 must be 2-D"):
        as_chain([np.ones((2, 3)), np.ones(3), np.ones((3, 2))])
    with pytest.raises(ChainError, match=r"factor 0 must be 2-D.*\(2, 2, 2\)"):
        as_chain([np.ones((2, 2, 2))])


@pytest.mark.parametrize("bad", ["30x35", 5, None])
def test_chain_of_wrong_type(bad):
    with pytest.raises(ChainTypeError):
        as_chain(bad)


def test_factor_of_wrong_type():
    with pytest.raises(ChainTypeError, match="factor 1 must be a"):
        as_chain([(2, 3), "3x4"])


def test_kinds_are_checked():
    with pytest.raises(ChainError, match="kinds has 1 entries for 2"):
        as_chain([(2, 2), (2, 2)], kinds=["dense"])
    with pytest.raises(ChainError, match=r"kinds\[1\] must be one of"):
        as_chain([(2, 2), (2, 2)], kinds=["dense", "sparse"])
    with pytest.raises(ChainError, match="factor 0 is declared diagonal but has shape 2×3"):
        as_chain([(2, 3)], kinds=["diagonal"])


def test_one_dimensional_diagonal_factor_is_its_diagonal():
    chain = as_chain([np.ones((2, 3)), np.ones(3)], kinds=["dense", "diagonal"])
    assert chain.shapes == ((2, 3), (3, 3))
    assert not chain.vector_last


def test_integer_table_of_shapes():
    table = np.array([[30, 35], [35, 15], [15, 5]])
    assert as_chain(table) == as_chain([(30, 35), (35, 15), (15, 5)])


def test_a_single_array_is_not_a_chain():
    with pytest.raises(ChainTypeError, match="one array of shape"):
        as_chain(np.ones((3, 3)))
