"""Compiled Jacobian accumulation: one network, one order, buffers reused.

:func:`chainopt.jacobian` runs every mode through a :class:`Program`: the
steps of the chosen bracketing of ``J_L ⋯ J_1``, planned once per network
and order, executed with :func:`numpy.matmul` and :func:`numpy.multiply`
into buffers allocated once. A loop over points then allocates nothing but
the small vectors of the forward pass (and, without ``out=``, the result).
This module plans a program (which steps fuse, their order, their buffers);
:mod:`~chainopt.jacobians.emit` writes it out as straight-line NumPy calls,
and :mod:`~chainopt.jacobians.tuning` holds the measured size and thread
rules it follows (transposed, padded and blocked products, fusing).

Why not :meth:`chainopt.Plan.execute`, which runs the same steps? Three
measured reasons (``chainopt experiment jacobian``, README "Jacobians"):

- :func:`numpy.dot` into a fresh result zeroes it before the GEMM: 0.3 to
  0.4 ms on the hourglass's 8 MB Jacobian, which ``numpy.matmul`` skips.
- A tall thin product ``(m×k)·(k×n)`` with ``n < m`` runs faster in
  OpenBLAS as its transpose ``(Bᵀ Aᵀ)ᵀ`` (``1000×1000 · 1000×10``: 0.90 ms
  against 0.66 ms on one thread), so an intermediate of that shape is
  computed transposed and used as a Fortran-ordered view (no copy).
- Validating arrays, wrapping diagonals and freeing intermediates costs
  microseconds per step, which is most of the time on small networks; the
  emitted program has no per-step dispatch at all.

Ids follow :mod:`chainopt.trees`: factors ``0 … L−1`` in product order
(factor 0 is ``J_L``), the result of step ``t`` is ``L + t``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from .emit import Step, emit, is_tanh
from .layers import Affine, Network
from .tuning import FUSE_FROM, TRANSPOSE_FROM, blas_threads, final_blocks, pad_rows

__all__ = ["Program", "program_for", "run_program"]


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


# -- compiling: which steps fuse, in what order everything runs, and the buffers ----
class _Layout:
    """The static facts a program is compiled from (product-order ids, layer indices)."""

    def __init__(self, layers, order):
        self.n = len(layers)
        self.pairs = order
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
        deps = [self.layer(i) for i in self.pairs[t] if i < self.n
                and not self.affine[self.layer(i)]]
        return max(deps, default=-1)

    def fusable(self, t: int) -> int | None:
        """Layer ``j`` if step ``t`` is ``W_j · (J_{j−1} ⋯ J_1)`` and the pass needs ``W_j a``."""
        a, b = self.pairs[t]
        if a >= self.n or b < self.n or t == len(self.pairs) - 1:
            return None
        j = self.layer(a)
        if not (self.affine[j] and 0 < j <= self.forward_end
                and self.span[b] == (a + 1, self.n - 1)):
            return None
        scale, dense = self.pairs[b - self.n]           # the producer must be D · T
        return j if self.diagonal[scale] and not self.diagonal[dense] else None


def _stage_groups(layers, end: int) -> list[tuple[int, int]]:
    """Layer ranges of the forward stages: an affine layer with a tanh right after it is one."""
    groups, j = [], 0
    while j <= end:
        pair = isinstance(layers[j], Affine) and j < end and is_tanh(layers[j + 1])
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
    steps = len(layout.pairs)
    if not eager:
        return [("stage", g) for g in range(len(groups))] + [("step", t) for t in range(steps)]
    plan: list = []
    done: set[int] = set()

    def flush(last_layer: int) -> None:
        for t in range(steps - 1):
            if t in done or layout.needs_layer(t) > last_layer:
                continue
            if any(i >= layout.n and i - layout.n not in done for i in layout.pairs[t]):
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


def _ops(layout: _Layout, fused: dict[int, int]) -> list[str]:
    """How each step multiplies (:func:`_step_op`)."""
    n, shapes, diag = layout.n, layout.shapes, layout.diagonal
    last = len(layout.pairs) - 1
    return [_step_op(diag[a], diag[b], shapes[n + t][0], shapes[a][1],
                     shapes[n + t][1] + (t in fused), t == last)
            for t, (a, b) in enumerate(layout.pairs)]


def _paddings(layout: _Layout, ops: list[str], fused: dict[int, int],
              threads: int) -> dict[int, int]:
    """Thin products run on padded rows (:func:`pad_rows`): step → its GEMM's rows.

    Only where the thin operand is a scaling ``D W`` or ``W D`` of a weight
    (written into the first rows or columns of a zeroed buffer, so the
    padding stays zero) and the step is neither fused nor the last.
    """
    n, shapes, pads = layout.n, layout.shapes, {}
    for t, (a, b) in enumerate(layout.pairs):
        if ops[t] not in ("matmul", "matmul_t") or t in fused or t == len(ops) - 1:
            continue
        thin_id = a if ops[t] == "matmul" else b
        rows, inner = shapes[a][0] if ops[t] == "matmul" else shapes[b][1], shapes[a][1]
        other = shapes[b][1] if ops[t] == "matmul" else shapes[a][0]
        if thin_id < n or ops[thin_id - n] not in ("scale_left", "scale_right"):
            continue
        producer = layout.pairs[thin_id - n]
        if min(producer) >= n:                          # its dense operand must be a weight
            continue
        padded = pad_rows(rows, inner * other, threads)
        if padded > rows:
            pads[t] = padded
    return pads


def _allocate(layout: _Layout, plan, fused: dict[int, int], threads: int) -> list[Step]:
    """Buffers for the steps, taken and given back in execution order.

    A scaling step whose dense operand is an intermediate of the same shape
    scales it in place; the final step writes to the caller's result. A
    padded thin product (:func:`_paddings`) and its thin operand get zeroed
    buffers of their own, never pooled.
    """
    n, order, shapes = layout.n, layout.pairs, layout.shapes
    ops = _ops(layout, fused)
    pads = _paddings(layout, ops, fused, threads) if threads else {}
    thin = {(order[t][0] if ops[t] == "matmul" else order[t][1]) - n: t for t in pads}
    steps = [Step(a, b, op) for (a, b), op in zip(order, ops)]
    owned: list[np.ndarray | None] = [None] * (n + len(order))
    producers = {order[t][1] - n: t for t in fused}
    pool = _Buffers()
    for kind, t in plan:
        if kind != "step":
            continue
        a, b = order[t]
        rows, cols = shapes[n + t]
        op, step, extra = ops[t], steps[t], 1 if t in fused else 0
        dense = b if op == "scale_left" else a if op == "scale_right" else None
        reuse = owned[dense] if dense is not None else None
        if t == len(order) - 1:
            pool.give(owned[a], owned[b])
            continue
        if t in thin:             # the thin operand of a padded product: zero rows or columns
            consumer = thin[t]
            wide = ops[consumer] == "matmul"
            step.padded = np.zeros((pads[consumer], cols) if wide else (rows, pads[consumer]))
            step.buffer = step.padded[:rows] if wide else step.padded[:, :cols]
        elif t in pads:
            step.padded = np.zeros((pads[t], cols) if op == "matmul" else (pads[t], rows))
            step.buffer = step.padded
        if step.padded is not None:
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
        assert step.buffer is not None
        step.z = step.buffer[-1] if step.op == "matmul_t" else step.buffer[:, -1]
    return steps


def _tuned(layout: _Layout, fused: dict[int, int], pad: bool, block: bool) -> bool:
    """Whether padding or final blocks could apply, so the thread count matters."""
    ops = _ops(layout, fused)
    if pad and _paddings(layout, ops, fused, threads=2):
        return True
    if not (block and ops and ops[-1] == "matmul"):
        return False
    a, b = layout.pairs[-1]
    rows, cols = layout.shapes[layout.n + len(ops) - 1]
    return any(final_blocks(rows, layout.shapes[a][1], cols, t) for t in (1, 2))


def _final_blocks(layout: _Layout, steps: list[Step], threads: int) -> tuple[str, int] | None:
    if not steps or steps[-1].op != "matmul":
        return None
    a = steps[-1].left
    rows, cols = layout.shapes[layout.n + len(steps) - 1]
    return final_blocks(rows, layout.shapes[a][1], cols, threads)


class Program:
    """A network's Jacobian in one bracketing, compiled into reused buffers.

    Parameters
    ----------
    net : Network
    order : sequence of (int, int)
        The steps over the factors ``J_L, …, J_1`` (product order), as a
        :class:`~chainopt.Plan`'s ``pairs``.
    eager : bool, default True
        Run each step as soon as its operands exist, interleaved with the
        forward pass (so a weight the pass just read is multiplied while it
        may still be in cache); else the whole forward pass first.
    fuse : bool or "auto", default "auto"
        With ``eager``: fold the forward pass's ``W_j a_{j−1}`` into a
        step ``W_j (J_{j−1} ⋯ J_1)`` as one more column, so ``W_j`` is read
        once for both (a forward-mode run from the input). ``"auto"`` fuses
        where ``W_j`` has at least :data:`FUSE_FROM` elements (below that it
        stays in cache, and the fused step's copy and view cost more than
        the second read).
    pad : bool, default True
        Run a thin product ``(m×k)·(k×n)`` whose thin operand is a scaled
        weight on :func:`pad_rows` rows (zero padding), where that is faster.
    block : bool, default True
        Run a large final product of a small inner dimension in blocks
        (:func:`final_blocks`).
    threads : int, optional
        The BLAS thread count to tune padding and blocks for; by default
        the count at compile time (:func:`blas_threads`), read only where
        the network is large enough for either to apply.

    Attributes
    ----------
    threads : int or None
        The BLAS thread count the program is tuned for; None where nothing
        depends on it (:func:`chainopt.jacobian` recompiles a tuned program
        when the count changes).
    source : str
        The Python source the program runs: one line per NumPy call, on
        buffers allocated when it was compiled. ``program(x, out)`` is that
        function, with nothing between the caller and the calls.

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
    >>> for line in program.source.splitlines()[5:8]:
    ...     print(line)
        matmul(w0, x, out=buffer12)
        add(buffer12, layer8.bias, out=buffer12)
        tanh_with_derivative(buffer12, t13, d14)
    """

    def __init__(self, net: Network | _NetworkView, order: Sequence[tuple[int, int]], *,
                 eager: bool = True, fuse: bool | str = "auto", pad: bool = True,
                 block: bool = True, threads: int | None = None):
        self.layers = net.layers
        self.shape = (net.widths[-1], net.widths[0])
        self.in_shape = (net.widths[0],)
        self.pairs = tuple((int(a), int(b)) for a, b in order)
        self.eager, self.fuse = eager, fuse
        layout = _Layout(self.layers, self.pairs)
        groups = _stage_groups(self.layers, layout.forward_end)
        fused = _fused_steps(layout, self.layers, fuse) if eager and fuse else {}
        plan = _schedule(layout, groups, fused, eager)
        tuned = _tuned(layout, fused, pad, block)
        self.threads = (threads or blas_threads()) if tuned else None
        self.steps = _allocate(layout, plan, fused, (self.threads or 1) if pad else 0)
        blocks = _final_blocks(layout, self.steps, self.threads or 1) if block else None
        self.source, self.run = emit(self.layers, layout.n, groups, plan, self.steps,
                                     self.shape, blocks)
        self.lock = threading.Lock()

    def __call__(self, x, out: np.ndarray | None = None) -> np.ndarray:
        """The Jacobian at ``x`` (a new array, or written into ``out``)."""
        return self.run(x, out)


def _fused_steps(layout: _Layout, layers, fuse: bool | str) -> dict[int, int]:
    """The steps that fold the forward pass in: step ``t`` → the layer ``j`` of its weight."""
    fused = {}
    for t in range(len(layout.pairs)):
        j = layout.fusable(t)
        if j is not None and (fuse is True or layers[j].weight.size >= FUSE_FROM):
            fused[t] = j
    return fused


def program_for(net: Network, mode: str,
                order_of: Callable[[Network, str], Sequence[tuple[int, int]]]) -> Program:
    """The cached :class:`Program` of ``net`` in ``mode`` (compiled on first use).

    ``order_of(net, mode)`` gives the steps when the program is compiled.
    The cache is the network's private ``_programs`` attribute (so it lives
    as long as the network) and is rebuilt when ``net.layers`` is replaced.
    A program tuned for a BLAS thread count (``Program.threads``) is kept
    per count, and ``_programs[mode]`` is the one for the current count.
    """
    programs = net.__dict__.get("_programs")
    if programs is None:
        programs = net.__dict__["_programs"] = {}
    program = programs.get(mode)
    if program is not None and program.layers is net.layers and program.threads is None:
        return program
    threads = blas_threads() if program is not None and program.threads else None
    tuned = programs.get((mode, threads))
    if tuned is not None and tuned.layers is net.layers:
        program = tuned
    elif program is None or program.layers is not net.layers or program.threads != threads:
        program = Program(net, order_of(net, mode), threads=threads)
    if program.threads is not None:
        programs[mode, program.threads] = program
    programs[mode] = program
    return program


def run_program(program: Program, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Run ``program`` under its lock, or a fresh copy when another thread holds it."""
    if not program.lock.acquire(blocking=False):
        return Program(_NetworkView(program.layers), program.pairs)(x, out)
    try:
        return program(x, out)
    finally:
        program.lock.release()


class _NetworkView:
    """What :class:`Program` reads of a network: its layers and widths."""

    def __init__(self, layers):
        self.layers = layers
        self.widths = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
