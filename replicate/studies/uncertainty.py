"""The paper's future work: clustering with the latent uncertainty, not only the mean.

The encoder gives every cell a Gaussian posterior N(mu, diag sigma^2). Three ways to use it,
each compared with mu alone on the same trained VAEs (paired by seed):

- distances between the cells' posteriors -- the closed-form 2-Wasserstein distance between
  diagonal Gaussians (W2^2 = |mu_i - mu_j|^2 + |sigma_i - sigma_j|^2) and the Bhattacharyya
  distance -- fed to the methods that take a precomputed distance or affinity;
- Monte-Carlo consensus: K-means on S samples z ~ q(z|x) of every cell, combined through the
  co-association matrix (how often two cells share a cluster), cut into k clusters;
- the uncertainty as information: does a cell's mean sigma say where the clustering is wrong?
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn import cluster
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import roc_auc_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.neighbors import kneighbors_graph

from ..io import numerics, store
from ..method.clustering import kmeans, paper_setting
from ..method.metrics import evaluate
from ..method.runtime import capture, single_threaded
from ..paper.stats import paired_effect

__all__ = ["REPRESENTATIONS", "PRECOMPUTED", "distances", "cluster_precomputed", "consensus", "misclustered",
           "sigma_auc", "compare", "compare_cached", "effects"]

#: The representations compared: Euclidean on mu (the paper), and the two posterior distances.
REPRESENTATIONS = ("mu (Euclidean)", "posterior (2-Wasserstein)", "posterior (Bhattacharyya)")
#: Methods that accept a precomputed distance or affinity, with the setting used for every representation.
PRECOMPUTED = ("affinity_propagation", "agglomerative", "spectral", "dbscan", "optics")


def distances(mu: np.ndarray, logvar: np.ndarray, kind: str, *, chunk: int = 256) -> np.ndarray:
    """Cells x cells distance matrix between the posteriors (``kind``: one of :data:`REPRESENTATIONS`)."""
    mu = np.asarray(mu, dtype=np.float64)
    var = np.exp(np.asarray(logvar, dtype=np.float64))
    if kind == REPRESENTATIONS[0]:
        return cdist(mu, mu)
    if kind == REPRESENTATIONS[1]:
        return cdist(np.hstack([mu, np.sqrt(var)]), np.hstack([mu, np.sqrt(var)]))
    if kind != REPRESENTATIONS[2]:
        raise ValueError(f"kind = {kind!r} is not one of {REPRESENTATIONS}")
    n = len(mu)
    out = np.empty((n, n))
    logdet = np.log(var).sum(axis=1)
    for start in range(0, n, chunk):
        a, va = mu[start:start + chunk, None, :], var[start:start + chunk, None, :]
        avg = 0.5 * (va + var[None, :, :])
        maha = ((a - mu[None, :, :]) ** 2 / avg).sum(axis=2)
        out[start:start + chunk] = 0.125 * maha + 0.5 * (np.log(avg).sum(axis=2)
                                                         - 0.5 * (logdet[start:start + chunk, None] + logdet[None, :]))
    np.fill_diagonal(out, 0.0)
    return np.maximum(out, 0.0)


def cluster_precomputed(D: np.ndarray, method: str, k: int, *, random_state: int = 0,
                        reference_sq: float | None = None) -> np.ndarray:
    """Labels of ``method`` on a distance matrix, with the paper's setting carried over where it can be.

    Affinity propagation: similarity -D^2, damping 0.9 and the paper's preference -350 rescaled by
    how the median squared distance compares with mu's (``reference_sq``; so on mu it is exactly
    -350); agglomerative: average linkage constrained to the 10-nearest-neighbour graph (our
    setting of the paper's connectivity constraint; Ward needs coordinates); spectral: the
    paper's 40-nearest-neighbour affinity; DBSCAN: eps = the median distance to the 10th
    neighbour; OPTICS: scikit-learn's defaults. No labels are used.
    """
    if method == "affinity_propagation":
        sq = D ** 2
        scale = 1.0 if not reference_sq else float(np.median(sq[np.triu_indices_from(sq, 1)])) / reference_sq
        ap = paper_setting("affinity_propagation")
        return cluster.AffinityPropagation(affinity="precomputed", damping=ap["damping"],
                                           preference=ap["preference"] * scale, random_state=random_state).fit_predict(-sq)
    if method == "agglomerative":
        graph = kneighbors_graph(D, n_neighbors=10, metric="precomputed", include_self=False)
        return cluster.AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average",
                                               connectivity=0.5 * (graph + graph.T)).fit_predict(D)
    if method == "spectral":
        return cluster.SpectralClustering(n_clusters=k, affinity="precomputed_nearest_neighbors", n_neighbors=40,
                                          random_state=random_state, assign_labels="kmeans", n_init=10).fit_predict(D)
    if method == "dbscan":
        eps = float(np.median(np.sort(D, axis=1)[:, 10]))
        return cluster.DBSCAN(eps=eps, min_samples=10, metric="precomputed").fit_predict(D)
    if method == "optics":
        return cluster.OPTICS(metric="precomputed").fit_predict(D)
    raise ValueError(f"method = {method!r} takes no precomputed distance here; use one of {PRECOMPUTED}")


def consensus(mu: np.ndarray, logvar: np.ndarray, k: int, *, samples: int = 20, random_state: int = 0) -> np.ndarray:
    """Monte-Carlo consensus: K-means on ``samples`` draws of every cell's latent, then average-linkage
    agglomerative clustering of 1 - (how often two cells share a cluster)."""
    rng = np.random.default_rng(random_state)
    sigma = np.exp(0.5 * np.asarray(logvar, dtype=np.float64))
    n = len(mu)
    together = np.zeros((n, n))
    for s in range(samples):
        z = np.asarray(mu, dtype=np.float64) + sigma * rng.standard_normal(sigma.shape)
        labels = kmeans(z.astype(np.float32), k, random_state=random_state + s)
        together += labels[:, None] == labels[None, :]
    together /= samples
    return AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average").fit_predict(1 - together)


def misclustered(true: Any, pred: Any) -> np.ndarray:
    """True for the cells the best one-to-one map of clusters to labels gets wrong (the cells CA counts as errors)."""
    true, pred = np.asarray(true).astype(str), np.asarray(pred).astype(str)
    classes, clusters = np.unique(true), np.unique(pred)
    table = contingency_matrix(true, pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {clusters[c]: classes[r] for r, c in zip(rows, cols)}
    return np.array([mapping.get(p) != t for t, p in zip(true, pred)])


def sigma_auc(logvar: np.ndarray, wrong: np.ndarray) -> float:
    """AUROC of a cell's mean posterior sigma for predicting that it is mis-clustered (0.5: no information)."""
    if wrong.all() or not wrong.any():
        return float("nan")
    return float(roc_auc_score(wrong, np.exp(0.5 * np.asarray(logvar)).mean(axis=1)))


def compare(mu: np.ndarray, logvar: np.ndarray, labels: Any, *, seed: int, random_state: int = 0,
            methods: tuple[str, ...] = PRECOMPUTED, samples: int = 20) -> pd.DataFrame:
    """Every method on every representation, plus K-means and the consensus, for one VAE's latent.

    Rows: seed, method, representation, clusters_found, CA, NMI, ARI, status, and for K-means on
    mu the AUROC of sigma for its mis-clustered cells (``sigma_auc``).
    """
    y = np.asarray(labels).astype(str)
    k = int(len(np.unique(y)))
    rows = []

    def add(method: str, rep: str, fit: Any, extra: dict | None = None) -> np.ndarray | None:
        with single_threaded():
            pred, caught, seconds = capture(fit)
        rec = {"seed": seed, "method": method, "representation": rep, "seconds": round(seconds, 3),
               "status": "failed" if pred is None else "ok", "message": "; ".join(caught)[:300]}
        if pred is not None:
            rec.update(clusters_found=int(len(np.unique(pred[pred >= 0]))), **evaluate(y, pred))
        rows.append({**rec, **(extra or {})})
        return pred

    reference = None
    for rep in REPRESENTATIONS:
        D = distances(mu, logvar, rep)
        if reference is None:  # mu's median squared distance: the scale the paper's AP preference was set on
            reference = float(np.median(D[np.triu_indices_from(D, 1)] ** 2))
        for method in methods:
            add(method, rep, lambda: cluster_precomputed(D, method, k, random_state=random_state, reference_sq=reference))
    km = add("kmeans", REPRESENTATIONS[0], lambda: kmeans(mu, k, random_state=random_state))
    if km is not None:
        rows[-1]["sigma_auc"] = sigma_auc(logvar, misclustered(y, km))
    add("kmeans", f"Monte-Carlo consensus ({samples} samples)",
        lambda: consensus(mu, logvar, k, samples=samples, random_state=random_state))
    return pd.DataFrame(rows)


def compare_cached(mu: np.ndarray, logvar: np.ndarray, labels: Any, *, seed: int, samples: int = 20) -> pd.DataFrame:
    """:func:`compare` through the cache (keyed by the latent, its labels, the settings, the code and the CPU caps)."""
    key = store.content_key("uncertainty-v1", store.code_hash("studies.uncertainty"), numerics.effective(),
                            store.array_hash(np.asarray(mu)), store.array_hash(np.asarray(logvar)),
                            store.array_hash(np.asarray(labels).astype(str)), seed, samples)
    path = store.cache_dir() / "uncertainty" / f"{key}.csv"
    if path.is_file():
        return pd.read_csv(path)
    rows = compare(mu, logvar, labels, seed=seed, samples=samples)
    store.atomic_write(path, lambda p: rows.to_csv(p, index=False))
    return rows


def effects(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method and representation: the paired effect (points, 95% CI over VAE seeds) against mu alone."""
    out = []
    for method, part in rows.groupby("method", sort=False):
        base_rep = REPRESENTATIONS[0]
        base = part[part["representation"] == base_rep].set_index("seed")
        for rep, other in part[part["representation"] != base_rep].groupby("representation", sort=False):
            other = other.set_index("seed")
            for metric in ("CA", "ARI"):
                out.append({"method": method, "representation": rep, "metric": metric,
                            "mu alone": 100 * base[metric].mean(), "with uncertainty": 100 * other[metric].mean(),
                            **paired_effect(base[metric], other[metric])})
    return pd.DataFrame(out)
