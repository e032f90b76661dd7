"""pyproject.toml and environment.yml list the same dependencies with the same ranges, and the package imports at
start-up only what its base dependencies install (``make quick`` installs no extra)."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
X86 = {"platform_machine": "x86_64", "sys_platform": "linux"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    reqs = [Requirement(r) for r in meta["dependencies"] + extras["test"] + extras["scvi"]]
    return {_norm(r.name): str(r.specifier) for r in reqs if r.marker is None or r.marker.evaluate(X86)}


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            r = Requirement(item.replace(" ", ""))
            if _norm(r.name) not in ("python", "pip"):
                out[_norm(r.name)] = str(r.specifier)
    return out


def test_environment_yml_matches_pyproject():
    assert _environment() == _pyproject()


def _installed_by(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with what they require in turn (no extras), as installed here."""
    todo, seen = [Requirement(r) for r in requirements], set()
    while todo:
        r = todo.pop()
        if _norm(r.name) in seen or (r.marker is not None and not r.marker.evaluate({**X86, "extra": ""})):
            continue
        seen.add(_norm(r.name))
        try:
            todo += [Requirement(q) for q in md.requires(r.name) or []]
        except md.PackageNotFoundError:
            pass
    return seen


def test_every_module_level_import_of_the_package_comes_with_its_base_dependencies():
    """``make quick`` installs the package without extras: a module-level import of a library that only an extra
    (DVC's, scVI's) brings breaks ``replicate`` itself (pathspec, imported by the status code, broke `make quick`
    once). Optional libraries are imported inside the functions that need them."""
    base = _installed_by(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    owners = md.packages_distributions()
    missing = []
    for path in sorted((ROOT / "replicate").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("replicate", "__future__"):
                    continue
                dists = {_norm(d) for d in owners.get(top, [top])}
                if not dists & base:
                    missing.append(f"{path.relative_to(ROOT)}: import {name} ({', '.join(sorted(dists))})")
    assert not missing, "not installed by the base dependencies:\n" + "\n".join(missing)


def test_jupyter_book_stays_below_2():
    # Jupyter Book 2 downloads its theme at build time and fails offline.
    assert "<2" in _pyproject()["jupyter-book"]


@pytest.mark.slow
def test_the_wheel_carries_the_data_files_and_works_outside_the_checkout(tmp_path):
    """`pip install .` (not editable): build the wheel, install it elsewhere, use it from there."""
    import subprocess
    import sys
    import zipfile

    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", str(ROOT),
                            "-w", str(tmp_path / "dist")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    assert "importable, but is absent" not in build.stderr and "not listed" not in build.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for toml in ("paper", "datasets", "grids", "claims", "profiles", "stability"):
        assert f"replicate/data/{toml}.toml" in names
    for folder in ("io", "method", "grid", "paper", "studies", "publish", "publish/pages"):
        assert f"replicate/{folder}/__init__.py" in names, folder
    assert not any(n.startswith(("tests/", "notebooks/", "book/", "results/")) for n in names)
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                              str(target), str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    code = ("import replicate, replicate.paper.claims as c, replicate.paper.table1 as r; "
            "print(replicate.__file__); print(len(r.paper_table1()), len(c.rules()))")
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert used.returncode == 0, used.stderr[-2000:]
    where, counts = used.stdout.split()[0], used.stdout.split()[1:]
    assert where.startswith(str(target)) and counts == ["13", "9"]


def test_the_published_site_has_the_repository_link_and_the_graph_status():
    root = Path(__file__).resolve().parents[1]
    flow = yaml.safe_load((root / ".github" / "workflows" / "pages.yml").read_text())
    steps = flow["jobs"]["build"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert '--repository "${{ github.server_url }}/${{ github.repository }}"' in script
    assert '".[reproduce]"' in script  # DVC, for the status table of the reproducibility page
    assert steps[0]["with"]["fetch-depth"] == 0  # the commit that made each result
