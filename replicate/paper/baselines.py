"""Live baselines on the same cells and preprocessing as the VAE (Table 1 copies its baselines).

- :data:`PCA_KMEANS`: PCA to the paper's latent dimension of the z-scored genes, then K-means
  (0.24.1 settings);
- :data:`GENES_KMEANS`: K-means on the z-scored genes directly;
- :data:`LEIDEN`: the workflow scanpy users run, from the log-normalised layer: highly variable
  genes, scale, PCA, k-NN graph, Leiden at the default resolution 1.0; and :data:`LEIDEN_COUNT`,
  Leiden at the resolution (found by bisection) that gives the true cluster count, which uses the
  labels' count and is said so;
- scVI's rows (:mod:`replicate.paper.scvi`).

Like the grid cells, every fit runs single-threaded (BLAS/OpenMP), for the same reasons.
Every function returns rows in the tidy format of :func:`replicate.method.cells.run_cell` with
``embedding = "baseline"`` and ``grid = "baseline"``.
"""

from __future__ import annotations

from typing import Any

import anndata
import numpy as np
import pandas as pd
import scanpy as sc
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from ..io import numerics, store
from ..io.errors import ParameterError
from ..io.facts import paper
from ..method.cells import labelling_row
from ..method.clustering import SKLEARN_0241_KMEANS, check_inputs, sklearn_0241_kwargs
from ..method.neighbours import knn_graph, leiden, leiden_resolution_for
from ..method.runtime import capture, single_threaded
from .scvi import VARIANTS, scvi_rows

__all__ = ["PCA_KMEANS", "GENES_KMEANS", "LEIDEN", "LEIDEN_COUNT", "pca_solver_0241", "pca_embedding", "pca_kmeans",
           "genes_kmeans", "scanpy_leiden", "run_baselines", "cached_baselines"]

#: The baselines' names in the rows' ``method`` column (PCA keeps as many dimensions as the VAE's latent).
LATENT_DIM: int = paper()["model"]["latent_dim"]
PCA_KMEANS = f"pca{LATENT_DIM}+kmeans"
GENES_KMEANS = "genes+kmeans"
LEIDEN = "scanpy+leiden"
LEIDEN_COUNT = "scanpy+leiden(count)"


def pca_solver_0241(shape: tuple[int, int], n_components: int) -> str:
    """The solver scikit-learn 0.24.1's ``svd_solver="auto"`` picks for ``shape`` (see SKLEARN_0241["pca"])."""
    if max(shape) <= 500:
        return "full"
    return "randomized" if 1 <= n_components < 0.8 * min(shape) else "full"


def pca_embedding(X: Any, n_components: int = LATENT_DIM, *, random_state: int = 0) -> np.ndarray:
    """PCA scores of ``X`` with 0.24.1's settings: an embedding to cluster."""
    X, _ = check_inputs(X)
    if not 1 <= n_components <= min(X.shape):
        raise ParameterError(f"n_components = {n_components!r} is invalid for X of shape {X.shape}: "
                             f"use 1..{min(X.shape)}.")
    kw = {**sklearn_0241_kwargs("pca"), "svd_solver": pca_solver_0241(X.shape, n_components)}
    with single_threaded():
        return PCA(n_components=n_components, random_state=random_state, **kw).fit_transform(X)


def _finish(row: dict[str, Any], dataset: str, data_hash: str, labels: np.ndarray) -> dict[str, Any]:
    row.update(dataset=dataset, embedding="baseline", grid="baseline",
               key=store.content_key("baseline/v1", data_hash, store.array_hash(labels.astype(str)),
                                     row["method"], row["parameters"], row["random_state"]))
    return row


def _count(labels: np.ndarray, n_clusters: int | None) -> int:
    return int(len(np.unique(labels))) if n_clusters is None else n_clusters


def pca_kmeans(X: Any, labels: Any, *, n_components: int = LATENT_DIM, n_clusters: int | None = None,
               random_state: int = 0, dataset: str = "") -> pd.DataFrame:
    """PCA(``n_components``) + K-means on the z-scored matrix ``X`` (cells x genes): one row.

    Table 1's PCA+k-means row is copied from scDeepCluster; this is the same method on
    our cells and preprocessing. ``seconds`` covers PCA and K-means.
    """
    X, y = check_inputs(X, labels)
    k = _count(y, n_clusters)
    check_inputs(X, y, k)
    P: dict[str, np.ndarray] = {}

    def fit() -> np.ndarray:
        P["z"] = pca_embedding(X, n_components, random_state=random_state)
        return KMeans(n_clusters=k, random_state=random_state, **SKLEARN_0241_KMEANS).fit_predict(P["z"])

    with single_threaded():
        pred, caught, seconds = capture(fit)
    params = {"n_components": n_components, "svd_solver": pca_solver_0241(X.shape, n_components)}
    row = labelling_row(P.get("z", X), y, pred, method=f"pca{n_components}+kmeans", params=params,
                        n_clusters=k, takes_count=True, random_state=random_state, seconds=seconds, caught=caught)
    return pd.DataFrame([_finish(row, dataset, store.array_hash(X), y)])


def genes_kmeans(X: Any, labels: Any, *, n_clusters: int | None = None, random_state: int = 0,
                 dataset: str = "") -> pd.DataFrame:
    """K-means (0.24.1 settings) directly on the z-scored genes ``X``: one row."""
    X, y = check_inputs(X, labels)
    k = _count(y, n_clusters)
    check_inputs(X, y, k)
    with single_threaded():
        pred, caught, seconds = capture(
            lambda: KMeans(n_clusters=k, random_state=random_state, **SKLEARN_0241_KMEANS).fit_predict(X))
    row = labelling_row(X, y, pred, method=GENES_KMEANS, params={"genes": int(X.shape[1])}, n_clusters=k,
                        takes_count=True, random_state=random_state, seconds=seconds, caught=caught)
    return pd.DataFrame([_finish(row, dataset, store.array_hash(X), y)])


def _check_label_key(adata: Any, label_key: str) -> None:
    if label_key not in adata.obs:
        raise ParameterError(f"label_key = {label_key!r} is not a column of adata.obs; "
                             f"columns: {', '.join(adata.obs.columns)}.")


def scanpy_leiden(adata: Any, *, label_key: str = "label", n_clusters: int | None = None,
                  n_top_genes: int = 2000, n_pcs: int = 50, n_neighbors: int = 15, resolution: float = 1.0,
                  match_count: bool = True, random_state: int = 0, dataset: str = "") -> pd.DataFrame:
    """The scanpy workflow from ``adata.layers["log"]`` (set by :func:`replicate.pp.zscore`).

    HVGs (Seurat flavour, ``n_top_genes``, all genes when there are fewer), scale (clip at 10 as
    in scanpy's tutorial), PCA (``n_pcs``), k-NN graph (``n_neighbors``), then Leiden (igraph
    flavour, 2 iterations, fixed random_state) at ``resolution``; with ``match_count`` a second
    row at the bisected resolution giving the true count (which uses the labels' count; the
    message reports the resolution and whether the count was hit exactly).
    """
    _check_leiden_inputs(adata, label_key, n_top_genes, n_pcs, n_neighbors, resolution)
    y = adata.obs[label_key].astype(str).to_numpy()
    k = _count(y, n_clusters)
    log = np.asarray(adata.layers["log"], dtype=np.float32)
    check_inputs(log, y, k)
    ad = anndata.AnnData(X=log.copy(), obs=pd.DataFrame(index=adata.obs_names.astype(str)),
                         var=pd.DataFrame(index=adata.var_names.astype(str)))
    top = min(n_top_genes, ad.n_vars)
    comps = min(n_pcs, ad.n_obs - 1, top - 1)
    params = {"n_top_genes": top, "n_pcs": comps, "n_neighbors": n_neighbors, "flavor": "igraph", "n_iterations": 2}

    def embed() -> np.ndarray:
        if top < ad.n_vars:
            sc.pp.highly_variable_genes(ad, n_top_genes=top, flavor="seurat", subset=True)
        sc.pp.scale(ad, max_value=10)
        sc.tl.pca(ad, n_comps=comps, random_state=random_state)
        knn_graph(ad, n_neighbors=n_neighbors, random_state=random_state)
        return leiden(ad, resolution, random_state)

    with single_threaded():
        pred, caught, seconds = capture(embed)
    Z = ad.obsm["X_pca"] if "X_pca" in ad.obsm else log
    rows = [labelling_row(Z, y, pred, method=LEIDEN, params={**params, "resolution": resolution},
                          n_clusters=k, takes_count=False, random_state=random_state, seconds=seconds, caught=caught)]
    if match_count and pred is not None:
        rows.append(_leiden_at_count(ad, Z, y, k, params, random_state, seconds))
    return pd.DataFrame([_finish(r, dataset, store.array_hash(log), y) for r in rows])


def _check_leiden_inputs(adata: Any, label_key: str, n_top_genes: Any, n_pcs: Any, n_neighbors: Any,
                         resolution: Any) -> None:
    if "log" not in adata.layers:
        raise ParameterError("adata has no layers['log']; pass the output of rp.pp.zscore(adata).")
    _check_label_key(adata, label_key)
    for name, value in (("n_top_genes", n_top_genes), ("n_pcs", n_pcs), ("n_neighbors", n_neighbors)):
        if not (isinstance(value, int) and value >= 2):
            raise ParameterError(f"{name} = {value!r} is invalid: use an integer >= 2.")
    if not resolution > 0:
        raise ParameterError(f"resolution = {resolution!r} is invalid: use a number > 0.")


def _leiden_at_count(ad: Any, Z: np.ndarray, y: np.ndarray, k: int, params: dict[str, Any], random_state: int,
                     seconds: float) -> dict[str, Any]:
    """The row of Leiden at the resolution whose cluster count is the labels' (bisection on ``ad``'s graph)."""
    found: dict[str, Any] = {}

    def bisect() -> np.ndarray:
        found["r"], labels, found["runs"], found["exact"] = leiden_resolution_for(ad, k, random_state=random_state)
        return labels

    with single_threaded():
        pred_k, caught_k, seconds_k = capture(bisect)
    row = labelling_row(Z, y, pred_k, method=LEIDEN_COUNT,
                        params={**params, "resolution": round(found.get("r", float("nan")), 6)},
                        n_clusters=k, takes_count=True, random_state=random_state,
                        seconds=seconds + seconds_k, caught=caught_k)
    if "r" in found:
        n_found = len(np.unique(pred_k))
        note = (f"resolution {found['r']:.4g} (bisection, {found['runs']} Leiden runs) gives {n_found} "
                f"clusters for the true count {k}; the count comes from the labels")
        if not found["exact"]:
            note += "; no resolution tried gives the count exactly, this is the closest"
        row["message"] = "; ".join(filter(None, [note, row["message"]]))
    return row


def run_baselines(adata: Any, *, label_key: str = "label", dataset: str = "", random_state: int = 0,
                  scvi: bool | tuple = True) -> pd.DataFrame:
    """All baselines on a preprocessed AnnData (``X`` z-scored, ``layers["log"]``, and ``layers["counts"]``
    for scVI): one row each."""
    _check_label_key(adata, label_key)
    X = np.asarray(adata.X)
    y = adata.obs[label_key].astype(str).to_numpy()
    parts = [pca_kmeans(X, y, random_state=random_state, dataset=dataset),
             genes_kmeans(X, y, random_state=random_state, dataset=dataset),
             scanpy_leiden(adata, label_key=label_key, random_state=random_state, dataset=dataset)]
    if scvi:
        parts.append(scvi_rows(adata.layers.get("counts"), y, seed=random_state, random_state=random_state,
                               dataset=dataset, variants=VARIANTS if scvi is True else scvi))
    return pd.concat(parts, ignore_index=True)


def cached_baselines(adata: Any, *, random_state: int = 0, scvi: bool | tuple = True,
                     refresh: bool = False) -> pd.DataFrame:
    """:func:`run_baselines` through the cache, keyed by the preprocessed matrix, the seed, the scVI variants and
    the code that computes them (:func:`replicate.io.store.code_hash`) with the CPU caps.

    Rows are cached only when none failed (a failure may be fixed by the next version);
    ``refresh`` recomputes them even when cached.
    """
    tag = "" if scvi is True else f"-scvi{store.content_key(scvi)[:6]}"
    code = store.content_key(store.code_hash("paper.baselines"), numerics.effective())[:12]  # what computes them
    path = store.cache_dir() / "baselines" / f"{store.array_hash(adata.X)[:24]}-rs{random_state}-v2{tag}-{code}.csv"
    if path.is_file() and not refresh:
        return pd.read_csv(path)
    rows = run_baselines(adata, dataset=adata.uns.get("dataset", {}).get("name", ""), random_state=random_state,
                         scvi=scvi)
    if not (rows["status"] == "failed").any():
        store.atomic_write(path, lambda p: rows.to_csv(p, index=False))
    return rows

