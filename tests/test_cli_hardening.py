"""Hostile command lines found by the attack of issue 11, and their kin."""

import json
import math
import warnings

import pytest

from chainopt.cli import main
from tests.helpers import cli_error, cli_error_in_a_process


@pytest.mark.parametrize("argv, fragment", [
    (["plan", "²"], "factor 0 '²' is not a shape"),
    (["plan", "3x3", "²"], "factor 1 '²' is not a shape"),
    (["plan", "²x3"], "not an integer"),
    (["plan", "3x3", "3x٣"], "inner dimensions 3 and 3"),  # Arabic-Indic 3 is a digit: no error
    (["plan", "9" * 5000 + "x3"], "has 5,000 digits"),
    (["graph", "x", "--at", "x=1", "--eliminate", "²"], "--eliminate '²' must be one of"),
    (["graph", "x", "--at", "x=1", "--eliminate", "1,²"], "--eliminate '1,²' must be one of"),
    (["graph", "x", "--at", "if=1"], "'if' is a Python keyword"),
    (["graph", "x", "--at", "x=1", "True=1"], "'True' is a Python keyword"),
    (["graph", "x", "--at", "None=1", "x=1"], "'None' is a Python keyword"),
    (["graph", "if", "--at", "if=1"], "'if' is a Python keyword"),
])
def test_unicode_digits_and_keywords(capsys, argv, fragment):
    if "٣" in argv[-1]:
        assert main(argv) == 0  # int() reads it, so the chain is 3×3 · 3×3
        return
    assert fragment in cli_error(capsys, *argv)


@pytest.mark.parametrize("depth", [400, 1000, 2900])
@pytest.mark.parametrize("template, fragment", [
    ("sin(sin({}x, 1))", "sin() takes 1 positional argument(s); got 'sin("),
    ("maximum({}x)", "maximum() takes 2"),
    ("({}x).y(1)", "calling '(---"),
    ("foo({}x)", "calling 'foo'"),
    ("{}1e999", "the number 1e999 is too large"),
])
def test_deep_expressions_whose_message_shows_source(capsys, depth, template, fragment):
    line = cli_error(capsys, "graph", "--at", "x=1", "--", template.format("-" * depth))
    # Python's own parser may give up first when the test runs deep in pytest's stack.
    assert (fragment in line or depth > 1000 and "too deeply nested" in line), line
    assert len(line) < 300


def test_depth_2900_in_a_fresh_process_names_the_call():
    line = cli_error_in_a_process("graph", "--at", "x=1", "--", "sin(sin(" + "-" * 2900 + "x, 1))")
    assert "sin() takes 1 positional argument(s); got 'sin(---" in line


def test_an_expression_too_deep_for_python_is_one_line(capsys):
    line = cli_error(capsys, "graph", "--at", "x=1", "--", "-" * 100_000 + "x")
    assert "too deeply nested" in line


def test_a_repeated_at_keeps_every_value(capsys):
    assert main(["graph", "x*y", "--at", "x=1", "--at", "y=2"]) == 0
    assert "value: f = 2" in capsys.readouterr().out
    assert "--at gives 'x' twice" in cli_error(capsys, "graph", "x", "--at", "x=1",
                                                    "--at", "x=2")
    assert main(["graph", "x*y", "--at", "x=1", "y=2", "--eliminate", "forward",
                 "--eliminate", "reverse"]) == 0
    out = capsys.readouterr().out
    assert "forward" in out and "reverse" in out


@pytest.mark.parametrize("digits", [61, 400])
def test_huge_dimensions_with_a_time_model_are_one_line(capsys, digits):
    huge = "1" + "0" * digits
    for argv in ([f"{huge}x5", "5x3"], ["3x" + huge, f"{huge}x3"]):
        line = cli_error(capsys, "plan", *argv, "--cost", "time")
        assert f"10^{digits}" in line and "cost='multiplications'" in line


def test_large_dimensions_give_finite_times_and_valid_json(capsys):
    big = "1" + "0" * 60
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["plan", f"{big}x{big}", f"{big}x{big}", f"{big}x3", "--cost", "time",
                     "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert math.isfinite(data["predicted_time"]) and data["predicted_time"] > 0
    assert all(math.isfinite(step["predicted_time"]) for step in data["steps"])
    assert data["cost"] == 10**120 * 3 + 10**60 * 10**60 * 3  # exact ints


@pytest.mark.parametrize("method", ["approx", "left", "right"])
@pytest.mark.parametrize("cost", ["memory", "time"])
def test_a_planner_that_ignores_the_cost_says_so(capsys, method, cost):
    assert main(["plan", "2x3", "3x4", "4x5", "--method", method, "--cost", cost]) == 0
    out = capsys.readouterr().out
    assert f"Optimised for: {cost}" not in out and "Optimised for: predicted" not in out
    assert f"method {method!r} does not minimise {cost}" in out
    assert main(["plan", "2x3", "3x4", "4x5", "--method", method, "--cost", cost,
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["optimised_for"] == ("multiplications" if method == "approx" else None)


def test_the_exact_planner_says_what_it_optimised(capsys):
    assert main(["plan", "2x3", "3x4", "4x5", "--cost", "memory"]) == 0
    assert "Optimised for: memory" in capsys.readouterr().out


def _strict_json(text):
    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_ratios_of_exact_costs_beyond_float_range(capsys):
    huge = "1" + "0" * 400
    shapes = [f"1x{huge}", f"{huge}x1", f"1x{huge}"]
    assert main(["plan", *shapes]) == 0
    assert "(about 10^400× the plan's cost)" in capsys.readouterr().out
    assert main(["plan", *shapes, "--json"]) == 0
    data = _strict_json(capsys.readouterr().out)
    assert data["right_to_left_speedup"] is None and data["cost"] == 2 * 10**400
    argv = ["jacobian", "2", "3", "--tangent-costs", "9" * 400, "--adjoint-costs", "1"]
    assert main(argv) == 0 and "about 10^" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    _strict_json(capsys.readouterr().out)
