"""Clustering the latent space. The foundation has K-means; the full grids come with the clustering issue.

scikit-learn 0.24.1 (the paper's version) ran K-means with ``n_init=10``; today's default is
``"auto"`` (one k-means++ start), so ``n_init=10`` is set explicitly to match the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError
from .metrics import evaluate

__all__ = ["kmeans", "score_kmeans"]

SKLEARN_0241_KMEANS = {"n_init": 10, "init": "k-means++", "max_iter": 300, "tol": 1e-4, "algorithm": "lloyd"}


def kmeans(Z: np.ndarray, n_clusters: int, *, random_state: int = 0) -> np.ndarray:
    """K-means labels of the rows of ``Z`` with scikit-learn 0.24.1's defaults."""
    from sklearn.cluster import KMeans

    Z = np.asarray(Z)
    if not np.isfinite(Z).all():
        raise ParameterError("the embedding contains NaN or inf; it cannot be clustered.")
    if not 1 <= n_clusters <= Z.shape[0]:
        raise ParameterError(f"n_clusters = {n_clusters} is invalid for {Z.shape[0]} cells: use 1..{Z.shape[0]}.")
    return KMeans(n_clusters=n_clusters, random_state=random_state, **SKLEARN_0241_KMEANS).fit_predict(Z)


def score_kmeans(latents: list[np.ndarray], labels: Any, *, seeds: list[int], random_state: int = 0) -> "Any":
    """One row per VAE seed: K-means on its latent mean, scored against ``labels``."""
    import pandas as pd

    labels = np.asarray(labels)
    k = len(np.unique(labels))
    rows = []
    for seed, Z in zip(seeds, latents, strict=True):
        pred = kmeans(Z, k, random_state=random_state)
        rows.append({"vae_seed": seed, "method": "kmeans", "n_clusters": k,
                     "clusters_found": int(len(np.unique(pred))), **evaluate(labels, pred)})
    return pd.DataFrame(rows)
