"""Tracing: run a Python function on :class:`Node` scalars and record its graph.

Every ``+ - * / **``, unary minus and math function below (:func:`sin`,
:func:`cos`, :func:`exp`, :func:`log`, :func:`tanh`, :func:`sigmoid`,
:func:`maximum`, and the matching NumPy ufuncs) records one node: its value
and the local partial derivative towards each argument, from the one-line
rules in :data:`OPS`. :func:`trace` returns the :class:`~chainopt.graph.Graph`
of the nodes the outputs depend on (:mod:`chainopt.graph.analysis`).
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import elementwise
from ..errors import ChainError, ChainTypeError
from .analysis import Graph, format_value

__all__ = [
    "OPS",
    "apply",
    "Node",
    "cos",
    "exp",
    "log",
    "maximum",
    "sigmoid",
    "sin",
    "tanh",
    "trace",
]

MODES = ("forward", "reverse")


def _sigmoid(a: float) -> float:
    return float(elementwise.sigmoid(a))


def _pow_base_partial(y: float, a: float, b: float) -> float:
    """∂(a**b)/∂a = b · a**(b-1); zero for b = 0 (a**0 is constant)."""
    return b * a ** (b - 1) if b else 0.0


def _pow_exponent_partial(y: float, a: float, b: float) -> float:
    """∂(a**b)/∂b = a**b · log a: zero at a = 0 < b, undefined for a < 0."""
    return 0.0 if a == 0 and b > 0 else y * math.log(a)


def _split(first: bool, a: float, b: float) -> float:
    """∂max(a, b)/∂a (first) or ∂/∂b; a tie splits the derivative evenly."""
    return 0.5 if a == b else float((a > b) == first)


#: name: (evaluate, how to write it, one partial rule ``(y, *args) -> ∂y/∂arg``
#: per argument, where ``y`` is the result).
OPS: dict[str, tuple[Callable, str, tuple[Callable, ...]]] = {
    "add": (operator.add, "{} + {}", (lambda y, a, b: 1.0, lambda y, a, b: 1.0)),
    "sub": (operator.sub, "{} - {}", (lambda y, a, b: 1.0, lambda y, a, b: -1.0)),
    "mul": (operator.mul, "{} * {}", (lambda y, a, b: b, lambda y, a, b: a)),
    "div": (operator.truediv, "{} / {}", (lambda y, a, b: 1.0 / b, lambda y, a, b: -y / b)),
    "pow": (operator.pow, "{} ** {}", (_pow_base_partial, _pow_exponent_partial)),
    "neg": (operator.neg, "-{}", (lambda y, a: -1.0,)),
    "sin": (math.sin, "sin({})", (lambda y, a: math.cos(a),)),
    "cos": (math.cos, "cos({})", (lambda y, a: -math.sin(a),)),
    "exp": (math.exp, "exp({})", (lambda y, a: y,)),
    "log": (math.log, "log({})", (lambda y, a: 1.0 / a,)),
    "tanh": (math.tanh, "tanh({})", (lambda y, a: float(elementwise.sech_squared(a)),)),
    "sigmoid": (_sigmoid, "sigmoid({})", (lambda y, a: float(elementwise.sigmoid_derivative(a)),)),
    "maximum": (max, "maximum({}, {})", (lambda y, a, b: _split(True, a, b),
                                          lambda y, a, b: _split(False, a, b))),
}

_SERIAL = itertools.count()  # creation order: a topological order of every trace


class Node:
    """A traced scalar: one operation, its value and its local partials.

    Attributes
    ----------
    op : str
        ``"input"``, ``"const"`` or a key of :data:`OPS`.
    args : tuple
        The operation's arguments: nodes or plain constants.
    value : float
        The value at the traced point.
    parents : tuple of Node
        The distinct nodes among ``args``.
    partials : tuple of float
        ``∂value/∂parent`` for each parent (summed over repeated arguments).
    index : int
        Position in the graph's topological order (-1 while tracing).
    name : str
        The input's name, or ``v{index}``.

    Notes
    -----
    Comparisons (``<``, ``>``, …) and ``bool()`` use the value, so Python
    control flow works; the graph records the branch taken. ``float()`` is
    refused: it would cut the graph (use :func:`sin` rather than
    :func:`math.sin`, or ``node.value``).
    """

    __slots__ = ("op", "args", "value", "parents", "partials", "serial", "index", "name")

    def __init__(self, op: str, args: tuple, value: float, parents: tuple = (),
                 partials: tuple = (), name: str = ""):
        self.op, self.args, self.value = op, args, value
        self.parents, self.partials = parents, partials
        self.serial, self.index, self.name = next(_SERIAL), -1, name

    @property
    def formula(self) -> str:
        """The operation on its arguments' names, e.g. ``"x ** 3"``."""
        if self.op in ("input", "const"):
            return self.name if self.op == "input" else format_value(self.value)
        names = [a.name or "·" if isinstance(a, Node) else format_value(a) for a in self.args]
        return OPS[self.op][1].format(*names)

    def __repr__(self) -> str:
        name = f"{self.name} = " if self.name and self.op != "input" else ""
        return f"<Node {name}{self.formula}: {format_value(self.value)}>"

    # Arithmetic: (reflected) operators record nodes; see apply.
    def __add__(self, other): return _binary("add", self, other)
    def __radd__(self, other): return _binary("add", other, self)
    def __sub__(self, other): return _binary("sub", self, other)
    def __rsub__(self, other): return _binary("sub", other, self)
    def __mul__(self, other): return _binary("mul", self, other)
    def __rmul__(self, other): return _binary("mul", other, self)
    def __truediv__(self, other): return _binary("div", self, other)
    def __rtruediv__(self, other): return _binary("div", other, self)
    def __pow__(self, other): return _binary("pow", self, other)
    def __rpow__(self, other): return _binary("pow", other, self)
    def __neg__(self): return apply("neg", self)
    def __pos__(self): return self

    def __lt__(self, other): return self.value < _value(other)
    def __le__(self, other): return self.value <= _value(other)
    def __gt__(self, other): return self.value > _value(other)
    def __ge__(self, other): return self.value >= _value(other)
    def __bool__(self): return bool(self.value)

    def __float__(self):
        raise ChainTypeError(
            f"a traced value ({format_value(self.value)}) cannot become a plain float: that would "
            "cut it out of the graph; use chainopt.graph's sin, exp, … instead of math's, "
            "or read node.value")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not all(isinstance(a, Node) or _is_real(a) for a in inputs):
            return NotImplemented
        op = _UFUNCS.get(ufunc.__name__)
        if op is None or method != "__call__" or kwargs:
            raise ChainTypeError(
                f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} is not "
                f"supported on traced values; supported: {', '.join(sorted(_UFUNCS))}")
        return apply(op, *inputs)


_UFUNCS = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
           "power": "pow", "negative": "neg", "sin": "sin", "cos": "cos", "exp": "exp",
           "log": "log", "tanh": "tanh", "maximum": "maximum"}

for _name in ("sin", "cos", "exp", "log", "tanh"):  # NumPy object arrays call x.sin() etc.
    setattr(Node, _name, lambda self, _op=_name: apply(_op, self))


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _value(x):
    return x.value if isinstance(x, Node) else x


def _binary(op: str, a, b):
    if not all(isinstance(x, Node) or _is_real(x) for x in (a, b)):
        return NotImplemented
    return apply(op, a, b)


def apply(op: str, *args: Any) -> Any:
    """Evaluate the operation ``op`` (a key of :data:`OPS`) on nodes or numbers.

    Returns a new :class:`Node` if any argument is traced, else a float.
    Domain errors, division by zero and overflow raise :class:`ChainError`.

    Examples
    --------
    >>> apply("pow", 2, 10)
    1024.0
    >>> apply("log", -1.0)
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: log(-1) is undefined or not differentiable (math domain error);
    keep the function inside its domain
    """
    evaluate, text, rules = OPS[op]
    values = [_value(a) for a in args]
    try:
        values = [float(v) for v in values]
        y = evaluate(*values)
        if not isinstance(y, float):
            raise ValueError("no real value")
        partials: dict[Node, float] = {}
        for arg, rule in zip(args, rules):
            if isinstance(arg, Node):
                partials[arg] = partials.get(arg, 0.0) + float(rule(y, *values))
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ChainError(f"{text.format(*map(format_value, values))} is undefined or not "
                         f"differentiable ({exc}); keep the function inside its domain") from None
    if not (math.isfinite(y) and all(map(math.isfinite, partials.values()))):
        raise ChainError(f"{text.format(*map(format_value, values))} = {format_value(y)} "
                         "or its derivative "
                         "is not finite; keep the values in floating-point range")
    if not partials:
        return y
    return Node(op, args, y, tuple(partials), tuple(partials.values()))


Scalar = Any  # a Node, a real number, or an ndarray of them (element by element)


def _math(op: str, *args):
    """Apply ``op`` to nodes or numbers, element by element over ndarrays."""
    if any(isinstance(a, np.ndarray) for a in args):
        return np.frompyfunc(lambda *xs: apply(op, *xs), len(args), 1)(*args)
    for k, a in enumerate(args):
        if not (isinstance(a, Node) or _is_real(a)):
            raise ChainTypeError(f"{op}() argument {k} must be a real number or a traced "
                                 f"value; got {a!r}")
    return apply(op, *args)


def sin(x: Scalar) -> Scalar:
    """sin(x); traced, ∂/∂x = cos(x). A plain number gives a plain float."""
    return _math("sin", x)


def cos(x: Scalar) -> Scalar:
    """cos(x); traced, ∂/∂x = -sin(x)."""
    return _math("cos", x)


def exp(x: Scalar) -> Scalar:
    """exp(x); traced, ∂/∂x = exp(x)."""
    return _math("exp", x)


def log(x: Scalar) -> Scalar:
    """The natural logarithm, for x > 0; traced, ∂/∂x = 1/x."""
    return _math("log", x)


def tanh(x: Scalar) -> Scalar:
    """tanh(x); traced, ∂/∂x = 1 - tanh(x)²."""
    return _math("tanh", x)


def sigmoid(x: Scalar) -> Scalar:
    """1 / (1 + exp(-x)), without overflow; traced, ∂/∂x = σ(x)(1 - σ(x)).

    Examples
    --------
    >>> sigmoid(0.0), trace(sigmoid, 0.0).gradient()
    (0.5, array([0.25]))
    """
    return _math("sigmoid", x)


def maximum(a: Scalar, b: Scalar) -> Scalar:
    """max(a, b); traced, the derivative goes to the larger argument, half to
    each on a tie (as in JAX and PyTorch), so ``maximum(x, 0)`` is a ReLU.

    Examples
    --------
    >>> trace(lambda x, y: maximum(x, y), 3, 1).gradient()
    array([1., 0.])
    """
    return _math("maximum", a, b)


# -- tracing --------------------------------------------------------------------
def _input_names(f: Callable, count: int) -> list[str]:
    """The names of ``f``'s positional parameters, else x0, x1, …"""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    return names + [f"x{k}" for k in range(len(names), count)]


def _check_arity(f: Callable, count: int) -> None:
    """``f`` must accept ``count`` positional inputs (when its signature says)."""
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*range(count))
    except TypeError as exc:
        raise ChainError(f"f{signature} cannot take the {count} input(s) given ({exc}); "
                         "give one input per parameter") from None


def _as_input(value, k: int) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object NumPy cannot read is the user's
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":
        raise ChainTypeError(f"inputs[{k}] must be a real number or a 1-D sequence of them; "
                             f"got {value!r}")
    if array.ndim > 1 or (array.ndim == 1 and array.size == 0):
        raise ChainError(f"inputs[{k}] must be a scalar or a non-empty 1-D sequence; got "
                         f"shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ChainError(f"inputs[{k}] must be finite; got {value!r}")
    return array.astype(float)


def _as_outputs(result) -> tuple[list[Node], bool]:
    """The output nodes of ``f``'s result, and whether it was a tuple."""
    if isinstance(result, np.ndarray) and result.ndim == 0:
        result = result.item()
    multiple = isinstance(result, (tuple, list, np.ndarray))
    items = list(np.ravel(np.asarray(result, dtype=object))) if multiple else [result]
    if multiple and (not items or np.ndim(np.asarray(result, dtype=object)) != 1):
        raise ChainError("f must return a scalar or a non-empty flat tuple of scalars; got "
                         f"{result!r}")
    outputs = []
    for k, item in enumerate(items):
        if isinstance(item, Node):
            outputs.append(item)
        elif _is_real(item) and math.isfinite(item):
            outputs.append(Node("const", (), float(item)))
        else:
            where = f"output {k}" if multiple else "the output"
            raise ChainTypeError(f"{where} of f must be a traced value or a finite real "
                                 f"number; got {item!r}")
    return outputs, multiple


def trace(f: Callable[..., Any], *inputs) -> Graph:
    """Run ``f`` on traced scalars and return its computational graph.

    Parameters
    ----------
    f : callable
        Takes one argument per input and returns a scalar or a tuple of
        scalars, using ``+ - * / **``, unary minus and the functions of this
        module (:func:`sin`, :func:`exp`, …, or the NumPy ufuncs).
    *inputs : float or 1-D sequence of float
        The point. A sequence reaches ``f`` as a 1-D object array of traced
        scalars (so ``w[0]`` and ``np.dot(w, x)`` work); gradients list all
        scalars in order.

    Returns
    -------
    Graph
        The nodes the outputs depend on, in topological order: the inputs
        first (named after ``f``'s parameters), then one node per operation.

    Raises
    ------
    ChainError
        If an input is not finite or an operation leaves its domain (``log``
        of a negative number, division by zero, overflow).
    ChainTypeError
        If ``f`` is not callable, an input is not real, or an output is not
        a scalar.

    Examples
    --------
    The lecture's f(x, y, z) = (x + y)·z at (-2, 5, -4):

    >>> graph = trace(lambda x, y, z: (x + y) * z, -2, 5, -4)
    >>> graph.value, graph.gradient()
    (-12.0, array([-4., -4.,  3.]))
    >>> graph.nodes
    (<Node x: -2>, <Node y: 5>, <Node z: -4>, <Node v3 = x + y: 3>, <Node v4 = v3 * z: -12>)
    """
    if not callable(f):
        raise ChainTypeError(f"trace needs a function first; got {f!r}")
    if not inputs:
        raise ChainError("trace needs at least one input value after the function")
    _check_arity(f, len(inputs))
    leaves: list[Node] = []
    args: list[Any] = []
    for k, (name, value) in enumerate(zip(_input_names(f, len(inputs)), inputs)):
        array = _as_input(value, k)
        if array.ndim == 0:
            leaves.append(Node("input", (), float(array), name=name))
            args.append(leaves[-1])
        else:
            nodes = [Node("input", (), float(v), name=f"{name}[{i}]") for i, v in enumerate(array)]
            leaves.extend(nodes)
            args.append(np.array(nodes, dtype=object))
    outputs, multiple = _as_outputs(f(*args))
    return Graph(leaves, outputs, multiple)
