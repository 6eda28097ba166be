"""The analysis of a traced graph: derivatives by sweeps, elimination, pictures.

A :class:`Graph` holds the nodes that :func:`chainopt.graph.trace` recorded, in
topological order. Its forward sweeps (one per input, column by column) and
reverse sweeps (one per output, row by row) count their arithmetic as the
package notes define (:mod:`chainopt.graph`); :meth:`Graph.eliminate`
accumulates the Jacobian by vertex elimination (:mod:`chainopt.graph.elimination`)
and :meth:`Graph.to_dot` draws it (:mod:`chainopt.graph.drawing`). Every
walk is a loop over the topological order, never a recursion.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ChainError, ChainTypeError
from ..validation import check_sequence
from . import drawing
from .elimination import Elimination, LinearGraph, eliminate, linearize

__all__ = ["Derivatives", "Graph", "format_value"]


def format_value(value: float, digits: int = 6) -> str:
    """A number for text reports: ``digits`` significant digits, or a huge int's length."""
    try:
        return f"{value:.{digits}g}"
    except OverflowError:  # an int beyond float range
        return f"{str(value)[:digits]}… ({len(str(value))} digits)"


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

    def __init__(self, inputs: Sequence[Any], outputs: Sequence[Any], multiple: bool):
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

        >>> from chainopt import trace
        >>> graph = trace(lambda x, y: x**3 * (x + 3*y), 2.0, 3.0)
        >>> rev, fwd = graph.differentiate("reverse"), graph.differentiate("forward")
        >>> rev.sweeps, rev.multiplications, rev.additions
        (1, 6, 1)
        >>> fwd.sweeps, fwd.multiplications, fwd.additions
        (2, 7, 1)
        >>> bool((rev.gradient == fwd.gradient).all())
        True
        """
        if not isinstance(mode, str):
            raise ChainTypeError(f"mode must be 'forward' or 'reverse'; got "
                                 f"{type(mode).__name__} {mode!r:.40}")
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

        >>> from chainopt import trace
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

    def eliminate(self, order: str | Sequence[int] = "markowitz") -> Elimination:
        """The Jacobian by vertex elimination in the given order.

        Parameters
        ----------
        order : {"markowitz", "forward", "reverse", "optimal"} or sequence of int
            See :mod:`chainopt.graph.elimination`; a sequence lists every vertex of
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

        >>> from chainopt.graph import exp, sin
        >>> def f(x, y, z):
        ...     a = x * y
        ...     c = sin(a) * z
        ...     d = exp(c)
        ...     return d + a, d * y, c - x
        >>> from chainopt import trace
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

    def render(self, path: str | os.PathLike, format: str | None = None) -> Path:
        """Write the picture to ``path`` (.png, .svg, .pdf via Graphviz; .dot as text).

        See :func:`chainopt.graph.drawing.render`.
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
        >>> from chainopt import trace
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
        orders = check_sequence(orders, "orders")
        rev, fwd = self.differentiate("reverse"), self.differentiate("forward")
        lines = [f"graph: {_count(len(self.inputs), 'input')} "
                 f"({', '.join(x.name for x in self.inputs)}), "
                 f"{_count(self.operations, 'operation')}, {_count(len(self.edges), 'edge')}, "
                 f"{_count(len(self.outputs), 'output')}",
                 "value: " + ", ".join(f"{name} = {format_value(o.value)}"
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
            return [f"gradient{how}: " + ", ".join(f"∂f/∂{name} = {format_value(d)}"
                                                   for name, d in zip(names, jac[0]))]
        table = [["", *names]] + [[r, *map(format_value, row)]
                                   for r, row in zip(self.output_names, jac)]
        width = max(len(cell) for line in table for cell in line)
        return [f"Jacobian{how} (outputs × inputs):"] + [
            "  " + "  ".join(cell.rjust(width) for cell in line) for line in table]


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
