"""The scanpy-style face: rp.pp / rp.tl / rp.pl on one's own AnnData (dense or sparse)."""

from __future__ import annotations

import re
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import replicate as rp
from replicate.io.errors import ParameterError
from replicate.method.vae_config import VAEConfig

from .conftest import synthetic_counts

TINY = VAEConfig(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=8, learning_rate=1e-3)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def own():
    """A user's AnnData: sparse raw counts, three cell types, labels under obs['label']."""
    X, y = synthetic_counts(n_per=40, n_genes=60)
    adata = anndata.AnnData(sp.csr_matrix(X.astype(np.float32)),
                            obs=pd.DataFrame({"label": pd.Categorical(y.astype(int).astype(str))},
                                             index=[f"c{i}" for i in range(len(y))]))
    adata.var_names = [f"g{j}" for j in range(adata.n_vars)]
    raw = adata.copy()
    rp.pp.zscore(adata)
    model = rp.tl.vae(adata, config=TINY, seed=0)
    return adata, model, raw


def test_the_route_writes_what_the_docstrings_name(own):
    adata, model, _ = own
    assert adata.obsm["X_vae"].shape == adata.obsm["X_vae_logvar"].shape == (120, 4)
    assert adata.uns["X_vae"]["params"]["seed"] == 0 and adata.uns["X_vae"]["params"]["latent_dim"] == 4
    assert len(adata.uns["X_vae"]["history"]["loss"]) == 8
    rp.tl.cluster(adata, "kmeans")
    assert adata.obs["kmeans"].dtype == "category" and adata.obs["kmeans"].nunique() == 3
    assert adata.uns["kmeans"]["params"] == {"method": "kmeans", "params": {}, "use_rep": "X_vae",
                                             "n_clusters": 3, "seed": 0}
    scores = rp.tl.evaluate(adata, "kmeans")
    assert set(scores) == {"CA", "NMI", "ARI"} and scores["CA"] > 0.9
    mu, _ = model.encode(adata[:7])  # a part of the cells: the same up to the round-off of a smaller batch
    np.testing.assert_allclose(mu, adata.obsm["X_vae"][:7], atol=1e-5)


def test_the_h5ad_round_trip_keeps_what_the_tools_wrote(own, tmp_path):
    adata, _, _ = own
    rp.tl.cluster(adata, "birch", key_added="birch")
    adata.write_h5ad(tmp_path / "own.h5ad")
    back = anndata.read_h5ad(tmp_path / "own.h5ad")
    assert back.uns["birch"]["params"]["params"] == {"threshold": 0.2, "branching_factor": 50}
    assert list(back.uns["zscore"]["steps"]) == adata.uns["zscore"]["steps"]


def test_cluster_with_settings_noise_and_other_representations(own):
    adata, _, _ = own
    rp.tl.cluster(adata, "dbscan", params={"eps": 0.01, "min_samples": 5}, key_added="db")
    assert "-1" in set(adata.obs["db"])  # noise cells
    adata.obsm["X_first2"] = adata.X[:, :2]
    rp.tl.cluster(adata, "gmm", params={"covariance_type": "diag"}, use_rep="X_first2", n_clusters=2, key_added="g2")
    assert adata.obs["g2"].nunique() == 2 and adata.uns["g2"]["params"]["use_rep"] == "X_first2"


def test_clear_errors_name_the_fix(own):
    adata, _, _ = own
    with pytest.raises(ParameterError, match="use_rep = 'X_pca' is not in adata.obsm"):
        rp.tl.cluster(adata, "kmeans", use_rep="X_pca")
    with pytest.raises(ParameterError, match="unknown for method 'birch'"):
        rp.tl.cluster(adata, "birch", params={"treshold": 0.2})
    with pytest.raises(ParameterError, match="method = 'kmean' is unknown"):
        rp.tl.cluster(adata, "kmean")
    unlabelled = anndata.AnnData(adata.X.copy())
    unlabelled.obsm["X_vae"] = adata.obsm["X_vae"]
    with pytest.raises(ParameterError, match="needs a cluster count: pass n_clusters"):
        rp.tl.cluster(unlabelled, "kmeans")
    with pytest.raises(ParameterError, match="'nope' \\(clustering\\) is not a column"):
        rp.tl.evaluate(adata, "nope")


def test_the_vae_comes_back_from_the_cache_with_a_model(own):
    adata, first, _ = own
    again = adata.copy()
    model = rp.tl.vae(again, config=TINY, seed=0)
    assert again.uns["X_vae"]["cached"] and not adata.uns["X_vae"]["cached"]
    np.testing.assert_array_equal(again.obsm["X_vae"], adata.obsm["X_vae"])
    np.testing.assert_array_equal(model.encode(again).mu, first.encode(adata).mu)
    assert model.genes == first.genes == list(adata.var_names)
    np.testing.assert_array_equal(model.scaling["std"], first.scaling["std"])


def test_the_vae_refuses_what_is_not_z_scored_or_z_scores_it_when_asked(own):
    _, _, raw = own
    with pytest.raises(ParameterError, match=r"does not look z-scored .*Run rp.pp.zscore\(adata\) first, or pass zscore=True"):
        rp.tl.vae(raw.copy(), config=TINY)
    counts = raw.copy()
    rp.tl.vae(counts, config=TINY, seed=0, zscore=True)
    assert "zscore" in counts.uns and counts.obsm["X_vae"].shape == (120, 4)


def test_encode_scales_new_cells_like_the_training_cells_and_aligns_genes_by_name(own):
    adata, model, raw = own
    again = raw.copy()  # the training cells as raw counts: normalised, logged and z-scored as in training
    rp.tl.encode(again, model)
    np.testing.assert_array_equal(again.obsm["X_vae"], adata.obsm["X_vae"])
    assert again.uns["X_vae"]["params"]["encoded"] and again.obsm["X_vae_logvar"].shape == (120, 4)
    shuffled = raw[:, ::-1].copy()  # the same genes in another order
    rp.tl.encode(shuffled, model, key_added="X_new")
    np.testing.assert_array_equal(shuffled.obsm["X_new"], adata.obsm["X_vae"])
    own_zscores = raw[:30].copy()  # z-scored on its own 30 cells: re-scaled with the training statistics
    rp.pp.zscore(own_zscores)
    rp.tl.encode(own_zscores, model)
    np.testing.assert_allclose(own_zscores.obsm["X_vae"], adata.obsm["X_vae"][:30], atol=1e-5)
    with pytest.raises(ParameterError, match=r"3 of the model's 60 training genes are not in adata.var_names: g0, g1, g2"):
        rp.tl.encode(raw[:, 3:].copy(), model)


def test_umap_is_a_tool_and_records_its_representation(own):
    adata, _, _ = own
    rp.tl.umap(adata)
    assert adata.obsm["X_umap"].shape == (120, 2) and adata.uns["umap"]["params"]["use_rep"] == "X_vae"
    rp.tl.umap(adata, use_rep="X_vae_logvar", key_added="X_umap_logvar")
    assert adata.uns["X_umap_logvar"]["params"]["use_rep"] == "X_vae_logvar"
    assert not np.array_equal(adata.obsm["X_umap"], adata.obsm["X_umap_logvar"])


@pytest.mark.slow
def test_the_own_data_page_runs_as_written(tmp_path, monkeypatch):
    """The code cells of notebooks/own_data.md, exactly as the book shows and executes them."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "notebooks" / "own_data.md").read_text()
    cells = re.findall(r"```\{code-cell\}\n(.*?)```", text, flags=re.S)
    assert len(cells) >= 4
    ns: dict = {}
    for source in cells:
        source = re.sub(r"\A(?::\w[\w-]*:.*\n)+", "", source)  # MyST cell options (:tags: ...) are not code
        exec(compile(source, "own_data.md", "exec"), ns)
    import scanpy as sc

    assert sp.issparse(sc.datasets.pbmc68k_reduced().raw.to_adata().X)  # the page's input is sparse
    adata = ns["adata"]
    assert adata.uns["zscore"]["input_log_normalised"] is True  # sparse, log-normalised, no marker
    new = ns["new_cells"]
    assert adata.n_obs + new.n_obs == 700 and adata.obsm["X_vae"].shape == (adata.n_obs, 32)
    assert adata.obs["kmeans"].nunique() == 10 and ns["scores"]["CA"] > 0.4
    assert new.obsm["X_vae"].shape == (new.n_obs, 32) and "zscore" not in new.uns  # encoded, never z-scored
    assert ns["new_scores"]["CA"] > 0.4
    assert np.array_equal(ns["again"], adata.obsm["X_vae"])  # the training cells' latents come back


def test_evaluate_never_scores_missing_labels_as_a_class(caplog):
    """120 cells perfectly clustered, 30 of them without a label: scoring 'nan' as a class gave CA 0.917 with
    no message. Refused by default; with unlabelled='skip' only the 90 labelled cells are scored, and it says so."""
    labels = np.repeat(["a", "b", "c", "d"], 30).astype(object)
    labels[90:] = np.nan
    adata = anndata.AnnData(np.zeros((120, 1), np.float32),
                            obs=pd.DataFrame({"label": labels, "k": np.repeat(list("wxyz"), 30)}))
    with pytest.raises(ParameterError, match="has no label for 30 of 120 cells.*unlabelled='skip'"):
        rp.tl.evaluate(adata, "k")
    with caplog.at_level("WARNING", logger="replicate"):
        assert rp.tl.evaluate(adata, "k", unlabelled="skip") == {"CA": 1.0, "NMI": 1.0, "ARI": 1.0}
    assert "30 of 120 cells have no label" in caplog.text
    adata.obs["label"] = ""
    with pytest.raises(ParameterError, match="no label for 120 of 120"):
        rp.tl.evaluate(adata, "k", unlabelled="skip")
    with pytest.raises(ParameterError, match="unlabelled = 'drop' is invalid"):
        rp.tl.evaluate(adata, "k", unlabelled="drop")


def test_nan_is_named_as_nan():
    adata = anndata.AnnData(np.where(np.eye(10, 4) == 1, np.nan, 1.0).astype(np.float32))
    with pytest.raises(ParameterError, match="it holds 4 NaN and 0 infinite values, in 4 genes"):
        rp.tl.vae(adata, config=TINY)
