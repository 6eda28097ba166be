"""Helpers shared by the experiments (not an experiment itself)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainopt.bench.claims import percent, ratio_text  # noqa: F401  (re-exported)
from chainopt.plan import default_names

#: Colours of the orders in every plot, so a role looks the same everywhere.
ROLE_COLOURS = {
    "optimal": "tab:green",
    "left-to-right": "tab:blue",
    "right-to-left": "tab:orange",
    "worst": "tab:red",
    "other": "tab:gray",
}


def random_factors(rng: np.random.Generator, dims: Sequence[int]) -> list[np.ndarray]:
    """Gaussian factors scaled by 1/sqrt(rows), so products stay near 1."""
    return [rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])
            for i in range(len(dims) - 1)]


def multiply_steps(arrays: Sequence[np.ndarray], steps: Sequence[tuple[int, int]]):
    """Multiply in the order given by steps (ids as in :mod:`chainopt.trees`).

    The same loop runs every order, so orders differ only in their products.
    """
    values = list(arrays)
    for left, right in steps:
        values.append(values[left] @ values[right])
    return values[-1]


def parenthesize(tree, n: int) -> str:
    """A bracketing written with the factor names a Plan uses.

    >>> parenthesize(((0, (1, 2)), 3), 4)
    '((A(BC))D)'
    """
    names = default_names(n)
    sep = "" if n <= 26 else " "
    stack, out = [tree], []
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, int):
            out.append(names[node])
        else:
            stack += [")", node[1], sep, node[0], "("]
    return "".join(out)
