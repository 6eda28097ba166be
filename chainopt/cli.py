"""The ``chainopt`` command.

Each subcommand is one ``_add_NAME(subparsers)`` function listed in
:data:`COMMANDS`; it declares its arguments and sets ``run`` to the function
that does the work and returns the exit status. Every user error (a
:class:`~chainopt.errors.ChainError`, a bad option) becomes one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from .errors import ChainError
from .plan import plan_chain

__all__ = ["main", "parse_shape"]

_SHAPE = re.compile(r"^\s*(\S+?)\s*[x×X,*]\s*(\S+)\s*$")


class UsageError(ChainError):
    """A command line that cannot be understood."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit status 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an integer") from None


def parse_shape(text: str, position: int, count: int):
    """Parse ``"30x35"`` (or ``30×35``, ``30,35``) into ``(30, 35)``.

    A bare integer is a vector: allowed as the first or last factor only,
    as in :func:`numpy.linalg.multi_dot`; it is returned as a 1-tuple.

    Examples
    --------
    >>> parse_shape("30x35", 0, 2)
    (30, 35)
    >>> parse_shape("7", 1, 2)
    (7,)
    """
    match = _SHAPE.match(text)
    where = f"factor {position} {text!r}"
    if match:
        return tuple(_integer(part, f"{where}: dimension") for part in match.groups())
    if text.strip().lstrip("+-").isdigit() and position in (0, count - 1):
        return (int(text),)
    raise UsageError(f"{where} is not a shape; write ROWSxCOLS, e.g. 30x35")


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [item.strip() for item in text.split(",")]


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# -- chainopt plan ----------------------------------------------------------
def _run_plan(args) -> int:
    shapes = [parse_shape(t, i, len(args.shapes)) for i, t in enumerate(args.shapes)]
    plan = plan_chain(shapes, names=_csv(args.names), kinds=_csv(args.kinds),
                      method=args.method)
    if args.json:
        _print_json(plan.to_dict())
    else:
        print(plan)
    return 0


def _add_plan(subparsers) -> None:
    p = subparsers.add_parser(
        "plan", help="the cheapest order for a chain of matrix shapes",
        description="Plan a matrix chain from its shapes and explain the order.")
    p.add_argument("shapes", nargs="+", metavar="SHAPE",
                   help="factor shapes in product order, e.g. 30x35 35x15 15x5")
    p.add_argument("--names", help="comma-separated factor names (default A, B, C, …)")
    p.add_argument("--kinds", help="comma-separated dense/diagonal, one per factor")
    p.add_argument("--method", default="auto",
                   help="planner: auto (default), dp, approx, brute, left, right")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_run_plan)


#: The subcommands, in the order ``chainopt --help`` lists them.
COMMANDS = [_add_plan]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainopt", description=(
        "Plan matrix-chain products and Jacobian accumulation: exact costs, "
        "explained, measured."))
    from . import __version__

    parser.add_argument("--version", action="version", version=f"chainopt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    subparsers.required = True
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except ChainError as exc:  # ChainTypeError included
        message = " ".join(str(exc).split())
        print(f"chainopt: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainopt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
