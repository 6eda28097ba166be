"""Pictures of computational graphs: Graphviz DOT text, and files via ``dot``.

:func:`to_dot` needs nothing installed. :func:`render` writes ``.dot`` /
``.gv`` text itself and runs the Graphviz ``dot`` program for ``.png``,
``.svg`` and ``.pdf``; where it is missing, :class:`GraphvizNotFoundError`
says how to install it.

Each node shows its name, operation and value (outputs have a double border
and their name, ``f`` or ``f0``, ``f1``, …); each edge shows its local
partial derivative ``∂child/∂parent``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ChainError, ChainTypeError, MissingToolError

__all__ = ["FORMATS", "GraphvizNotFoundError", "render", "to_dot"]

#: File extensions :func:`render` understands; ``dot``/``gv`` need no Graphviz.
FORMATS = ("png", "svg", "pdf", "dot", "gv")


class GraphvizNotFoundError(MissingToolError):
    """The Graphviz ``dot`` program is needed but not installed."""


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _number(value: float) -> str:
    return f"{value:.4g}"


def to_dot(graph) -> str:
    r"""Graphviz DOT text for a :class:`chainopt.Graph`.

    Examples
    --------
    >>> import chainopt
    >>> print(chainopt.trace(lambda x, y: x * y + x, 2, 3).to_dot())
    digraph computation {
      rankdir=LR;
      node [shape=box, style=rounded, fontname="Helvetica"];
      edge [fontname="Helvetica", fontsize=10];
      n0 [label="x\n2", shape=ellipse];
      n1 [label="y\n3", shape=ellipse];
      n2 [label="v2 = x * y\n6"];
      n3 [label="v3 = v2 + x\n8\n(f)", peripheries=2];
      n0 -> n2 [label="3"];
      n1 -> n2 [label="2"];
      n2 -> n3 [label="1"];
      n0 -> n3 [label="1"];
    }
    """
    outputs: dict[int, list[str]] = {}
    for name, node in zip(graph.output_names, graph.outputs):
        outputs.setdefault(node.index, []).append(name)
    lines = ["digraph computation {", "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for node in graph.nodes:
        head = node.name if node.op in ("input", "const") else f"{node.name} = {node.formula}"
        label = f"{head}\n{_number(node.value)}"
        extra = ", shape=ellipse" if node.op == "input" else ""
        if node.index in outputs:
            label += f"\n({', '.join(outputs[node.index])})"
            extra += ", peripheries=2"
        lines.append(f"  n{node.index} [label={_quote(label)}{extra}];")
    for parent, child, partial in graph.edges:
        lines.append(f"  n{parent} -> n{child} [label={_quote(_number(partial))}];")
    lines.append("}")
    return "\n".join(lines)


def _format(path: Path, format: str | None) -> str:
    if format is not None and not isinstance(format, str):
        raise ChainTypeError(f"format must be one of {', '.join(FORMATS)} or None; got "
                             f"{type(format).__name__} {format!r:.40}")
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ChainError(f"cannot draw to {str(path)!r}: the format must be one of "
                         f"{', '.join(FORMATS)} (from the file extension or format=); got {fmt!r}")
    return fmt


def render(graph, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write a picture of ``graph`` to ``path`` and return the path.

    Parameters
    ----------
    graph : Graph
        From :func:`chainopt.trace`.
    path : str or path-like
        Where to write; the extension gives the format unless ``format`` does.
    format : {"png", "svg", "pdf", "dot", "gv"}, optional
        ``dot``/``gv`` write DOT text (no Graphviz needed); the others run
        Graphviz's ``dot`` program.

    Raises
    ------
    GraphvizNotFoundError
        If an image is asked for and ``dot`` is not installed.
    ChainError
        For an unknown format, a file that cannot be written, or a ``dot`` failure.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ChainTypeError(f"the drawing's path must be a file name such as 'graph.svg'; "
                             f"got {type(path).__name__} {path!r:.40}")
    path = Path(path)
    fmt, text = _format(path, format), to_dot(graph)
    if fmt in ("dot", "gv"):
        try:
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ChainError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        return path
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError(
            f"drawing {str(path)!r} needs the Graphviz 'dot' program, which is not installed: "
            "install it with 'apt-get install graphviz' (Debian/Ubuntu), 'brew install "
            "graphviz' (macOS) or 'conda install graphviz', or write a .dot file instead")
    done = subprocess.run([program, f"-T{fmt}", "-o", str(path)], input=text,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise ChainError(f"Graphviz 'dot' could not write {str(path)!r}: {reason}")
    return path
