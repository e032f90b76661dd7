"""The package as a map of the method: folders that follow the data, measured from the source.

A lower folder never imports a higher one; no import cycles; no private name used outside its
module; modules and functions small; imports at module level (TensorFlow, Keras, JAX, PyTorch, scVI and
Playwright excepted: optional or heavy, imported where they are used); a test file per module;
the README's table and the package docstring name every module.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "replicate"
#: Folders from the lowest to the highest; "" is the face (pp, tl, pl, cli).
LAYERS = ("io", "method", "grid", "paper", "studies", "publish", "")
#: Folders of the face itself (the top level): a section's tables, which train and cluster through ``tl``.
FACE = ("sections",)
#: Imports allowed inside functions: optional or heavy dependencies, loaded only where used.
# threadpoolctl: io/numerics reads the loaded BLAS only when asked; it moves to module level at the next edit
# of io/numerics.py (every step of the study graph loads that file, so editing it stales them all)
DEFERRED = ("tensorflow", "keras", "scvi", "lightning", "torch", "jax", "playwright", "threadpoolctl")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    folder = parts[1] if len(parts) > 2 else ""
    return LAYERS.index("" if folder in FACE else folder)


def _target(module: str, path: Path, node: ast.ImportFrom, alias: str) -> str:
    """The package module an import names (a submodule if it is one, else the module it is taken from)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
    target = ".".join(base + ([node.module] if node.module else []))
    return f"{target}.{alias}" if f"{target}.{alias}" in _modules() else target


@cache
def _imports() -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported package module, name)}."""
    out: dict[str, set[tuple[str, str]]] = {}
    for module, path in _modules().items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("replicate")):
                found |= {(_target(module, path, node, a.name), a.name) for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {(a.name, "") for a in node.names if a.name.startswith("replicate")}
        out[module] = {(t, n) for t, n in found if t in _modules() and t != module}
    return out


def test_a_lower_folder_never_imports_a_higher_one():
    upward = [(m, t) for m, targets in _imports().items() if m != "replicate"
              for t, _ in targets if t != "replicate" and _layer(t) > _layer(m)]
    assert not upward, upward


def test_no_import_cycles():
    graph = {m: {t for t, _ in targets} for m, targets in _imports().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_no_private_name_is_used_outside_its_module():
    private = [(m, t, n) for m, targets in _imports().items() for t, n in targets
               if n.startswith("_") and not n.startswith("__")]
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id not in ("self", "cls")):
                private.append((module, node.value.id, node.attr))
    assert not private, private


def _body_lines(node: ast.FunctionDef) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring does not count
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_modules_and_functions_are_small():
    long_modules = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    long_functions = {}
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) > MAX_FUNCTION_LINES:
                long_functions[f"{module}.{node.name}"] = _body_lines(node)
    assert not long_modules and not long_functions, (long_modules, long_functions)


def test_imports_are_at_module_level_but_the_deferred_ones():
    inside = []
    for module, path in _modules().items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else
                         ["(relative)"] if isinstance(node, ast.ImportFrom) else [])
                inside += [(module, fn.name, n) for n in names if n.split(".")[0] not in DEFERRED]
    assert not inside, inside


def _public_modules() -> list[str]:
    return [m for m, p in _modules().items() if p.name != "__init__.py"]


def test_every_module_has_a_test_file_that_mirrors_it():
    missing = []
    for module in _public_modules():
        parts = module.split(".")[1:]
        test = ROOT / "tests" / Path(*parts[:-1]) / f"test_{parts[-1]}.py"
        if not test.is_file():
            missing.append(str(test.relative_to(ROOT)))
    assert not missing, missing


def test_the_readme_and_the_package_docstring_describe_every_module():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### The package"):readme.index("## Running")]
    docstring = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    for module in _public_modules():
        parts = module.split(".")
        name = parts[-1]
        if len(parts) == 2:  # the face
            assert f"`{name}`" in table and f"``{name}``" in docstring, name
            continue
        folder = parts[1]
        row = next(line for line in table.splitlines() if line.startswith(f"| `{folder}/`"))
        assert re.search(rf"`{name}`|`{parts[-2]}/`", row), (module, row)
        assert f"``{folder}``" in docstring, folder
