"""The baselines section's tables: the live baselines on the same cells and preprocessing as the VAE."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..paper.baselines import cached_baselines
from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``baselines``: PCA + K-means, K-means on the genes, Leiden (default and at the label count) and scVI, one row
    each (:func:`replicate.paper.baselines.cached_baselines`)."""
    return {"baselines": cached_baselines(cells(params), random_state=params.get("cluster_random_state", 0))}
