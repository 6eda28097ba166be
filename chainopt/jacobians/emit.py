"""Emitting a compiled Jacobian program: the Python source of its NumPy calls.

:class:`~chainopt.jacobians.accumulation.Program` plans the steps, their
order and their buffers; this module writes them out as one straight-line
function ``jacobian(x, out)``, each line a bare :func:`numpy.matmul`,
:func:`numpy.multiply` or forward-pass call on buffers bound once as
closure variables. A call then runs what careful hand-written code would,
with no dispatch in between (``Program.source`` shows the text).

Ids follow :mod:`chainopt.trees`: factors ``0 … L−1`` in product order
(factor 0 is ``J_L``), the result of step ``t`` is ``L + t``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..elementwise import tanh_with_derivative
from .layers import ACTIVATIONS, Activation, Affine

__all__ = ["Step", "emit", "is_tanh"]


class Step:
    """One product: operand ids, how it multiplies, and where it writes.

    A *fused* step (``fused`` is the layer ``j`` of its weight) multiplies
    ``W_j`` by its right operand with one more column, the forward pass's
    ``a_{j−1}``, copied into ``extra`` before the product: the product's last
    column (``z``) is then ``W_j a_{j−1}``, and ``W_j`` is read once for both.
    """

    __slots__ = ("left", "right", "op", "buffer", "fused", "extra", "z", "padded")

    def __init__(self, left: int, right: int, op: str):
        self.left, self.right, self.op = left, right, op
        self.buffer: np.ndarray | None = None
        self.padded: np.ndarray | None = None   # the zero-padded array ``buffer`` is a view of
        self.fused: int | None = None
        self.extra: np.ndarray | None = None
        self.z: np.ndarray | None = None


def _final_diagonal(a, b, out):
    """A diagonal final result, written densely into ``out``."""
    out.fill(0.0)
    np.multiply(a, b, out=np.einsum("ii->i", out))
    return out


def is_tanh(layer) -> bool:
    return type(layer) is Activation and layer.rule is ACTIVATIONS["tanh"]


# -- emitting: the program as the Python source of its NumPy calls -----------------
class _Source:
    """Lines of a function ``jacobian(x, out)`` and the constants they name.

    Every constant (a buffer, a view of one, a layer) is bound once, as a
    closure variable, so the function runs the bare calls a careful
    programmer would write by hand.
    """

    def __init__(self) -> None:
        self.env: dict[str, object] = {
            "matmul": np.matmul, "multiply": np.multiply, "add": np.add,
            "copyto": np.copyto, "empty": np.empty,
            "tanh_with_derivative": tanh_with_derivative,
            "final_diagonal": _final_diagonal, "single": _single}
        self.ids: dict[int, str] = {}
        self.lines: list[str] = []
        self.padded: dict[str, np.ndarray] = {}     # a thin operand's name → its padded array

    def const(self, value: object, hint: str) -> str:
        """The name bound to ``value`` (the same name for the same object)."""
        name = self.ids.get(id(value))
        if name is None:
            name = self.ids[id(value)] = f"{hint}{len(self.env)}"
            self.env[name] = value
        return name

    def array(self, name: str) -> np.ndarray:
        """The array a constant's name is bound to."""
        value = self.env[name]
        assert isinstance(value, np.ndarray)
        return value

    def view(self, expr: str, how: str, part: slice = slice(None)) -> str:
        """``expr`` transposed (``"T"``), as a column (``"col"``), or ``part`` of its
        ``"rows"`` or ``"cols"``: a constant view of a constant, else the code for it.
        """
        code = {"T": ".T", "col": "[:, None]", "rows": f"[{part.start}:{part.stop}]",
                "cols": f"[:, {part.start}:{part.stop}]"}[how]
        if expr not in self.env:
            return expr + code
        value = self.array(expr)
        views = {"T": lambda: value.T, "col": lambda: value[:, None],
                 "rows": lambda: value[part], "cols": lambda: value[:, part]}
        return self.const(views[how](), "T" if how == "T" else "part")

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def compile(self) -> tuple[str, Callable]:
        names = ", ".join(self.env)
        body = "\n".join(f"        {line}" for line in self.lines)
        text = (f"def make({names}):\n    def jacobian(x, out):\n{body}\n"
                f"    return jacobian\n")
        namespace: dict = {}
        exec(compile(text, "<chainopt jacobian program>", "exec"), namespace)  # noqa: S102
        source = "\n".join(line[4:] for line in text.splitlines()[1:-1])
        return source, namespace["make"](**self.env)


def emit(layers, n: int, groups, plan, steps: list[Step], shape: tuple[int, int],
         blocks: tuple[str, int] | None = None) -> tuple[str, Callable]:
    """The source and function of a compiled program (the final step last)."""
    src = _Source()
    values: list[str] = [""] * (n + len(steps))
    for j, layer in enumerate(layers):         # weights are read at each call, as layers hold them
        if isinstance(layer, Affine):
            src(f"w{j} = {src.const(layer, 'layer')}.weight")
            values[n - 1 - j] = f"w{j}"
    z_of = {step.fused: step.z for step in steps if step.fused is not None}
    v = "x"
    for kind, i in plan[:-1] if steps else plan:
        if kind == "stage":
            first, last = groups[i]
            v = _emit_stage(src, layers, first, last, n, z_of.get(first), v, values)
        else:
            _emit_step(src, steps[i], n + i, v, values)
    if not steps:
        src(f"return single({values[0]}, {src.const(layers[0], 'layer')}, {shape}, out)")
        return src.compile()
    final = steps[-1]
    a, b = values[final.left], values[final.right]
    src(f"if out is None:\n            out = empty({shape})")
    if final.op == "diag":
        src(f"final_diagonal({a}, {b}, out)")
    elif final.op == "scale_left":
        src(f"multiply({src.view(a, 'col')}, {b}, out=out)")
    elif blocks is not None:
        _emit_blocks(src, a, b, shape, blocks)
    else:
        src(f"{'matmul' if final.op == 'matmul' else 'multiply'}({a}, {b}, out=out)")
    src("return out")
    return src.compile()


def _emit_blocks(src: _Source, a: str, b: str, shape: tuple[int, int],
                 blocks: tuple[str, int]) -> None:
    """The final product ``a · b`` into ``out`` in the blocks of :func:`.tuning.final_blocks`."""
    axis, size = blocks
    for start in range(0, shape[0 if axis == "rows" else 1], size):
        part = slice(start, start + size)
        if axis == "rows":
            src(f"matmul({src.view(a, 'rows', part)}, {b}, out=out[{start}:{start + size}])")
        else:
            src(f"matmul({a}, {src.view(b, 'cols', part)}, out=out[:, {start}:{start + size}])")


def _emit_stage(src: _Source, layers, first: int, last: int, n: int,
                z: np.ndarray | None, v: str, values: list[str]) -> str:
    """The forward pass through layers ``first … last``; returns its output's name.

    It names each layer's input-dependent factor (a 1-D diagonal, or a
    generic layer's ``jacobian``) at its product-order id. An affine layer
    writes ``W v + b`` into a buffer, or, when a fused step has already
    computed ``W v`` as ``z``, just adds ``b``; a tanh right after it is
    fused into the same stage (:func:`~chainopt.elementwise.tanh_with_derivative`).
    """
    layer, slot = layers[first], n - 1 - last
    if isinstance(layer, Affine):
        buffer = src.const(np.empty(layer.n_out), "buffer")
        if z is None:
            src(f"matmul(w{first}, {v}, out={buffer})")
        source = buffer if z is None else src.const(z, "z")
        src(f"add({source}, {src.const(layer, 'layer')}.bias, out={buffer})")
        if last == first:
            return buffer
        layer, v = layers[last], buffer
    if is_tanh(layer):
        t, d = src.const(np.empty(layer.n_out), "t"), src.const(np.empty(layer.n_out), "d")
        src(f"tanh_with_derivative({v}, {t}, {d})")
        values[slot] = d
        return t
    name = src.const(layer.rule if isinstance(layer, Activation) else layer, "layer")
    derivative, value = (("derivative", "value") if isinstance(layer, Activation)
                         else ("jacobian", "forward"))
    src(f"f{slot} = {name}.{derivative}({v})")
    src(f"a{last} = {name}.{value}({v})")
    values[slot] = f"f{slot}"
    return f"a{last}"


def _emit_padded(src: _Source, op: str, a: str, b: str, target: str, padded: np.ndarray,
                 slot: int, values: list[str]) -> None:
    """A thin product on the zero-padded rows of its thin operand (:func:`.tuning.pad_rows`)."""
    if op == "matmul":
        thin = src.padded[a]
        src(f"matmul({src.const(thin, 'padded')}, {b}, out={target})")
        values[slot] = src.const(padded[:src.array(a).shape[0]], "part")
    else:
        thin = src.padded[b]
        src(f"matmul({src.const(thin.T, 'padded')}, {src.view(a, 'T')}, out={target})")
        values[slot] = src.const(padded[:src.array(b).shape[1]].T, "part")


def _emit_step(src: _Source, step: Step, slot: int, v: str, values: list[str]) -> None:
    """One product into its buffer; names its value (a constant view of the buffer)."""
    a, b, op = values[step.left], values[step.right], step.op
    buffer = step.buffer
    assert buffer is not None
    target = src.const(buffer, "buffer")
    if step.padded is not None and op in ("matmul", "matmul_t"):
        _emit_padded(src, op, a, b, target, step.padded, slot, values)
        return
    if step.padded is not None:               # the thin operand of a padded product
        src.padded[target] = step.padded
    if step.fused is not None:
        extra = step.extra
        assert extra is not None
        cols = extra.shape[1] - 1
        src(f"copyto({src.const(extra[:, -1], 'column')}, {v})")
        if op == "matmul_t":
            src(f"matmul({src.const(extra.T, 'T')}, {src.view(a, 'T')}, out={target})")
            values[slot] = src.const(buffer[:cols].T, "part")
        else:
            src(f"matmul({a}, {src.const(extra, 'extra')}, out={target})")
            values[slot] = src.const(buffer[:, :cols], "part")
        return
    if op == "matmul":
        src(f"matmul({a}, {b}, out={target})")
    elif op == "matmul_t":
        src(f"matmul({src.view(b, 'T')}, {src.view(a, 'T')}, out={target})")
        values[slot] = src.const(buffer.T, "T")
        return
    elif op == "scale_left":
        src(f"multiply({src.view(a, 'col')}, {b}, out={target})")
    else:
        src(f"multiply({a}, {b}, out={target})")
    values[slot] = target


def _single(value: np.ndarray, layer, shape: tuple[int, int], out: np.ndarray | None):
    """A one-layer network: its Jacobian, dense, as a new array or into ``out``."""
    result = np.zeros(shape) if out is None else out
    if layer.kind == "diagonal":
        if out is not None:
            out.fill(0.0)
        np.einsum("ii->i", result)[...] = value
    else:
        np.copyto(result, value)
    return result
