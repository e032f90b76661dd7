"""Figures (matplotlib/seaborn, colour-blind-safe palette, labelled axes)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["label_counts", "loss_curves", "latent_umap", "grid_heatmaps", "contingency", "metric_bars", "table1_bars"]

PALETTE = "colorblind"


def _sns() -> Any:
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE)
    return sns


def label_counts(adata: Any) -> Any:
    """Bar chart of cells per true label."""
    import matplotlib.pyplot as plt

    sns = _sns()
    counts = adata.obs["label"].value_counts().rename_axis("label").reset_index(name="cells")
    counts["label"] = counts["label"].astype(str)
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.barplot(counts, x="cells", y="label", ax=ax, color=sns.color_palette(PALETTE)[0])
    ax.set(xlabel="cells", ylabel="true label", title=f"{adata.n_obs} cells, {len(counts)} labels")
    fig.tight_layout()
    return fig


def loss_curves(history: pd.DataFrame) -> Any:
    """Per-epoch reconstruction and KL (per cell), one line per VAE seed."""
    import matplotlib.pyplot as plt

    sns = _sns()
    long = history.melt(id_vars=["seed", "epoch"], value_vars=["reconstruction", "kl"], var_name="term",
                        value_name="per-cell loss")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, term, title in zip(axes, ["reconstruction", "kl"], ["reconstruction (eq. 4)", "KL divergence (eq. 5)"]):
        sns.lineplot(long[long.term == term], x="epoch", y="per-cell loss", hue="seed", ax=ax,
                     palette=PALETTE, marker="o", markersize=3)
        ax.set(title=title, xlabel="epoch", ylabel="mean loss per cell (nats)")
    fig.tight_layout()
    return fig


def latent_umap(adata: Any, *, rep: str = "X_vae", color: str = "label") -> Any:
    """UMAP of a latent representation coloured by the true label."""
    import matplotlib.pyplot as plt
    import scanpy as sc

    sc.pp.neighbors(adata, use_rep=rep, random_state=0)
    sc.tl.umap(adata, random_state=0)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sc.pl.umap(adata, color=color, ax=ax, show=False, palette=sc.pl.palettes.default_102,
               title=f"UMAP of the VAE latent mean ({rep}), coloured by true {color}")
    fig.tight_layout()
    return fig


#: The two axes to draw a method's grid on (methods with one axis get bars instead).
GRID_AXES = {
    "affinity_propagation": ("preference", "damping"),
    "birch": ("threshold", "branching_factor"),
    "spectral": ("n_components", "n_neighbors"),
    "dbscan": ("eps", "min_samples"),
    "optics": ("min_samples", "xi"),
}


def grid_heatmaps(results: pd.DataFrame, method: str) -> Any:
    """CA / NMI / ARI (percent, mean over VAE seeds) over a method's grid.

    Two-axis grids are heatmaps (spectral's rbf cells, which have no n_neighbors, form their own
    row labelled "rbf"); one-axis grids are bar charts.
    """
    import matplotlib.pyplot as plt

    sns = _sns()
    rows = results[results["method"] == method].copy()
    if rows.empty:
        raise ValueError(f"no results for method {method!r}")
    params = [c for c in rows.columns if c.startswith("param_") and rows[c].nunique(dropna=False) > 1]
    metrics = ["CA", "NMI", "ARI"]
    for m in metrics:
        rows[m] = 100 * rows[m].astype(float)
    axes_pair = GRID_AXES.get(method)
    if axes_pair and all(f"param_{a}" in rows for a in axes_pair):
        x, y = (f"param_{a}" for a in axes_pair)
        if method == "spectral":
            rows[y] = rows[y].astype(object).where(rows["param_affinity"] == "nearest_neighbors", "rbf")
        fig, axs = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, m in zip(axs, metrics):
            table = rows.pivot_table(index=y, columns=x, values=m, aggfunc="mean")
            sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", vmin=0, vmax=100, ax=ax,
                        cbar_kws={"label": f"{m} (%)"}, annot_kws={"size": 7})
            ax.set(title=f"{m}, mean over VAE seeds", xlabel=x[6:], ylabel=y[6:])
        fig.suptitle(f"{method}: the grid", y=1.02)
        fig.tight_layout()
        return fig
    label = params[0] if params else "parameters"
    long = rows.melt(id_vars=[label], value_vars=metrics, var_name="metric", value_name="percent")
    long[label] = long[label].astype(str)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sns.barplot(long, x=label, y="percent", hue="metric", ax=ax, palette=PALETTE, errorbar="sd")
    ax.set(ylim=(0, 100), xlabel=label.removeprefix("param_"), ylabel="percent (mean ± s.d. over seeds)",
           title=f"{method}: the grid")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def contingency(true: Any, pred: Any, *, title: str = "") -> Any:
    """Heatmap of cells per (true label, predicted cluster), clusters ordered by their best match."""
    import matplotlib.pyplot as plt
    from scipy.optimize import linear_sum_assignment

    sns = _sns()
    table = pd.crosstab(pd.Series(true, name="true label"), pd.Series(pred, name="predicted cluster"))
    r, c = linear_sum_assignment(table.to_numpy(), maximize=True)
    order = list(table.columns[c]) + [col for col in table.columns if col not in set(table.columns[c])]
    table = table[order]
    fig, ax = plt.subplots(figsize=(0.5 * len(order) + 3, 0.4 * len(table) + 2))
    sns.heatmap(table, annot=True, fmt="d", cmap="Blues", ax=ax, cbar_kws={"label": "cells"})
    ax.set(title=title or "true label vs predicted cluster")
    fig.tight_layout()
    return fig


def metric_bars(rows: pd.DataFrame, by: str, *, title: str = "") -> Any:
    """Grouped bars of CA / NMI / ARI (percent) per value of column ``by``."""
    import matplotlib.pyplot as plt

    sns = _sns()
    long = rows.melt(id_vars=[by], value_vars=["CA", "NMI", "ARI"], var_name="metric", value_name="fraction")
    long["percent"] = 100 * long["fraction"].astype(float)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.barplot(long, x=by, y="percent", hue="metric", ax=ax, palette=PALETTE, errorbar="sd")
    ax.set(ylim=(0, 100), xlabel="", ylabel="percent", title=title)
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)  # clear of the rotated labels
    fig.tight_layout()
    return fig


def table1_bars(table: pd.DataFrame) -> Any:
    """Paper vs ours (mean ± s.d. over VAE seeds, paper's setting) for each VAE row of Table 1."""
    import matplotlib.pyplot as plt
    import numpy as np

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    vae = table[table["selection"] == "paper's setting"].reset_index(drop=True)
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    x = np.arange(len(vae))
    for ax, m in zip(axs, ["CA", "NMI", "ARI"]):
        ax.bar(x - 0.2, vae[f"paper_{m}"], width=0.4, color=colors[0], label="paper")
        ax.bar(x + 0.2, vae[f"ours_{m}"], width=0.4, yerr=vae[f"sd_{m}"].fillna(0), capsize=3, color=colors[1],
               label="ours (mean ± s.d. over VAE seeds)")
        ax.set_xticks(x, [r.removeprefix("VAE+") for r in vae["row"]], rotation=35, ha="right")
        ax.set(title=m, ylim=(0, 100))
    axs[0].set_ylabel("percent")
    axs[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=2, frameon=False)
    fig.suptitle("Table 1, VAE rows at the paper's setting", y=1.02)
    fig.tight_layout()
    return fig
