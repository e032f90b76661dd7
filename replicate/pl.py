"""Figures, scanpy style: AnnData (or a results table) first, options keyword-only, a Figure back.

Every function only draws -- it reads what the tools wrote (a UMAP is :func:`replicate.tl.umap`'s
or scanpy's) and changes nothing -- takes ``ax`` (draw into your own Axes) and ``show`` (call
``plt.show()``), and returns the :class:`~matplotlib.figure.Figure`. The drawing itself is
:mod:`replicate.publish.figures` (colour-blind-safe palette, labelled axes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.figure import Figure

from .io.errors import ParameterError
from .publish import figures

__all__ = ["loss_curves", "latent", "contingency", "grid_heatmaps", "label_counts"]


def _columns(adata: AnnData, *names: str) -> None:
    for name in names:
        if name not in adata.obs:
            raise ParameterError(f"{name!r} is not a column of adata.obs; columns: {', '.join(adata.obs.columns)}.")


def loss_curves(data: AnnData | pd.DataFrame, *, key: str = "X_vae", ax: Any = None,
                show: bool | None = None) -> Figure:
    """Per-epoch reconstruction and KL terms (two panels: ``ax`` is a pair of Axes): from
    ``adata.uns[key]["history"]`` (written by :func:`replicate.tl.vae`) or from a long table with
    columns seed, epoch, reconstruction, kl."""
    if isinstance(data, pd.DataFrame):
        return figures.loss_curves(data, ax=ax, show=show)
    if key not in data.uns or "history" not in data.uns[key]:
        raise ParameterError(f"adata.uns[{key!r}]['history'] is missing; run rp.tl.vae(adata, key_added={key!r}) first.")
    history = pd.DataFrame({k: np.asarray(v) for k, v in data.uns[key]["history"].items()})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history.insert(0, "seed", data.uns[key].get("params", {}).get("seed", 0))
    return figures.loss_curves(history, ax=ax, show=show)


def latent(adata: AnnData, *, basis: str = "X_umap", color: str = "label", ax: Any = None,
           show: bool | None = None) -> Figure:
    """The UMAP (``obsm[basis]``, made by :func:`replicate.tl.umap`) coloured by an ``obs`` column."""
    if basis not in adata.obsm:
        raise ParameterError(f"basis = {basis!r} is not in adata.obsm; run rp.tl.umap(adata) (or sc.tl.umap) first.")
    _columns(adata, color)
    params = adata.uns.get(basis if basis != "X_umap" else "umap", {}).get("params", {})
    title = f"UMAP of {params['use_rep']}, coloured by {color}" if "use_rep" in params else ""
    return figures.embedding(adata, basis=basis, color=color, title=title, ax=ax, show=show)


def contingency(adata: AnnData, key: str, *, label_key: str = "label", title: str = "", ax: Any = None,
                show: bool | None = None) -> Figure:
    """Cells per (true label, cluster in ``obs[key]``), clusters ordered by their best-matching label."""
    _columns(adata, key, label_key)
    return figures.contingency(adata.obs[label_key].astype(str).to_numpy(), adata.obs[key].astype(str).to_numpy(),
                               title=title or f"{label_key} vs {key}", ax=ax, show=show)


def grid_heatmaps(results: pd.DataFrame, method: str, *, ax: Any = None, show: bool | None = None) -> Figure:
    """CA / NMI / ARI over a method's grid (a results table of :func:`replicate.grid.execute.run`)."""
    return figures.grid_heatmaps(results, method, ax=ax, show=show)


def label_counts(adata: AnnData, *, ax: Any = None, show: bool | None = None) -> Figure:
    """Cells per true label (``obs["label"]``)."""
    _columns(adata, "label")
    return figures.label_counts(adata, ax=ax, show=show)
