"""Label-free fingerprints of a latent space, and their distance to what the paper's reports imply.

The paper says how its grids behaved on its latents (affinity propagation finds about the right
number of clusters over a wide range of preferences, BIRCH's threshold matters between 0.1 and
0.3, all four GMM covariance types work). Those statements constrain the paper's latent space
without any labels of ours; ``replicate/data/fingerprints.toml`` writes the implied values down
(before any metric was looked at), and :func:`distance` measures how far a latent is from them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.cluster import Birch
from sklearn.neighbors import NearestNeighbors

from ..io.facts import load_toml
from ..method.clustering import check_inputs, fit_labels
from ..method.runtime import capture, single_threaded

__all__ = ["targets", "fingerprint", "distance", "summarize", "choose_matched"]


def targets() -> dict[str, Any]:
    """The fingerprints' targets and weights (``replicate/data/fingerprints.toml``)."""
    return load_toml("fingerprints")


def _ap_clusters(Z: np.ndarray, preference: float, damping: float, random_state: int) -> int:
    pred, _, _ = capture(lambda: fit_labels(Z, "affinity_propagation", {"preference": preference, "damping": damping},
                                            n_clusters=0, random_state=random_state))
    return 0 if pred is None else int(len(np.unique(pred[pred >= 0])))


def _birch_singletons(Z: np.ndarray, threshold: float) -> float:
    labels = Birch(threshold=threshold, n_clusters=None).fit(Z).labels_
    sizes = np.bincount(labels)
    return float((sizes == 1).sum() / len(Z))


def _gmm_failures(Z: np.ndarray, n_clusters: int, random_state: int) -> list[str]:
    failed = []
    for cov in ("full", "tied", "diag", "spherical"):
        pred, _, _ = capture(lambda: fit_labels(Z, "gmm", {"covariance_type": cov}, n_clusters=n_clusters,
                                                random_state=random_state))
        if pred is None:
            failed.append(cov)
    return failed


def fingerprint(mu: np.ndarray, logvar: np.ndarray | None = None, history: dict[str, list[float]] | None = None,
                *, n_clusters: int = 8, random_state: int = 0) -> dict[str, Any]:
    """Every fingerprint of one latent (``mu``: cells x dims), without labels.

    ``n_clusters`` is the count the paper gives the GMM (the number of cell types), the only
    fact about the cells it uses. Returns a flat dict (one table row).
    """
    cfg = targets()
    M, _ = check_inputs(mu)  # the clusterers get the latent as it is (float32), as in the grids
    Z = M.astype(np.float64)
    row: dict[str, Any] = {}
    with single_threaded():
        for p in cfg["ap_clusters"]["preferences"]:
            row[f"ap_clusters_{abs(int(p))}"] = _ap_clusters(M, p, cfg["ap_clusters"]["damping"], random_state)
        row["birch_singletons"] = _birch_singletons(M, cfg["birch_singletons"]["threshold"])
        failed = _gmm_failures(M, n_clusters, random_state)
        row["gmm_failures"] = len(failed)
        row["gmm_failed_types"] = ",".join(failed)
        row["median_sq_distance"] = float(np.median(pdist(Z, "sqeuclidean")))
        dist, _ = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
        row["nn_distance"] = float(np.median(dist[:, 1]))
    spread = Z.std(axis=0)
    row["dim_spread_median"], row["dim_spread_max"] = float(np.median(spread)), float(spread.max())
    row["active_units"] = int((Z.var(axis=0) > 0.01).sum())
    if logvar is not None:
        row["sigma_median"] = float(np.median(np.exp(0.5 * np.asarray(logvar, dtype=np.float64))))
    if history and history.get("kl"):
        row["kl_per_cell"] = float(history["kl"][-1])
    row.update(distance(row))
    return row


def distance(row: dict[str, Any]) -> dict[str, float]:
    """Penalties of one fingerprint row against the targets, and their weighted mean ``distance``.

    0 means the latent behaves as the paper's reports say its latents did; each penalty is 1 for
    a clear miss (AP finding half or twice the count, every cell alone in BIRCH, every GMM failing).
    """
    cfg = targets()
    ap = cfg["ap_clusters"]
    logs = [abs(math.log2(max(row[f"ap_clusters_{abs(int(p))}"], 0.5) / ap["target"])) for p in ap["preferences"]]
    pen = {"penalty_ap": float(np.mean(logs))}
    b = cfg["birch_singletons"]
    pen["penalty_birch"] = max(0.0, row["birch_singletons"] - b["max_fraction"]) / (1 - b["max_fraction"])
    pen["penalty_gmm"] = row["gmm_failures"] / 4
    weights = {"penalty_ap": ap["weight"], "penalty_birch": b["weight"], "penalty_gmm": cfg["gmm_failures"]["weight"]}
    pen["distance"] = float(sum(weights[k] * v for k, v in pen.items()) / sum(weights.values()))
    return pen


def summarize(rows: pd.DataFrame, by: str = "reading") -> pd.DataFrame:
    """Mean of every numeric fingerprint per ``by`` (over seeds), in first-seen order."""
    numeric = rows.select_dtypes("number").columns.difference(["seed"])
    return rows.groupby(by, sort=False)[list(numeric)].mean()


def choose_matched(rows: pd.DataFrame, *, trained: pd.Series | None = None, by: str = "reading") -> str:
    """The reading whose latents are, on average over seeds, closest to the paper's fingerprints.

    ``trained``: per reading, whether every seed trained; readings where a seed diverged or
    collapsed cannot be chosen. Ties go to the reading seen first. Labels play no part.
    """
    means = rows.groupby(by, sort=False)["distance"].mean()
    if trained is not None:
        means = means[trained.reindex(means.index).fillna(False).astype(bool)]
    if means.empty:
        raise ValueError("no reading with every seed trained has fingerprints")
    return str(means.index[int(np.argmin(means.to_numpy()))])
