"""Figures (matplotlib/seaborn, colour-blind-safe palette, labelled axes).

Every figure is at most :data:`WIDTH` inches wide, the book's content column at 1280 px, so
it is shown at its natural size and no text is smaller than 9 pt; legends sit outside the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["WIDTH", "glued", "label_counts", "loss_curves", "latent_umap", "grid_heatmaps", "contingency", "metric_bars",
           "headline", "forest", "fingerprint_scatter", "uncertainty_effects", "generalisation"]

PALETTE = "colorblind"
#: Inches: the book's content column at a 1280 px window (~690 px at 100 dpi).
WIDTH = 6.8


def _sns() -> Any:
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9.5,
                      "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "legend.title_fontsize": 10})
    return sns


def label_counts(adata: Any) -> Any:
    """Bar chart of cells per true label."""
    import matplotlib.pyplot as plt

    sns = _sns()
    counts = adata.obs["label"].value_counts().rename_axis("label").reset_index(name="cells")
    counts["label"] = counts["label"].astype(str)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 0.28 * len(counts) + 1.2))
    sns.barplot(counts, x="cells", y="label", ax=ax, color=sns.color_palette(PALETTE)[0])
    ax.set(xlabel="cells", ylabel="true label", title=f"{adata.n_obs} cells, {len(counts)} labels")
    fig.tight_layout()
    return fig


def loss_curves(history: pd.DataFrame) -> Any:
    """Per-epoch reconstruction and KL (per cell), one line per VAE seed; KL on a log scale (spikes)."""
    import matplotlib.pyplot as plt

    sns = _sns()
    long = history.melt(id_vars=["seed", "epoch"], value_vars=["reconstruction", "kl"], var_name="term",
                        value_name="per-cell loss")
    long["seed"] = long["seed"].astype(str)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.9))
    for ax, term, title in zip(axes, ["reconstruction", "kl"], ["reconstruction (eq. 4)", "KL divergence (eq. 5)"]):
        sns.lineplot(long[long.term == term], x="epoch", y="per-cell loss", hue="seed", ax=ax,
                     palette=PALETTE, marker="o", markersize=3, legend=term == "kl")
        ax.set(title=title, xlabel="epoch", ylabel="mean loss per cell (nats)")
    axes[1].set_yscale("log")
    axes[1].legend(title="seed", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                   ncol=1 if history["seed"].nunique() <= 10 else 2)
    fig.tight_layout()
    return fig


def latent_umap(adata: Any, *, rep: str = "X_vae", color: str = "label") -> Any:
    """UMAP of a latent representation coloured by ``color``; the legend beside the map."""
    import matplotlib.pyplot as plt
    import scanpy as sc

    _sns()
    from .baselines import knn_graph

    knn_graph(adata, use_rep=rep, random_state=0)
    sc.tl.umap(adata, random_state=0)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.85, 4.2))
    sc.pl.umap(adata, color=color, ax=ax, show=False, palette=sc.pl.palettes.default_102,
               title=f"UMAP of {rep}, coloured by {color}", legend_fontsize=9)
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


def grid_heatmaps(results: pd.DataFrame, method: str, metrics: tuple[str, ...] = ("CA", "ARI")) -> Any:
    """CA and ARI (percent, mean over VAE seeds) over a method's grid, one heatmap above the other.

    Two-axis grids are heatmaps (spectral's rbf cells, which have no n_neighbors, form their own
    row labelled "rbf"); one-axis grids are bar charts of CA, NMI and ARI.
    """
    import matplotlib.pyplot as plt

    sns = _sns()
    rows = results[results["method"] == method].copy()
    if rows.empty:
        raise ValueError(f"no results for method {method!r}")
    params = [c for c in rows.columns if c.startswith("param_") and rows[c].nunique(dropna=False) > 1]
    for m in ("CA", "NMI", "ARI"):
        rows[m] = 100 * rows[m].astype(float)
    axes_pair = GRID_AXES.get(method)
    if axes_pair and all(f"param_{a}" in rows for a in axes_pair):
        x, y = (f"param_{a}" for a in axes_pair)
        if method == "spectral":
            rows[y] = rows[y].astype(object).where(rows["param_affinity"] == "nearest_neighbors", "rbf")
        n_rows = rows[y].nunique()
        fig, axs = plt.subplots(len(metrics), 1, figsize=(WIDTH * 0.85, (0.34 * n_rows + 1.0) * len(metrics)))
        for ax, m in zip(np.atleast_1d(axs), metrics):
            table = rows.pivot_table(index=y, columns=x, values=m, aggfunc="mean")
            sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", vmin=0, vmax=100, ax=ax,
                        cbar_kws={"label": f"{m} (%)"}, annot_kws={"size": 9})
            ax.set(title=f"{m}, mean over VAE seeds", xlabel=x[6:], ylabel=y[6:])
        fig.tight_layout()
        return fig
    label = params[0] if params else "parameters"
    long = rows.melt(id_vars=[label], value_vars=["CA", "NMI", "ARI"], var_name="metric", value_name="percent")
    long[label] = long[label].astype(str)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.85, 3.0))
    sns.barplot(long, x=label, y="percent", hue="metric", ax=ax, palette=PALETTE, errorbar="sd")
    ax.set(ylim=(0, 100), xlabel=label.removeprefix("param_"), ylabel="percent (mean ± s.d.)",
           title=f"{method}: the grid")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def contingency(true: Any, pred: Any, *, title: str = "") -> Any:
    """Heatmap of cells per (true label, predicted cluster), clusters ordered by their best match.

    Counts are written in the cells while there are at most 14 clusters; beyond that the colour
    alone shows them (the numbers would be too small to read).
    """
    import matplotlib.pyplot as plt
    from scipy.optimize import linear_sum_assignment

    sns = _sns()
    table = pd.crosstab(pd.Series(true, name="true label"), pd.Series(pred, name="predicted cluster"))
    r, c = linear_sum_assignment(table.to_numpy(), maximize=True)
    order = list(table.columns[c]) + [col for col in table.columns if col not in set(table.columns[c])]
    table = table[order]
    annotate = len(order) <= 14
    width = min(WIDTH, 0.42 * len(order) + 2.6)
    fig, ax = plt.subplots(figsize=(width, 0.34 * len(table) + 1.6))
    sns.heatmap(table, annot=annotate, fmt="d", cmap="Blues", ax=ax, cbar_kws={"label": "cells"},
                annot_kws={"size": 9})
    ax.set(title=title or "true label vs predicted cluster")
    if not annotate:
        ax.set_xticks([])
        ax.set_xlabel(f"predicted cluster ({len(order)} clusters, best matches first)")
    fig.tight_layout()
    return fig


def metric_bars(rows: pd.DataFrame, by: str, *, title: str = "") -> Any:
    """Grouped bars of CA / NMI / ARI (percent) per value of column ``by``; legend beside the axes."""
    import matplotlib.pyplot as plt

    sns = _sns()
    long = rows.melt(id_vars=[by], value_vars=["CA", "NMI", "ARI"], var_name="metric", value_name="fraction")
    long["percent"] = 100 * long["fraction"].astype(float)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    sns.barplot(long, y=by, x="percent", hue="metric", ax=ax, palette=PALETTE, errorbar="sd", orient="h")
    ax.set(xlim=(0, 100), ylabel="", xlabel="percent (mean ± s.d.)", title=title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def headline(table: pd.DataFrame, metrics: tuple[str, ...] = ("CA", "ARI")) -> Any:
    """The replication in one figure: per VAE method, the paper's value and ours (mean and 95% CI
    over VAE seeds, for each VAE reading), with the live PCA+K-means and Leiden baselines as lines."""
    import matplotlib.pyplot as plt

    from .report import headline_frame

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    frame = headline_frame(table)
    readings = list(dict.fromkeys(frame["reading"]))
    methods = list(dict.fromkeys(frame["method"]))
    live = table[table["selection"] == "live baseline"].set_index("row")
    refs = [("PCA(32)+k-means (live)", "PCA(32)+K-means, live", "--"), ("Leiden, label count (live)", "Leiden, live", ":")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(WIDTH, 0.42 * len(methods) + 2.6), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(methods))[::-1]
    step = 0.2
    names = {r: ("ours, " + ("default reading" if i == 0 else "second reading")) for i, r in enumerate(readings)}
    for ax, m in zip(axes, metrics):
        part = frame[frame["metric"] == m].set_index(["method", "reading"])
        paper = [part.loc[(meth, readings[0]), "paper"] for meth in methods]
        ax.scatter(paper, y + step, marker="D", s=30, color="black", label="paper", zorder=3)
        for i, reading in enumerate(readings):
            ours = np.array([part.loc[(meth, reading), "ours"] for meth in methods], dtype=float)
            lo = np.array([part.loc[(meth, reading), "lo"] for meth in methods], dtype=float)
            hi = np.array([part.loc[(meth, reading), "hi"] for meth in methods], dtype=float)
            err = np.nan_to_num(np.vstack([ours - lo, hi - ours]))
            ax.errorbar(ours, y - i * step, xerr=err, fmt="o", ms=5, capsize=2.5, color=colors[i],
                        label=names[reading] + " (95% CI)")
        for row, name, style in refs:
            if row in live.index:
                ax.axvline(live.loc[row, f"ours_{m}"], color="grey", linestyle=style, linewidth=1.2, label=name)
        ax.set(xlabel=f"{m} (%)", xlim=(0, 100), title=m)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, methods)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.suptitle("VAE rows of Table 1 at the paper's setting: paper vs ours")
    fig.tight_layout(rect=(0, 0.07 + 0.04 * len(readings), 1, 1))
    return fig


def _effects(frame: pd.DataFrame, rows: str, hue: str, xlabel: str, *, truncate: int = 42) -> Any:
    """Dots with 95% intervals: one line per value of ``rows`` (top-down, first seen first), one colour per ``hue``.

    ``frame`` holds ``effect``, ``ci_low``, ``ci_high`` (points); the legend sits below the axes.
    """
    import matplotlib.pyplot as plt

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    order, hues = list(dict.fromkeys(frame[rows])), list(dict.fromkeys(frame[hue]))
    height = 0.48 * len(order) + 1.9
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    y = np.arange(len(order))[::-1]
    step = 0.8 / max(len(hues), 1)
    for i, h in enumerate(hues):
        part = frame[frame[hue] == h].set_index(rows).reindex(order)
        mean = part["effect"].to_numpy(float)
        lo = np.where(np.isnan(part["ci_low"].to_numpy(float)), mean, part["ci_low"].to_numpy(float))
        hi = np.where(np.isnan(part["ci_high"].to_numpy(float)), mean, part["ci_high"].to_numpy(float))
        ax.errorbar(mean, y + 0.4 - (i + 0.5) * step, xerr=np.nan_to_num(np.vstack([mean - lo, hi - mean])),
                    fmt="o", ms=4.5, capsize=2, color=colors[i], label=h)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f if len(f) <= truncate else f[:truncate - 2] + "…" for f in order])
    ax.set(xlabel=xlabel)
    ax.grid(axis="y", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.75 / height, 1, 1))
    return fig


def forest(effects: pd.DataFrame, scores: tuple[str, ...] | None = None) -> Any:
    """Each factor's effect (points; mean and 95% CI), one colour per score, factors ranked top-down.

    Positive: the change moves our number up, towards the paper's (ours are below it).
    """
    part = effects if scores is None else effects[effects["score"].isin(scores)]
    return _effects(part, "factor", "score", "effect on our score (points, 95% CI); > 0 moves towards the paper")


def fingerprint_scatter(rows: pd.DataFrame | None) -> Any:
    """Readings: distance to the paper's fingerprints (label-free) against VAE + K-means / AP CA (for information)."""
    import matplotlib.pyplot as plt

    if rows is None or rows.empty:
        return None
    sns = _sns()
    colors = sns.color_palette(PALETTE)
    part = rows[rows["status"] != "diverged"]
    means = part.groupby("reading", sort=False)[["distance", "kmeans_CA", "ap_CA"]].mean()
    fig, ax = plt.subplots(figsize=(WIDTH * 0.85, 3.4))
    ax.scatter(means["distance"], 100 * means["kmeans_CA"], color=colors[0], label="VAE + K-means")
    ax.scatter(means["distance"], 100 * means["ap_CA"], color=colors[1], marker="s", label="VAE + AP")
    ax.set(xlabel="distance to the paper's fingerprints (0 = as reported; label-free)",
           ylabel="CA (%), for information", title="Readings of the VAE, mean over 3 seeds")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def glued(name: str, fig: Any) -> None:
    """Show ``fig`` once and glue it as ``name`` for other pages (``{glue} name`` with ``:doc:``)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=True)
    plt.close(fig)


def uncertainty_effects(eff: pd.DataFrame) -> Any:
    """Paired effect on CA of clustering with the posterior uncertainty instead of the mean alone (95% CI)."""
    return _effects(eff[eff["metric"] == "CA"], "method", "representation",
                    "effect on CA (points, 95% CI): with the uncertainty minus the mean alone")


def generalisation(rows: pd.DataFrame | None) -> Any:
    """Per data set: VAE + K-means (mean and 95% CI over seeds) against the live baselines, CA."""
    import matplotlib.pyplot as plt

    from .stats import bootstrap_ci

    if rows is None or rows.empty:
        return None
    sns = _sns()
    colors = sns.color_palette(PALETTE)
    datasets = list(dict.fromkeys(rows["dataset"]))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(datasets) + 1.9))
    y = np.arange(len(datasets))[::-1]
    series = [("VAE + K-means", lambda d: d[(d["reading"] == "default") & (d["method"] == "kmeans")
                                            & (d["variant"] == "paper's setting")]["CA"]),
              ("PCA(32) + K-means", lambda d: d[d["method"] == "pca32+kmeans"]["CA"]),
              ("Leiden, label count", lambda d: d[d["method"] == "scanpy+leiden(count)"]["CA"]),
              ("scVI + K-means", lambda d: d[d["method"] == "scvi+kmeans"]["CA"])]
    for i, (name, pick) in enumerate(series):
        means, los, his = [], [], []
        for ds in datasets:
            v = 100 * pick(rows[rows["dataset"] == ds]).dropna().to_numpy(float)
            m = v.mean() if len(v) else np.nan
            lo, hi = bootstrap_ci(v) if len(v) > 1 else (m, m)
            means.append(m), los.append(m - lo), his.append(hi - m)
        ax.errorbar(means, y + 0.3 - i * 0.2, xerr=np.nan_to_num(np.vstack([los, his])), fmt="o", ms=5, capsize=2,
                    color=colors[i], label=name)
    ax.set_yticks(y, datasets)
    ax.set(xlabel="CA (%)", xlim=(0, 100), title="The paper's recipe on other data sets")
    ax.grid(axis="y", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.9 / (0.5 * len(datasets) + 1.9), 1, 1))
    return fig
