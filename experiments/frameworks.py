"""``frameworks``: chainopt.jax and chainopt.torch against jacrev and jacfwd.

tanh MLPs (affine stages with a tanh stage between consecutive ones), for
each width w in ``--sizes`` (w = 1000 gives the networks issue 13 names):

- ``hourglass`` w-w-10-w-w and ``bottleneck`` 2w-2w-4-2w-2w: a mixed order
  through the waist beats both modes (targets: ≥ 20× and ≥ 30× faster than
  the better of jitted ``jacrev`` and ``jacfwd``, in JAX);
- ``scalar-output`` w-w/2-w/10-1, ``wide-output`` 3-w/20-2w/5-2w and
  ``square`` w/2-w/2-w/2-w/2: plain networks, where the optimum is a mode
  (target: never more than 10% slower than the better mode).

(``--quick`` measures only the hourglass and the square.) Each network,
in float32 and float64, is differentiated at one point by
``jax.jit(chainopt.jax.jacobian_fn(stages))``, ``jax.jit(jax.jacrev(f))``
and ``jax.jit(jax.jacfwd(f))`` and, when torch is installed, by
``chainopt.torch.jacobian_fn(model)``, ``torch.func.jacrev`` and
``torch.func.jacfwd`` (eager) on the same weights, interleaved. Every
result is checked against JAX's ``jacrev`` before timing (relative
Frobenius difference at most 1e-4 in float32, 1e-10 in float64).

Columns of ``frameworks.csv`` (one row per network, dtype, framework and
method, plus the runner's timing columns):

- ``profile`` (str): the network's name, as above.
- ``width`` (int): w.
- ``widths`` (str): the affine layers' widths n_0-…-n_L.
- ``threads`` (str): the threads XLA and torch ran with (``xla 1`` when
  ``XLA_FLAGS`` holds ``--xla_cpu_multi_thread_eigen=false
  intra_op_parallelism_threads=1``; torch's from ``torch.get_num_threads()``,
  which ``OMP_NUM_THREADS`` sets).
- ``dtype`` (str): ``float32`` or ``float64``.
- ``framework`` (str): ``jax`` or ``torch``.
- ``method`` (str): ``chainopt`` (the optimal schedule), ``jacrev`` or
  ``jacfwd``; in JAX on the hourglass and the bottleneck also
  ``hand-written``: the mixed order written by hand (``vmap(vjp)`` of the
  identity from the waist back, ``vmap(jvp)`` from it on, one product), the
  best alternative to chainopt's plan we know.
- ``plan_mode`` (str): the schedule chainopt's plan chose (``forward``,
  ``reverse`` or ``mixed``), the same in every row of a network.
- ``predicted`` (int): the multiply-adds the method takes by the
  framework's own per-stage costs (chainopt's plan: its optimum, forward
  mode and reverse mode).
- ``setup_s`` (float): the first call, seconds: planning and compiling
  (JAX), planning (chainopt.torch), or nothing but the call itself.
- ``plan_s`` (float): chainopt's planning alone (cost analysis of every
  stage and the DP), seconds; 0 for jacrev and jacfwd.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time

import numpy as np

from chainopt.bench.claims import difference, percent, ratio_text, target
from chainopt.bench.experiment import Case, Column, Experiment, Settings, Variant

PROFILES = {
    "hourglass": lambda w: (w, w, 10, w, w),
    "bottleneck": lambda w: (2 * w, 2 * w, 4, 2 * w, 2 * w),
    "scalar-output": lambda w: (w, max(1, w // 2), max(1, w // 10), 1),
    "wide-output": lambda w: (3, max(1, w // 20), max(1, 2 * w // 5), 2 * w),
    "square": lambda w: (max(1, w // 2),) * 4,
}
DTYPES = ("float32", "float64")
METHODS = ("chainopt", "jacrev", "jacfwd")
#: Also timed on the hourglass and the bottleneck, in JAX: the mixed order by hand.
HAND = "hand-written"

#: Issue 13's targets: the better jitted mode over chainopt, in JAX, at w = 1000.
TARGETS = {"hourglass": 20.0, "bottleneck": 30.0}
TARGET_WIDTH = 1000
PLAIN_TOLERANCE = 0.10
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}

HAVE_JAX = importlib.util.find_spec("jax") is not None
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _network(settings: Settings, profile: str, width: int):
    """Weights, biases and the point, in float64 NumPy."""
    widths = PROFILES[profile](width)
    rng = settings.rng(list(PROFILES).index(profile), width)
    weights = [rng.standard_normal((m, n)) / np.sqrt(n) for n, m in zip(widths, widths[1:])]
    biases = [0.1 * rng.standard_normal(m) for m in widths[1:]]
    return widths, weights, biases, rng.uniform(-1, 1, widths[0])


def _x64(dtype: str):
    import jax

    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _jax_variants(weights, biases, x, dtype: str) -> list[tuple[dict, object, object]]:
    import jax
    import jax.numpy as jnp

    import chainopt.jax
    from chainopt.jacobians.stages import compose

    with _x64(dtype):
        Ws = [jnp.asarray(W, dtype=dtype) for W in weights]
        bs = [jnp.asarray(b, dtype=dtype) for b in biases]
        stages = []
        for i, (W, b) in enumerate(zip(Ws, bs)):
            stages += [lambda h, W=W, b=b: W @ h + b] + ([jnp.tanh] if i < len(Ws) - 1 else [])
        point = jnp.asarray(x, dtype=dtype)
        plan, plan_s = _timed(lambda: chainopt.jax.plan(stages, point))

        composed = compose(stages)
        functions = {"chainopt": chainopt.jax.jacobian_fn(stages),
                     "jacrev": jax.jacrev(composed), "jacfwd": jax.jacfwd(composed)}
        if len(Ws) == 4 and Ws[1].shape[0] < Ws[0].shape[0]:  # a waist after layer 2
            functions["hand-written"] = _through_the_waist(stages[:4], stages[4:],
                                                           Ws[1].shape[0])
    out = []
    for method, fn in functions.items():
        jitted = jax.jit(fn)

        def run(jitted=jitted):
            with _x64(dtype):
                return jitted(point).block_until_ready()

        result, setup_s = _timed(run)
        out.append((_values("jax", method, plan, setup_s, plan_s), run, result))
    return out


def _through_the_waist(left, right, waist: int):
    """The mixed order written by hand: adjoints from the waist back, tangents on."""
    import jax
    import jax.numpy as jnp

    from chainopt.jacobians.stages import compose

    def jac(x):
        z, pullback = jax.vjp(compose(left), x)
        eye = jnp.eye(waist, dtype=x.dtype)
        rows = jax.vmap(pullback)(eye)[0]
        columns = jax.vmap(lambda v: jax.jvp(compose(right), (z,), (v,))[1], out_axes=1)(eye)
        return columns @ rows

    return jac


def _torch_variants(weights, biases, x, dtype: str) -> list[tuple[dict, object, object]]:
    import torch

    import chainopt.torch

    tdtype = getattr(torch, dtype)
    layers = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=tdtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear] + ([torch.nn.Tanh()] if i < len(weights) - 1 else [])
    model = torch.nn.Sequential(*layers).requires_grad_(False)
    point = torch.from_numpy(x).to(tdtype)
    plan, plan_s = _timed(lambda: chainopt.torch.plan(model, point))
    functions = {"chainopt": chainopt.torch.jacobian_fn(model),
                 "jacrev": torch.func.jacrev(model), "jacfwd": torch.func.jacfwd(model)}
    out = []
    for method, fn in functions.items():
        def run(fn=fn):
            return fn(point)

        result, setup_s = _timed(run)
        out.append((_values("torch", method, plan, setup_s, plan_s), run, result.numpy()))
    return out


def _values(framework: str, method: str, plan, setup_s: float, plan_s: float) -> dict:
    predicted = {"chainopt": plan.cost, "jacrev": plan.reverse_cost,
                 "jacfwd": plan.forward_cost, "hand-written": plan.cost}[method]
    return {"framework": framework, "method": method, "plan_mode": plan.mode,
            "predicted": predicted, "setup_s": setup_s,
            "plan_s": plan_s if method == "chainopt" else 0.0}


def _check_equal(found, dtype: str, where: str) -> None:
    """Every result against the first (JAX's jacrev is second: any will do)."""
    reference = np.asarray(found[0][2], dtype=np.float64)
    scale = float(np.linalg.norm(reference))
    for values, _, result in found[1:]:
        error = float(np.linalg.norm(np.asarray(result, dtype=np.float64) - reference)) / scale
        if not error <= TOLERANCE[dtype]:
            raise RuntimeError(f"frameworks {where}: {values['framework']} {values['method']} "
                               f"differs from jax chainopt by {error:.2g} (relative)")


def _variants(settings: Settings, profile: str, width: int, dtype: str) -> list[Variant]:
    _, weights, biases, x = _network(settings, profile, width)
    found = _jax_variants(weights, biases, x, dtype)
    if HAVE_TORCH:
        found += _torch_variants(weights, biases, x, dtype)
    _check_equal(found, dtype, f"{profile} w={width} {dtype}")
    return [Variant(values, run) for values, run, _ in found]


#: --quick measures these profiles only (each JAX case compiles about 10 programs).
QUICK_PROFILES = ("hourglass", "square")


def _threads() -> str:
    """The threads XLA and torch use, as set by XLA_FLAGS and torch's default."""
    flags = os.environ.get("XLA_FLAGS", "")
    xla = ("1" if "intra_op_parallelism_threads=1" in flags
           and "xla_cpu_multi_thread_eigen=false" in flags else f"{os.cpu_count()} (all)")
    if not HAVE_TORCH:
        return f"xla {xla}"
    import torch

    return f"xla {xla}, torch {torch.get_num_threads()}"


def cases(settings: Settings):
    threads = _threads()
    for width in settings.sizes:
        for profile in QUICK_PROFILES if settings.quick else PROFILES:
            for dtype in DTYPES:
                params = {"profile": profile, "width": width, "dtype": dtype,
                          "widths": "-".join(map(str, PROFILES[profile](width))),
                          "threads": threads}
                yield Case(params, lambda p=profile, w=width, d=dtype: _variants(settings, p, w, d),
                           compare=False)


# -- analysis -----------------------------------------------------------------
def per_network(frame):
    """One row per network and dtype: every method's time, and the ratios."""
    index = ["profile", "width", "widths", "dtype", "threads"]
    frame = frame.assign(column=frame["framework"] + " " + frame["method"])
    wide = frame.pivot_table(index=index, columns="column", aggfunc="first",
                             values=["time_median_s", "setup_s", "plan_s", "predicted"])
    out = wide.index.to_frame(index=False)
    out["plan_mode"] = frame.groupby(index, sort=True)["plan_mode"].first().to_numpy()
    out["predicted better mode / optimal"] = (
        np.minimum(wide["predicted", "jax jacrev"], wide["predicted", "jax jacfwd"])
        / wide["predicted", "jax chainopt"]).to_numpy()
    for framework in ("jax", "torch"):
        if f"{framework} chainopt" not in wide["time_median_s"]:
            continue
        times = wide["time_median_s"]
        for method in (*METHODS, HAND):
            if f"{framework} {method}" in times:
                out[f"{framework} {method} ms"] = 1e3 * times[f"{framework} {method}"].to_numpy()
        better = np.minimum(times[f"{framework} jacrev"], times[f"{framework} jacfwd"])
        out[f"{framework}: better mode / chainopt"] = (
            better / times[f"{framework} chainopt"]).to_numpy()
        if f"{framework} {HAND}" in times:
            out[f"{framework}: better mode / {HAND}"] = (
                better / times[f"{framework} {HAND}"]).to_numpy()
        out[f"{framework} plan s"] = wide["plan_s", f"{framework} chainopt"].to_numpy()
        out[f"{framework} first call s"] = wide["setup_s", f"{framework} chainopt"].to_numpy()
    order = {p: i for i, p in enumerate(PROFILES)}
    out = out.assign(_order=out["profile"].map(order))
    return out.sort_values(["width", "dtype", "_order"]).drop(columns="_order").reset_index(
        drop=True)


def summarize(frame):
    return per_network(frame)


def _target_sentence(table, frame) -> str:
    parts = []
    for profile, goal in TARGETS.items():
        for _, row in table[table["profile"] == profile].iterrows():
            ratio = row["jax: better mode / chainopt"]
            verdict = target(frame, f"≥ {goal:.0f}×", ratio >= goal,
                             covered=bool(row["width"] == TARGET_WIDTH))
            parts.append(f"{profile} {row['widths']} {row['dtype']}: {ratio_text(ratio)} faster"
                         + (f" ({verdict})" if verdict else ""))
    return ("In JAX, chainopt against the better of jitted jacrev and jacfwd: "
            + "; ".join(parts) + ".")


def _plain_sentence(frame) -> str:
    """The plain network where chainopt came out worst against the better mode."""
    plain = frame[(frame["framework"] == "jax") & ~frame["profile"].isin(list(TARGETS))]
    worst = None
    for (profile, widths, dtype, _), rows in plain.groupby(["profile", "widths", "dtype",
                                                             "threads"]):
        by = rows.set_index("method")
        better = min((by.loc["jacrev"], by.loc["jacfwd"]), key=lambda r: r["time_median_s"])
        slowdown = by.loc["chainopt", "time_median_s"] / better["time_median_s"] - 1
        if worst is None or slowdown > worst[0]:
            change = difference(by.loc["chainopt"], better)
            worst = (slowdown, f"{profile} {widths} {dtype}", change)
    if worst is None:
        return ""
    slowdown, name, change = worst
    verdict = target(frame, f"≤ {percent(PLAIN_TOLERANCE)} slower",
                     slowdown <= PLAIN_TOLERANCE or change == "no measurable difference")
    return (f" On the plain networks, where the plan is a mode and chainopt runs that mode, "
            f"its worst case ({name}) was {change} against the better mode"
            f"{f' ({verdict})' if verdict else ''}.")


def _torch_sentence(table) -> str:
    if "torch: better mode / chainopt" not in table:
        return ""
    parts = [f"{row['profile']} {row['dtype']} {ratio_text(row['torch: better mode / chainopt'])}"
             for _, row in table[table["profile"].isin(list(TARGETS))].iterrows()]
    return " PyTorch (eager), chainopt against the better of torch.func's modes: " + \
        "; ".join(parts) + "."


def conclude(frame) -> str:
    table = per_network(frame)
    threads = "; ".join(sorted(set(table["threads"])))
    return (f"Threads: {threads}. " + _target_sentence(table, frame) + _plain_sentence(frame)
            + _torch_sentence(table)).strip()


def plot(frame, figure) -> None:
    """Time per network for every framework and method (log scale)."""
    table = per_network(frame)
    labels = [f"{r.profile}\n{r.dtype}" for r in table.itertuples()]
    columns = [c for c in table.columns if c.endswith(" ms")]
    axes = figure.subplots()
    x = np.arange(len(table))
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        axes.bar(x + (i - len(columns) / 2 + 0.5) * width, table[column], width,
                 label=column.removesuffix(" ms"))
    axes.set(yscale="log", ylabel="median time (ms)",
             title="Jacobians of tanh MLPs: chainopt's schedule vs jacrev and jacfwd")
    axes.set_xticks(x, labels, fontsize=7)
    axes.legend(fontsize="x-small", ncol=2)


EXPERIMENT = Experiment(
    name="frameworks",
    title="frameworks: chainopt.jax and chainopt.torch against jacrev and jacfwd",
    summary="Jacobians of JAX and PyTorch tanh MLPs (hourglass, bottleneck, plain): "
            "chainopt's plan against jitted jacrev/jacfwd and torch.func's",
    case_columns=(
        Column("profile", "str", "hourglass, bottleneck, scalar-output, wide-output or square"),
        Column("width", "int", "the width w the profile is built from"),
        Column("dtype", "str", "float32 or float64"),
        Column("widths", "str", "the affine layers' widths n_0-…-n_L"),
        Column("threads", "str", "threads of XLA (1 with XLA_FLAGS=--xla_cpu_multi_thread_eigen="
               "false intra_op_parallelism_threads=1) and torch"),
    ),
    variant_columns=(
        Column("framework", "str", "jax or torch"),
        Column("method", "str", "chainopt, jacrev, jacfwd or hand-written"),
        Column("plan_mode", "str", "the schedule chainopt chose: forward, reverse or mixed"),
        Column("predicted", "int", "multiply-adds of the method by the framework's "
               "per-stage costs"),
        Column("setup_s", "float", "first call (planning and compiling), seconds"),
        Column("plan_s", "float", "chainopt's planning alone, seconds (0 for the modes)"),
    ),
    cases=cases,
    summarize=summarize,
    conclude=conclude,
    plot=plot,
    sizes=(1000,),
    quick_sizes=(40,),
    sizes_help="widths w of the profiles (w-w-10-w-w is the hourglass)",
    size_range=(10, 2000),
    repeats=7,
    notes=(
        "All JAX methods run jitted (jax.jit), torch's eagerly; every time is the median per "
        "call after the first (compile) call, which is reported apart with chainopt's "
        "planning time (plan s: XLA's compiled cost analysis of every stage, then the DP). "
        "`better mode / chainopt` is min(jacrev, jacfwd) over chainopt's time, per framework. "
        "XLA and torch use every core unless told otherwise (XLA_FLAGS, torch threads); the "
        "machine's load is in the report's environment. Issue 13's targets, in JAX at "
        "w = 1000: hourglass ≥ 20×, bottleneck ≥ 30×, plain networks ≤ 10% slower than the "
        "better mode."
    ),
    in_suite=HAVE_JAX,
)
