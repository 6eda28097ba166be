import builtins
import shutil

import pytest

from chainopt.cli import main
from tests.helpers import cli_error, cli_error_in_a_process

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    status = main(["graph", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_value_gradient_and_sweep_counts(capsys):
    status, out, err = run(capsys, "x**3*(x-y)", "--at", "x=2", "y=3")
    assert status == 0 and err == ""
    assert "value: f = -8" in out
    assert "gradient: ∂f/∂x = -4, ∂f/∂y = -8" in out
    assert "forward mode        2                6          1           7" in out
    assert "reverse mode        1                5          1           6" in out


def test_the_expression_is_never_evaluated_with_eval(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    status, out, _ = run(capsys, "(x+y)*z", "--at", "x=-2", "y=5", "z=-4")
    assert status == 0 and "value: f = -12" in out and "∂f/∂z = 3" in out


def test_eliminate_prints_the_count_for_several_outputs(capsys):
    status, out, _ = run(capsys, "exp(sin(x*y)*z) + x*y, x/y", "--at", "x=0.5", "y=1.5", "z=-0.7",
                         "--eliminate", "markowitz", "optimal", "3,4,5,6,7")
    assert status == 0
    assert "Jacobian (outputs × inputs):" in out
    assert "vertex elimination (markowitz): " in out
    assert "vertex elimination (optimal): " in out
    assert "vertex elimination (given): " in out
    assert out.count("the same Jacobian as reverse mode") == 3


def test_sigmoid_neuron_on_the_command_line(capsys):
    status, out, _ = run(capsys, "sigmoid(w0*x0 + w1*x1 + w2)",
                         "--at", "w0=2", "w1=-3", "w2=-3", "x0=-1", "x1=-2")
    assert status == 0 and "value: f = 0.731059" in out
    assert "∂f/∂w0 = -0.196612" in out and "∂f/∂x1 = -0.589836" in out


def test_at_accepts_commas_and_keeps_its_order(capsys):
    status, out, _ = run(capsys, "x*y", "--at", "y=3,x=2")
    assert status == 0 and "2 inputs (y, x)" in out and "∂f/∂y = 2, ∂f/∂x = 3" in out


def test_draw_dot_needs_no_graphviz(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    target = tmp_path / "g.dot"
    status, out, _ = run(capsys, "x*y+x", "--at", "x=2", "y=3", "--draw", str(target))
    assert status == 0 and f"drawing: wrote {target}" in out
    text = target.read_text()
    assert text.startswith("digraph") and 'label="v3 = v2 + x\\n8\\n(f)"' in text


def test_draw_png_without_graphviz_says_how_to_install_it(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    err = cli_error(capsys, "graph", "x*y", "--at", "x=2", "y=3", "--draw",
                    str(tmp_path / "g.png"))
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert not (tmp_path / "g.png").exists()


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])
def test_draw_with_graphviz(capsys, tmp_path, suffix, magic):
    target = tmp_path / f"g{suffix}"
    status, _, _ = run(capsys, "x**3*(x-y)", "--at", "x=2", "y=3", "--draw", str(target))
    assert status == 0 and target.read_bytes().startswith(magic)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["x.real", "--at", "x=1"], "attribute access at column 1 is not allowed"),
        (["__import__('os').system('echo pwned')", "--at", "x=1"], "is not allowed"),
        (["x[0]", "--at", "x=1"], "subscripts at column 1 is not allowed"),
        (["(lambda: 1)()", "--at", "x=1"], "is not allowed"),
        (["(lambda x: x)(x)", "--at", "x=1"], "is not allowed"),
        (["'x'", "--at", "x=1"], "the constant 'x' at column 1 is not allowed"),
        (["True * x", "--at", "x=1"], "the constant True"),
        (["1j * x", "--at", "x=1"], "the constant 1j"),
        (["x < 1", "--at", "x=1"], "comparisons"),
        (["x if x else 1", "--at", "x=1"], "if-else"),
        (["(y := x)", "--at", "x=1"], ":="),
        (["[x]", "--at", "x=1"], "lists"),
        (["x % 2", "--at", "x=1"], "the operator %"),
        (["x ^ 2", "--at", "x=1"], "write powers as **"),
        (["not x", "--at", "x=1"], "the operator not"),
        (["foo(x)", "--at", "x=1"], "calling 'foo' (not one of the functions)"),
        (["math.sin(x)", "--at", "x=1"], "calling 'math.sin'"),
        (["sin(x, x)", "--at", "x=1"], "sin() takes 1 positional argument(s)"),
        (["maximum(x)", "--at", "x=1"], "maximum() takes 2"),
        (["sin(x=1)", "--at", "x=1"], "sin() takes 1"),
        (["exp + x", "--at", "x=1"], "'exp' is a function"),
        (["(x, (x, x))", "--at", "x=1"], "tuples inside an expression"),
        (["x +", "--at", "x=1"], "is not valid"),
        (["", "--at", "x=1"], "is not valid"),
        (["1e999 * x", "--at", "x=1"], "too large for a float"),
        (["x*y", "--at", "x=1"], "no value for 'y'; add y=NUMBER to --at"),
        (["x*y"], "no value for 'x', 'y'"),
        (["2 + 3"], "the expression has no variables"),
        (["x", "--at", "x2"], "--at 'x2' must be NAME=NUMBER"),
        (["x", "--at", "=2"], "must be NAME=NUMBER"),
        (["x", "--at", "x=abc"], "'abc' is not a number"),
        (["x", "--at", "x=1", "x=2"], "--at gives 'x' twice"),
        (["x", "--at", "x=inf"], "the value must be finite"),
        (["x", "--at", "1x=2"], "must be NAME=NUMBER"),
        (["log(x)", "--at", "x=-1"], "log(-1) is undefined"),
        (["1/x", "--at", "x=0"], "1 / 0 is undefined"),
        (["x", "--at", "x=1", "--eliminate", "sideways"], "--eliminate 'sideways' must be one"),
        (["sin(sin(x))", "--at", "x=1", "--eliminate", "9"], "order[0] = 9 is not a vertex"),
        (["sin(sin(sin(x)))", "--at", "x=1", "--eliminate", "1"], "order misses intermediates 2"),
        (["x", "--at", "x=1", "--draw", "g.jpg"], "the format must be one of png, svg"),
        (["x", "--at", "x=1", "--draw", "/no/such/dir/g.dot"], "cannot write"),
        (["x"], "no value for 'x'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, argv, fragment):
    assert fragment in cli_error(capsys, "graph", *argv)


def test_graph_as_a_module_and_no_code_runs(tmp_path):
    marker = tmp_path / "pwned"
    cli_error_in_a_process("graph", f"__import__('pathlib').Path('{marker}').touch()",
                           "--at", "x=1")
    assert not marker.exists()


def test_an_expression_starting_with_minus_goes_after_double_dash(capsys):
    status, out, _ = run(capsys, "--at", "x=1", "y=2", "--", "-x*y")
    assert status == 0 and "value: f = -2" in out
