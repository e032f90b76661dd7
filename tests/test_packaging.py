"""pyproject.toml and environment.yml list the same dependencies with the same ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
X86 = {"platform_machine": "x86_64", "sys_platform": "linux"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in meta["dependencies"] + meta["optional-dependencies"]["test"]]
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


def test_jupyter_book_stays_below_2():
    # Jupyter Book 2 downloads its theme at build time and fails offline.
    assert "<2" in _pyproject()["jupyter-book"]
