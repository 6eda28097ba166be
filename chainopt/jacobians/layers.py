"""Real NumPy networks whose Jacobians are matrix chains.

A network is a sequence of *layers* (elemental functions)
``x_0 ∈ ℝ^{n_0} → x_1 → … → x_L ∈ ℝ^{n_L}``; its Jacobian is the chain
``J_L ⋯ J_2 J_1`` with ``J_i`` of shape ``n_i × n_{i−1}``. Every layer
offers the four things Jacobian accumulation needs:

- ``forward(x)``: the value;
- ``jacobian(x)``: the explicit Jacobian at ``x``, a 2-D array, or for an
  elementwise layer (``kind == "diagonal"``) its 1-D diagonal;
- ``tangent(x, v)``: ``J v`` for a vector ``v`` or a matrix of tangents
  (columns), the Jacobian-vector product of forward mode;
- ``adjoint(x, w)``: ``w J`` for a vector ``w`` or a matrix of adjoints
  (rows), the vector-Jacobian product of reverse mode.

``nnz`` is the number of stored nonzeros of the layer's Jacobian, so one
tangent or one adjoint costs ``nnz`` multiplications and a matrix of ``k``
of them ``k·nnz``.

The layers are :class:`Affine` (``W x + b``), :class:`Activation`
(elementwise ``tanh``, ``sigmoid``, ``relu``; each derivative rule is one
line in :data:`ACTIVATIONS`) and the scalar losses :class:`SquaredError`
and :class:`SoftmaxCrossEntropy`, whose output has width 1. A
:class:`Network` chains layers and is callable; :func:`mlp` builds a
random one. Losses attach as the last layer, either with
``mlp(..., loss="squared_error")`` or ``Network([..., SquaredError(y)])``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..elementwise import sech_squared, sigmoid, sigmoid_derivative
from ..errors import ChainError, ChainTypeError
from ..validation import (
    as_dimension,
    as_dimensions,
    as_real_array,
    check_choice,
    check_seed,
    check_sequence,
)

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "Affine",
    "Layer",
    "Loss",
    "Network",
    "SoftmaxCrossEntropy",
    "SquaredError",
    "mlp",
    "propagate",
]


class Layer:
    """One elemental function ``ℝ^{n_in} → ℝ^{n_out}`` (an abstract base).

    Subclasses set ``n_in``, ``n_out`` and ``kind`` and implement
    :meth:`forward`, :meth:`jacobian`, :meth:`tangent` and :meth:`adjoint`.
    """

    n_in: int
    n_out: int
    kind: str = "dense"

    @property
    def nnz(self) -> int:
        """Stored nonzeros of the Jacobian: the cost of one tangent or adjoint."""
        return self.n_out * self.n_in

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def tangent(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def adjoint(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``layer(x)`` is ``layer.forward(x)``, the subclass's own."""
        return self.forward(x)

    def describe(self) -> str:
        """A short label such as ``'Affine 784→256'``."""
        return f"{type(self).__name__} {self.n_in}→{self.n_out}"

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class Affine(Layer):
    """``x ↦ W x + b``; its Jacobian is ``W`` (dense, ``n_out × n_in``).

    Examples
    --------
    >>> layer = Affine(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.zeros(3))
    >>> layer.forward(np.array([1.0, 1.0]))
    array([ 3.,  7., 11.])
    >>> layer.adjoint(None, np.array([1.0, 0.0, 0.0]))
    array([1., 2.])
    >>> layer.nnz
    6
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None):
        weight = as_real_array(weight, "the weight")
        if weight.ndim != 2 or 0 in weight.shape:
            raise ChainError(
                f"an Affine weight must be a non-empty 2-D array; got shape {weight.shape}")
        bias = np.zeros(weight.shape[0]) if bias is None else as_real_array(bias, "the bias")
        if bias.shape != (weight.shape[0],):
            raise ChainError(
                f"an Affine bias must have shape ({weight.shape[0]},) to match a weight of "
                f"shape {weight.shape}; got {bias.shape}")
        self.weight, self.bias = weight, bias
        self.n_out, self.n_in = weight.shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.weight @ x + self.bias

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.weight

    def tangent(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.weight @ v

    def adjoint(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w @ self.weight


class Rule(NamedTuple):
    """An elementwise function and its derivative, both vectorised."""

    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]


#: The elementwise activations by name: one line of data per derivative rule.
#: ReLU's derivative at 0 is taken as 0.
ACTIVATIONS: dict[str, Rule] = {
    "tanh": Rule(np.tanh, sech_squared),
    "sigmoid": Rule(sigmoid, sigmoid_derivative),  # accurate in both tails
    "relu": Rule(lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "identity": Rule(lambda z: np.array(z, dtype=float), np.ones_like),
}


class Activation(Layer):
    """An elementwise activation on ``n`` values; its Jacobian is diagonal.

    Examples
    --------
    >>> layer = Activation("relu", 3)
    >>> layer.jacobian(np.array([-1.0, 2.0, 3.0]))     # the diagonal
    array([0., 1., 1.])
    >>> layer.kind, layer.nnz
    ('diagonal', 3)
    """

    kind = "diagonal"

    def __init__(self, name: str, n: int):
        self.name = check_choice(name, ACTIVATIONS, "activation")
        self.rule = ACTIVATIONS[name]
        self.n_in = self.n_out = as_dimension(n, f"the width of activation {name!r}")

    @property
    def nnz(self) -> int:
        return self.n_in

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.rule.value(x)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.rule.derivative(x)

    def tangent(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        d = self.rule.derivative(x)
        return d * v if v.ndim == 1 else d[:, None] * v

    def adjoint(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w * self.rule.derivative(x)

    def describe(self) -> str:
        return f"{self.name} {self.n_in}"


class Loss(Layer):
    """A scalar loss ``ℝ^n → ℝ`` (output width 1); its Jacobian is ``1 × n``.

    Subclasses implement ``value(x)`` (a float) and ``gradient(x)``.
    """

    n_out = 1

    @property
    def nnz(self) -> int:
        return self.n_in

    def value(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.array([self.value(x)])

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.gradient(x)[None, :]

    def tangent(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.gradient(x)[None, :] @ v

    def adjoint(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        g = self.gradient(x)
        return w[0] * g if w.ndim == 1 else w @ g[None, :]


class SquaredError(Loss):
    """``½‖x − y‖²`` for a fixed target ``y``; its gradient is ``x − y``.

    Examples
    --------
    >>> loss = SquaredError(np.array([1.0, 2.0]))
    >>> loss.forward(np.array([2.0, 0.0]))
    array([2.5])
    >>> loss.jacobian(np.array([2.0, 0.0]))
    array([[ 1., -2.]])
    """

    def __init__(self, target: np.ndarray):
        target = as_real_array(target, "the target")
        if target.ndim != 1 or target.size == 0:
            raise ChainError(f"the target must be a non-empty 1-D array; got shape {target.shape}")
        self.target = target
        self.n_in = target.size

    def value(self, x: np.ndarray) -> float:
        r = x - self.target
        return 0.5 * float(r @ r)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return x - self.target


class SoftmaxCrossEntropy(Loss):
    """``−Σ t_k log softmax(x)_k`` for a class index or a distribution ``t``.

    Its gradient is ``softmax(x) − t``.

    Examples
    --------
    >>> loss = SoftmaxCrossEntropy(0, 2)
    >>> round(loss.value(np.array([0.0, 0.0])), 6)        # log 2
    0.693147
    >>> loss.gradient(np.array([0.0, 0.0]))
    array([-0.5,  0.5])
    """

    def __init__(self, target: int | np.ndarray, n: int | None = None):
        self.target = _class_distribution(target, n)
        self.n_in = self.target.size

    def value(self, x: np.ndarray) -> float:
        shifted = x - x.max()
        return float(np.log(np.exp(shifted).sum()) - self.target @ shifted)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max())
        return e / e.sum() - self.target


def _class_distribution(target, n: int | None) -> np.ndarray:
    """A class index (with ``n`` classes) or a probability vector, as a vector."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        n = None if n is None else as_dimension(n, "the number of classes")
        if n is None or not 0 <= target < n:
            raise ChainError(
                f"a class index needs the number of classes n and 0 <= index < n; "
                f"got index {target} with n={n}")
        try:
            out = np.zeros(n)
        except (ValueError, MemoryError):
            raise ChainError(f"cannot hold a distribution over n={n:,} classes in memory; "
                             "give a smaller number of classes") from None
        out[target] = 1.0
        return out
    t = as_real_array(target, "the target")
    n = None if n is None else as_dimension(n, "the number of classes")
    if t.ndim != 1 or t.size == 0 or (n is not None and t.size != n):
        raise ChainError(f"the target must be a class index or a 1-D distribution; got {target!r}")
    if (t < 0).any() or not np.isclose(t.sum(), 1.0):
        raise ChainError(f"a target distribution must be nonnegative and sum to 1; got {t!r}")
    return t


#: The scalar losses ``mlp(loss=...)`` accepts by name.
LOSSES = {"squared_error": SquaredError, "softmax_cross_entropy": SoftmaxCrossEntropy}


def propagate(layers: Sequence[Layer], inputs: Sequence[np.ndarray], value: np.ndarray,
              how: str) -> tuple[np.ndarray, int]:
    """Push ``value`` through ``layers`` by tangents or pull it back by adjoints.

    ``how="tangents"``: ``value`` holds columns (``n_in × k``) and goes
    through the layers in order, each costing ``nnz · k`` multiplications;
    ``how="adjoints"``: ``value`` holds rows (``k × n_out``) and the layers
    are taken last first, each costing ``nnz · k``. ``inputs[i]`` is the
    point at which ``layers[i]`` is linearised. Returns the product and its
    multiplications.

    Examples
    --------
    >>> layer = Affine(np.arange(6.0).reshape(2, 3), np.zeros(2))
    >>> propagate([layer], [np.zeros(3)], np.eye(3), "tangents")[1]
    18
    """
    count = 0
    if how == "tangents":
        for layer, x in zip(layers, inputs):
            value, count = layer.tangent(x, value), count + layer.nnz * value.shape[1]
    else:
        for layer, x in zip(reversed(layers), reversed(inputs)):
            value, count = layer.adjoint(x, value), count + layer.nnz * value.shape[0]
    return value, count


class Network:
    """A chain of layers ``x_0 → x_1 → … → x_L``, callable as ``net(x)``.

    Parameters
    ----------
    layers : sequence of Layer
        In the order they are applied; layer ``i``'s output width must be
        layer ``i+1``'s input width.

    Attributes
    ----------
    layers : tuple of Layer
    widths : tuple of int
        ``n_0, …, n_L``: the input width and every layer's output width.
    kinds : tuple of str
        ``"dense"`` or ``"diagonal"`` for each layer's Jacobian, in layer
        order (``J_1`` first).

    Examples
    --------
    >>> net = Network([Affine(np.ones((2, 3))), Activation("tanh", 2),
    ...                SquaredError(np.zeros(2))])
    >>> net.widths, net.kinds
    ((3, 2, 2, 1), ('dense', 'diagonal', 'dense'))
    >>> net(np.zeros(3))
    array([0.])
    """

    def __init__(self, layers: Sequence[Layer]):
        layers = check_sequence(layers, "a Network's layers")
        if not layers:
            raise ChainError("a network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ChainTypeError(
                    f"layer {i} must be a chainopt.jacobians.layers.Layer; "
                    f"got {type(layer).__name__}")
            if i and layers[i - 1].n_out != layer.n_in:
                raise ChainError(
                    f"layer {i} ({layer.describe()}) cannot follow layer {i - 1} "
                    f"({layers[i - 1].describe()}): widths {layers[i - 1].n_out} and "
                    f"{layer.n_in} differ")
        self.layers: tuple[Layer, ...] = tuple(layers)
        self.widths = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
        self.kinds = tuple(layer.kind for layer in layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return "Network(" + ", ".join(layer.describe() for layer in self.layers) + ")"

    @property
    def nnz(self) -> tuple[int, ...]:
        """Each layer's :attr:`Layer.nnz`: its tangent and adjoint cost in multiply-adds."""
        return tuple(layer.nnz for layer in self.layers)

    def check_input(self, x: ArrayLike) -> np.ndarray:
        """``x`` as a float 1-D array of length ``n_0``, or a helpful error."""
        array = as_real_array(x, "the network's input")
        if array.shape != (self.widths[0],):
            raise ChainError(
                f"the network's input must be a 1-D array of length {self.widths[0]}; "
                f"got shape {array.shape}")
        return array

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """The output ``x_L`` (a 1-D array; length 1 after a loss)."""
        x = self.check_input(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def inputs(self, x: ArrayLike) -> list[np.ndarray]:
        """The input of every layer, ``[x_0, …, x_{L−1}]``.

        This is all a Jacobian needs, so the last layer is not evaluated.
        """
        values = [self.check_input(x)]
        for layer in self.layers[:-1]:
            values.append(layer.forward(values[-1]))
        return values

    def jacobians(self, x: ArrayLike) -> list[np.ndarray]:
        """The explicit Jacobians ``[J_1, …, J_L]`` at ``x`` (diagonals 1-D)."""
        return [layer.jacobian(v) for layer, v in zip(self.layers, self.inputs(x))]


def mlp(
    widths: Sequence[int],
    activation: str = "tanh",
    seed: int = 0,
    *,
    loss: str | Loss | None = None,
) -> Network:
    """A random multilayer perceptron: affine layers with activations between.

    Parameters
    ----------
    widths : sequence of int
        ``n_0, …, n_L`` of the affine layers. The network is
        ``Affine(n_0→n_1), act, Affine(n_1→n_2), act, …, Affine(n_{L−1}→n_L)``:
        no activation after the last affine layer.
    activation : str, default "tanh"
        A name in :data:`ACTIVATIONS`: ``"tanh"``, ``"sigmoid"``, ``"relu"``
        or ``"identity"``.
    seed : int, default 0
        Seeds the weights (standard normal over ``√n_in``), the biases
        (normal, standard deviation 0.1) and a named loss's target.
    loss : str or Loss, optional
        A scalar loss appended as the last layer: ``"squared_error"`` (with
        a standard normal target) or ``"softmax_cross_entropy"`` (with a
        random class), or a :class:`Loss` instance of width ``n_L``.

    Returns
    -------
    Network

    Examples
    --------
    >>> net = mlp([4, 3, 2], loss="softmax_cross_entropy")
    >>> net
    Network(Affine 4→3, tanh 3, Affine 3→2, SoftmaxCrossEntropy 2→1)
    >>> net.widths
    (4, 3, 3, 2, 1)
    >>> net(np.ones(4)).shape
    (1,)
    """
    widths = list(as_dimensions(widths, "widths", "width"))
    check_choice(activation, ACTIVATIONS, "activation")
    if len(widths) < 2:
        raise ChainError(f"an mlp needs at least two widths (input and output); got {widths}")
    rng = np.random.default_rng(check_seed(seed))
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        weight = _random_weight(rng, n_out, n_in)
        layers.append(Affine(weight, 0.1 * rng.standard_normal(n_out)))
        if i < len(widths) - 2:
            layers.append(Activation(activation, n_out))
    if loss is not None:
        layers.append(_make_loss(loss, widths[-1], rng))
    return Network(layers)


def _random_weight(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """A seeded n_out × n_in weight, or a ChainError when it cannot be held in memory."""
    try:
        return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
    except (ValueError, MemoryError):
        raise ChainError(f"an mlp layer of {n_in:,} → {n_out:,} needs a weight of "
                         f"{n_out * n_in:,} numbers, more than memory holds; plan it from "
                         "the widths alone with plan_jacobian(widths)") from None


def _make_loss(loss: str | Loss, n: int, rng: np.random.Generator) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise ChainTypeError(f"loss must be one of {', '.join(map(repr, LOSSES))} or a Loss "
                             f"layer; got {type(loss).__name__} {loss!r:.40}")
    if loss == "squared_error":
        return SquaredError(rng.standard_normal(n))
    if loss == "softmax_cross_entropy":
        return SoftmaxCrossEntropy(int(rng.integers(n)), n)
    choices = ", ".join(repr(k) for k in LOSSES)
    raise ChainError(f"loss must be one of {choices} or a Loss layer; got {loss!r}")
