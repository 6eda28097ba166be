import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: every test sees the same random numbers."""
    return np.random.default_rng(20261121)


CLRS_SHAPES = [(30, 35), (35, 15), (15, 5), (5, 10), (10, 20), (20, 25)]
