"""Neighbour graphs and Leiden clustering on them (scanpy), shared by the baselines and the figures."""

from __future__ import annotations

from typing import Any

import numpy as np
import scanpy as sc

__all__ = ["EXACT_NEIGHBOURS_BELOW", "knn_graph", "leiden", "leiden_resolution_for"]


#: From this many cells on, scanpy's neighbours switch from exact distances to pynndescent.
EXACT_NEIGHBOURS_BELOW = 8192



def knn_graph(adata: Any, **kwargs: Any) -> None:
    """``sc.pp.neighbors`` with exact neighbours at every size.

    Below 8,192 cells scanpy computes exact euclidean neighbours itself; above, it uses
    pynndescent, whose sparse *array* output scanpy 1.11 cannot read with SciPy >= 1.14
    ("'csr_array' object has no attribute 'getnnz'": Leiden failed on the 8,617-cell CBMC file).
    scikit-learn's exact transformer keeps the result what scanpy computes on smaller data.
    """
    if adata.n_obs >= EXACT_NEIGHBOURS_BELOW and "transformer" not in kwargs:
        kwargs["transformer"] = "sklearn"
    sc.pp.neighbors(adata, **kwargs)



def leiden(ad: Any, resolution: float, random_state: int) -> np.ndarray:
    """Leiden labels of ``ad``'s neighbour graph at ``resolution`` (igraph flavour, 2 iterations, undirected)."""
    sc.tl.leiden(ad, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                 random_state=random_state, key_added="_leiden")
    return ad.obs["_leiden"].astype(int).to_numpy()



def leiden_resolution_for(ad: Any, k: int, *, random_state: int = 0, max_steps: int = 30,
                          max_resolution: float = 64.0) -> tuple[float, np.ndarray, int, bool]:
    """Bisect Leiden's resolution for ``k`` clusters on ``ad``'s neighbour graph.

    Returns (resolution, labels, runs, exact). The count is not strictly monotone in the
    resolution, so the bisection may miss ``k``; then the closest count is returned (ties: the
    smaller resolution) with ``exact`` False.
    """
    seen: dict[float, np.ndarray] = {}

    def count(r: float) -> int:
        if r not in seen:
            seen[r] = leiden(ad, r, random_state)
        return len(np.unique(seen[r]))

    lo, hi = 0.0, 1.0
    while count(hi) < k and hi < max_resolution:
        lo, hi = hi, hi * 2
    for _ in range(max_steps):
        n_hi = count(hi)
        if n_hi == k:
            break
        mid = (lo + hi) / 2
        n_mid = count(mid)
        if n_mid == k:
            break
        if n_mid < k:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4:
            break
    best = min(seen, key=lambda r: (abs(len(np.unique(seen[r])) - k), r))
    return best, seen[best], len(seen), len(np.unique(seen[best])) == k

