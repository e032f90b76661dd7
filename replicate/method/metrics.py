"""The paper's clustering metrics (eqs. 8-10): CA, NMI (max-normalised) and ARI."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

__all__ = ["clustering_accuracy", "nmi", "ari", "evaluate"]


def _check(true, pred) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(true).ravel()
    pred = np.asarray(pred).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"true has {true.size} labels but pred has {pred.size}; they must match.")
    if true.size == 0:
        raise ValueError("cannot score an empty labelling.")
    return true, pred


def clustering_accuracy(true, pred) -> float:
    """CA (eq. 8): fraction of cells correct under the best one-to-one cluster-to-class map.

    The map is found with the Hungarian algorithm on the contingency table; with more clusters
    than classes (or fewer), the unmatched ones count as wrong.
    """
    true, pred = _check(true, pred)
    table = contingency_matrix(true, pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / true.size)


def nmi(true, pred) -> float:
    """NMI (eq. 9): I(T, P) / max(H(T), H(P)) -- the paper's normalisation, not sklearn's default."""
    true, pred = _check(true, pred)
    return float(normalized_mutual_info_score(true, pred, average_method="max"))


def ari(true, pred) -> float:
    """ARI (eq. 10): the adjusted Rand index."""
    true, pred = _check(true, pred)
    return float(adjusted_rand_score(true, pred))


def evaluate(true, pred) -> dict[str, float]:
    """All three metrics as fractions in a dict ``{"CA", "NMI", "ARI"}``."""
    return {"CA": clustering_accuracy(true, pred), "NMI": nmi(true, pred), "ARI": ari(true, pred)}
