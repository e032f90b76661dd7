"""Figures, scanpy style: AnnData (or a results table) first, a matplotlib Figure back.

The figures themselves live in :mod:`replicate.plots` (colour-blind-safe palette, labelled axes);
these are the public entry points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import plots
from .errors import ParameterError

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure

__all__ = ["loss_curves", "latent", "contingency", "grid_heatmaps"]


def loss_curves(data: AnnData | pd.DataFrame, *, key: str = "X_vae") -> Figure:
    """Per-epoch reconstruction and KL terms: from ``adata.uns[key]["history"]`` (written by
    :func:`replicate.tl.vae`) or from a long table with columns seed, epoch, reconstruction, kl."""
    if isinstance(data, pd.DataFrame):
        return plots.loss_curves(data)
    if key not in data.uns or "history" not in data.uns[key]:
        raise ParameterError(f"adata.uns[{key!r}]['history'] is missing; run rp.tl.vae(adata, key_added={key!r}) first.")
    history = pd.DataFrame({k: np.asarray(v) for k, v in data.uns[key]["history"].items()})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history.insert(0, "seed", data.uns[key].get("params", {}).get("seed", 0))
    return plots.loss_curves(history)


def latent(adata: AnnData, *, use_rep: str = "X_vae", color: str = "label") -> Figure:
    """UMAP of a representation (default the VAE's latent means), coloured by an ``obs`` column."""
    if use_rep not in adata.obsm:
        raise ParameterError(f"use_rep = {use_rep!r} is not in adata.obsm; run rp.tl.vae(adata) first.")
    if color not in adata.obs:
        raise ParameterError(f"color = {color!r} is not a column of adata.obs; columns: {', '.join(adata.obs.columns)}.")
    return plots.latent_umap(adata, rep=use_rep, color=color)


def contingency(adata: AnnData, key: str, *, label_key: str = "label", title: str = "") -> Figure:
    """Cells per (true label, cluster in ``obs[key]``), clusters ordered by their best-matching label."""
    for name in (key, label_key):
        if name not in adata.obs:
            raise ParameterError(f"{name!r} is not a column of adata.obs; columns: {', '.join(adata.obs.columns)}.")
    return plots.contingency(adata.obs[label_key].astype(str).to_numpy(), adata.obs[key].astype(str).to_numpy(),
                             title=title or f"{label_key} vs {key}")


def grid_heatmaps(results: pd.DataFrame, method: str) -> Any:
    """CA / NMI / ARI over a method's grid (a results table of :func:`replicate.execution.run`)."""
    return plots.grid_heatmaps(results, method)
