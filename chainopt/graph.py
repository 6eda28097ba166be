"""Computational graphs: trace a Python function, then differentiate it.

:func:`trace` runs ``f`` on traced scalars (:class:`Node`). Every ``+ - * /
**``, unary minus and math function below (:func:`sin`, :func:`cos`,
:func:`exp`, :func:`log`, :func:`tanh`, :func:`sigmoid`, :func:`maximum`, and
the matching NumPy ufuncs) records one node: its value and the local partial
derivative towards each argument, from the one-line rules in :data:`OPS`.
The :class:`Graph` keeps the nodes the outputs depend on, in topological
(creation) order, and offers

- :meth:`Graph.gradient` and :meth:`Graph.jacobian`: forward mode (one sweep
  per input, column by column) or reverse mode (one sweep per output, row by
  row), with :meth:`Graph.differentiate` reporting what the sweeps cost;
- :meth:`Graph.eliminate`: the Jacobian by vertex elimination
  (:mod:`chainopt.elimination`);
- :meth:`Graph.to_dot` and :meth:`Graph.render`: pictures
  (:mod:`chainopt.drawing`).

Everything is a loop over the topological order, never a recursion, so graphs
of 10⁵ nodes and more work.

Counting
--------
The *function* costs one operation per elemental operation (each ``+ - * /
**``, negation or math function), :attr:`Graph.operations`. Local partials
are evaluated once, while tracing, and are not counted again. A *sweep*
propagates derivatives along the edges (distinct parent → child pairs;
``x * x`` has one edge, with partial ``2x``):

- forward sweep for input ``x_i``: each edge leaving a node that depends on
  ``x_i`` costs one multiplication (partial × tangent), and each further term
  of a node's tangent one addition;
- reverse sweep for output ``y_k``: each edge entering a node that ``y_k``
  depends on costs one multiplication (partial × adjoint), and each further
  term of a node's adjoint one addition.

Multiplications by 1 (seeds, the partials of ``+``) are counted too: the
count is structural and does not depend on the point. As every operation
has at most two arguments, one sweep costs at most 4 × :attr:`Graph.operations`.

Examples
--------
>>> import chainopt
>>> graph = chainopt.trace(lambda x, y: x**3 * (x + 3*y), 2.0, 3.0)
>>> graph.value
88.0
>>> graph.gradient()
array([140.,  24.])
>>> graph.operations, graph.differentiate("reverse").operations
(4, 7)
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import drawing
from .elimination import Elimination, LinearGraph, eliminate, linearize
from .errors import ChainError, ChainTypeError

__all__ = [
    "OPS",
    "apply",
    "Derivatives",
    "Graph",
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
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)  # no overflow for very negative a
    return e / (1.0 + e)


def _sech_squared(a: float) -> float:
    """1 - tanh(a)², accurate in the tails (where 1 - y² cancels) and without overflow."""
    t = math.exp(-2.0 * abs(a))
    return 4.0 * t / (1.0 + t) ** 2


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
    "tanh": (math.tanh, "tanh({})", (lambda y, a: _sech_squared(a),)),
    "sigmoid": (_sigmoid, "sigmoid({})", (lambda y, a: _sigmoid(a) * _sigmoid(-a),)),
    "maximum": (max, "maximum({}, {})", (lambda y, a, b: _split(True, a, b),
                                          lambda y, a, b: _split(False, a, b))),
}

_SERIAL = itertools.count()  # creation order: a topological order of every trace


def _fmt(value: float, digits: int = 6) -> str:
    try:
        return f"{value:.{digits}g}"
    except OverflowError:  # an int beyond float range
        return f"{str(value)[:digits]}… ({len(str(value))} digits)"


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
            return self.name if self.op == "input" else _fmt(self.value)
        names = [a.name or "·" if isinstance(a, Node) else _fmt(a) for a in self.args]
        return OPS[self.op][1].format(*names)

    def __repr__(self) -> str:
        name = f"{self.name} = " if self.name and self.op != "input" else ""
        return f"<Node {name}{self.formula}: {_fmt(self.value)}>"

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
            f"a traced value ({_fmt(self.value)}) cannot become a plain float: that would "
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


def apply(op: str, *args):
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
        raise ChainError(f"{text.format(*map(_fmt, values))} is undefined or not "
                         f"differentiable ({exc}); keep the function inside its domain") from None
    if not (math.isfinite(y) and all(map(math.isfinite, partials.values()))):
        raise ChainError(f"{text.format(*map(_fmt, values))} = {_fmt(y)} or its derivative "
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
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    return names + [f"x{k}" for k in range(len(names), count)]


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
    leaves, args = [], []
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


# -- the graph ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Derivatives:
    """Derivatives from forward or reverse sweeps, with what they cost.

    Attributes
    ----------
    jacobian : ndarray
        Outputs × inputs (only the requested output's row, if one was asked).
    mode : str
        ``"forward"`` (one sweep per input) or ``"reverse"`` (one per output).
    sweeps : int
        Number of sweeps run.
    multiplications, additions : int
        Arithmetic of all sweeps, counted as in the module notes.
    """

    jacobian: np.ndarray
    mode: str
    sweeps: int
    multiplications: int
    additions: int

    @property
    def operations(self) -> int:
        """``multiplications + additions``."""
        return self.multiplications + self.additions

    @property
    def gradient(self) -> np.ndarray:
        """The single row of :attr:`jacobian`, for one output."""
        if len(self.jacobian) != 1:
            raise ChainError(f"there are {len(self.jacobian)} outputs, so no single gradient; "
                             "use .jacobian")
        return self.jacobian[0]


class Graph:
    """A traced computation: nodes in topological order, inputs, outputs.

    Build it with :func:`trace`. The nodes are the inputs (all of them, in
    order, even unused ones) followed by every operation the outputs depend
    on, in the order it ran; ``nodes[i].index == i``. Operations whose
    results never reach an output are left out.

    Attributes
    ----------
    nodes : tuple of Node
        Every node, in topological order.
    inputs : tuple of Node
        One per input scalar (a sequence input gives several).
    outputs : tuple of Node
        One per output (the same node may appear twice).
    multiple : bool
        Whether ``f`` returned a tuple (then :attr:`value` is a tuple).
    """

    def __init__(self, inputs: Sequence[Node], outputs: Sequence[Node], multiple: bool):
        self.inputs, self.outputs, self.multiple = tuple(inputs), tuple(outputs), multiple
        found, stack, seen = [], list(outputs), {id(n) for n in inputs}
        while stack:  # iterative depth-first search from the outputs
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.op == "input":
                raise ChainError(f"f used the traced value {node.name!r}, which is not one of "
                                 "its own inputs (from another trace?); pass it as an input")
            found.append(node)
            stack.extend(node.parents)
        self.nodes = self.inputs + tuple(sorted(found, key=lambda n: n.serial))
        for i, node in enumerate(self.nodes):
            node.index = i
            node.name = node.name if node.op == "input" else f"v{i}"
        self._parents = [tuple(p.index for p in n.parents) for n in self.nodes]
        self._partials = [n.partials for n in self.nodes]

    # -- structure -------------------------------------------------------------
    @property
    def value(self) -> float | tuple[float, ...]:
        """The output's value, or a tuple of them."""
        values = tuple(o.value for o in self.outputs)
        return values if self.multiple else values[0]

    @property
    def operations(self) -> int:
        """Elemental operations of the function (nodes other than inputs, constants)."""
        return sum(1 for n in self.nodes if n.op not in ("input", "const"))

    @property
    def edges(self) -> list[tuple[int, int, float]]:
        """``(parent, child, ∂child/∂parent)`` for every edge."""
        return [(p, v, c) for v, (ps, cs) in enumerate(zip(self._parents, self._partials))
                for p, c in zip(ps, cs)]

    @property
    def output_names(self) -> tuple[str, ...]:
        """``("f",)`` for one output, else ``("f0", "f1", …)``."""
        m = len(self.outputs)
        return ("f",) if not self.multiple else tuple(f"f{k}" for k in range(m))

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return (f"<Graph {len(self.inputs)} inputs, {self.operations} operations, "
                f"{len(self.outputs)} output{'s' if len(self.outputs) != 1 else ''}>")

    # -- sweeps ----------------------------------------------------------------
    def _forward_sweep(self, i: int) -> tuple[list[float], int, int]:
        """Tangents of every node with respect to input ``i``."""
        tangent, reached = [0.0] * len(self.nodes), [False] * len(self.nodes)
        tangent[i], reached[i], mults, adds = 1.0, True, 0, 0
        for v in range(len(self.inputs), len(self.nodes)):
            terms = [c * tangent[p] for p, c in zip(self._parents[v], self._partials[v])
                     if reached[p]]
            if terms:
                tangent[v], reached[v] = sum(terms), True
                mults, adds = mults + len(terms), adds + len(terms) - 1
        return tangent, mults, adds

    def _reverse_sweep(self, out: int) -> tuple[list[float], int, int]:
        """Adjoints of every node for the output node ``out``."""
        adjoint, reached = [0.0] * len(self.nodes), [False] * len(self.nodes)
        adjoint[out], reached[out], mults, adds = 1.0, True, 0, 0
        for v in range(out, -1, -1):
            if not reached[v]:
                continue
            for p, c in zip(self._parents[v], self._partials[v]):
                mults += 1
                if reached[p]:
                    adjoint[p] += c * adjoint[v]
                    adds += 1
                else:
                    adjoint[p], reached[p] = c * adjoint[v], True
        return adjoint, mults, adds

    def _output(self, output: int | None) -> list[int]:
        if output is None:
            return list(range(len(self.outputs)))
        if not isinstance(output, numbers.Integral) or not -len(self.outputs) <= output < len(
                self.outputs):
            raise ChainError(f"output must be an int in 0 .. {len(self.outputs) - 1}; "
                             f"got {output!r}")
        return [int(output) % len(self.outputs)]

    def differentiate(self, mode: str = "reverse", output: int | None = None) -> Derivatives:
        """The Jacobian by sweeps, with their arithmetic counted.

        Parameters
        ----------
        mode : {"reverse", "forward"}
            ``"reverse"`` runs one backward sweep per output and gets a row of
            the Jacobian from each; ``"forward"`` runs one sweep per input
            and gets a column from each.
        output : int, optional
            Only this output's row (reverse mode then runs one sweep).

        Returns
        -------
        Derivatives
            The Jacobian (outputs × inputs) and the sweeps' cost.

        Examples
        --------
        One reverse sweep against one forward sweep per input:

        >>> graph = trace(lambda x, y: x**3 * (x + 3*y), 2.0, 3.0)
        >>> rev, fwd = graph.differentiate("reverse"), graph.differentiate("forward")
        >>> rev.sweeps, rev.multiplications, rev.additions
        (1, 6, 1)
        >>> fwd.sweeps, fwd.multiplications, fwd.additions
        (2, 7, 1)
        >>> bool((rev.gradient == fwd.gradient).all())
        True
        """
        rows = self._output(output)
        if mode == "reverse":
            sweeps = [self._reverse_sweep(self.outputs[k].index) for k in rows]
            jac = [[adj[x.index] for x in self.inputs] for adj, _, _ in sweeps]
        elif mode == "forward":
            sweeps = [self._forward_sweep(x.index) for x in self.inputs]
            jac = [[tan[self.outputs[k].index] for tan, _, _ in sweeps] for k in rows]
        else:
            raise ChainError(f"mode must be 'forward' or 'reverse'; got {mode!r}")
        return Derivatives(np.array(jac, dtype=float).reshape(len(rows), len(self.inputs)),
                           mode, len(sweeps), sum(s[1] for s in sweeps), sum(s[2] for s in sweeps))

    def gradient(self, mode: str = "reverse", output: int | None = None) -> np.ndarray:
        """The partial derivatives of one output with respect to every input.

        Parameters
        ----------
        mode : {"reverse", "forward"}
            One reverse sweep, or one forward sweep per input.
        output : int, optional
            Which output, if ``f`` returned several.

        Returns
        -------
        ndarray
            One partial per input scalar, in order.

        Raises
        ------
        ChainError
            If ``f`` returned several outputs and ``output`` is not given.

        Examples
        --------
        The lecture's problem 5, f(x, y) = x³(x - y) at (2, 3):

        >>> graph = trace(lambda x, y: x**3 * (x - y), 2, 3)
        >>> graph.value, graph.gradient(), graph.gradient("forward")
        (-8.0, array([-4., -8.]), array([-4., -8.]))
        """
        if output is None and len(self.outputs) > 1:
            raise ChainError(f"f has {len(self.outputs)} outputs, so no single gradient; pass "
                             "output=k, or use graph.jacobian() or graph.eliminate()")
        return self.differentiate(mode, output).jacobian[0]

    def jacobian(self, mode: str = "reverse") -> np.ndarray:
        """All partials, outputs × inputs: row by row in reverse mode, column by
        column in forward mode (see :meth:`differentiate` for the cost)."""
        return self.differentiate(mode).jacobian

    # -- vertex elimination ------------------------------------------------------
    def linearize(self) -> LinearGraph:
        """The linearised graph: local partials on the edges, outputs as sinks.

        An output that is used further, is an input, or is returned twice gets
        a copy vertex named after it (``f``, ``f0``, …) with partial 1.
        """
        return linearize(self._parents, self._partials, [x.index for x in self.inputs],
                         [o.index for o in self.outputs], [n.name for n in self.nodes],
                         self.output_names)

    @property
    def intermediates(self) -> tuple[int, ...]:
        """The vertices :meth:`eliminate` removes (indices into the linearised graph)."""
        return self.linearize().intermediates

    def eliminate(self, order="markowitz") -> Elimination:
        """The Jacobian by vertex elimination in the given order.

        Parameters
        ----------
        order : {"markowitz", "forward", "reverse", "optimal"} or sequence of int
            See :mod:`chainopt.elimination`; a sequence lists every vertex of
            :attr:`intermediates` once.

        Returns
        -------
        Elimination
            ``.jacobian`` (outputs × inputs), ``.multiplications``
            (``|P(j)|·|S(j)|`` summed), ``.order``.

        Examples
        --------
        Three outputs sharing four intermediates; the orders cost differently
        and agree on the Jacobian:

        >>> def f(x, y, z):
        ...     a = x * y
        ...     c = sin(a) * z
        ...     d = exp(c)
        ...     return d + a, d * y, c - x
        >>> graph = trace(f, 0.5, 1.5, -0.7)
        >>> graph.intermediates
        (3, 4, 5, 6)
        >>> {order: graph.eliminate(order).multiplications
        ...  for order in ("forward", "reverse", "markowitz", "optimal")}
        {'forward': 18, 'reverse': 17, 'markowitz': 16, 'optimal': 15}
        >>> graph.eliminate("optimal").order
        (4, 5, 6, 3)
        >>> bool(np.allclose(graph.eliminate([6, 5, 4, 3]).jacobian, graph.jacobian()))
        True
        """
        return eliminate(self.linearize(), order)

    # -- pictures and text ------------------------------------------------------
    def to_dot(self) -> str:
        """Graphviz DOT text: each node's operation and value, each edge's partial."""
        return drawing.to_dot(self)

    def render(self, path, format: str | None = None):
        """Write the picture to ``path`` (.png, .svg, .pdf via Graphviz; .dot as text).

        See :func:`chainopt.drawing.render`.
        """
        return drawing.render(self, path, format)

    def summary(self, orders: Sequence = ()) -> str:
        """The value, derivatives and what forward and reverse mode cost, as text.

        Parameters
        ----------
        orders : sequence, optional
            Elimination orders (see :meth:`eliminate`) to run and report too.

        Examples
        --------
        >>> print(trace(lambda x, y: x**3 * (x - y), 2, 3).summary(["markowitz"]))
        graph: 2 inputs (x, y), 3 operations, 5 edges, 1 output
        value: f = -8
        gradient: ∂f/∂x = -4, ∂f/∂y = -8
        cost           sweeps  multiplications  additions  operations  × function
        function            -                -          -           3        1.00
        forward mode        2                6          1           7        2.33
        reverse mode        1                5          1           6        2.00
        (forward mode runs one sweep per input, reverse mode one per output)
        vertex elimination (markowitz): 3 multiplications, 1 addition; order v2, v3
          the same gradient as reverse mode (largest difference 0.0e+00)
        """
        rev, fwd = self.differentiate("reverse"), self.differentiate("forward")
        lines = [f"graph: {_count(len(self.inputs), 'input')} "
                 f"({', '.join(x.name for x in self.inputs)}), "
                 f"{_count(self.operations, 'operation')}, {_count(len(self.edges), 'edge')}, "
                 f"{_count(len(self.outputs), 'output')}",
                 "value: " + ", ".join(f"{name} = {_fmt(o.value)}"
                                       for name, o in zip(self.output_names, self.outputs)),
                 *self._derivative_lines(rev.jacobian, "")]
        row = "{:13}  {:>6}  {:>15}  {:>9}  {:>10}  {:>10}".format
        lines += [row("cost", "sweeps", "multiplications", "additions", "operations", "× function"),
                  row("function", "-", "-", "-", f"{self.operations:,}", "1.00")]
        for d in (fwd, rev):
            lines.append(row(f"{d.mode} mode", f"{d.sweeps:,}", f"{d.multiplications:,}",
                             f"{d.additions:,}", f"{d.operations:,}",
                             f"{d.operations / max(self.operations, 1):.2f}"))
        lines.append("(forward mode runs one sweep per input, reverse mode one per output)")
        for order in orders:
            result = self.eliminate(order)
            lines.append(f"vertex elimination ({result.method}): "
                         f"{_count(result.multiplications, 'multiplication')}, "
                         f"{_count(result.additions, 'addition')}; order "
                         f"{', '.join(result.names[v] for v in result.order) or '(none)'}")
            gap = float(np.max(np.abs(result.jacobian - rev.jacobian), initial=0.0))
            if np.allclose(result.jacobian, rev.jacobian, rtol=1e-12, atol=1e-12):
                what = "gradient" if len(self.outputs) == 1 else "Jacobian"
                lines.append(f"  the same {what} as reverse mode (largest difference {gap:.1e})")
            else:
                lines.extend(self._derivative_lines(result.jacobian, " by elimination"))
        return "\n".join(lines)

    def _derivative_lines(self, jac: np.ndarray, how: str) -> list[str]:
        names = [x.name for x in self.inputs]
        if len(jac) == 1:
            return [f"gradient{how}: " + ", ".join(f"∂f/∂{name} = {_fmt(d)}"
                                                   for name, d in zip(names, jac[0]))]
        table = [["", *names]] + [[r, *map(_fmt, row)] for r, row in zip(self.output_names, jac)]
        width = max(len(cell) for line in table for cell in line)
        return [f"Jacobian{how} (outputs × inputs):"] + [
            "  " + "  ".join(cell.rjust(width) for cell in line) for line in table]


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
