"""Formulas as text, parsed safely into functions that :func:`chainopt.trace` runs.

``parse_expression("x**3*(x-y)")`` never calls :func:`eval`: the text is
parsed with :mod:`ast` and only numbers, variable names, ``+ - * / **``,
unary ``-``/``+``, calls of the functions of :mod:`chainopt.graph` (sin, cos,
exp, log, tanh, sigmoid, maximum) and, at the top, a comma-separated tuple
of several outputs are accepted. Everything else is a :class:`ChainError`
naming what was found. The tree is compiled, without recursion, into a
postfix program that a loop evaluates.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
from collections.abc import Sequence
from typing import Any, cast

from ..errors import ChainError, ChainTypeError
from . import tracing as graph

__all__ = ["FUNCTIONS", "Expression", "parse_expression"]

#: Functions an expression may call, with their number of arguments.
FUNCTIONS = {"sin": 1, "cos": 1, "exp": 1, "log": 1, "tanh": 1, "sigmoid": 1, "maximum": 2}

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_REFUSED_OPERATORS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@",
                      ast.BitXor: "^ (write powers as **)", ast.BitAnd: "&", ast.BitOr: "|",
                      ast.LShift: "<<", ast.RShift: ">>", ast.Not: "not", ast.Invert: "~"}
_WHAT = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
         ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if-else",
         ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets", ast.ListComp: "comprehensions",
         ast.GeneratorExp: "generators", ast.JoinedStr: "f-strings", ast.NamedExpr: ":=",
         ast.Starred: "*-unpacking", ast.Tuple: "tuples inside an expression"}


class Expression:
    """A parsed formula: call it with one value per variable.

    Attributes
    ----------
    text : str
        The formula as given.
    variables : tuple of str
        Its inputs, in order (first appearance, or as given).
    outputs : int
        Number of comma-separated outputs; the result is a tuple if several.
    """

    def __init__(self, text: str, program: list[tuple], variables: Sequence[str], outputs: int,
                 multiple: bool):
        self.text, self.variables, self.outputs = text, tuple(variables), outputs
        self._program, self._multiple = program, multiple
        params = [inspect.Parameter(v, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for v in self.variables]
        self.__signature__ = inspect.Signature(params)  # so trace() names the inputs

    def __call__(self, *values: float) -> Any:
        if len(values) != len(self.variables):
            raise ChainError(f"the expression takes {len(self.variables)} values "
                             f"({', '.join(self.variables)}); got {len(values)}")
        env, stack = dict(zip(self.variables, values)), []
        for kind, arg in self._program:
            if kind == "number":
                stack.append(arg)
            elif kind == "variable":
                stack.append(env[arg])
            else:  # an operation of chainopt.graph with `arg` operands
                operands = stack[len(stack) - arg:]
                del stack[len(stack) - arg:]
                stack.append(graph.apply(kind, *operands))
        return tuple(stack) if self._multiple else stack[0]

    def __repr__(self) -> str:
        return f"<Expression {self.text!r} of {', '.join(self.variables) or 'no variables'}>"


def _refuse(node: ast.AST, what: str) -> ChainError:
    where = f" at column {node.col_offset + 1}" if hasattr(node, "col_offset") else ""
    return ChainError(f"{what}{where} is not allowed in an expression; use numbers, variables, "
                      f"+ - * / **, and {', '.join(FUNCTIONS)}")


def _source(node: ast.AST, text: str, limit: int = 60) -> str:
    """The text of ``node``, cut to ``limit`` characters (no recursion, unlike ast.unparse)."""
    segment = ast.get_source_segment(text, node) or type(node).__name__
    return segment if len(segment) <= limit else segment[:limit - 3] + "..."


def _operator(node: ast.AST, text: str) -> tuple[str, int] | None:
    """The (op, arity) a checked node emits after its operands, None for leaves."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(node, f"the operator {_REFUSED_OPERATORS.get(type(node.op), '?')}")
        return _BINARY[type(node.op)], 2
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(node, f"the operator {_REFUSED_OPERATORS.get(type(node.op), '?')}")
        return ("neg", 1) if isinstance(node.op, ast.USub) else None
    node = cast(ast.Call, node)  # _compile admits no other operator nodes
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in FUNCTIONS:
        called = name or _source(node.func, text)
        raise _refuse(node, f"calling {called!r} (not one of the functions)")
    if node.keywords or len(node.args) != FUNCTIONS[name] or any(
            isinstance(a, ast.Starred) for a in node.args):
        raise ChainError(f"{name}() takes {FUNCTIONS[name]} positional argument(s); "
                         f"got {_source(node, text)!r}")
    return name, FUNCTIONS[name]


def _leaf(node: ast.AST, text: str, variables: list[str],
          fixed: bool) -> tuple[str, object]:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _refuse(node, f"the constant {value!r}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ChainError(f"the number {_source(node, text)} is too large for a float")
        return "number", value
    node = cast(ast.Name, node)  # _compile sends only constants and names here
    if node.id in FUNCTIONS:
        raise ChainError(f"{node.id!r} is a function: call it, as in {node.id}(x)")
    if node.id not in variables:
        if fixed:
            raise ChainError(f"unknown name {node.id!r} in the expression; the variables are "
                             f"{', '.join(variables) or '(none)'}")
        variables.append(node.id)
    return "variable", node.id


def _compile(body: ast.AST, text: str, variables: list[str], fixed: bool) -> list[tuple]:
    """Check ``body`` and turn it into a postfix program, without recursion."""
    program: list[tuple | None] = []
    stack: list[tuple[ast.AST, bool]] = [(body, False)]
    while stack:
        node, operands_done = stack.pop()
        if operands_done:
            program.append(_operator(node, text))
            continue
        if isinstance(node, (ast.Constant, ast.Name)):
            program.append(_leaf(node, text, variables, fixed))
            continue
        if isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            operands = [node.operand]
        elif isinstance(node, ast.Call):
            _operator(node, text)  # check the call before its arguments
            operands = node.args
        else:
            raise _refuse(node, _WHAT.get(type(node), type(node).__name__.lower()))
        stack.append((node, True))
        stack.extend((a, False) for a in reversed(operands))
    return [step for step in program if step is not None]


def _check_variables(variables: Sequence[str] | None) -> None:
    """Variables must be names that a signature accepts: identifiers, not keywords."""
    if variables is None:
        return
    if isinstance(variables, str) or not isinstance(variables, Sequence):
        raise ChainTypeError(f"variables must be a sequence of names such as ['x', 'y']; "
                             f"got {type(variables).__name__} {variables!r:.40}")
    for i, name in enumerate(variables):
        if not isinstance(name, str):
            raise ChainTypeError(f"variables[{i}] must be a name (a str); got "
                                 f"{type(name).__name__} {name!r:.40}")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ChainError(f"variables[{i}] = {name!r:.40} is not a usable variable name "
                             "(a Python keyword, or not an identifier); rename it, e.g. 'x'")


def parse_expression(text: str, variables: Sequence[str] | None = None) -> Expression:
    """Parse a formula safely (no :func:`eval`) into a traceable function.

    Parameters
    ----------
    text : str
        E.g. ``"x**3*(x-y)"``, or ``"x*y, sin(x*y)"`` for two outputs.
    variables : sequence of str, optional
        The inputs, in order; any other name is an error. By default every
        name that is not a function, in order of first appearance.

    Returns
    -------
    Expression
        Callable with one value (or traced value) per variable.

    Raises
    ------
    ChainError
        For a syntax error or anything but numbers, variables, ``+ - * /
        **``, unary minus and the listed functions.

    Examples
    --------
    >>> import chainopt
    >>> f = parse_expression("x**3*(x-y)")
    >>> f.variables, f(2.0, 3.0)
    (('x', 'y'), -8.0)
    >>> chainopt.trace(f, 2, 3).gradient()
    array([-4., -8.])
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: calling '__import__' (not one of the functions) at column 1 is
    not allowed in an expression; use numbers, variables, + - * / **, and sin, cos, exp, log, ...
    """
    if not isinstance(text, str):
        raise ChainTypeError(f"the expression must be a string, e.g. 'x**3*(x-y)'; got "
                             f"{type(text).__name__} {text!r:.40}")
    _check_variables(variables)
    text = text.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ChainError(f"the expression {shown!r} is not valid: {exc.msg}; write a formula "
                         "such as x**3*(x-y) or sin(x*y), x/y") from None
    except (RecursionError, MemoryError, ValueError):
        raise ChainError("the expression is too deeply nested or too long to parse; nest it "
                         "less deeply (Python's parser stops near 1000 levels)") from None
    body, names = tree.body, list(variables or ())
    parts = body.elts if isinstance(body, ast.Tuple) else [body]
    if not parts:
        raise ChainError("the expression has no outputs")
    program = []
    for part in parts:
        program.extend(_compile(part, text, names, variables is not None))
    return Expression(text, program, names, len(parts), isinstance(body, ast.Tuple))
