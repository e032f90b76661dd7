"""Figures (matplotlib/seaborn, colour-blind-safe palette, labelled axes)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["label_counts", "loss_curves", "latent_umap", "grid_heatmaps", "contingency", "metric_bars", "table1_bars",
           "headline", "forest", "fingerprint_scatter"]

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


def headline(table: pd.DataFrame, metrics: tuple[str, ...] = ("CA", "ARI")) -> Any:
    """The replication in one figure: per VAE method, the paper's value and ours (mean and 95% CI
    over VAE seeds, for each VAE reading), with the live PCA+K-means and Leiden baselines as lines."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .report import headline_frame

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    frame = headline_frame(table)
    readings = list(dict.fromkeys(frame["reading"]))
    methods = list(dict.fromkeys(frame["method"]))
    live = table[table["selection"] == "live baseline"].set_index("row")
    refs = [("PCA(32)+k-means (live)", "PCA(32)+K-means, live", "--"), ("Leiden, label count (live)", "Leiden, live", ":")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 0.55 * len(methods) + 2.2), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(methods))[::-1]
    step = 0.22
    for ax, m in zip(axes, metrics):
        part = frame[frame["metric"] == m].set_index(["method", "reading"])
        paper = [part.loc[(meth, readings[0]), "paper"] for meth in methods]
        ax.scatter(paper, y + step, marker="D", s=36, color="black", label="paper", zorder=3)
        for i, reading in enumerate(readings):
            ours = np.array([part.loc[(meth, reading), "ours"] for meth in methods])
            lo = np.array([part.loc[(meth, reading), "lo"] for meth in methods])
            hi = np.array([part.loc[(meth, reading), "hi"] for meth in methods])
            err = np.vstack([ours - lo, hi - ours])
            ax.errorbar(ours, y - i * step, xerr=np.nan_to_num(err), fmt="o", ms=6, capsize=3, color=colors[i],
                        label=f"ours, {reading} (95% CI over seeds)")
        for row, name, style in refs:
            if row in live.index:
                ax.axvline(live.loc[row, f"ours_{m}"], color="grey", linestyle=style, linewidth=1.2, label=name)
        ax.set(xlabel=f"{m} (%)", xlim=(0, 100), title=m)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, methods)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle("Table 1, VAE rows at the paper's setting: paper vs this replication")
    fig.tight_layout(rect=(0, 0.06 + 0.04 * len(readings), 1, 1))
    return fig


def forest(effects: pd.DataFrame, scores: tuple[str, ...] | None = None) -> Any:
    """Each factor's effect on a score (points; mean and 95% CI), one panel per score.

    Positive: the change moves our number up, towards the paper's (ours are below it).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    scores = scores or tuple(dict.fromkeys(effects["score"]))
    factors = list(dict.fromkeys(effects["factor"]))
    ncols = 2 if len(scores) > 1 else 1
    nrows = -(-len(scores) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 0.42 * len(factors) * nrows + 1.6 * nrows),
                             sharey=True, squeeze=False)
    y = np.arange(len(factors))[::-1]
    for ax, score in zip(axes.ravel(), scores):
        part = effects[effects["score"] == score].set_index("factor").reindex(factors)
        mean = part["effect"].to_numpy(float)
        lo = np.where(np.isnan(part["ci_low"].to_numpy(float)), mean, part["ci_low"].to_numpy(float))
        hi = np.where(np.isnan(part["ci_high"].to_numpy(float)), mean, part["ci_high"].to_numpy(float))
        colour = [colors[2] if m > 0 and l > 0 else colors[3] if m < 0 and h < 0 else colors[7]
                  for m, l, h in zip(mean, lo, hi)]
        ax.errorbar(mean, y, xerr=np.vstack([mean - lo, hi - mean]), fmt="none", ecolor="grey", capsize=3)
        ax.scatter(mean, y, c=colour, s=40, zorder=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set(title=score, xlabel="effect on our score (points; 95% CI)")
        ax.grid(axis="y", visible=False)
    for ax in axes.ravel()[len(scores):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_yticks(y, factors)
    fig.tight_layout()
    return fig


def fingerprint_scatter(rows: pd.DataFrame | None) -> Any:
    """Readings: distance to the paper's fingerprints (label-free) against VAE + K-means CA (for information)."""
    import matplotlib.pyplot as plt

    if rows is None or rows.empty:
        return None
    sns = _sns()
    part = rows[rows["status"] != "diverged"]
    means = part.groupby("reading", sort=False)[["distance", "kmeans_CA", "ap_CA"]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for ax, col, title in zip(axes, ["kmeans_CA", "ap_CA"], ["VAE + K-means", "VAE + affinity propagation"]):
        sns.scatterplot(x=means["distance"], y=100 * means[col], ax=ax, s=50, color=sns.color_palette(PALETTE)[0])
        ax.set(xlabel="distance to the paper's fingerprints (0 = as reported)", ylabel="CA (%), for information",
               title=title)
    fig.suptitle("Readings of the VAE: closer to the paper's fingerprints, higher scores?")
    fig.tight_layout()
    return fig
