"""The exception family of chainopt.

Every error chainopt raises on purpose is a :class:`ChainoptError`, and the
command line turns any of them into one line on stderr and exit status 2.

- :class:`ChainError` (a :class:`ValueError`): a chain, width, array,
  option or file that cannot be used as given. The message names the
  position and the value got, and says what would fix it.
  :class:`ChainTypeError` is also a :class:`TypeError`: a wrong *kind* of
  object (a string where a shape was expected), as NumPy and scikit-learn
  raise; :class:`PlanMismatchError`: arrays that do not fit the plan.
- :class:`MissingToolError` (a :class:`RuntimeError`): an optional program
  or library that the request needs is not installed (Graphviz's ``dot``,
  JAX, PyTorch, Dask). The message says how to install it. Nothing is wrong
  with the input, so it is not a :class:`ChainError`.
"""

from numpy.linalg import LinAlgError

__all__ = [
    "ChainError",
    "ChainTypeError",
    "ChainoptError",
    "MissingToolError",
    "NotMatrixError",
    "PlanMismatchError",
]


class ChainoptError(Exception):
    """Base of every error chainopt raises on purpose."""


class ChainError(ChainoptError, ValueError):
    """A chain (of shapes, widths, arrays or options) that cannot be planned.

    The message always names the offending position and shape and says what
    would fix it.
    """


class PlanMismatchError(ChainError):
    """Arrays given to :meth:`chainopt.Plan.execute` do not match the plan."""


class ChainTypeError(ChainError, TypeError):
    """A wrong kind of object where a shape, width or array was expected.

    It is a :class:`TypeError` (as scikit-learn and NumPy raise for wrong
    kinds) and also a :class:`ChainError`, so one ``except ChainError``
    catches every problem with a chain.
    """


class MissingToolError(ChainoptError, RuntimeError):
    """An optional program or library needed for this request is not installed."""


class NotMatrixError(ChainError, LinAlgError):
    """A factor that is not a matrix: not 2-D, and not a 1-D end of the chain.

    :func:`numpy.linalg.multi_dot` raises :class:`numpy.linalg.LinAlgError`
    here, so this error is one too (and a :class:`ChainError`), and code
    written for NumPy's ``multi_dot`` catches it unchanged.
    """
