"""Read the package's data files (paper facts, dataset registry, profiles)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_toml(name: str) -> dict[str, Any]:
    """Parse ``replicate/data/<name>.toml`` (cached; treat the result as read-only)."""
    text = resources.files("replicate").joinpath("data", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def paper() -> dict[str, Any]:
    """The paper's published facts: reference, model, data sizes and Table 1."""
    return load_toml("paper")


def registry() -> dict[str, dict[str, Any]]:
    """The dataset registry, name -> entry."""
    return load_toml("datasets")


def profiles() -> dict[str, dict[str, Any]]:
    """Run profiles, name -> {description, dataset, params}."""
    return load_toml("profiles")
