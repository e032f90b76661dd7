"""What a reader sees for each method: one display name per method and baseline, for every page built from tables
(the recipe's book, the performance page), never the code's identifier (``affinity_propagation``)."""

from __future__ import annotations

from ..paper.baselines import GENES_KMEANS, LEIDEN, LEIDEN_COUNT, PCA_KMEANS
from ..paper.scvi import SCVI_KMEANS, SCVI_LEIDEN_COUNT

__all__ = ["NAMES", "name"]

#: Names on the page.
NAMES = {"affinity_propagation": "Affinity propagation", "agglomerative": "Agglomerative", "birch": "BIRCH",
         "gmm": "Gaussian mixture", "kmeans": "K-means", "spectral": "Spectral", "dbscan": "DBSCAN", "optics": "OPTICS",
         PCA_KMEANS: "PCA(32) + K-means", GENES_KMEANS: "genes + K-means", LEIDEN: "Leiden (scanpy default)",
         LEIDEN_COUNT: "Leiden at the label count", SCVI_KMEANS: "scVI + K-means",
         SCVI_LEIDEN_COUNT: "scVI + Leiden at the label count"}


def name(method: str) -> str:
    """The display name of ``method`` (the identifier itself when it has none)."""
    return NAMES.get(method, method)
