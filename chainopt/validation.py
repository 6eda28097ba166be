"""Validation of chains: shapes, dimensions and factor kinds.

This is the bottom layer of chainopt. Every user-supplied chain passes
through :func:`as_chain` exactly once; everything above it works with
plain tuples of non-negative Python ints.

Conventions
-----------
``shapes`` is a tuple of ``(rows, cols)`` pairs, one per factor.
``dims`` is the n+1 boundary dimensions ``p`` of CLRS: factor ``i`` is
``p[i] x p[i+1]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from .errors import ChainError, ChainTypeError, NotMatrixError, PlanMismatchError

__all__ = [
    "check_out",
    "KINDS",
    "Chain",
    "as_chain",
    "as_dimension",
    "as_numeric_array",
    "as_real_array",
    "check_seed",
    "check_sequence",
    "check_time_dimensions",
    "dims_from_shapes",
    "format_shape",
    "known_shape",
]

KINDS = ("dense", "diagonal")


class Chain(NamedTuple):
    """A validated chain.

    Attributes
    ----------
    shapes : tuple of (int, int)
        The 2-D shape of every factor (1-D ends already promoted).
    kinds : tuple of str
        ``"dense"`` or ``"diagonal"`` for every factor.
    vector_first, vector_last : bool
        Whether the first (last) factor was given as a 1-D vector.
    """

    shapes: tuple[tuple[int, int], ...]
    kinds: tuple[str, ...]
    vector_first: bool = False
    vector_last: bool = False

    @property
    def dims(self) -> tuple[int, ...]:
        """The n+1 boundary dimensions (CLRS's ``p``)."""
        return dims_from_shapes(self.shapes)


def format_shape(shape: Sequence[int]) -> str:
    """Format a shape the way messages and reports show it.

    Examples
    --------
    >>> format_shape((30, 35))
    '30×35'
    >>> format_shape((7,))
    '7'
    """
    return "×".join(str(d) for d in shape)


def dims_from_shapes(shapes: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Return the boundary dimensions ``p`` of an already validated chain.

    Examples
    --------
    >>> dims_from_shapes([(30, 35), (35, 15), (15, 5)])
    (30, 35, 15, 5)
    """
    return tuple(int(r) for r, _ in shapes) + (int(shapes[-1][1]),)


def as_dimension(value: object, where: str, minimum: int = 1) -> int:
    """Return ``value`` as a positive Python int, or raise a helpful error.

    Parameters
    ----------
    value : object
        A candidate dimension: a Python or NumPy integer, or an integral float.
    where : str
        Where the value sits, for the message, e.g. ``"factor 2 rows"``.
    minimum : {1, 0}
        The smallest value accepted: chains accept 0 (an empty factor, as
        NumPy does), widths and counts do not.

    Raises
    ------
    ChainTypeError
        If ``value`` is not a number at all, or is a bool.
    ChainError
        If it is NaN, infinite, fractional, zero or negative.

    Examples
    --------
    >>> as_dimension(np.int64(5), "width 0")
    5
    >>> as_dimension(0, "width 0")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: width 0 must be a positive integer; got 0
    """
    what = "a positive integer" if minimum > 0 else "a non-negative integer"
    if isinstance(value, (bool, np.bool_)):
        raise ChainTypeError(f"{where} must be {what}; got the boolean {value!r}")
    number: int | float
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number) or number != int(number):
            raise ChainError(f"{where} must be {what}; got {value!r}")
        number = int(number)
    else:
        raise ChainTypeError(f"{where} must be {what}; got {type(value).__name__} {value!r}")
    if number < minimum:
        raise ChainError(f"{where} must be {what}; got {number}")
    return number


def as_dimensions(values: object, what: str, item: str | None = None) -> tuple[int, ...]:
    """Return a sequence of positive integers as a tuple of Python ints.

    Parameters
    ----------
    values : sequence of int
        A list, tuple or 1-D array (not a string).
    what : str
        The argument's name, for messages, e.g. ``"widths"``.
    item : str, optional
        How to name one entry: ``"width"`` gives "width 2"; by default
        ``what[i]``.

    Raises
    ------
    ChainTypeError
        If ``values`` is not a sequence, or an entry is not a number.
    ChainError
        If an entry is not a positive integer.

    Examples
    --------
    >>> as_dimensions([4, np.int64(3)], "widths", "width")
    (4, 3)
    >>> as_dimensions("43", "widths")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainTypeError: widths must be a sequence of integers; got '43'
    """
    if (isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray)
            or isinstance(values, np.ndarray) and values.ndim != 1):
        raise ChainTypeError(f"{what} must be a sequence of integers; got {values!r:.60}")
    return tuple(as_dimension(value, f"{item} {i}" if item else f"{what}[{i}]")
                 for i, value in enumerate(values))
#: The largest dimension a time model accepts. Predictions are float64: a
#: step multiplies three padded dimensions (10^180 at most here) by a rate
#: and a byte count, and a plan sums up to millions of steps, all far below
#: float64's 1.8·10^308; beyond, they would overflow to inf.
MAX_TIME_DIMENSION = 10**60


def check_time_dimensions(dims: Sequence[int]) -> None:
    """Refuse dimensions too large for a time model's floating-point predictions.

    Raises
    ------
    ChainError
        If a dimension exceeds :data:`MAX_TIME_DIMENSION`; the message names
        the factor and suggests the exact ``cost="multiplications"``.

    Examples
    --------
    >>> check_time_dimensions([10**6, 3])
    >>> check_time_dimensions([3, 10**80, 2])
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: factor 0 has 10^80 columns, more than the 10^60 that a time \
model predicts in floating point; plan with cost='multiplications' (exact at any size) and \
without time_model=
    """
    for i, d in enumerate(dims):
        if d > MAX_TIME_DIMENSION:
            where = (f"factor 0 has {_magnitude(d)} rows" if i == 0
                     else f"factor {i - 1} has {_magnitude(d)} columns")
            raise ChainError(
                f"{where}, more than the 10^{len(str(MAX_TIME_DIMENSION)) - 1} that a time "
                f"model predicts in floating point; plan with cost='multiplications' (exact "
                f"at any size) and without time_model=")


def _magnitude(d: int) -> str:
    """``d`` for messages: exact when short, else ``~10^k``."""
    text = str(d)
    if len(text) <= 20:
        return f"{d:,}"
    return f"10^{len(text) - 1}" if text.strip("0") == "1" else f"about 10^{len(text) - 1}"


def known_shape(array, position: int) -> tuple:
    """``array.shape`` as a tuple, refusing unknown (NaN) dimensions.

    Raises
    ------
    ChainError
        If a dimension is unknown, as for a Dask array after boolean
        indexing; the message says to call ``compute_chunk_sizes()``.

    Examples
    --------
    >>> known_shape(np.ones((2, 3)), 0)
    (2, 3)
    """
    shape = tuple(array.shape)
    if any(isinstance(d, float) and math.isnan(d) for d in shape):
        cls = type(array)
        raise ChainError(
            f"factor {position} ({cls.__module__.split('.')[0]}.{cls.__name__}) has unknown "
            f"dimensions ({_raw(shape)}); chainopt plans from shapes: call "
            f"x.compute_chunk_sizes() on this Dask array first"
        )
    return shape


def _factor_shape(
    factor: object, position: int, n: int, diagonal: bool
) -> tuple[tuple, bool]:
    """Return (2-D shape, was_vector) of one factor: a pair or an array.

    A 1-D entry declared diagonal is the diagonal of a square factor.
    """
    is_array = getattr(factor, "shape", None) is not None
    if is_array:
        shape = known_shape(factor, position)
    else:
        if isinstance(factor, (str, bytes)) or not isinstance(factor, Sequence):
            raise ChainTypeError(
                f"factor {position} must be a (rows, cols) pair or an array; "
                f"got {type(factor).__name__} {factor!r}"
            )
        shape = tuple(factor)
    if len(shape) == 1 and diagonal:
        return (shape[0], shape[0]), False
    if len(shape) == 1 and (position == 0 or position == n - 1):
        # 1-D ends follow numpy.linalg.multi_dot: row vector first, column last.
        return ((1, shape[0]) if position == 0 else (shape[0], 1)), True
    if len(shape) != 2:
        what = "an array of shape" if is_array else "the shape"
        ends = " (only the first and last factor may be 1-D)" if n > 1 else ""
        raise NotMatrixError(
            f"factor {position} must be 2-D{ends}; got {what} "
            f"{shape!r}"
        )
    return shape, False


#: dtype kinds a matrix product accepts: bool, integers, floats, complex.
NUMERIC_KINDS = frozenset("biufc")


def as_numeric_array(value: object, where: str) -> np.ndarray:
    """``value`` as an ndarray of numbers, or a :class:`ChainTypeError` naming ``where``.

    Numbers are bool, integer, float and complex dtypes, and object arrays
    whose every entry is a Python number (``fractions.Fraction``, ints beyond
    int64), which NumPy multiplies exactly.

    Examples
    --------
    >>> as_numeric_array([[1, 2]], "array 0").shape
    (1, 2)
    >>> as_numeric_array([[1], [2, 3]], "array 1")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainTypeError: array 1 is not an array of numbers (ragged or mixed: \
[[1], [2, 3]]); give an ndarray of bool, integer, float or complex numbers
    """
    try:
        array = np.asanyarray(value)
    except (ValueError, TypeError, OverflowError):
        array = None
    if array is not None and array.dtype.kind == "O" and array.size and all(
            isinstance(x, numbers.Number) for x in array.flat):
        return array  # exact Python numbers (Fractions, big ints): NumPy multiplies them
    if array is None or array.dtype.kind not in NUMERIC_KINDS:
        got = (f"dtype {array.dtype}" if array is not None and array.dtype.kind != "O"
               else f"ragged or mixed: {' '.join(repr(value).split())[:60]}")
        raise ChainTypeError(f"{where} is not an array of numbers ({got}); give an ndarray "
                             "of bool, integer, float or complex numbers")
    return array


def as_real_array(value: object, what: str) -> np.ndarray:
    """``value`` as a float ndarray of real numbers, or a ChainTypeError naming ``what``.

    Examples
    --------
    >>> as_real_array([1, 2], "the target")
    array([1., 2.])
    >>> as_real_array([1j], "the target")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainTypeError: the target must be real; got a complex array (pass its \
.real, or split the real and imaginary parts)
    """
    array = as_numeric_array(value, what)
    if array.dtype.kind == "c":
        raise ChainTypeError(f"{what} must be real; got a complex array (pass its .real, or "
                             "split the real and imaginary parts)")
    return array.astype(float, copy=False)


def check_seed(seed: object) -> int | None:
    """A random seed: None or a non-negative integer.

    Examples
    --------
    >>> check_seed(7), check_seed(None)
    (7, None)
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: seed must be a non-negative integer or None; got -1
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ChainTypeError(f"seed must be a non-negative integer or None; got "
                             f"{type(seed).__name__} {seed!r:.40}")
    if seed < 0:
        raise ChainError(f"seed must be a non-negative integer or None; got {seed}")
    return int(seed)


def check_sequence(value: object, what: str) -> tuple:
    """``value`` as a tuple, if it is a sequence (not a string), else a ChainTypeError.

    Examples
    --------
    >>> check_sequence(["dense"], "kinds")
    ('dense',)
    >>> check_sequence(False, "kinds")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainTypeError: kinds must be a sequence (a list or tuple); got bool False
    """
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray)
            or isinstance(value, np.ndarray) and value.ndim == 0):
        raise ChainTypeError(f"{what} must be a sequence (a list or tuple); got "
                             f"{type(value).__name__} {value!r:.40}")
    return tuple(value)


def check_choice(value: object, choices: Iterable[str], what: str) -> str:
    """``value`` if it is one of the named ``choices``, else a clear error.

    Examples
    --------
    >>> check_choice("tanh", ("tanh", "relu"), "activation")
    'tanh'
    >>> check_choice("gelu", ("tanh", "relu"), "activation")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: activation must be one of 'tanh', 'relu'; got 'gelu'
    """
    choices = tuple(choices)
    if isinstance(value, str) and value in choices:
        return value
    error = ChainError if isinstance(value, str) else ChainTypeError
    raise error(f"{what} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_kinds(kinds: Sequence[str] | None, n: int, unit: str = "factor") -> tuple[str, ...]:
    """``kinds``, one of :data:`KINDS` per factor (or per layer), default all dense.

    With ``unit="layer"`` the kinds are of layers ``J_1 … J_n`` (numbered
    from 1 in messages); else of factors ``0 … n-1``.

    Examples
    --------
    >>> check_kinds(None, 2)
    ('dense', 'dense')
    >>> check_kinds(["dense"], 2, unit="layer")
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: kinds has 1 entries for 2 layers; give one per layer, J_1 first
    """
    if kinds is None:
        return ("dense",) * n
    if isinstance(kinds, str):
        raise ChainTypeError(f"kinds must be a sequence of strings; got the string {kinds!r}")
    kinds = check_sequence(kinds, "kinds")
    if len(kinds) != n:
        order = ", J_1 first" if unit == "layer" else ""
        raise ChainError(f"kinds has {len(kinds)} entries for {n} {unit}s; "
                         f"give one per {unit}{order}")
    for i, kind in enumerate(kinds):
        if not isinstance(kind, str) or kind not in KINDS:
            where = f"the kind of layer {i + 1}" if unit == "layer" else f"kinds[{i}]"
            raise ChainError(f"{where} must be one of {KINDS}; got {kind!r}")
    return kinds


def check_names(names: Sequence[str] | str | None, n: int, default: Sequence[str]
                ) -> tuple[str, ...]:
    """One non-empty name per factor; ``default`` when ``names`` is None.

    A string of ``n`` characters names one factor per character.

    Examples
    --------
    >>> check_names("WDx", 3, ("A", "B", "C"))
    ('W', 'D', 'x')
    """
    if names is None:
        return tuple(default)
    if isinstance(names, str):
        names = tuple(names) if len(names) == n else (names,)
    names = check_sequence(names, "names")
    if len(names) != n:
        raise ChainError(f"names has {len(names)} entries for {n} factors; give one per factor")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ChainTypeError(f"names[{i}] must be a non-empty string; got {name!r}")
    return names


def _check_links(shapes: Sequence[tuple[int, int]], kinds: Sequence[str]) -> None:
    for i, (rows, cols) in enumerate(shapes):
        if kinds[i] == "diagonal" and rows != cols:
            raise ChainError(
                f"factor {i} is declared diagonal but has shape "
                f"{format_shape((rows, cols))}; a diagonal factor must be square"
            )
        if i and shapes[i - 1][1] != rows:
            raise ChainError(
                f"factor {i} ({format_shape((rows, cols))}) cannot follow factor "
                f"{i - 1} ({format_shape(shapes[i - 1])}): inner dimensions "
                f"{shapes[i - 1][1]} and {rows} differ"
            )


def as_chain(factors: Sequence, kinds: Sequence[str] | None = None) -> Chain:
    """Validate a chain given as shapes or arrays.

    Parameters
    ----------
    factors : sequence
        ``(rows, cols)`` pairs, or objects with a ``.shape`` (arrays). A 1-D
        first entry is a row vector and a 1-D last entry a column vector,
        as in :func:`numpy.linalg.multi_dot`.
    kinds : sequence of {"dense", "diagonal"}, optional
        The structure of each factor; all dense by default. A 1-D entry at
        a diagonal position is that factor's diagonal.

    Returns
    -------
    Chain

    Raises
    ------
    ChainTypeError
        For objects that are neither shapes nor arrays.
    ChainError
        For an empty chain, bad dimensions, inner arrays that are not 2-D,
        or neighbouring factors whose inner dimensions differ.

    Examples
    --------
    >>> as_chain([(30, 35), (35, 15)]).dims
    (30, 35, 15)
    >>> as_chain([(30, 35), (16, 5)])
    Traceback (most recent call last):
    ...
    chainopt.errors.ChainError: factor 1 (16×5) cannot follow factor 0 (30×35): \
inner dimensions 35 and 16 differ
    """
    if isinstance(factors, np.ndarray):
        factors = _rows_as_shapes(factors)
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__"):
        raise ChainTypeError(
            f"a chain must be a sequence of shapes or arrays; got "
            f"{type(factors).__name__}"
        )
    n = len(factors)
    if n == 0:
        raise ChainError("the chain is empty; give at least one factor")
    kinds = check_kinds(kinds, n)
    shapes, vectors = [], []
    for i, factor in enumerate(factors):
        raw, was_vector = _factor_shape(factor, i, n, kinds[i] == "diagonal")
        shapes.append(_dimensions(raw, i))
        vectors.append(was_vector)
    _check_links(shapes, kinds)
    return Chain(tuple(shapes), kinds, vectors[0] and n > 1, vectors[-1] and n > 1)


def _dimensions(raw: tuple, i: int) -> tuple[int, int]:
    """Check a 2-D shape's dimensions; messages are built only on failure."""
    rows, cols = raw
    if type(rows) is int and type(cols) is int and rows >= 0 and cols >= 0:
        return raw  # the common case, kept fast for small chains
    return tuple(  # type: ignore[return-value]  # two entries, as raw has
        as_dimension(d, f"factor {i} ({_raw(raw)}) {axis}", minimum=0)
        for d, axis in zip(raw, ("rows", "cols"))
    )


def _rows_as_shapes(table: np.ndarray) -> list[tuple]:
    """An integer array of shape (n, 2) is a table of (rows, cols) pairs."""
    if table.ndim == 2 and table.shape[1] == 2 and table.dtype.kind in "iu":
        return [tuple(row) for row in table.tolist()]
    raise ChainTypeError(
        f"a chain must be a sequence of shapes or arrays; got one array of shape "
        f"{table.shape!r} (pass [A, B, ...], or an integer array of (rows, cols) rows)"
    )


def _raw(shape: Sequence) -> str:
    return "×".join(str(d) for d in shape)


def check_out(out: object, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """``out`` checked to receive a ``shape`` result of ``dtype``, as 2-D.

    As :func:`numpy.dot` asks of its ``out`` (so :meth:`chainopt.Plan.execute`
    checks every kernel alike, whatever the planner chose, and
    :func:`chainopt.jacobian` the same): an ndarray of exactly the result's
    dtype, never cast, C-contiguous and writeable, of the 2-D result shape or,
    for a vector or scalar result, its size in one dimension (then reshaped).

    Raises
    ------
    ChainTypeError
        If ``out`` is not an ndarray.
    PlanMismatchError
        For another dtype, a non-contiguous or read-only array, or another shape.

    Examples
    --------
    >>> check_out(np.empty((2, 3)), (2, 3), np.dtype(float)).shape
    (2, 3)
    >>> check_out(np.empty((2, 3), dtype=np.float32), (2, 3), np.dtype(float))
    Traceback (most recent call last):
    ...
    chainopt.errors.PlanMismatchError: out has dtype float32 but the product is float64; \
out is never cast: pass out=np.empty((2, 3), dtype=np.float64)
    """
    if (type(out) is np.ndarray and out.shape == shape and out.dtype == dtype
            and out.flags.c_contiguous and out.flags.writeable):
        return out                                  # the common case, checked cheaply
    if not isinstance(out, np.ndarray):
        raise ChainTypeError(f"out must be an ndarray; got {type(out).__name__}")
    fix = f"pass out=np.empty({shape}, dtype=np.{np.dtype(dtype).name})"
    if out.dtype != dtype:
        raise PlanMismatchError(
            f"out has dtype {out.dtype} but the product is {dtype}; out is never cast: {fix}")
    if not out.flags.c_contiguous:
        raise PlanMismatchError(
            f"out (shape {format_shape(out.shape)}) is not C-contiguous; {fix}")
    if not out.flags.writeable:
        raise PlanMismatchError(f"out is read-only; {fix}")
    if out.shape == shape:
        return out
    if out.size == shape[0] * shape[1] and out.ndim < 2:
        return out.reshape(shape)
    raise PlanMismatchError(
        f"out has shape {format_shape(out.shape)}; the product is {format_shape(shape)}: {fix}"
    )
