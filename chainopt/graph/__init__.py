"""Computational graphs: trace a Python function, then differentiate it.

The modules, bottom up: :mod:`~chainopt.graph.elimination` (vertex elimination
on the linearised graph) and :mod:`~chainopt.graph.drawing` (DOT and Graphviz);
:mod:`~chainopt.graph.analysis` (the :class:`Graph`: sweeps, counting, text);
:mod:`~chainopt.graph.tracing` (recording a function); and
:mod:`~chainopt.graph.expression` (formulas as text, parsed safely).

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
  (:mod:`chainopt.graph.elimination`);
- :meth:`Graph.to_dot` and :meth:`Graph.render`: pictures
  (:mod:`chainopt.graph.drawing`).

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

from .analysis import Derivatives, Graph
from .tracing import OPS, Node, apply, cos, exp, log, maximum, sigmoid, sin, tanh, trace

__all__ = [
    "OPS",
    "Derivatives",
    "Graph",
    "Node",
    "apply",
    "cos",
    "exp",
    "log",
    "maximum",
    "sigmoid",
    "sin",
    "tanh",
    "trace",
]
