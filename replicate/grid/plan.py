"""Planning a grid: a method's settings (``replicate/data/grids.toml``), thinned or whole, and the
cells of a run (embedding x method x setting), each with a content key.

A cell's key is a content key of the embedding's bytes, the labels, the method, the setting, the
cluster count, the random_state and the 0.24.1 settings: renaming an embedding recomputes
nothing, changing any input recomputes that cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np

from ..io import numerics, store
from ..io.errors import ParameterError
from ..method.clustering import (
    PAPER_METHODS,
    check_inputs,
    check_params,
    check_seed,
    method_info,
    paper_setting,
    sklearn_0241_kwargs,
)

__all__ = ["GRID_CHOICES", "Cell", "grid_label", "expand_grid", "parse_grid", "plan"]

#: What the ``grid`` parameter may be, in words (its rule is :func:`parse_grid`).
GRID_CHOICES = "'full', 'paper' (the paper's setting only) or an integer n >= 1 (every n-th setting)"

KEY_VERSION = "clustering-cell/v1"


def cell_code() -> str:
    """The code that computes a grid cell (:func:`replicate.method.cells.run_cell` and what it imports): part
    of every cell's key, so an edit of the clusterers is never answered from an older cell."""
    return store.code_hash("method.cells")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"



def grid_label(thin: int | str | None = None) -> str:
    """What the ``grid`` column says for a thinning: ``full``, ``thinned:every-3rd+paper`` or ``paper-setting``."""
    if thin is None or thin == 1:
        return "full"
    if thin == "paper":
        return "paper-setting"
    if isinstance(thin, Integral) and not isinstance(thin, bool) and thin > 1:
        return f"thinned:every-{_ordinal(int(thin))}+paper"
    raise ParameterError(f"thin = {thin!r} is invalid: use None (full grid), an integer >= 1 "
                         "(keep every n-th cell) or 'paper' (only the paper's setting).")



def expand_grid(method: str, thin: int | str | None = None) -> list[dict[str, Any]]:
    """The grid of ``method`` as a list of parameter dicts, in the file's order.

    ``thin=n`` keeps every n-th cell **plus the paper's setting** (Table 1 needs it);
    ``thin="paper"`` keeps only the paper's setting. Whatever is kept, :func:`grid_label` names it,
    and the runner writes that name into every row, so a thinned grid is never mistaken for the full one.
    """
    label = grid_label(thin)
    info = method_info(method)
    cells: list[dict[str, Any]] = []
    for sub in info["grid"]:
        names = list(sub)
        for values in itertools.product(*(sub[n] for n in names)):
            cells.append(dict(zip(names, values)))
    if not cells:
        raise ParameterError(f"the grid of method {method!r} is empty; check replicate/data/grids.toml.")
    choice = paper_setting(method)
    if label == "full":
        return cells
    if label == "paper-setting":
        return [choice]
    kept = cells[:: int(thin)]  # type: ignore[arg-type]
    if choice not in kept:
        kept.append(choice)
    return kept



def parse_grid(grid: Any) -> int | str | None:
    """The ``grid`` parameter as :func:`expand_grid`'s ``thin``: ``"full"`` -> every cell (None);
    ``"paper"`` -> the paper's setting only; an integer n -> every n-th cell plus the paper's setting.

    The one rule for the parameter: the notebooks' checks (:mod:`replicate.publish.params`) call it.
    """
    if grid == "full":
        return None
    if grid == "paper" or (isinstance(grid, int) and not isinstance(grid, bool) and grid >= 1):
        return grid
    raise ParameterError(f"parameter grid = {grid!r} is invalid: expected {GRID_CHOICES}.")


@dataclass(frozen=True)
class Cell:
    """One unit of work: a setting of a method on a named embedding."""

    key: str
    dataset: str
    embedding: str
    method: str
    params: dict[str, Any] = field(hash=False)
    grid: str
    n_clusters: int
    random_state: int



def _thin_for(thin: int | str | Mapping[str, int | str | None] | None, method: str) -> int | str | None:
    return thin.get(method) if isinstance(thin, Mapping) else thin



def plan(embeddings: Mapping[str, Any], labels: Any, *, dataset: str = "",
         methods: Sequence[str] = PAPER_METHODS, thin: int | str | Mapping[str, Any] | None = None,
         n_clusters: int | None = None, random_state: int = 0,
         settings: Mapping[str, Sequence[dict[str, Any]]] | None = None) -> list[Cell]:
    """Every cell of a run, validated before any work starts (ParameterError on bad input).

    embeddings
        name -> cells x dims matrix, e.g. ``{"vae_seed=0": mu0, "pca32": P}``.
    labels
        the true labels (one per cell, shared by all embeddings).
    methods, thin
        which grids; ``thin`` (int, ``"paper"``, or a per-method dict) thins them, and the
        ``grid`` column records it (see :func:`expand_grid`).
    n_clusters
        the count given to count-taking methods; default the number of distinct labels.
    settings
        method -> explicit list of settings, instead of the grid (``grid`` column: ``custom``).
    """
    if not embeddings:
        raise ParameterError("embeddings is empty: give at least one name -> matrix.")
    if not methods:
        raise ParameterError("methods is empty: give at least one of the methods in replicate/data/grids.toml.")
    check_seed(random_state)
    labels = np.asarray(labels)
    k = int(len(np.unique(labels))) if n_clusters is None else n_clusters
    label_hash = store.array_hash(labels.astype(str))
    cells: list[Cell] = []
    for name, Z in embeddings.items():
        Z, _ = check_inputs(Z, labels, k)
        z_hash = store.array_hash(Z)
        for method in methods:
            method_info(method)
            if settings is not None and method in settings:
                grid, label = [dict(p) for p in settings[method]], "custom"
                if not grid:
                    raise ParameterError(f"settings[{method!r}] is an empty grid: give at least one setting.")
            else:
                t = _thin_for(thin, method)
                grid, label = expand_grid(method, t), grid_label(t)
            for params in grid:
                check_params(method, params, Z.shape[0])
                key = store.content_key(KEY_VERSION, cell_code(), numerics.effective(), z_hash, label_hash, method, params, k,
                                        random_state, sklearn_0241_kwargs(method))
                cells.append(Cell(key, dataset, str(name), method, params, label, k, random_state))
    return cells

