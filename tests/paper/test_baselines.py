from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest

from replicate.grid.execute import COLUMNS
from replicate.io.errors import ParameterError
from replicate.paper import baselines


@pytest.fixture(scope="module")
def pbmc():
    """pbmc68k-reduced (700 cells, 10 types; offline), preprocessed as the paper does."""
    from replicate.io import datasets
    from replicate.method.preprocess import zscore

    return zscore(datasets.load("pbmc68k-reduced"), copy=True)


def _check_rows(table: pd.DataFrame, methods: list[str]) -> None:
    assert list(table["method"]) == methods
    assert set(table["embedding"]) == {"baseline"} and set(table["grid"]) == {"baseline"}
    assert set(COLUMNS) <= set(table.columns)
    assert table["status"].isin(["ok", "warning"]).all(), table["message"].tolist()
    assert ((table["CA"] > 0.3) & (table["CA"] <= 1)).all()
    assert table["key"].is_unique


def test_pca_solver_follows_0241_rule():
    assert baselines.pca_solver_0241((400, 300), 32) == "full"           # small problem
    assert baselines.pca_solver_0241((2100, 2000), 32) == "randomized"
    assert baselines.pca_solver_0241((4271, 300), 32) == "randomized"    # 1.5+ would pick covariance_eigh
    assert baselines.pca_solver_0241((600, 30), 28) == "full"            # k >= 0.8 min(shape)


def test_pca_and_genes_kmeans_on_pbmc(pbmc):
    X, y = pbmc.X, pbmc.obs["label"].to_numpy()
    table = pd.concat([baselines.pca_kmeans(X, y, dataset="pbmc68k-reduced"),
                       baselines.genes_kmeans(X, y, dataset="pbmc68k-reduced")], ignore_index=True)
    _check_rows(table, ["pca32+kmeans", "genes+kmeans"])
    assert table["n_clusters"].tolist() == [10, 10] and table["clusters_found"].tolist() == [10, 10]
    assert json.loads(table.loc[0, "parameters"]) == {"n_components": 32, "svd_solver": "randomized"}
    assert set(table["dataset"]) == {"pbmc68k-reduced"}
    again = baselines.pca_kmeans(X, y, dataset="pbmc68k-reduced")
    assert again.loc[0, "CA"] == table.loc[0, "CA"]  # fixed random_state: reproducible


def test_pca_embedding_shape_and_errors(pbmc):
    P = baselines.pca_embedding(pbmc.X, 32)
    assert P.shape == (pbmc.n_obs, 32)
    with pytest.raises(ParameterError, match="n_components = 5000 is invalid"):
        baselines.pca_embedding(pbmc.X, 5000)
    with pytest.raises(ParameterError, match="labels has shape"):
        baselines.pca_kmeans(pbmc.X, np.zeros(3))


def test_scanpy_leiden_refuses_bad_input():
    ad = anndata.AnnData(np.ones((20, 5), dtype=np.float32))
    ad.obs["label"] = ["a", "b"] * 10
    with pytest.raises(ParameterError, match=r"layers\['log'\]"):
        baselines.scanpy_leiden(ad)
    ad.layers["log"] = ad.X.copy()
    with pytest.raises(ParameterError, match="label_key = 'type' is not a column"):
        baselines.scanpy_leiden(ad, label_key="type")
    with pytest.raises(ParameterError, match="resolution = -1 is invalid"):
        baselines.scanpy_leiden(ad, resolution=-1)


@pytest.mark.slow
def test_all_baselines_on_pbmc(pbmc):
    table = baselines.run_baselines(pbmc, dataset="pbmc68k-reduced")
    scvi = table[table["method"].str.startswith("scvi")]
    # pbmc68k-reduced ships log-normalised values only: the scVI rows say so instead of vanishing
    assert len(scvi) == 4 and set(scvi["status"]) <= {"not applicable", "not installed"}, scvi["status"].tolist()
    table = table[~table["method"].str.startswith("scvi")].reset_index(drop=True)
    _check_rows(table, ["pca32+kmeans", "genes+kmeans", "scanpy+leiden", "scanpy+leiden(count)"])
    default, matched = table.iloc[2], table.iloc[3]
    assert json.loads(default["parameters"])["resolution"] == 1.0
    assert json.loads(default["parameters"])["flavor"] == "igraph"
    assert "resolution" in matched["message"] and "the count comes from the labels" in matched["message"]
    if matched["status"] == "ok":
        assert matched["clusters_found"] == 10
    else:
        assert "closest" in matched["message"]


@pytest.mark.slow
def test_leiden_bisection_reports_when_count_is_unreachable(pbmc):
    table = baselines.scanpy_leiden(pbmc, n_clusters=650, dataset="pbmc68k-reduced")
    matched = table.iloc[1]
    assert matched["status"] == "warning" and "closest" in matched["message"]
    assert matched["clusters_found"] < 650


def test_knn_graph_works_above_scanpys_exact_neighbour_limit():
    # scanpy switches to pynndescent at 8,192 cells, whose output it cannot read with current SciPy
    import anndata

    from replicate.method.neighbours import EXACT_NEIGHBOURS_BELOW, knn_graph

    n = EXACT_NEIGHBOURS_BELOW + 10
    ad = anndata.AnnData(np.zeros((n, 1), dtype=np.float32))
    ad.obsm["X_latent"] = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    knn_graph(ad, use_rep="X_latent", n_neighbors=5, random_state=0)
    assert ad.obsp["connectivities"].shape == (n, n)
    assert (ad.obsp["distances"].getnnz(axis=1) == 4).all()  # exact: every cell has its 4 other neighbours


def test_cached_baselines_do_not_keep_a_failure(monkeypatch, tmp_path):
    from replicate.paper import baselines

    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    calls = []

    def fake_run(adata, **kw):
        calls.append(1)
        return pd.DataFrame({"method": ["scanpy+leiden"], "status": ["failed" if len(calls) == 1 else "ok"]})

    monkeypatch.setattr(baselines, "run_baselines", fake_run)
    ad = anndata.AnnData(np.ones((4, 3), dtype=np.float32))
    assert baselines.cached_baselines(ad, scvi=False)["status"].tolist() == ["failed"]
    assert baselines.cached_baselines(ad, scvi=False)["status"].tolist() == ["ok"]  # recomputed, not cached
    assert baselines.cached_baselines(ad, scvi=False)["status"].tolist() == ["ok"] and len(calls) == 2  # now cached
