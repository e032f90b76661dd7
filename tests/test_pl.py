"""The figures' face: rp.pl only draws what the tools wrote, into the caller's Axes when given one."""

from __future__ import annotations

import anndata
import matplotlib
import numpy as np
import pandas as pd
import pytest

import replicate as rp
from replicate.io.errors import ParameterError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def adata():
    """A small AnnData as the tools leave it: latents, a UMAP, clusters and a VAE history."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 20)
    ad = anndata.AnnData(rng.normal(size=(60, 5)).astype(np.float32),
                         obs=pd.DataFrame({"label": pd.Categorical(labels)}, index=[f"c{i}" for i in range(60)]))
    ad.obsm["X_vae"] = rng.normal(size=(60, 4)) + np.repeat(np.eye(3, 4) * 5, 20, axis=0)
    ad.obsm["X_umap"] = ad.obsm["X_vae"][:, :2]
    ad.uns["umap"] = {"params": {"use_rep": "X_vae"}}
    ad.obs["kmeans"] = pd.Categorical(np.repeat(["0", "1", "2"], 20))
    ad.uns["X_vae"] = {"params": {"seed": 3}, "history": {"loss": np.array([3.0, 2.0]), "reconstruction": np.array(
        [2.5, 1.8]), "kl": np.array([0.5, 0.2]), "seconds": np.array([1.0, 1.0])}}
    return ad


def test_latent_draws_the_umap_and_changes_nothing(adata):
    before = (set(adata.obsm), set(adata.uns), set(adata.obsp))
    fig = rp.pl.latent(adata, color="kmeans")
    assert (set(adata.obsm), set(adata.uns), set(adata.obsp)) == before
    ax = fig.axes[0]
    assert ax.get_title() == "UMAP of X_vae, coloured by kmeans"
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["0", "1", "2"]
    plt.close(fig)
    with pytest.raises(ParameterError, match="run rp.tl.umap"):
        rp.pl.latent(adata, basis="X_tsne")


def test_every_figure_draws_into_the_callers_axes_and_returns_the_figure(adata):
    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    assert rp.pl.latent(adata, ax=axes[0]) is fig
    assert rp.pl.contingency(adata, "kmeans", ax=axes[1]) is fig
    assert rp.pl.label_counts(adata, ax=axes[2]) is fig
    assert rp.pl.loss_curves(adata, ax=[axes[3], axes[3].twinx()]) is fig
    assert axes[1].get_title() == "label vs kmeans" and axes[2].get_xlabel() == "cells"
    assert axes[3].get_title() == "reconstruction (eq. 4)"
    plt.close(fig)
    with pytest.raises(ValueError, match="draws 2 panel"):
        rp.pl.loss_curves(adata, ax=axes[0])


def test_loss_curves_read_the_history_and_name_the_seed(adata):
    fig = rp.pl.loss_curves(adata)
    rec, kl = fig.axes[:2]
    assert (rec.get_title(), kl.get_title()) == ("reconstruction (eq. 4)", "KL divergence (eq. 5)")
    assert kl.get_yscale() == "log" and [t.get_text() for t in kl.get_legend().get_texts()] == ["3"]
    np.testing.assert_allclose(rec.lines[0].get_ydata(), [2.5, 1.8])
    plt.close(fig)
    with pytest.raises(ParameterError, match="run rp.tl.vae"):
        rp.pl.loss_curves(adata, key="X_other")


def test_show_true_calls_pyplot_show(adata, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    plt.close(rp.pl.label_counts(adata, show=True))
    plt.close(rp.pl.label_counts(adata))
    assert shown == [True]


def test_grid_heatmaps_take_a_results_table():
    rows = pd.DataFrame({"method": "birch", "param_threshold": [0.1, 0.1, 0.2, 0.2],
                         "param_branching_factor": [10, 20, 10, 20], "CA": [0.5, 0.6, 0.7, 0.8],
                         "NMI": 0.5, "ARI": [0.4, 0.5, 0.6, 0.7]})
    fig = rp.pl.grid_heatmaps(rows, "birch")
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["CA, mean over VAE seeds", "ARI, mean over VAE seeds"]
    assert fig.axes[0].get_xlabel() == "threshold" and fig.axes[0].get_ylabel() == "branching_factor"
    plt.close(fig)
