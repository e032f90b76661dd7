"""Figures (matplotlib/seaborn, colour-blind-safe palette, labelled axes)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["label_counts", "loss_curves", "latent_umap", "paper_vs_ours"]

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


def paper_vs_ours(table: pd.DataFrame) -> Any:
    """Bars: the paper's value and ours (mean, error bar = s.d. over VAE seeds) per metric."""
    import matplotlib.pyplot as plt

    sns = _sns()
    colors = sns.color_palette(PALETTE)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["paper"], width=0.4, label="paper", color=colors[0])
    ax.bar([i + 0.2 for i in x], table["ours_mean"], width=0.4, yerr=table["ours_sd"].fillna(0), capsize=4,
           label=f"ours (mean ± s.d., {int(table['n_seeds'].iloc[0])} VAE seeds)", color=colors[1])
    ax.set_xticks(list(x), table["metric"])
    ax.set(ylabel="percent", ylim=(0, 100), title=str(table["row"].iloc[0]))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
