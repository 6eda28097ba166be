"""Compiled Jacobian accumulation: one network, one order, buffers reused.

:func:`chainopt.jacobian` runs every mode through a :class:`Program`: the
steps of the chosen bracketing of ``J_L ⋯ J_1``, planned once per network
and order, executed with :func:`numpy.matmul` and :func:`numpy.multiply`
into buffers allocated once. A loop over points then allocates nothing but
the small vectors of the forward pass (and, without ``out=``, the result).

Why not :meth:`chainopt.Plan.execute`, which runs the same steps? Three
measured reasons (``chainopt experiment jacobian``, README "Jacobians"):

- :func:`numpy.dot` into a fresh result zeroes it before the GEMM: 0.3 to
  0.4 ms on the hourglass's 8 MB Jacobian, which ``numpy.matmul`` skips.
- A tall thin product ``(m×k)·(k×n)`` with ``n < m`` runs faster in
  OpenBLAS as its transpose ``(Bᵀ Aᵀ)ᵀ`` (``1000×1000 · 1000×10``: 0.90 ms
  against 0.66 ms on one thread), so an intermediate of that shape is
  computed transposed and used as a Fortran-ordered view (no copy).
- Validating arrays, wrapping diagonals and freeing intermediates costs
  microseconds per step, which is most of the time on small networks.

Ids follow :mod:`chainopt.trees`: factors ``0 … L−1`` in product order
(factor 0 is ``J_L``), the result of step ``t`` is ``L + t``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..elementwise import tanh_with_derivative
from .layers import ACTIVATIONS, Activation, Affine, Network

__all__ = ["Program", "program_for", "run_program"]


def _no_step(a, b, target):  # pragma: no cover - a one-layer program never runs a step
    raise AssertionError("a one-layer network has no step")


class _Step:
    """One product: operand ids, how it multiplies, and where it writes.

    A *fused* step (``fused`` is the layer ``j`` of its weight) multiplies
    ``W_j`` by its right operand with one more column, the forward pass's
    ``a_{j−1}``, copied into ``extra`` before the product: the product's last
    column (``z``) is then ``W_j a_{j−1}``, and ``W_j`` is read once for both.
    """

    __slots__ = ("left", "right", "op", "buffer", "kernel", "fused", "extra", "z")

    def __init__(self, left: int, right: int, op: str):
        self.left, self.right, self.op = left, right, op
        self.buffer: np.ndarray | None = None
        self.kernel: Callable = _KERNELS[op]
        self.fused: int | None = None
        self.extra: np.ndarray | None = None
        self.z: np.ndarray | None = None


#: A tall thin product ``(m×k)·(k×n)``, ``n < m``, runs transposed when its
#: left operand has at least this many elements (1 MiB of float64): at
#: 1000×1000 · 1000×10 OpenBLAS takes 0.66 ms for the transpose against
#: 0.90 ms on one thread, but up to 300×300 · 300×10 the transpose is 25-40%
#: slower (the operand stays in L2 and the plain kernel wins).
TRANSPOSE_FROM = 2**17


def _step_op(left_diag: bool, right_diag: bool, rows: int, inner: int, cols: int,
             final: bool) -> str:
    if left_diag and right_diag:
        return "diag"
    if left_diag or right_diag:
        return "scale_left" if left_diag else "scale_right"
    tall = cols < rows and rows * inner >= TRANSPOSE_FROM
    return "matmul_t" if tall and not final else "matmul"


class _Buffers:
    """A pool of work arrays by shape: a step takes one, its operands give theirs back."""

    def __init__(self) -> None:
        self.free: dict[tuple[int, ...], list[np.ndarray]] = {}

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        spare = self.free.get(shape)
        return spare.pop() if spare else np.empty(shape)

    def give(self, *arrays: np.ndarray | None) -> None:
        for array in arrays:
            if array is not None:
                self.free.setdefault(array.shape, []).append(array)


def _final_diagonal(a, b, out):
    """A diagonal final result, written densely into ``out``."""
    out.fill(0.0)
    np.multiply(a, b, out=np.einsum("ii->i", out))
    return out


#: Each op as ``kernel(a, b, target)``: diagonals are 1-D, ``matmul_t`` writes Cᵀ.
_KERNELS: dict[str, Callable] = {
    "matmul": lambda a, b, target: np.matmul(a, b, out=target),
    "matmul_t": lambda a, b, target: np.matmul(b.T, a.T, out=target).T,
    "scale_left": lambda a, b, target: np.multiply(a[:, None], b, out=target),
    "scale_right": lambda a, b, target: np.multiply(a, b, out=target),
    "diag": lambda a, b, target: np.multiply(a, b, out=target),
}


def _fused_kernel(step: _Step) -> Callable:
    """``W [B | a]`` into the step's buffer; the value is the ``W B`` part."""
    extra, target = step.extra, step.buffer
    assert extra is not None and target is not None
    cols = extra.shape[1] - 1
    if step.op == "matmul_t":
        return lambda a, b, _: np.matmul(extra.T, a.T, out=target)[:cols].T
    return lambda a, b, _: np.matmul(a, extra, out=target)[:, :cols]


# -- compiling: which steps fuse, in what order everything runs, and the buffers ----
class _Layout:
    """The static facts a program is compiled from (product-order ids, layer indices)."""

    def __init__(self, layers, order):
        self.n = len(layers)
        self.order = order
        self.affine = [isinstance(layer, Affine) for layer in layers]
        needs = [j for j, dense in enumerate(self.affine) if not dense]
        self.forward_end = needs[-1] if needs else -1      # last layer a stage evaluates
        factors = layers[::-1]
        self.shapes = [(f.n_out, f.n_in) for f in factors] + [
            (0, 0)] * len(order)
        self.diagonal = [f.kind == "diagonal" for f in factors] + [False] * len(order)
        self.span = [(i, i) for i in range(self.n)]        # factor ids an operand covers
        for t, (a, b) in enumerate(order):
            self.span.append((self.span[a][0], self.span[b][1]))
            self.diagonal[self.n + t] = self.diagonal[a] and self.diagonal[b]
        for t, (a, b) in enumerate(order):
            self.shapes[self.n + t] = (self.shapes[a][0], self.shapes[b][1])

    def layer(self, factor: int) -> int:
        return self.n - 1 - factor

    def needs_layer(self, t: int) -> int:
        """The last layer whose stage step ``t``'s own factor operands wait for."""
        deps = [self.layer(i) for i in self.order[t] if i < self.n
                and not self.affine[self.layer(i)]]
        return max(deps, default=-1)

    def fusable(self, t: int) -> int | None:
        """Layer ``j`` if step ``t`` is ``W_j · (J_{j−1} ⋯ J_1)`` and the pass needs ``W_j a``."""
        a, b = self.order[t]
        if a >= self.n or b < self.n or t == len(self.order) - 1:
            return None
        j = self.layer(a)
        if not (self.affine[j] and 0 < j <= self.forward_end
                and self.span[b] == (a + 1, self.n - 1)):
            return None
        scale, dense = self.order[b - self.n]           # the producer must be D · T
        return j if self.diagonal[scale] and not self.diagonal[dense] else None


def _stage_groups(layers, end: int) -> list[tuple[int, int]]:
    """Layer ranges of the forward stages: an affine layer with a tanh right after it is one."""
    groups, j = [], 0
    while j <= end:
        pair = isinstance(layers[j], Affine) and j < end and _is_tanh(layers[j + 1])
        groups.append((j, j + 1 if pair else j))
        j += 2 if pair else 1
    return groups


def _schedule(layout: _Layout, groups, fused: dict[int, int], eager: bool) -> list:
    """The execution order: ``("stage", g)`` and ``("step", t)``, the final step last.

    Eager: after each stage, every step whose operands exist runs at once,
    while the weights the stage just read may still be in cache (and a
    fused step before the stage that continues from its ``z``). Otherwise
    the whole forward pass runs first, then the steps in the plan's order.
    """
    steps = len(layout.order)
    if not eager:
        return [("stage", g) for g in range(len(groups))] + [("step", t) for t in range(steps)]
    plan: list = []
    done: set[int] = set()

    def flush(last_layer: int) -> None:
        for t in range(steps - 1):
            if t in done or layout.needs_layer(t) > last_layer:
                continue
            if any(i >= layout.n and i - layout.n not in done for i in layout.order[t]):
                continue
            if t in fused and fused[t] - 1 != last_layer:
                continue
            plan.append(("step", t))
            done.add(t)

    flush(-1)
    for g, (_, last) in enumerate(groups):
        plan.append(("stage", g))
        flush(last)
    flush(layout.n)
    missed = {t for t in fused if t not in done}
    if missed:  # a fused step whose operands came late: run it unfused instead
        for t in missed:
            del fused[t]
        return _schedule(layout, groups, fused, eager)
    return plan + ([("step", steps - 1)] if steps else [])


def _allocate(layout: _Layout, plan, fused: dict[int, int]) -> list[_Step]:
    """Buffers for the steps, taken and given back in execution order.

    A scaling step whose dense operand is an intermediate of the same shape
    scales it in place; the final step writes to the caller's result.
    """
    n, order, shapes = layout.n, layout.order, layout.shapes
    diag = layout.diagonal
    steps = [_Step(a, b, "matmul") for a, b in order]
    owned: list[np.ndarray | None] = [None] * (n + len(order))
    producers = {order[t][1] - n: t for t in fused}
    pool = _Buffers()
    for kind, t in plan:
        if kind != "step":
            continue
        a, b = order[t]
        rows, cols = shapes[n + t]
        final = t == len(order) - 1
        extra = 1 if t in fused else 0
        op = _step_op(diag[a], diag[b], rows, shapes[a][1], cols + extra, final)
        step = steps[t]
        step.op = op
        step.kernel = _final_diagonal if final and op == "diag" else _KERNELS[op]
        dense = b if op == "scale_left" else a if op == "scale_right" else None
        reuse = owned[dense] if dense is not None else None
        if final:
            pool.give(owned[a], owned[b])
            continue
        if t in producers:        # its product gets a spare column for a_{j−1}
            ext = np.empty((rows, cols + 1))
            step.buffer, owned[n + t] = ext[:, :cols], ext
            steps[producers[t]].extra = ext
            pool.give(owned[a], owned[b])
            continue
        if reuse is not None and reuse.shape == (rows, cols) and not extra:
            step.buffer = owned[n + t] = reuse
            pool.give(owned[a if dense == b else b])
            continue
        shape = (rows,) if op == "diag" else (cols + extra, rows) if op == "matmul_t" else (
            rows, cols + extra)
        step.buffer = owned[n + t] = pool.take(shape)
        pool.give(owned[a], owned[b])
    for t, j in fused.items():
        step = steps[t]
        step.fused = j
        step.kernel = _fused_kernel(step)
        assert step.buffer is not None
        step.z = step.buffer[-1] if step.op == "matmul_t" else step.buffer[:, -1]
    return steps


class Program:
    """A network's Jacobian in one bracketing, compiled into reused buffers.

    Parameters
    ----------
    net : Network
    order : sequence of (int, int)
        The steps over the factors ``J_L, …, J_1`` (product order), as a
        :class:`~chainopt.Plan`'s ``order``.
    eager : bool, default True
        Run each step as soon as its operands exist, interleaved with the
        forward pass (so a weight the pass just read is multiplied while it
        may still be in cache); else the whole forward pass first.
    fuse : bool, default True
        With ``eager``: fold the forward pass's ``W_j a_{j−1}`` into a
        step ``W_j (J_{j−1} ⋯ J_1)`` as one more column, so ``W_j`` is read
        once for both (a forward-mode run from the input).

    Notes
    -----
    A program is not re-entrant: :func:`run_program` hands a busy program's
    caller a fresh one, so threads sharing a network stay correct.

    Examples
    --------
    >>> import numpy as np, chainopt
    >>> net = chainopt.mlp([6, 5, 2, 5, 6], seed=1)
    >>> program = Program(net, chainopt.plan_jacobian(net.widths, net.kinds).pairs)
    >>> x = np.linspace(-1, 1, 6)
    >>> np.allclose(program(x), chainopt.jacobian(net, x, mode="forward"))
    True
    """

    def __init__(self, net: Network | _NetworkView, order: Sequence[tuple[int, int]], *,
                 eager: bool = True, fuse: bool = True):
        self.layers = net.layers
        self.shape = (net.widths[-1], net.widths[0])
        self.order = tuple((int(a), int(b)) for a, b in order)
        self.eager, self.fuse = eager, fuse
        layout = _Layout(self.layers, self.order)
        groups = _stage_groups(self.layers, layout.forward_end)
        fused = {t: j for t in range(len(self.order))
                 if (j := layout.fusable(t)) is not None} if eager and fuse else {}
        plan = _schedule(layout, groups, fused, eager)
        self.steps = _allocate(layout, plan, fused)
        self.weights = [(layout.n - 1 - j, layer) for j, layer in enumerate(self.layers)
                        if isinstance(layer, Affine)]
        z_of = {step.fused: step.z for step in self.steps if step.fused is not None}
        stages = [_stage(self.layers, first, last, layout.n, z_of.get(first))
                  for first, last in groups]
        body = plan[:-1] if self.order else plan              # the final step runs apart
        self.actions = [(True, stages[i]) if kind == "stage" else (False, self._step(i, layout.n))
                        for kind, i in body]
        self.final = self.steps[-1] if self.steps else None
        self.size = layout.n + len(self.order)
        self.lock = threading.Lock()

    def _step(self, t: int, n: int) -> Callable:
        step = self.steps[t]
        kernel, a, b, buffer, slot = step.kernel, step.left, step.right, step.buffer, n + t
        if step.fused is None:
            def run(values, v):
                values[slot] = kernel(values[a], values[b], buffer)
            return run
        extra = step.extra
        assert extra is not None
        column = extra[:, -1]

        def fused(values, v):
            np.copyto(column, v)
            values[slot] = kernel(values[a], None, buffer)

        return fused

    def __call__(self, x, out: np.ndarray | None = None) -> np.ndarray:
        """The Jacobian at ``x`` (a new array, or written into ``out``)."""
        values: list = [None] * self.size
        for i, layer in self.weights:
            values[i] = layer.weight
        v = x
        for is_stage, action in self.actions:
            if is_stage:
                v = action(v, values)
            else:
                action(values, v)
        final = self.final
        if final is None:
            return _single(values[0], self.layers[0], self.shape, out)
        result = np.empty(self.shape) if out is None else out
        final.kernel(values[final.left], values[final.right], result)
        return result


def _is_tanh(layer) -> bool:
    return type(layer) is Activation and layer.rule is ACTIVATIONS["tanh"]


def _stage(layers, first: int, last: int, n: int, z: np.ndarray | None) -> Callable:
    """The forward pass through layers ``first … last`` as ``stage(v, values) -> v``.

    It stores each layer's input-dependent factor (a 1-D diagonal, or a
    generic layer's ``jacobian``) at its product-order id. An affine layer
    writes ``W v + b`` into a buffer, or, when a fused step has already
    computed ``W v`` as ``z``, just adds ``b``; a tanh right after it is
    fused into the same stage (:func:`~chainopt.elementwise.tanh_with_derivative`).
    """
    layer = layers[first]
    slot = n - 1 - last
    if not isinstance(layer, Affine):
        return _tanh_stage(layer, slot) if _is_tanh(layer) else _layer_stage(layer, slot)
    buffer = np.empty(layer.n_out)
    t, d = np.empty(layer.n_out), np.empty(layer.n_out)

    def affine(v, values):
        if z is None:
            np.matmul(layer.weight, v, out=buffer)
            return np.add(buffer, layer.bias, out=buffer)
        return np.add(z, layer.bias, out=buffer)

    def affine_tanh(v, values):
        if z is None:
            np.matmul(layer.weight, v, out=buffer)
            np.add(buffer, layer.bias, out=buffer)
        else:
            np.add(z, layer.bias, out=buffer)
        tanh_with_derivative(buffer, t, d)
        values[slot] = d
        return t

    return affine_tanh if last > first else affine


def _tanh_stage(layer: Activation, slot: int) -> Callable:
    t, d = np.empty(layer.n_out), np.empty(layer.n_out)

    def tanh(v, values):
        tanh_with_derivative(v, t, d)
        values[slot] = d
        return t

    return tanh


def _layer_stage(layer, slot: int) -> Callable:
    """Any other layer: its own ``jacobian`` (an activation's rule) and ``forward``."""
    if isinstance(layer, Activation):
        rule = layer.rule

        def activation(v, values):
            values[slot] = rule.derivative(v)
            return rule.value(v)

        return activation

    def generic(v, values):
        values[slot] = layer.jacobian(v)
        return layer.forward(v)

    return generic


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


def program_for(net: Network, mode: str,
                order_of: Callable[[Network, str], Sequence[tuple[int, int]]]) -> Program:
    """The cached :class:`Program` of ``net`` in ``mode`` (compiled on first use).

    ``order_of(net, mode)`` gives the steps when the program is compiled.
    The cache is the network's private ``_programs`` attribute (so it lives
    as long as the network) and is rebuilt when ``net.layers`` is replaced.
    """
    programs = net.__dict__.get("_programs")
    if programs is None:
        programs = net.__dict__["_programs"] = {}
    program = programs.get(mode)
    if program is None or program.layers is not net.layers:
        program = programs[mode] = Program(net, order_of(net, mode))
    return program


def run_program(program: Program, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Run ``program`` under its lock, or a fresh copy when another thread holds it."""
    if not program.lock.acquire(blocking=False):
        return Program(_NetworkView(program.layers), program.order)(x, out)
    try:
        return program(x, out)
    finally:
        program.lock.release()


class _NetworkView:
    """What :class:`Program` reads of a network: its layers and widths."""

    def __init__(self, layers):
        self.layers = layers
        self.widths = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
