"""Tools, scanpy style: train the VAE, encode new cells, cluster, embed for plotting, score.

Each function takes an AnnData first, options keyword-only, writes its results into the
AnnData and records its parameters in ``adata.uns[key]["params"]``; the one seed argument is
``seed`` and the one cache switch ``cache``::

    import replicate as rp
    rp.pp.zscore(adata)                      # X: z-scores
    model = rp.tl.vae(adata, seed=0)         # obsm["X_vae"]: the latent means
    rp.tl.encode(new_cells, model)           # new cells, scaled like the training cells
    rp.tl.cluster(adata, "kmeans")           # obs["kmeans"]: clusters
    rp.tl.umap(adata)                        # obsm["X_umap"], for rp.pl.latent
    rp.tl.evaluate(adata, "kmeans")          # CA / NMI / ARI against obs["label"]
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .io.errors import ParameterError
from .method.clustering import (
    check_inputs,
    check_params,
    check_seed,
    fit_labels,
    method_info,
    paper_setting,
)
from .method.latents import latents
from .method.metrics import evaluate as scores
from .method.neighbours import knn_graph
from .method.preprocess import looks_zscored, scaling_of, zscore
from .method.runtime import single_threaded
from .method.vae_config import VAEConfig
from .method.vae_model import VAEModel

__all__ = ["vae", "encode", "cluster", "umap", "evaluate"]

log = logging.getLogger("replicate")


def _config_params(cfg: VAEConfig) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}


def _zscores(adata: AnnData, zscore_first: bool) -> np.ndarray:
    """``adata.X`` as the VAE's float32 input, refusing (or making, when asked) anything but z-scores."""
    if "zscore" not in adata.uns:
        X = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
        ok, figures = looks_zscored(X)
        if not ok and not zscore_first:
            raise ParameterError(f"adata.X does not look z-scored ({figures}); the paper's VAE trains on z-scores. "
                                 "Run rp.pp.zscore(adata) first, or pass zscore=True to do it here.")
        if not ok:
            zscore(adata)
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
    return np.asarray(X, dtype=np.float32)


def vae(adata: AnnData, *, config: VAEConfig | None = None, seed: int = 0, key_added: str = "X_vae",
        cache: bool = True, zscore: bool = False, verbose: bool = True) -> VAEModel:
    """Train the paper's VAE on ``adata.X`` (z-scores, see :func:`replicate.pp.zscore`) and store its latents.

    Parameters
    ----------
    adata
        Cells x genes, ``X`` z-scored. Anything else (raw counts, log values) is refused with what
        to run, unless ``zscore``.
    config
        A :class:`replicate.VAEConfig`; default: the paper's configuration with batch
        normalisation (the reading that trains, see the book's VAE page).
    seed
        Fixes the initial weights, the shuffling and the sampling noise.
    key_added
        Where the latents go.
    cache
        Reuse a training with the same data, configuration and seed from the cache
        (``$REPLICATE_CACHE_DIR``); its model is rebuilt from the cached weights when it first encodes.
    zscore
        Z-score ``adata`` first (:func:`replicate.pp.zscore`, in place) when ``X`` is not z-scored.
    verbose
        Report the epochs' progress.

    Returns
    -------
    The trained :class:`replicate.VAEModel`, which knows the training genes and their scaling
    (:func:`encode` scales new cells the same way). Fields written:

    - ``adata.obsm[key_added]``: the latent mean of every cell (cells x latent_dim);
    - ``adata.obsm[key_added + "_logvar"]``: the latent log-variance;
    - ``adata.uns[key_added]["params"]``: the configuration and the seed;
    - ``adata.uns[key_added]["history"]``: per-epoch loss, reconstruction, KL and seconds;
    - ``adata.uns[key_added]["cached"]``: whether the training came from the cache.
    """
    cfg = config or VAEConfig()
    X = _zscores(adata, zscore)
    (res,) = latents(X, cfg, seeds=[seed], cache=cache, verbose=verbose)
    model = res.model.with_data(genes=list(adata.var_names.astype(str)), scaling=scaling_of(adata))
    adata.obsm[key_added] = res.mu
    adata.obsm[f"{key_added}_logvar"] = res.logvar
    adata.uns[key_added] = {"params": {**_config_params(cfg), "seed": int(seed)},
                            "history": {k: np.asarray(v) for k, v in res.history.items()}, "cached": bool(res.cached)}
    log.info("vae: %s latents in obsm[%r] (%s)", "cached" if res.cached else "trained", key_added, cfg.describe())
    return model


def encode(adata: AnnData, model: VAEModel, *, key_added: str = "X_vae") -> None:
    """Encode the cells of ``adata`` with a trained model, scaled the way its training cells were.

    Genes are aligned to the model's training genes by name (a clear error names any that are
    missing); raw counts are normalised to the training cells' total and logged; every gene is
    z-scored with the training cells' mean and standard deviation. ``adata`` may hold raw counts,
    log-normalised values, or be the output of :func:`replicate.pp.zscore` on its own. Encoding
    the training cells again reproduces their latents.

    Returns
    -------
    ``None``. Fields written:

    - ``adata.obsm[key_added]``: the latent means; ``adata.obsm[key_added + "_logvar"]``: log-variances;
    - ``adata.uns[key_added]["params"]``: the model's configuration, ``encoded: True`` and the genes used.
    """
    mu, logvar = model.encode(adata)
    adata.obsm[key_added] = mu
    adata.obsm[f"{key_added}_logvar"] = logvar
    adata.uns[key_added] = {"params": {**_config_params(model.config), "encoded": True, "genes": model.n_genes}}
    log.info("encode: %d cells in obsm[%r] (%d training genes)", adata.n_obs, key_added, model.n_genes)


def _n_clusters(adata: AnnData, method: str, n_clusters: int | None) -> int | None:
    if not method_info(method)["takes_count"]:
        return n_clusters
    if n_clusters is not None:
        return n_clusters
    if "label" in adata.obs:
        k = int(adata.obs["label"].nunique())
        log.info("cluster: n_clusters=%d taken from obs['label'], as the paper does", k)
        return k
    raise ParameterError(f"method {method!r} needs a cluster count: pass n_clusters=... (or add the true labels "
                         "as obs['label'], whose count the paper uses).")


def cluster(adata: AnnData, method: str, *, params: dict[str, Any] | None = None, use_rep: str = "X_vae",
            n_clusters: int | None = None, key_added: str | None = None, seed: int = 0,
            max_seconds: float | None = 3600) -> None:
    """Cluster the cells on a representation with one of the paper's methods.

    Parameters
    ----------
    adata
        Cells, with the representation in ``obsm[use_rep]``.
    method
        ``affinity_propagation``, ``agglomerative``, ``birch``, ``gmm``, ``kmeans``,
        ``spectral``, ``dbscan`` or ``optics``.
    params
        The method's setting (e.g. ``{"preference": -350, "damping": 0.9}``); default: the
        setting the paper reports. Built with scikit-learn 0.24.1's defaults, as in the paper.
    use_rep
        The ``obsm`` key to cluster (default the VAE's latent means).
    n_clusters
        For methods given a count; default: the number of distinct ``obs["label"]`` values.
    key_added
        The ``obs`` column written; default the method's name.
    seed
        The clusterer's own seed (scikit-learn's ``random_state``).
    max_seconds
        Refuse a setting whose estimated time is longer (``None``: no limit). Whatever the limit, a
        setting that would not fit in the memory available, or cannot work, is refused before it
        starts with :class:`~replicate.method.budget.ResourceError` (a ``MemoryError``), one line
        naming the estimate, what is available and what to do.

    Returns
    -------
    ``None``. Fields written:

    - ``adata.obs[key_added]``: the cluster of every cell, categorical (``"-1"``: noise, for
      DBSCAN and OPTICS);
    - ``adata.uns[key_added]["params"]``: ``method``, ``params``, ``use_rep``, ``n_clusters``, ``seed``.
    """
    method_info(method)
    if use_rep not in adata.obsm:
        raise ParameterError(f"use_rep = {use_rep!r} is not in adata.obsm (keys: {', '.join(adata.obsm) or 'none'}); "
                             "run rp.tl.vae(adata) first or name another representation.")
    if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                    or not max_seconds > 0):
        raise ParameterError(f"max_seconds = {max_seconds!r} is invalid: give a positive number of seconds, or None "
                             "for no time limit.")
    setting = paper_setting(method) if params is None else dict(params)
    k = _n_clusters(adata, method, n_clusters)
    Z, _ = check_inputs(np.asarray(adata.obsm[use_rep]), None, k)
    check_params(method, setting, Z.shape[0])
    check_seed(seed)
    with single_threaded():
        labels = fit_labels(Z, method, setting, n_clusters=k or 0, random_state=seed, max_seconds=max_seconds)
    key = key_added or method
    names = sorted(set(labels.tolist()))
    adata.obs[key] = pd.Categorical([str(v) for v in labels], categories=[str(v) for v in names])
    adata.uns[key] = {"params": {"method": method, "params": setting, "use_rep": use_rep,
                                 "n_clusters": -1 if k is None else int(k), "seed": int(seed)}}
    log.info("cluster: %d clusters in obs[%r] (%s, %s)", len([n for n in names if n >= 0]), key, method, setting)


def umap(adata: AnnData, *, use_rep: str = "X_vae", n_neighbors: int = 15, key_added: str | None = None,
         seed: int = 0) -> None:
    """A UMAP of a representation (default the VAE's latent means), for :func:`replicate.pl.latent`.

    The k-NN graph is scanpy's, with exact neighbours at every size (:func:`replicate.method.neighbours.knn_graph`).

    Returns
    -------
    ``None``. Fields written (scanpy's): ``adata.obsm["X_umap" | key_added]``, its parameters in
    ``adata.uns["umap" | key_added]["params"]`` (plus ``use_rep``), and the graph under
    ``adata.uns["neighbors" | key_added + "_neighbors"]`` and ``adata.obsp``.
    """
    if use_rep not in adata.obsm:
        raise ParameterError(f"use_rep = {use_rep!r} is not in adata.obsm (keys: {', '.join(adata.obsm) or 'none'}); "
                             "run rp.tl.vae(adata) first or name another representation.")
    neighbors = "neighbors" if key_added is None else f"{key_added}_neighbors"
    knn_graph(adata, use_rep=use_rep, n_neighbors=n_neighbors, random_state=seed,
              key_added=None if key_added is None else neighbors)
    sc.tl.umap(adata, random_state=seed, neighbors_key=neighbors, key_added=key_added)
    adata.uns["umap" if key_added is None else key_added]["params"]["use_rep"] = use_rep


def _missing(values: pd.Series) -> np.ndarray:
    """Cells without a value: NaN or None, or an empty string."""
    return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()


def evaluate(adata: AnnData, key: str, *, label_key: str = "label", unlabelled: str = "refuse") -> dict[str, float]:
    """The paper's three scores of the clustering in ``obs[key]`` against the true labels.

    Parameters
    ----------
    unlabelled
        What to do with cells whose true label is missing (NaN, None or empty): ``"refuse"`` (the default:
        a :class:`~replicate.io.errors.ParameterError` saying how many), or ``"skip"`` (score only the
        labelled cells, and log how many were left out). A missing label is never scored as a class
        of its own; a cell without a cluster is always refused.

    Returns
    -------
    ``{"CA": ..., "NMI": ..., "ARI": ...}`` as fractions: clustering accuracy (best one-to-one
    map), NMI divided by the larger entropy, adjusted Rand index. Nothing is written.
    """
    for name, what in ((key, "clustering"), (label_key, "true labels")):
        if name not in adata.obs:
            raise ParameterError(f"{name!r} ({what}) is not a column of adata.obs; columns: "
                                 f"{', '.join(adata.obs.columns) or 'none'}.")
    if unlabelled not in ("refuse", "skip"):
        raise ParameterError(f"unlabelled = {unlabelled!r} is invalid: use 'refuse' or 'skip'.")
    truth, found = adata.obs[label_key], adata.obs[key]
    if _missing(found).any():
        raise ParameterError(f"obs[{key!r}] has no cluster for {int(_missing(found).sum()):,} of {adata.n_obs:,} "
                             "cells: score a complete clustering.")
    gap = _missing(truth)
    if gap.any() and (unlabelled == "refuse" or gap.all()):
        raise ParameterError(f"obs[{label_key!r}] has no label for {int(gap.sum()):,} of {adata.n_obs:,} cells; "
                             "scoring them as a class of their own would inflate every score. Pass "
                             "unlabelled='skip' to score the labelled cells only, or fill in the labels.")
    if gap.any():
        log.warning("evaluate: %s of %s cells have no label in obs[%r] and were left out of the scores",
                    f"{int(gap.sum()):,}", f"{adata.n_obs:,}", label_key)
    keep = ~gap
    return scores(truth[keep].astype(str).to_numpy(), found[keep].astype(str).to_numpy())