"""`chainopt jacobian`: the three costs, the bracketing, JSON, matrix-free, errors."""

import json
import subprocess
import sys

import pytest

from chainopt import plan_jacobian, plan_matrix_free
from chainopt.cli import main
from tests.helpers import cli_error


def test_prints_forward_reverse_optimal_and_the_bracketing(capsys):
    assert main(["jacobian", "784", "256", "10", "1"]) == 0
    out = capsys.readouterr().out
    plan = plan_jacobian([784, 256, 10, 1])
    assert f"Forward mode  A(BC): {plan.forward_cost:,} multiplications" in out
    assert f"Reverse mode  (AB)C: {plan.reverse_cost:,} multiplications" in out
    assert f"Optimum: {plan.cost:,} multiplications, reverse mode: ((J3 J2) J1)" in out


def test_hourglass_is_mixed(capsys):
    assert main(["jacobian", "1000", "1000", "10", "1000", "1000"]) == 0
    assert "mixed mode: ((J4 J3) (J2 J1))" in capsys.readouterr().out


def test_json_and_kinds(capsys):
    argv = ["jacobian", "6", "4", "4", "2", "--kinds", "dense,diagonal,dense", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    plan = plan_jacobian([6, 4, 4, 2], ["dense", "diagonal", "dense"])
    assert data["cost"] == plan.cost and data["mode"] == plan.mode
    assert data["forward_cost"] == plan.forward_cost
    assert data["layer_kinds"] == ["dense", "diagonal", "dense"]


def test_matrix_free(capsys):
    argv = ["jacobian", "4", "4", "1", "4", "4", "--tangent-costs", "16,4,4,16",
            "--adjoint-costs", "16,4,4,16"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Optimum: 56, mixed" in out and "Forward mode  n0·ΣT: 160" in out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = plan_matrix_free([4, 4, 1, 4, 4], [16, 4, 4, 16], [16, 4, 4, 16])
    assert data["cost"] == expected.cost
    assert data["preaccumulate_cost"] == expected.preaccumulate_cost


@pytest.mark.parametrize("argv, fragment", [
    (["jacobian"], "required"),
    (["jacobian", "5"], "at least one output width"),
    (["jacobian", "5", "x"], "width 'x' is not an integer"),
    (["jacobian", "5", "0"], "width 1 must be a positive integer; got 0"),
    (["jacobian", "5", "3", "--kinds", "diagonal"], "layer 1 is declared diagonal"),
    (["jacobian", "5", "3", "--kinds", "dense,dense"], "kinds has 2 entries for 1 layers"),
    (["jacobian", "5", "3", "--tangent-costs", "15"], "--adjoint-costs is missing"),
    (["jacobian", "5", "3", "--tangent-costs", "15", "--adjoint-costs", "a"],
     "--adjoint-costs entry 'a' is not an integer"),
    (["jacobian", "5", "3", "--tangent-costs", "15,1", "--adjoint-costs", "15"],
     "tangent_costs has 2 entries for 1 layers"),
    (["jacobian", "5", "3", "--tangent-costs", "15", "--adjoint-costs", "15", "--kinds",
      "dense"], "--kinds is for the matrix model"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, fragment):
    assert fragment in cli_error(capsys, *argv)


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "chainopt", "jacobian", "3", "4", "5"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "Optimum:" in done.stdout
