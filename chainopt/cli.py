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
import keyword
import math
import re
import sys
import warnings
from collections.abc import Sequence

from .errors import ChainError, ChainoptError
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
        digits = text.strip().lstrip("+-")
        reason = (f"has {len(digits):,} digits, more than Python converts"
                  if digits.isdecimal() else "is not an integer")
        raise UsageError(f"{what} {_shown(text)} {reason}") from None


def _shown(text: str, limit: int = 40) -> str:
    """``repr(text)``, cut to about ``limit`` characters for one-line messages."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


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
    where = f"factor {position} {_shown(text)}"
    if match:
        return tuple(_integer(part, f"{where}: dimension") for part in match.groups())
    if text.strip().lstrip("+-").isdecimal() and position in (0, count - 1):
        return (_integer(text, f"{where}: dimension"),)
    raise UsageError(f"{where} is not a shape; write ROWSxCOLS, e.g. 30x35")


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [item.strip() for item in text.split(",")]


def _show(plan, as_json: bool) -> int:
    """Print a plan (chain, Jacobian or matrix-free) as its explanation or as JSON."""
    if as_json:
        _print_json(plan.to_dict())
    else:
        print(plan)
    return 0


def _print_json(obj) -> None:
    """Strict JSON: a float beyond range (a ratio of exact 10^400-sized costs) is null."""
    from .explain import finite

    print(json.dumps(finite(obj), indent=2, ensure_ascii=False, allow_nan=False))


# -- chainopt plan ----------------------------------------------------------
def _run_plan(args) -> int:
    shapes = [parse_shape(t, i, len(args.shapes)) for i, t in enumerate(args.shapes)]
    plan = plan_chain(shapes, names=_csv(args.names), kinds=_csv(args.kinds),
                      method=args.method, minimize=args.minimize, memory_limit=args.memory_limit)
    return _show(plan, args.json)


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
    p.add_argument("--minimize", "--cost", dest="minimize", default="multiplications",
                   help="what to minimise (--cost is the old spelling): multiplications "
                        "(default), time (the calibrated time model, see 'chainopt calibrate'), "
                        "memory (largest intermediate)")
    p.add_argument("--memory-limit", type=_integer_option(0, "a non-negative integer"),
                   metavar="ELEMENTS", help="no intermediate larger than this many elements")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_run_plan)


# -- chainopt run / experiment / list / report ----------------------------------
def _integer_option(low: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
        return value
    return parse


def _sizes(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    if all(part.isdecimal() and int(part) > 0 for part in parts):
        return tuple(int(part) for part in parts)
    raise argparse.ArgumentTypeError(
        f"must be comma-separated positive integers, e.g. 10,100,1000; got {text!r}")


def _add_experiment_options(p, sizes: bool) -> None:
    p.add_argument("--quick", action="store_true", help="CI-sized: small inputs, seconds")
    if sizes:
        p.add_argument("--sizes", type=_sizes, help="comma-separated sizes; what they "
                       "mean depends on the experiment (see 'chainopt list')")
    p.add_argument("--repeats", type=_integer_option(1, "a positive integer"),
                   help="timed samples per variant (default: the experiment's; at most 1000)")
    p.add_argument("--threads", type=_integer_option(1, "a positive integer"),
                   help="BLAS threads for the run, set with threadpoolctl and recorded "
                        "(default: as the BLAS starts, usually one per core)")
    p.add_argument("--seed", type=_integer_option(0, "a non-negative integer"), default=0,
                   help="random seed (default 0); the same seed gives the same inputs")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="directory for CSV, Markdown and plots (default: reports)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in DIR and measure only the rest")


def _run_experiments(names, args) -> int:
    from .bench.runner import run_experiments
    from .experiments import discover

    run_experiments(discover(), names, quick=args.quick, sizes=getattr(args, "sizes", None),
                    repeats=args.repeats, seed=args.seed, out=args.out, resume=args.resume,
                    threads=args.threads)
    return 0


def _add_run(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="the main job: run the experiment suite and write reports/",
        description="Run the default experiment suite (a few minutes; --quick: seconds) "
                    "and write CSV, Markdown and plots to reports/.")
    _add_experiment_options(p, sizes=False)
    p.set_defaults(run=lambda args: _run_experiments(None, args))


def _add_experiment(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help="run one experiment (see 'chainopt list')",
        description="Run one experiment and write its reports.")
    p.add_argument("name", metavar="NAME", help="the experiment, e.g. gram")
    _add_experiment_options(p, sizes=True)
    p.set_defaults(run=lambda args: _run_experiments([args.name], args))


def _run_list(args) -> int:
    from .bench.runner import describe
    from .experiments import discover

    print("\n".join(describe(discover())))
    return 0


def _add_list(subparsers) -> None:
    p = subparsers.add_parser("list", help="the experiments, one line each",
                              description="List the experiments, one line each.")
    p.set_defaults(run=_run_list)


def _run_report(args) -> int:
    from .bench.runner import rebuild_reports
    from .experiments import discover

    print("\n".join(rebuild_reports(discover(), args.out)))
    return 0


def _add_report(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="rebuild Markdown and plots from existing CSVs",
        description="Rebuild every report's Markdown and plot, and the index, from the "
                    "CSVs in DIR.")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="directory of the reports (default: reports)")
    p.set_defaults(run=_run_report)


# -- chainopt graph --------------------------------------------------------------
def _parse_at(items: Sequence[str]) -> dict[str, float]:
    """``["x=2", "y=3"]`` (or ``x=2,y=3``) into ``{"x": 2.0, "y": 3.0}``."""
    values: dict[str, float] = {}
    for item in (part for text in items for part in text.split(",") if part.strip()):
        name, sep, number = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier() or not number:
            raise UsageError(f"--at {_shown(item)} must be NAME=NUMBER, e.g. x=2")
        if keyword.iskeyword(name):
            raise UsageError(f"--at {_shown(item)}: {name!r} is a Python keyword and "
                             "cannot be a variable; rename it in the expression and --at")
        if name in values:
            raise UsageError(f"--at gives {name!r} twice")
        try:
            values[name] = float(number)
        except ValueError:
            raise UsageError(f"--at {_shown(item)}: {_shown(number)} is not a number") from None
        if not math.isfinite(values[name]):
            raise UsageError(f"--at {_shown(item)}: the value must be finite")
    return values


def _elimination_order(text: str):
    from .graph.elimination import ORDERS

    if text in ORDERS:
        return text
    parts = [part.strip().removeprefix("v") for part in text.split(",")]
    if all(part.isdecimal() for part in parts):
        return [_integer(part, "--eliminate vertex") for part in parts]
    raise UsageError(f"--eliminate {_shown(text)} must be one of {', '.join(ORDERS)} or "
                     "comma-separated vertex numbers, e.g. 3,5,4")


def _run_graph(args) -> int:
    from .graph import trace
    from .graph.expression import parse_expression

    values = _parse_at(args.at)
    missing = [v for v in parse_expression(args.expression).variables if v not in values]
    if missing:
        raise UsageError(f"no value for {', '.join(map(repr, missing))}; add "
                         f"{missing[0]}=NUMBER to --at")
    if not values:
        raise UsageError("the expression has no variables; give at least one with --at x=NUMBER")
    graph = trace(parse_expression(args.expression, list(values)), *values.values())
    text = graph.summary([_elimination_order(order) for order in args.eliminate])
    if args.draw:  # before printing anything, so that a failure is the only output
        text += f"\ndrawing: wrote {graph.render(args.draw)}"
    print(text)
    return 0


def _add_graph(subparsers) -> None:
    p = subparsers.add_parser(
        "graph", help="trace a formula: value, gradient, forward/reverse cost, elimination",
        description="Trace a formula into its computational graph and print its value, its "
                    "gradient (or Jacobian) and what forward and reverse mode cost. The "
                    "formula is parsed safely, never eval'ed: numbers, variables, + - * / **, "
                    "sin cos exp log tanh sigmoid maximum, and commas for several outputs.")
    p.add_argument("expression", metavar="EXPRESSION",
                   help='e.g. "x**3*(x-y)" or "x*y, sin(x*y)" (several outputs); one that '
                        'starts with - goes last, after --: ... -- "-x*y"')
    p.add_argument("--at", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                   help="the point, e.g. --at x=2 y=3 (inputs in this order; repeating "
                        "--at adds to it)")
    p.add_argument("--eliminate", nargs="+", action="extend", default=[], metavar="ORDER",
                   help="also accumulate the Jacobian by vertex elimination: forward, "
                        "reverse, markowitz, optimal, or vertex numbers like 3,5,4")
    p.add_argument("--draw", metavar="FILE",
                   help="write the graph to FILE: .dot/.gv text, or .png/.svg/.pdf with Graphviz")
    p.set_defaults(run=_run_graph)


# -- chainopt calibrate ------------------------------------------------------------
def _earlier_model(path):
    """The model already at ``path`` (None if there is none or it is damaged)."""
    from .timemodel.store import read_model

    try:
        return read_model(path) if path.exists() else None
    except ChainError:
        return None


def _calibration_report(result, budget: float) -> list[str]:
    from .timemodel.calibrate import fit_quality

    lines = [result.model.describe(), fit_quality(result.model, result.measurements,
                                                  result.verdicts), result.load.describe()]
    for kernel, verdict in result.verdicts.items():
        if verdict.endswith("poor"):
            kept = "the default's parameters" if verdict.startswith("default") else "the fit"
            lines.append(f"warning: {kernel} is predicted poorly even by {kept} (see the "
                         "errors above); calibrate again on a quiet machine")
        elif verdict == "default":
            lines.append(f"note: for {kernel} the default model predicts these measurements "
                         "better than the fit; its parameters are kept")
    measuring, fitting = result.seconds
    lines.append(f"Took {measuring + fitting:.1f} s of the {budget:g} s budget "
                 f"(measuring {measuring:.1f} s, fitting {fitting:.1f} s)")
    return lines


def _run_calibrate(args) -> int:
    import time

    started = time.perf_counter()  # the budget covers the whole command from here
    from .timemodel.store import check_writable, load_model, save_model

    if args.show:
        print(load_model().describe())
        return 0
    target = check_writable(args.output)  # before a minute of measuring
    from tqdm import tqdm

    from .timemodel.calibrate import FULL_BUDGET, QUICK_BUDGET, calibrate, should_replace

    budget = args.budget if args.budget is not None else (
        QUICK_BUDGET if args.quick else FULL_BUDGET)
    with tqdm(desc="calibrate", unit="shape", leave=False, file=sys.stderr,
              disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = calibrate(quick=args.quick, budget=budget, progress=progress, started=started)
    print("\n".join(_calibration_report(result, budget)))
    replace, reason = should_replace(result.model, _earlier_model(target))
    if replace or args.force:
        print(f"saved: {save_model(result.model, target)}")
    else:
        print(f"not saved: the machine was contended and {reason}; kept {target} (run "
              "again on a quiet machine, or pass --force to replace it)")
    return 0


def _add_calibrate(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="time the kernels on this machine and fit the time model",
        description="Time GEMM, SYRK, GEMV, DOT, outer products, diagonal scaling and the "
                    "first touch of fresh memory over a grid of shapes, fit the time model "
                    "that plan_chain(minimize='time') uses, and cache it for this machine (CPU, "
                    "BLAS and thread count). Measuring and fitting together take at most "
                    "--budget seconds (60; --quick: 3). A calibration on a contended machine "
                    "does not replace a better earlier one unless --force is given.")
    p.add_argument("--quick", action="store_true",
                   help="a small grid in a few seconds (for tests; a rough model)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="seconds of the whole calibration, fit included (default 60, "
                        "--quick 3)")
    p.add_argument("--output", metavar="FILE",
                   help="write the model here instead of the user cache directory")
    p.add_argument("--force", action="store_true",
                   help="replace the earlier model even when this machine was contended")
    p.add_argument("--show", action="store_true",
                   help="print the model that applies now, and measure nothing")
    p.set_defaults(run=_run_calibrate)


# -- chainopt jacobian -------------------------------------------------------------
def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    return [_integer(item.strip(), f"{what} entry") for item in text.split(",")]


def _run_jacobian(args) -> int:
    from .jacobians import JacobianPlan, MatrixFreePlan, plan_jacobian, plan_matrix_free

    widths = [_integer(text, "width") for text in args.widths]
    tangents = _int_list(args.tangent_costs, "--tangent-costs")
    adjoints = _int_list(args.adjoint_costs, "--adjoint-costs")
    if (tangents is None) != (adjoints is None):
        missing = "--adjoint-costs" if adjoints is None else "--tangent-costs"
        raise UsageError(f"{missing} is missing; the matrix-free plan needs both "
                         "--tangent-costs and --adjoint-costs, one per layer")
    if tangents is not None and args.kinds is not None:
        raise UsageError("--kinds is for the matrix model; with --tangent-costs give "
                         "each layer's costs directly (n for an elementwise layer)")
    plan: JacobianPlan | MatrixFreePlan
    if tangents is None or adjoints is None:
        plan = plan_jacobian(widths, _csv(args.kinds))
    else:
        plan = plan_matrix_free(widths, tangents, adjoints)
    return _show(plan, args.json)


def _add_jacobian(subparsers) -> None:
    p = subparsers.add_parser(
        "jacobian", help="forward, reverse and optimal accumulation of a Jacobian chain",
        description="Plan the Jacobian J_L ⋯ J_1 of a layered map with widths n_0 … n_L: "
                    "forward mode A(BC), reverse mode (AB)C and the optimal (often mixed) "
                    "bracketing. With --tangent-costs and --adjoint-costs, plan "
                    "matrix-free from tangent and adjoint models instead.")
    p.add_argument("widths", nargs="+", metavar="WIDTH",
                   help="n_0 n_1 … n_L, input first, e.g. 784 256 10 1")
    p.add_argument("--kinds", help="comma-separated dense/diagonal per layer, J_1 first")
    p.add_argument("--tangent-costs", metavar="T1,T2,…",
                   help="cost of one tangent (Jacobian-vector product) of each layer")
    p.add_argument("--adjoint-costs", metavar="A1,A2,…",
                   help="cost of one adjoint (vector-Jacobian product) of each layer")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_run_jacobian)


#: The subcommands, in the order ``chainopt --help`` lists them.
COMMANDS = [_add_plan, _add_run, _add_experiment, _add_list, _add_report, _add_graph,
            _add_calibrate]

COMMANDS.append(_add_jacobian)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainopt", description=(
        "Plan matrix-chain products and Jacobian accumulation: exact costs, "
        "explained, measured."))
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"chainopt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    subparsers.required = True
    for add in COMMANDS:
        add(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, without the source line."""
    text = " ".join(str(message).split())
    print(f"chainopt: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = build_parser().parse_args(argv)
            return args.run(args)
    except ChainoptError as exc:  # ChainError, ChainTypeError, MissingToolError
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
