"""Trees: BinaryTree behaves as the nested tuple it equals, at any depth."""

import copy
import json
import pickle

import numpy as np
import pytest

from chainopt import plan_chain
from chainopt.trees import (
    BinaryTree,
    all_trees,
    left_to_right,
    right_to_left,
    steps_to_tree,
    tree_to_steps,
)


@pytest.mark.parametrize("n", range(1, 7))
def test_every_small_tree_is_its_nested_tuple(n):
    for plain in all_trees(0, n - 1):
        tree = steps_to_tree(tree_to_steps(plain, n), n)
        assert tree == plain and plain == tree and (tree != plain) is False
        assert hash(tree) == hash(plain)
        assert repr(tree) == repr(plain) and str(tree) == str(plain)
        assert json.dumps(tree) == json.dumps(plain)
        assert pickle.loads(pickle.dumps(tree)) == plain
        assert {plain: 1}[tree] == 1


def test_unequal_trees_and_other_objects():
    tree = steps_to_tree([(1, 2), (0, 3)], 3)
    assert tree != ((0, 1), 2) and tree != (0, (1, 3)) and tree != (0, (1, 2), 3)
    assert tree != [0, [1, 2]] and tree != "(0, (1, 2))" and tree != 0
    assert (tree == 5) is False
    assert tree == (np.int64(0), (1, 2))


def test_hash_matches_tuples_of_any_items():
    for items in [(), (1,), (-1, -2), (1.5, "a", None), ((1, 2), (3, (4, 5)))]:
        assert hash(BinaryTree(items)) == hash(items)
        assert repr(BinaryTree(items)) == repr(items)


@pytest.fixture(scope="module")
def deep_plans():
    """Plans 10⁴ and 10⁵ factors deep (left to right, and right to left)."""
    plans = []
    for n in (10**4, 10**5):
        shapes = [(2, 3) if i % 2 == 0 else (3, 2) for i in range(n)]
        plans.append(plan_chain(shapes, method="left"))
    plans.append(plan_chain([(2, 3) if i % 2 == 0 else (3, 2) for i in range(10**4)],
                            method="right"))
    return plans


def test_deep_trees_repr_eq_hash_pickle_and_str(deep_plans):
    for plan in deep_plans:
        tree = plan.tree
        text = repr(tree)
        assert str(tree) == text and text.count("(") == plan.n - 1
        assert text.startswith("(((") or text.endswith(")))")
        again = steps_to_tree(list(plan.pairs), plan.n)
        assert tree == again and hash(tree) == hash(again) and (tree != again) is False
        assert pickle.loads(pickle.dumps(tree)) == tree
        assert copy.deepcopy(tree) == tree
        assert tree_to_steps(tree, plan.n) == list(plan.pairs)
        assert repr(plan).startswith(f"<Plan {plan.n} factors")


def test_deep_plans_pickle_explain_and_dump_json(deep_plans):
    plan = deep_plans[0]  # 10⁴ factors: the whole plan, not only its tree
    tree = plan.tree
    restored = pickle.loads(pickle.dumps(plan))
    assert restored == plan and restored.tree == tree
    assert "Order: (too long to show" in str(plan)
    assert json.loads(json.dumps(plan.to_dict()))["cost"] == plan.cost


def test_deep_trees_differ_where_they_differ(deep_plans):
    left, _, right = deep_plans
    assert left.tree != right.tree and hash(left.tree) != hash(right.tree)


def test_the_documented_tree_is_unchanged():
    plan = plan_chain([(30, 35), (35, 15), (15, 5), (5, 10), (10, 20), (20, 25)])
    assert plan.tree == ((0, (1, 2)), ((3, 4), 5))
    assert repr(plan.tree) == "((0, (1, 2)), ((3, 4), 5))"
    left, right = plan.tree
    assert left == (0, (1, 2)) and isinstance(left, tuple)
    assert steps_to_tree(left_to_right(3), 3) == ((0, 1), 2)
    assert steps_to_tree(right_to_left(3), 3) == (0, (1, 2))
