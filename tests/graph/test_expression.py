import math

import pytest

from chainopt import ChainError, trace
from chainopt.graph.expression import FUNCTIONS, parse_expression


def test_variables_in_order_of_appearance_or_as_given():
    assert parse_expression("y * sin(x) + y").variables == ("y", "x")
    f = parse_expression("y * sin(x)", variables=["x", "y", "z"])
    assert f.variables == ("x", "y", "z") and f(0.5, 2.0, 9.0) == 2 * math.sin(0.5)
    with pytest.raises(ChainError, match="unknown name 'q' in the expression; the variables "
                                         "are x, y"):
        parse_expression("x * q", variables=["x", "y"])


def test_precedence_and_unary_operators_follow_python():
    f = parse_expression("-x**2 + +y / 2 * 3 - 2**-1")
    assert f(3.0, 4.0) == -(3.0**2) + 4.0 / 2 * 3 - 2**-1


def test_several_outputs_and_functions():
    f = parse_expression("maximum(x, 0), sigmoid(x), tanh(x), log(exp(x)), cos(x)")
    assert f.outputs == 5 and len(f(0.3)) == 5
    assert set(FUNCTIONS) == {"sin", "cos", "exp", "log", "tanh", "sigmoid", "maximum"}
    graph = trace(f, 0.3)
    assert graph.value[3] == pytest.approx(0.3)
    assert graph.jacobian()[3, 0] == pytest.approx(1.0)


def test_traced_inputs_are_named_after_the_variables():
    graph = trace(parse_expression("a * b"), 2, 3)
    assert [x.name for x in graph.inputs] == ["a", "b"]


def test_long_and_deep_expressions_do_not_recurse():
    f = parse_expression(" + ".join(["x"] * 2000))
    assert trace(f, 1.0).gradient()[0] == 2000
    for beyond_pythons_parser in (" + ".join(["x"] * 5000), "(" * 10_000 + "x" + ")" * 10_000):
        with pytest.raises(ChainError, match="too deeply nested|too many nested") as info:
            parse_expression(beyond_pythons_parser)
        assert len(str(info.value)) < 200


def test_wrong_number_of_values_and_non_strings():
    with pytest.raises(ChainError, match="takes 2 values"):
        parse_expression("x + y")(1.0)
    with pytest.raises(TypeError, match="must be a string") as info:
        parse_expression(42)
    assert isinstance(info.value, ChainError)  # ChainTypeError: both kinds


def test_variables_that_a_signature_refuses_are_chain_errors():
    from chainopt.errors import ChainError, ChainTypeError

    for name in ("if", "True", "None", "1x", ""):
        with pytest.raises(ChainError, match="is not a usable variable name"):
            parse_expression("x", [name])
    with pytest.raises(ChainTypeError, match="variables\\[0\\] must be a name"):
        parse_expression("x", [1])
    with pytest.raises(ChainTypeError, match="a sequence of names"):
        parse_expression("x", "x")
    with pytest.raises(ChainTypeError, match="must be a string, e.g. .*; got int"):
        parse_expression(3)


@pytest.mark.parametrize("depth", [400, 900])
def test_messages_about_deep_calls_do_not_recurse(depth):
    from chainopt.errors import ChainError

    with pytest.raises(ChainError, match=r"sin\(\) takes 1 positional argument\(s\); got 'sin\(-"):
        parse_expression("sin(sin(" + "-" * depth + "x, 1))")
    with pytest.raises(ChainError, match="calling '\\(---"):
        parse_expression("(" + "-" * depth + "x).y(1)")
