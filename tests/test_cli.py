import json

import pytest

from chainopt.cli import main
from tests.helpers import cli_error, cli_error_in_a_process

CLRS = ["30x35", "35x15", "15x5", "5x10", "10x20", "20x25"]


def test_plan_prints_the_explanation(capsys):
    assert main(["plan", *CLRS]) == 0
    out = capsys.readouterr().out
    assert "((A(BC))((DE)F))" in out and "15,125" in out


def test_plan_json(capsys):
    assert main(["plan", *CLRS, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cost"] == 15125
    assert data["parenthesization"] == "((A(BC))((DE)F))"
    assert data["left_to_right_cost"] == 40500


def test_vector_ends_and_unicode_times(capsys):
    assert main(["plan", "7", "7×3", "3"]) == 0
    assert "1×7" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["plan", "30x35", "36x15"], "factor 1 (36×15) cannot follow factor 0 (30×35)"),
        (["plan", "30x"], "factor 0 '30x' is not a shape"),
        (["plan", "3x4", "0x3"], "factor 1 (0×3) cannot follow factor 0 (3×4)"),
        (["plan", "2.5x3"], "not an integer"),
        (["plan", "3x3", "3", "3x3"], "factor 1 '3' is not a shape"),
        (["plan"], "required"),
        (["plan", "3x3", "--kinds", "dense,dense"], "kinds has 2 entries for 1"),
        (["plan", "3x3", "--method", "fast"], "method must be one of"),
        (["nonsense"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, argv, fragment):
    line = cli_error(capsys, *argv)
    assert fragment in line


def test_console_entry_point_runs_as_a_module():
    cli_error_in_a_process("plan", "30x35", "36x15")
