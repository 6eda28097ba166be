"""Hand-written NumPy Jacobians of tanh MLPs: the references ``jacobian`` measures against.

Each builder takes the affine layers of a :func:`chainopt.mlp` network
(tanh between them, none after the last) and returns a function ``(x, out) -> J`` (``out`` optional)
written the way a careful NumPy programmer would: every buffer allocated
once, :func:`numpy.matmul` and :func:`numpy.multiply` with ``out=``, the
derivative of tanh as ``1 − t²`` with the same cancellation guard as
chainopt's (so both compute the same derivative to the same accuracy), no
dispatch and no checks. They are the "bare BLAS calls of the same order"
chainopt's per-call overhead is measured against, and (for the mixed
orders) the best hand-written order.

The mixed builders are for ``w-w-k-w-w`` networks (the hourglass and the
bottleneck): ``J = W4 D3 W3 D2 W2 D1 W1`` as ``(W4 D3 W3 D2) (W2 D1 W1)``.

- :func:`mixed_plain`: that order with each product as written
  (``W4 @ (D3 W3)``), the order the issue's best hand-written code used.
- :func:`mixed_transposed`: the same, with the tall thin product computed
  as its transpose ``(W3ᵀ D3) W4ᵀ`` (OpenBLAS runs ``10×1000 · 1000×1000``
  faster than ``1000×1000 · 1000×10``).
- :func:`mixed`: :func:`mixed_transposed` tuned for the BLAS thread count
  by chainopt's measured rules: thin products on padded rows, the final
  product in blocks. The best of these.
- :func:`mixed_fused`: :func:`mixed_transposed` with the forward pass's
  ``W1 x`` fused into the thin product on ``W1``, one block of rows at a
  time, so that each block of ``W1`` is read from memory once for both
  (``W2 D1 W1 = Σ_blocks W2[:, I] D1[I] W1[I, :]`` and ``D1[I]`` needs only
  ``W1[I, :] x``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import chainopt
from chainopt.elementwise import sech_squared, tanh_with_derivative
from chainopt.jacobians.layers import Affine
from chainopt.jacobians.tuning import final_blocks, pad_rows

__all__ = ["affine_layers", "forward", "mixed", "mixed_fused", "mixed_plain", "mixed_transposed",
           "reverse"]

Jacobian = Callable[..., np.ndarray]


def affine_layers(net: chainopt.Network) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights and biases of a tanh MLP's affine layers, in layer order."""
    layers = [layer for layer in net.layers if isinstance(layer, Affine)]
    names = {layer.name for layer in net.layers if not isinstance(layer, Affine)}
    if names - {"tanh"} or len(layers) * 2 - 1 != len(net.layers):
        raise ValueError(f"a hand-written Jacobian needs a tanh MLP; got {net!r}")
    return [layer.weight for layer in layers], [layer.bias for layer in layers]


class _Tanh:
    """``t = tanh(W v + b)`` and ``d = 1 − t²`` into buffers of one width.

    As accurate as chainopt's (:func:`chainopt.elementwise.tanh_with_derivative`):
    where ``1 − t²`` would cancel (some ``d < 1e-3``), ``d`` is recomputed
    as ``sech²``, so both compute the same derivative with the same calls.
    """

    def __init__(self, n: int):
        self.z, self.t, self.d = np.empty(n), np.empty(n), np.empty(n)

    def __call__(self, weight, bias, v):
        z, t, d = self.z, self.t, self.d
        np.matmul(weight, v, out=z)
        np.add(z, bias, out=z)
        np.tanh(z, out=t)
        np.multiply(t, t, out=d)
        np.subtract(1.0, d, out=d)
        if d[d.argmin()] < 1e-3:
            tail = d < 1e-3
            d[tail] = sech_squared(z[tail])
        return t, d


def reverse(net: chainopt.Network) -> Jacobian:
    """Row by row from the output: ``G ← (G D_i) W_i`` from ``G = W_L``."""
    weights, biases = affine_layers(net)
    acts = [_Tanh(w.shape[0]) for w in weights[:-1]]
    n_out = weights[-1].shape[0]
    scaled = [np.empty((n_out, w.shape[0])) for w in weights[:-1]]
    products = [np.empty((n_out, w.shape[1])) for w in weights[:-1]]

    def jacobian(x, out=None):
        ds, v = [], x
        for act, w, b in zip(acts, weights, biases):
            v, d = act(w, b, v)
            ds.append(d)
        g = weights[-1]
        for i in range(len(weights) - 2, -1, -1):
            np.multiply(g, ds[i], out=scaled[i])
            target = products[i] if i or out is None else out
            g = np.matmul(scaled[i], weights[i], out=target)
        return g

    return jacobian


def forward(net: chainopt.Network) -> Jacobian:
    """Column by column from the input: ``T ← W_{i+1} (D_i T)`` from ``T = W_1``."""
    weights, biases = affine_layers(net)
    acts = [_Tanh(w.shape[0]) for w in weights[:-1]]
    n_in = weights[0].shape[1]
    scaled = [np.empty((w.shape[0], n_in)) for w in weights[:-1]]
    products = [np.empty((w.shape[0], n_in)) for w in weights[1:]]

    def jacobian(x, out=None):
        t, v = weights[0], x
        last = len(weights) - 2
        for i, (act, w, b) in enumerate(zip(acts, weights, biases)):
            v, d = act(w, b, v)
            np.multiply(d[:, None], t, out=scaled[i])
            target = products[i] if i < last or out is None else out
            t = np.matmul(weights[i + 1], scaled[i], out=target)
        return t

    return jacobian


def _waist(net: chainopt.Network):
    weights, biases = affine_layers(net)
    if len(weights) != 4:
        raise ValueError(f"the mixed hand-written order is for w-w-k-w-w; got {net!r}")
    return weights, biases


def mixed_plain(net: chainopt.Network) -> Jacobian:
    """``(W4 D3 W3 D2)(W2 D1 W1)``, each product as written."""
    return _mixed(net, transposed=False)


def mixed_transposed(net: chainopt.Network) -> Jacobian:
    """``(W4 D3 W3 D2)(W2 D1 W1)`` with ``W4 (D3 W3)`` computed as its transpose."""
    return _mixed(net, transposed=True)


def mixed(net: chainopt.Network, threads: int) -> Jacobian:
    """The best hand-written order: :func:`mixed_transposed`, tuned for ``threads``.

    The thin products run on :func:`~chainopt.jacobians.tuning.pad_rows`
    rows (zero rows added to ``W2 D1`` and ``(D3 W3)ᵀ``; the products' extra
    rows are zeros and never read), and the final product in the blocks of
    :func:`~chainopt.jacobians.tuning.final_blocks`: the same rules
    chainopt follows, so the comparison is of the same calls.
    """
    return _mixed(net, transposed=True, threads=threads)


def _mixed(net: chainopt.Network, transposed: bool, threads: int = 0) -> Jacobian:
    (w1, w2, w3, w4), (b1, b2, b3, _) = _waist(net)
    k, n = w2.shape
    n_out, n_in = w4.shape[0], w1.shape[1]
    rows = pad_rows(k, n * n_in, threads) if threads else k
    act1, act2, act3 = _Tanh(n), _Tanh(k), _Tanh(w3.shape[0])
    m_pad, right_pad = np.zeros((rows, n)), np.zeros((rows, n_in))
    m, right = m_pad[:k], right_pad[:k]
    s3_pad = np.zeros((w3.shape[0], rows))               # D3 W3 and zero columns
    s3 = s3_pad[:, :k]
    left_pad = np.zeros((rows, n_out)) if transposed else np.empty((n_out, k))
    left = left_pad[:k] if transposed else left_pad
    result = np.empty((n_out, n_in))
    final = _final(n_out, k, n_in, threads)

    def jacobian(x, out=None):
        a1, d1 = act1(w1, b1, x)
        a2, d2 = act2(w2, b2, a1)
        _, d3 = act3(w3, b3, a2)
        np.multiply(w2, d1, out=m)
        np.matmul(m_pad, w1, out=right_pad)              # W2 D1 W1, k × n_0
        np.multiply(d3[:, None], w3, out=s3)             # D3 W3
        if transposed:
            np.matmul(s3_pad.T, w4.T, out=left_pad)      # (W4 D3 W3)ᵀ, k × n_4
            np.multiply(left, d2[:, None], out=left)
            lhs = left.T
        else:
            np.matmul(w4, s3, out=left)
            np.multiply(left, d2, out=left)
            lhs = left
        target = result if out is None else out
        return final(lhs, right, target)

    return jacobian


def _final(rows: int, inner: int, cols: int, threads: int):
    """``a · b`` into ``out``, in the blocks chainopt uses (one product without ``threads``)."""
    blocks = final_blocks(rows, inner, cols, threads) if threads else None
    if blocks is None:
        return lambda a, b, out: np.matmul(a, b, out=out)
    axis, size = blocks
    starts = range(0, rows if axis == "rows" else cols, size)

    def blocked(a, b, out):
        for s in starts:
            if axis == "rows":
                np.matmul(a[s:s + size], b, out=out[s:s + size])
            else:
                np.matmul(a, b[:, s:s + size], out=out[:, s:s + size])
        return out

    return blocked


def mixed_fused(net: chainopt.Network, block: int = 128) -> Jacobian:
    """:func:`mixed_transposed` with ``W1 x`` and ``W2 D1 W1`` block by block of ``W1``'s rows."""
    (w1, w2, w3, w4), (b1, b2, b3, _) = _waist(net)
    k, n = w2.shape
    act3 = _Tanh(w3.shape[0])
    starts = range(0, n, block)
    pieces = [(w1[s:s + block], b1[s:s + block], w2[:, s:s + block],
               np.empty(min(block, n - s)), np.empty(min(block, n - s)),
               np.empty(min(block, n - s)), np.empty((k, min(block, n - s)))) for s in starts]
    z2, right, part = np.empty(k), np.empty((k, w1.shape[1])), np.empty((k, w1.shape[1]))
    a2, d2 = np.empty(k), np.empty(k)
    s3, left = np.empty(w3.shape), np.empty((k, w4.shape[0]))
    result = np.empty((w4.shape[0], w1.shape[1]))

    def jacobian(x, out=None):
        z2[...] = b2
        right.fill(0.0)
        for rows, bias, cols, z, t, d, m in pieces:
            np.matmul(rows, x, out=z)                    # these rows of W1 x ...
            np.add(z, bias, out=z)
            tanh_with_derivative(z, t, d)
            np.add(z2, cols @ t, out=z2)                 # ... feed W2 a1 ...
            np.multiply(cols, d, out=m)
            np.matmul(m, rows, out=part)                 # ... and W2 D1 W1 while in cache
            np.add(right, part, out=right)
        tanh_with_derivative(z2, a2, d2)
        _, d3 = act3(w3, b3, a2)
        np.multiply(d3[:, None], w3, out=s3)
        np.matmul(s3.T, w4.T, out=left)
        np.multiply(left, d2[:, None], out=left)
        target = result if out is None else out
        np.matmul(left.T, right, out=target)
        return target

    return jacobian
