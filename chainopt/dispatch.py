"""Array libraries: which one a chain's arrays belong to, and their products.

A chain takes one of two paths, chosen once per call from the arrays:

- **NumPy** (``numpy.ndarray`` and its subclasses, NumPy scalars, lists,
  anything else that NumPy converts): :mod:`chainopt.kernels` runs every
  step with the kernel the plan names (GEMM, GEMV, SYRK, scaling).
- **Foreign**: an array of another library, recognised by array-api-compat
  (``array_api_compat.is_array_api_obj``: Dask, JAX, PyTorch, CuPy,
  array-api-strict, or anything with ``__array_namespace__``), or a
  ``scipy.sparse`` array or matrix. Nothing is converted to NumPy: every
  step is the library's own ``a @ b`` in the planned order, so Dask stays
  lazy, JAX traces under ``jit``/``grad``/``vmap``, and torch records
  autograd. NumPy arrays mixed into a foreign chain meet the foreign ones in
  that library's ``@`` (NumPy with Dask or JAX gives Dask or JAX arrays);
  where the library refuses a pair, :func:`multiply` says which two types.

Only the NumPy path chooses kernels: the plan's SYRK and GEMV choices are
NumPy's. A diagonal factor given as its 1-D diagonal scales its partner
by broadcasting in every library; given as a square matrix to a foreign
chain it is multiplied as it is (checking that it is diagonal would read
its values, and so compute a lazy array).

The libraries are imported only when their arrays are seen (by module
name), so ``import chainopt`` loads none of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import ChainTypeError
from .kernels import Diagonal

__all__ = ["foreign_library", "is_foreign", "is_sparse", "multiply",
           "reshape", "shape_result", "type_name"]

#: Types that always take the NumPy path, checked first (the fast path).
_NUMPY_TYPES = (np.ndarray, np.generic, list, tuple)


def is_sparse(array: object) -> bool:
    """Whether ``array`` is a ``scipy.sparse`` array or matrix (scipy not imported otherwise).

    Examples
    --------
    >>> is_sparse(np.eye(2))
    False
    """
    if not type(array).__module__.startswith("scipy.sparse"):
        return False
    from scipy.sparse import issparse

    return bool(issparse(array))


def is_foreign(array: object) -> bool:
    """Whether ``array`` belongs to a library other than NumPy (see the module notes).

    Examples
    --------
    >>> is_foreign(np.ones(3)), is_foreign([1.0, 2.0]), is_foreign(np.ma.ones(2))
    (False, False, False)
    """
    if isinstance(array, _NUMPY_TYPES):
        return False
    if is_sparse(array):
        return True
    from array_api_compat import is_array_api_obj

    return bool(is_array_api_obj(array))


def type_name(array: object) -> str:
    """``module.Class`` of an array, for messages (``dask.array.Array``).

    Examples
    --------
    >>> type_name(np.ones(2))
    'numpy.ndarray'
    """
    cls = type(array)
    module = cls.__module__
    short = {"dask.array.core": "dask.array", "jaxlib._jax": "jax",
             "numpy": "numpy"}.get(module, module.split(".")[0])
    if module.startswith("scipy.sparse"):
        short = "scipy.sparse"
    return f"{short}.{cls.__name__}"


def _library(array: object) -> str:
    """The library an array belongs to (JAX tracers count as JAX)."""
    if is_sparse(array):
        return "scipy.sparse"
    from array_api_compat import is_jax_array

    return "jax" if is_jax_array(array) else type(array).__module__.split(".")[0]


def foreign_library(arrays: Sequence) -> str | None:
    """The one foreign library among ``arrays``, or None for the NumPy path.

    Raises
    ------
    ChainTypeError
        If arrays of two foreign libraries meet (say, JAX and PyTorch); the
        message names both types.

    Examples
    --------
    >>> foreign_library([np.ones((2, 2)), [[1.0, 0.0], [0.0, 1.0]]]) is None
    True
    """
    found: dict[str, object] = {}
    for array in arrays:
        if not isinstance(array, _NUMPY_TYPES) and is_foreign(array):
            found.setdefault(_library(array), array)
    if len(found) > 1:
        first, second = list(found.values())[:2]
        raise ChainTypeError(
            f"the arrays mix {type_name(first)} and {type_name(second)}; chainopt "
            f"multiplies each library's arrays with its own @, which does not take the "
            f"other's; convert them to one library first"
        )
    return next(iter(found), None)


def _namespace(array):
    from array_api_compat import array_namespace

    return array_namespace(array)


def reshape(array, shape: tuple):
    """``array`` reshaped, by its own library (array-api-strict has no method)."""
    if is_sparse(array):
        return array.reshape(shape)
    return _namespace(array).reshape(array, shape)


def _scale(d, b, rows: bool):
    """``diag(d) @ b`` (rows) or ``b @ diag(d)`` (columns) by broadcasting."""
    d = reshape(d, (-1, 1) if rows else (1, -1))
    return b.multiply(d) if is_sparse(b) else d * b


def _dense(diagonal: Diagonal):
    d = diagonal.d
    xp = _namespace(d)
    return reshape(d, (-1, 1)) * xp.eye(d.shape[0], dtype=d.dtype)


def multiply(a, b):
    """One step of a foreign chain: the library's ``a @ b``; diagonals scale.

    Raises
    ------
    ChainTypeError
        If the library does not multiply these two types; the message names
        both.
    """
    a_diag, b_diag = isinstance(a, Diagonal), isinstance(b, Diagonal)
    if a_diag and b_diag:
        return Diagonal(a.d * b.d)
    if a_diag:
        return _scale(a.d, b, rows=True)
    if b_diag:
        return _scale(b.d, a, rows=False)
    try:
        return a @ b
    except TypeError as error:
        raise ChainTypeError(
            f"{type_name(a)} @ {type_name(b)} is not defined by either library ({error}); "
            f"convert the arrays to one library first"
        ) from error


def shape_result(result, vector_first: bool, vector_last: bool):
    """The 2-D product reshaped for 1-D ends, as in multi_dot (foreign path)."""
    if isinstance(result, Diagonal):
        result = _dense(result)
    if vector_first and vector_last:
        return result[0, 0]
    if vector_first or vector_last:
        if is_sparse(result) and result.format != "coo":
            result = result.tocoo()
        return reshape(result, (result.shape[0] * result.shape[1],))
    return result
