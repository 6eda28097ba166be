"""The exception family of chainopt.

Every problem with a chain that the user can fix is a :class:`ChainError`,
a subclass of :class:`ValueError`, so ``except ValueError`` keeps working.
A wrong *kind* of object (a string where a shape was expected) is a plain
:class:`TypeError`, as in NumPy and scikit-learn.

The command-line interface turns any :class:`ChainError` into one line on
stderr and exit status 2.
"""

__all__ = ["ChainError", "ChainTypeError", "PlanMismatchError"]


class ChainError(ValueError):
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
