"""The package's facts as data (``replicate/data/*.toml``), read once, and the names derived from them."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from .paths import note_code

__all__ = ["load_toml", "paper", "registry", "profiles", "PAPER_DATASET"]


@cache
def load_toml(name: str) -> dict[str, Any]:
    """Parse ``replicate/data/<name>.toml`` (cached; treat the result as read-only)."""
    note_code(f"replicate/data/{name}.toml")
    text = resources.files("replicate").joinpath("data", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def paper() -> dict[str, Any]:
    """The paper's published facts: reference, model, data sizes and Table 1."""
    return load_toml("paper")


@cache
def registry() -> dict[str, dict[str, Any]]:
    """The dataset registry, name -> entry; each title with the entry's shape filled in."""
    return {name: {**info, "title": info["title"].format(**info)} for name, info in load_toml("datasets").items()}


def profiles() -> dict[str, dict[str, Any]]:
    """Run profiles, name -> {description, dataset, methods, params}."""
    return load_toml("profiles")


#: The registered name of the paper's 2,100 Table 1 cells: the paper profile's data set.
PAPER_DATASET: str = profiles()["paper"]["dataset"]
