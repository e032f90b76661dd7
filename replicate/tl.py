"""Tools, scanpy style: train the VAE, cluster its latent space, score a clustering.

Each function takes an AnnData first, options keyword-only, writes its results into the
AnnData and records its parameters in ``adata.uns[key]["params"]``::

    import replicate as rp
    rp.pp.zscore(adata)                      # X: z-scores
    model = rp.tl.vae(adata, seed=0)         # obsm["X_vae"]: the latent means
    rp.tl.cluster(adata, "kmeans")           # obs["kmeans"]: clusters
    rp.tl.evaluate(adata, "kmeans")          # CA / NMI / ARI against obs["label"]
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

    from .vae import VAEConfig, VAEModel

__all__ = ["vae", "cluster", "evaluate"]

log = logging.getLogger("replicate")


def vae(adata: AnnData, config: VAEConfig | None = None, *, seed: int = 0, key_added: str = "X_vae",
        use_cache: bool = True) -> VAEModel:
    """Train the paper's VAE on ``adata.X`` (z-scores, see :func:`replicate.pp.zscore`) and store its latents.

    Parameters
    ----------
    adata
        Cells x genes, ``X`` z-scored.
    config
        A :class:`replicate.vae.VAEConfig`; default: the paper's configuration with batch
        normalisation (the reading that trains, see the book's VAE page).
    seed
        Fixes the initial weights, the shuffling and the sampling noise.
    key_added
        Where the latents go.
    use_cache
        Reuse a training with the same data, configuration and seed from the cache
        (``$REPLICATE_CACHE_DIR``); the model is rebuilt from the cached weights.

    Returns
    -------
    The trained :class:`replicate.vae.VAEModel` (``model.encode(new_cells)`` gives their latents).
    Fields written:

    - ``adata.obsm[key_added]``: the latent mean of every cell (cells x latent_dim);
    - ``adata.obsm[key_added + "_logvar"]``: the latent log-variance;
    - ``adata.uns[key_added]["params"]``: the configuration and the seed;
    - ``adata.uns[key_added]["history"]``: per-epoch loss, reconstruction, KL and seconds.
    """
    from .vae import VAEConfig, fit

    cfg = config or VAEConfig()
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
    res = fit(np.asarray(X, dtype=np.float32), cfg, seed=seed, use_cache=use_cache)
    adata.obsm[key_added] = res.mu
    adata.obsm[f"{key_added}_logvar"] = res.logvar
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    adata.uns[key_added] = {"params": {**params, "seed": int(seed)},
                            "history": {k: np.asarray(v) for k, v in res.history.items()}}
    log.info("vae: %s latents in obsm[%r] (%s)", "cached" if res.cached else "trained", key_added, cfg.describe())
    return res.model


def _n_clusters(adata: AnnData, method: str, n_clusters: int | None) -> int | None:
    from .clustering import method_info

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


def cluster(adata: AnnData, method: str, params: dict[str, Any] | None = None, *, use_rep: str = "X_vae",
            n_clusters: int | None = None, key_added: str | None = None, random_state: int = 0) -> None:
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
    random_state
        The clusterer's own seed.

    Returns
    -------
    ``None``. Fields written:

    - ``adata.obs[key_added]``: the cluster of every cell, categorical (``"-1"``: noise, for
      DBSCAN and OPTICS);
    - ``adata.uns[key_added]["params"]``: ``method``, ``params``, ``use_rep``, ``n_clusters``,
      ``random_state``.
    """
    from .clustering import check_inputs, check_params, check_seed, fit_labels, method_info, paper_setting, single_threaded

    method_info(method)
    if use_rep not in adata.obsm:
        raise ParameterError(f"use_rep = {use_rep!r} is not in adata.obsm (keys: {', '.join(adata.obsm) or 'none'}); "
                             "run rp.tl.vae(adata) first or name another representation.")
    setting = paper_setting(method) if params is None else dict(params)
    k = _n_clusters(adata, method, n_clusters)
    Z, _ = check_inputs(np.asarray(adata.obsm[use_rep]), None, k)
    check_params(method, setting, Z.shape[0])
    check_seed(random_state)
    with single_threaded():
        labels = fit_labels(Z, method, setting, n_clusters=k or 0, random_state=random_state)
    key = key_added or method
    names = sorted(set(labels.tolist()))
    adata.obs[key] = pd.Categorical([str(v) for v in labels], categories=[str(v) for v in names])
    adata.uns[key] = {"params": {"method": method, "params": setting, "use_rep": use_rep,
                                 "n_clusters": -1 if k is None else int(k), "random_state": int(random_state)}}
    log.info("cluster: %d clusters in obs[%r] (%s, %s)", len([n for n in names if n >= 0]), key, method, setting)


def evaluate(adata: AnnData, key: str, *, label_key: str = "label") -> dict[str, float]:
    """The paper's three scores of the clustering in ``obs[key]`` against the true labels.

    Returns
    -------
    ``{"CA": ..., "NMI": ..., "ARI": ...}`` as fractions: clustering accuracy (best one-to-one
    map), NMI divided by the larger entropy, adjusted Rand index. Nothing is written.
    """
    from .metrics import evaluate as scores

    for name, what in ((key, "clustering"), (label_key, "true labels")):
        if name not in adata.obs:
            raise ParameterError(f"{name!r} ({what}) is not a column of adata.obs; columns: "
                                 f"{', '.join(adata.obs.columns) or 'none'}.")
    return scores(adata.obs[label_key].astype(str).to_numpy(), adata.obs[key].astype(str).to_numpy())
