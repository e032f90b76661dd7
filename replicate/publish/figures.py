"""Figures of one run's data (matplotlib/seaborn, colour-blind-safe palette, labelled axes).

Every figure only draws: it reads what the tools wrote and changes nothing. Each takes ``ax``
(an Axes, or a sequence of them for a figure of several panels; default: a new figure) and
returns the :class:`~matplotlib.figure.Figure`. A new figure is at most :data:`WIDTH` inches
wide, the book's content column at 1280 px, so it is shown at its natural size and no text is
smaller than 9 pt; legends sit outside the data. The study-level figures are
:mod:`replicate.publish.study_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
import seaborn as sns
from anndata import AnnData
from matplotlib.figure import Figure
from myst_nb import glue
from scipy.optimize import linear_sum_assignment

__all__ = ["WIDTH", "PALETTE", "theme", "axes_for", "finish", "glued", "label_counts", "loss_curves", "embedding",
           "grid_heatmaps", "contingency", "metric_bars"]

PALETTE = "colorblind"
#: Inches: the book's content column at a 1280 px window (~690 px at 100 dpi).
WIDTH = 6.8


def theme() -> None:
    """The book's seaborn theme (font sizes chosen so nothing is smaller than 9 pt at the column width)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9.5,
                      "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "legend.title_fontsize": 10})


def axes_for(ax: Any, n: int, figsize: tuple[float, float], **subplots: Any) -> tuple[Figure, list[Any], bool]:
    """(figure, ``n`` axes, whether the figure is new): ``ax`` as given (one Axes or a sequence of
    ``n``), or a new figure of ``figsize`` with ``n`` panels side by side."""
    theme()
    if ax is None:
        fig, axs = plt.subplots(1, n, figsize=figsize, **subplots)
        return fig, list(np.atleast_1d(axs)), True
    axs = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
    if len(axs) != n:
        raise ValueError(f"this figure draws {n} panel(s); ax has {len(axs)}.")
    return axs[0].figure, axs, False


def finish(fig: Figure, new: bool, show: bool | None, **layout: Any) -> Figure:
    """Lay out a figure this module made (not one the caller owns), show it if asked, return it."""
    if new:
        fig.tight_layout(**layout)
    if show:
        plt.show()
    return fig


def glued(name: str, fig: Figure) -> None:
    """Show ``fig`` once and glue it as ``name`` for other pages (``{glue} name`` with ``:doc:``)."""
    glue(name, fig, display=True)
    plt.close(fig)


def label_counts(adata: Any, *, ax: Any = None, show: bool | None = None) -> Figure:
    """Bar chart of cells per true label."""
    counts = adata.obs["label"].value_counts().rename_axis("label").reset_index(name="cells")
    counts["label"] = counts["label"].astype(str)
    fig, (a,), new = axes_for(ax, 1, (WIDTH * 0.8, 0.28 * len(counts) + 1.2))
    sns.barplot(counts, x="cells", y="label", ax=a, color=sns.color_palette(PALETTE)[0])
    a.set(xlabel="cells", ylabel="true label", title=f"{adata.n_obs} cells, {len(counts)} labels")
    return finish(fig, new, show)


def loss_curves(history: pd.DataFrame, *, ax: Any = None, show: bool | None = None) -> Figure:
    """Per-epoch reconstruction and KL (per cell), one line per VAE seed; KL on a log scale (spikes).

    ``history``: a long table with columns seed, epoch, reconstruction, kl; ``ax``: two Axes.
    """
    long = history.melt(id_vars=["seed", "epoch"], value_vars=["reconstruction", "kl"], var_name="term",
                        value_name="per-cell loss")
    long["seed"] = long["seed"].astype(str)
    fig, axes, new = axes_for(ax, 2, (WIDTH, 2.9))
    for a, term, title in zip(axes, ["reconstruction", "kl"], ["reconstruction (eq. 4)", "KL divergence (eq. 5)"]):
        sns.lineplot(long[long.term == term], x="epoch", y="per-cell loss", hue="seed", ax=a,
                     palette=PALETTE, marker="o", markersize=3, legend=term == "kl")
        a.set(title=title, xlabel="epoch", ylabel="mean loss per cell (nats)")
    axes[1].set_yscale("log")
    axes[1].legend(title="seed", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                   ncol=1 if history["seed"].nunique() <= 10 else 2)
    return finish(fig, new, show)


def embedding(adata: Any, *, basis: str = "X_umap", color: str = "label", title: str = "", ax: Any = None,
              show: bool | None = None) -> Figure:
    """The two-dimensional embedding ``obsm[basis]`` (e.g. a UMAP from ``rp.tl.umap``), coloured by an
    ``obs`` column; the legend beside the map."""
    fig, (a,), new = axes_for(ax, 1, (WIDTH * 0.85, 4.2))
    # scanpy's plot writes a palette into .uns: draw a minimal copy, so the caller's AnnData is untouched
    view = AnnData(obs=adata.obs[[color]].copy(), obsm={basis: np.asarray(adata.obsm[basis])},
                   uns={k: v for k, v in adata.uns.items() if k == f"{color}_colors"})
    sc.pl.embedding(view, basis=basis, color=color, ax=a, show=False, palette=sc.pl.palettes.default_102,
                    title=title or f"{basis.removeprefix('X_')}, coloured by {color}", legend_fontsize=9)
    return finish(fig, new, show)


#: The two axes to draw a method's grid on (methods with one axis get bars instead).
GRID_AXES = {
    "affinity_propagation": ("preference", "damping"),
    "birch": ("threshold", "branching_factor"),
    "spectral": ("n_components", "n_neighbors"),
    "dbscan": ("eps", "min_samples"),
    "optics": ("min_samples", "xi"),
}


def _grid_bars(rows: pd.DataFrame, method: str, params: list[str], ax: Any, show: bool | None) -> Figure:
    label = params[0] if params else "parameters"
    long = rows.melt(id_vars=[label], value_vars=["CA", "NMI", "ARI"], var_name="metric", value_name="percent")
    long[label] = long[label].astype(str)
    fig, (a,), new = axes_for(ax, 1, (WIDTH * 0.85, 3.0))
    sns.barplot(long, x=label, y="percent", hue="metric", ax=a, palette=PALETTE, errorbar="sd")
    a.set(ylim=(0, 100), xlabel=label.removeprefix("param_"), ylabel="percent (mean ± s.d.)",
          title=f"{method}: the grid")
    a.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return finish(fig, new, show)


def grid_heatmaps(results: pd.DataFrame, method: str, metrics: tuple[str, ...] = ("CA", "ARI"), *,
                  ax: Any = None, show: bool | None = None) -> Figure:
    """CA and ARI (percent, mean over VAE seeds) over a method's grid, one heatmap above the other.

    Two-axis grids are heatmaps (spectral's rbf cells, which have no n_neighbors, form their own
    row labelled "rbf"; ``ax``: one Axes per metric); one-axis grids are bar charts of CA, NMI
    and ARI (``ax``: one Axes).
    """
    rows = results[results["method"] == method].copy()
    if rows.empty:
        raise ValueError(f"no results for method {method!r}")
    params = [c for c in rows.columns if c.startswith("param_") and rows[c].nunique(dropna=False) > 1]
    for m in ("CA", "NMI", "ARI"):
        rows[m] = 100 * rows[m].astype(float)
    axes_pair = GRID_AXES.get(method)
    if not (axes_pair and all(f"param_{a}" in rows for a in axes_pair)):
        return _grid_bars(rows, method, params, ax, show)
    x, y = (f"param_{a}" for a in axes_pair)
    if method == "spectral":
        rows[y] = rows[y].astype(object).where(rows["param_affinity"] == "nearest_neighbors", "rbf")
    n_rows = rows[y].nunique()
    theme()
    if ax is None:
        fig, axs = plt.subplots(len(metrics), 1, figsize=(WIDTH * 0.85, (0.34 * n_rows + 1.0) * len(metrics)))
        axs, new = list(np.atleast_1d(axs)), True
    else:
        fig, axs, new = axes_for(ax, len(metrics), (0, 0))
    for a, m in zip(axs, metrics):
        table = rows.pivot_table(index=y, columns=x, values=m, aggfunc="mean")
        sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", vmin=0, vmax=100, ax=a,
                    cbar_kws={"label": f"{m} (%)"}, annot_kws={"size": 9})
        a.set(title=f"{m}, mean over VAE seeds", xlabel=x[6:], ylabel=y[6:])
    return finish(fig, new, show)


def contingency(true: Any, pred: Any, *, title: str = "", ax: Any = None, show: bool | None = None) -> Figure:
    """Heatmap of cells per (true label, predicted cluster), clusters ordered by their best match.

    Counts are written in the cells while there are at most 14 clusters; beyond that the colour
    alone shows them (the numbers would be too small to read).
    """
    table = pd.crosstab(pd.Series(true, name="true label"), pd.Series(pred, name="predicted cluster"))
    r, c = linear_sum_assignment(table.to_numpy(), maximize=True)
    order = list(table.columns[c]) + [col for col in table.columns if col not in set(table.columns[c])]
    table = table[order]
    annotate = len(order) <= 14
    fig, (a,), new = axes_for(ax, 1, (min(WIDTH, 0.42 * len(order) + 2.6), 0.34 * len(table) + 1.6))
    sns.heatmap(table, annot=annotate, fmt="d", cmap="Blues", ax=a, cbar_kws={"label": "cells"},
                annot_kws={"size": 9})
    a.set(title=title or "true label vs predicted cluster")
    if not annotate:
        a.set_xticks([])
        a.set_xlabel(f"predicted cluster ({len(order)} clusters, best matches first)")
    return finish(fig, new, show)


def metric_bars(rows: pd.DataFrame, by: str, *, title: str = "", ax: Any = None, show: bool | None = None) -> Figure:
    """Grouped bars of CA / NMI / ARI (percent) per value of column ``by``; legend beside the axes."""
    long = rows.melt(id_vars=[by], value_vars=["CA", "NMI", "ARI"], var_name="metric", value_name="fraction")
    long["percent"] = 100 * long["fraction"].astype(float)
    fig, (a,), new = axes_for(ax, 1, (WIDTH, 3.0))
    sns.barplot(long, y=by, x="percent", hue="metric", ax=a, palette=PALETTE, errorbar="sd", orient="h")
    a.set(xlim=(0, 100), ylabel="", xlabel="percent (mean ± s.d.)", title=title)
    a.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return finish(fig, new, show)
