"""The house: one-way layers, no import cycles, a light import, a clean wheel.

Every import between chainopt's modules (at module level or inside a
function) must point down the layers below; a new module gets a layer here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import chainopt

PACKAGE = Path(chainopt.__file__).parent
ROOT = PACKAGE.parent

#: Layers, bottom up: a module may import only from its own layer or below.
#: A key names a module or a whole subpackage (its longest prefix wins).
LAYERS = {
    "chainopt._version": 0,
    "chainopt._aliases": 0,
    "chainopt.errors": 0,
    "chainopt.validation": 1,
    "chainopt.machine": 1,
    "chainopt.elementwise": 1,
    "chainopt.trees": 2,
    "chainopt.costs": 2,
    "chainopt.planners": 3,
    "chainopt.hushing": 3,
    "chainopt.kernels": 4,
    "chainopt.timemodel": 5,
    "chainopt.explain": 5,
    "chainopt.dispatch": 5,
    "chainopt.plan": 6,
    "chainopt.multidot": 7,
    "chainopt.jacobians": 8,
    "chainopt.jax": 8,
    "chainopt.torch": 8,
    "chainopt.graph": 8,
    "chainopt.bench": 9,
    "chainopt.experiments": 10,
    "chainopt.cli": 11,
    "chainopt.__main__": 12,
    "chainopt": 12,  # the package's __init__: it loads the public names lazily
}


def module_files():
    yield from ((f"chainopt.{p.relative_to(PACKAGE).with_suffix('').as_posix()}"
                 .replace("/", ".").removesuffix(".__init__"), p)
                for p in sorted(PACKAGE.rglob("*.py")))
    for p in sorted((ROOT / "experiments").glob("*.py")):
        yield f"chainopt.experiments.{p.stem}".removesuffix(".__init__"), p


MODULES = dict(module_files())


def resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The chainopt modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("chainopt")]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("chainopt"):
        return []
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
            for a in node.names]


def imports() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(resolve(module, node, path.name == "__init__.py"))
        graph[module] = {t for t in found if t in MODULES and t != module}
    return graph


def layer(module: str) -> int:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_architecture.py")


def test_every_import_points_down_the_layers():
    for module, targets in imports().items():
        for target in targets:
            if target == "chainopt" and module.startswith("chainopt.experiments."):
                continue  # experiments use the public API, like any user
            if module.startswith(target + "."):
                raise AssertionError(f"{module} imports its own package {target}; "
                                     "import the sibling module instead")
            assert layer(target) <= layer(module), f"{module} imports {target}, a layer above it"


def test_no_import_cycles():
    graph = imports()
    state: dict[str, int] = {}
    for start in graph:  # iterative depth-first search, colouring nodes
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)


def run_python(code: str, cwd=None) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, check=True)
    return done.stdout


def test_import_chainopt_is_light():
    heavy = ["scipy", "pandas", "matplotlib", "jax", "torch", "dask", "tqdm", "threadpoolctl"]
    out = run_python(f"""
        import sys, chainopt
        chainopt.plan_chain([(3, 4), (4, 5), (5, 2)])
        chainopt.multi_dot
        print(sorted(m for m in {heavy!r} if m in sys.modules))
        print("chainopt.timemodel" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["[]", "False"]


def test_the_public_api_and_old_module_paths():
    for name in chainopt.__all__:
        assert getattr(chainopt, name) is not None
    out = run_python("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from chainopt.layers import Affine
        import chainopt.jacobians.layers as new
        print(Affine is new.Affine, caught[0].category.__name__, caught[0].message)
    """)
    assert out.startswith("True DeprecationWarning chainopt.layers moved to chainopt.jacobians.")


def test_chainopt_list_works_beside_a_users_own_experiments_package(tmp_path):
    own = tmp_path / "experiments"
    own.mkdir()
    (own / "__init__.py").write_text("raise ImportError('the user experiments package ran')\n")
    done = subprocess.run([sys.executable, "-m", "chainopt", "list"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert "gram" in names and "user experiments" not in done.stderr


def test_the_version_has_one_source():
    from chainopt._version import __version__

    assert chainopt.__version__ == __version__
    assert "version = " not in (ROOT / "pyproject.toml").read_text().split("[project]")[1] \
        .split("[")[0].replace("dynamic", "")


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_a_built_wheel_holds_only_chainopt(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("chainopt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"chainopt", wheel.name.split("-py")[0]
                                                       .replace("chainopt-", "chainopt-", 1)
                                                       + ".dist-info"}
    assert "chainopt/experiments/gram.py" in names and "chainopt/py.typed" in names
    assert any(name.endswith("licenses/LICENSE") for name in names)
