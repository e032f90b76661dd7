"""The study's figures: Table 1's headline, the factors' forest plot, the readings' fingerprints, the
uncertainty effects and the generalisation study (same conventions as :mod:`replicate.publish.figures`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..paper.baselines import LEIDEN_COUNT, PCA_KMEANS
from ..paper.scvi import SCVI_KMEANS
from ..paper.stats import bootstrap_ci
from ..paper.table1 import DEFAULT_READING, LIVE, LIVE_BASELINES, headline_frame
from ..studies.generalisation import PAPER_VARIANT
from .figures import PALETTE, WIDTH, axes_for, finish

__all__ = ["headline", "forest", "fingerprint_scatter", "uncertainty_effects", "generalisation"]


def headline(table: pd.DataFrame, metrics: tuple[str, ...] = ("CA", "ARI"), *, ax: Any = None,
             show: bool | None = None) -> Figure:
    """The replication in one figure: per VAE method, the paper's value and ours (mean and 95% CI
    over VAE seeds, for each VAE reading), with the live PCA+K-means and Leiden baselines as lines."""
    frame = headline_frame(table)
    readings = list(dict.fromkeys(frame["reading"]))
    methods = list(dict.fromkeys(frame["method"]))
    live = table[table["selection"] == LIVE].set_index("row")
    pca = LIVE_BASELINES[PCA_KMEANS]
    refs = [(pca, pca.removesuffix(" (live)").replace("k-means", "K-means") + ", live", "--"),
            (LIVE_BASELINES[LEIDEN_COUNT], "Leiden, live", ":")]
    fig, axes, new = axes_for(ax, len(metrics), (WIDTH, 0.42 * len(methods) + 2.6), sharey=True)
    colors = sns.color_palette(PALETTE)
    y = np.arange(len(methods))[::-1]
    step = 0.2
    names = {r: ("ours, " + ("default reading" if i == 0 else "second reading")) for i, r in enumerate(readings)}
    for a, m in zip(axes, metrics):
        part = frame[frame["metric"] == m].set_index(["method", "reading"])
        paper = [part.loc[(meth, readings[0]), "paper"] for meth in methods]
        a.scatter(paper, y + step, marker="D", s=30, color="black", label="paper", zorder=3)
        for i, reading in enumerate(readings):
            ours = np.array([part.loc[(meth, reading), "ours"] for meth in methods], dtype=float)
            lo = np.array([part.loc[(meth, reading), "lo"] for meth in methods], dtype=float)
            hi = np.array([part.loc[(meth, reading), "hi"] for meth in methods], dtype=float)
            err = np.nan_to_num(np.vstack([ours - lo, hi - ours]))
            a.errorbar(ours, y - i * step, xerr=err, fmt="o", ms=5, capsize=2.5, color=colors[i],
                        label=names[reading] + " (95% CI)")
        for row, name, style in refs:
            if row in live.index:
                a.axvline(live.loc[row, f"ours_{m}"], color="grey", linestyle=style, linewidth=1.2, label=name)
        a.set(xlabel=f"{m} (%)", xlim=(0, 100), title=m)
        a.grid(axis="y", visible=False)
    axes[0].set_yticks(y, methods)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.suptitle("VAE rows of Table 1 at the paper's setting: paper vs ours")
    return finish(fig, new, show, rect=(0, 0.07 + 0.04 * len(readings), 1, 1))



def _effects(frame: pd.DataFrame, rows: str, hue: str, xlabel: str, *, truncate: int = 42, ax: Any = None,
             show: bool | None = None) -> Figure:
    """Dots with 95% intervals: one line per value of ``rows`` (top-down, first seen first), one colour per ``hue``.

    ``frame`` holds ``effect``, ``ci_low``, ``ci_high`` (points); the legend sits below the axes.
    """
    order, hues = list(dict.fromkeys(frame[rows])), list(dict.fromkeys(frame[hue]))
    height = 0.48 * len(order) + 1.9
    fig, (ax,), new = axes_for(ax, 1, (WIDTH, height))
    colors = sns.color_palette(PALETTE)
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
    return finish(fig, new, show, rect=(0, 0.75 / height, 1, 1))



def forest(effects: pd.DataFrame, scores: tuple[str, ...] | None = None, *, ax: Any = None,
           show: bool | None = None) -> Figure:
    """Each factor's effect (points; mean and 95% CI), one colour per score, factors ranked top-down.

    Positive: the change moves our number up, towards the paper's (ours are below it).
    """
    part = effects if scores is None else effects[effects["score"].isin(scores)]
    return _effects(part, "factor", "score", "effect on our score (points, 95% CI); > 0 moves towards the paper",
                    ax=ax, show=show)



def fingerprint_scatter(rows: pd.DataFrame | None, *, ax: Any = None, show: bool | None = None) -> Figure | None:
    """Readings: distance to the paper's fingerprints (label-free) against VAE + K-means / AP CA (for information)."""
    if rows is None or rows.empty:
        return None
    part = rows[rows["status"] != "diverged"]
    means = part.groupby("reading", sort=False)[["distance", "kmeans_CA", "ap_CA"]].mean()
    seeds = int(rows.groupby("reading")["seed"].nunique().max())
    fig, (ax,), new = axes_for(ax, 1, (WIDTH * 0.85, 3.4))
    colors = sns.color_palette(PALETTE)
    ax.scatter(means["distance"], 100 * means["kmeans_CA"], color=colors[0], label="VAE + K-means")
    ax.scatter(means["distance"], 100 * means["ap_CA"], color=colors[1], marker="s", label="VAE + AP")
    ax.set(xlabel="distance to the paper's fingerprints (0 = as reported; label-free)",
           ylabel="CA (%), for information", title=f"Readings of the VAE, mean over {seeds} seeds")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return finish(fig, new, show)



def uncertainty_effects(eff: pd.DataFrame, *, ax: Any = None, show: bool | None = None) -> Figure:
    """Paired effect on CA of clustering with the posterior uncertainty instead of the mean alone (95% CI)."""
    return _effects(eff[eff["metric"] == "CA"], "method", "representation",
                    "effect on CA (points, 95% CI): with the uncertainty minus the mean alone", ax=ax, show=show)



def generalisation(rows: pd.DataFrame | None, *, ax: Any = None, show: bool | None = None) -> Figure | None:
    """Per data set: VAE + K-means (mean and 95% CI over seeds) against the live baselines, CA."""
    if rows is None or rows.empty:
        return None
    datasets = list(dict.fromkeys(rows["dataset"]))
    fig, (ax,), new = axes_for(ax, 1, (WIDTH, 0.5 * len(datasets) + 1.9))
    colors = sns.color_palette(PALETTE)
    y = np.arange(len(datasets))[::-1]
    series = [("VAE + K-means", lambda d: d[(d["reading"] == DEFAULT_READING) & (d["method"] == "kmeans")
                                            & (d["variant"] == PAPER_VARIANT)]["CA"]),
              (LIVE_BASELINES[PCA_KMEANS].removesuffix(" (live)").replace("+k-means", " + K-means"),
               lambda d: d[d["method"] == PCA_KMEANS]["CA"]),
              ("Leiden, label count", lambda d: d[d["method"] == LEIDEN_COUNT]["CA"]),
              ("scVI + K-means", lambda d: d[d["method"] == SCVI_KMEANS]["CA"])]
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
    return finish(fig, new, show, rect=(0, 0.9 / (0.5 * len(datasets) + 1.9), 1, 1))

