"""scVI (scvi-tools) as a live baseline: the tool a reader would otherwise use, on the raw counts.

Optional: ``pip install -e ".[scvi]"`` (PyTorch on the CPU), so scvi-tools is imported only here, inside the functions. Without it every row says so
(status ``not installed``) instead of disappearing. scVI's default model (10 latent
dimensions, ZINB likelihood) and one with a 32-dimensional latent, like the paper's VAE, are
trained on the counts; each latent is clustered with K-means and with Leiden at the label count.
Latents are cached by (counts, settings, seed).
"""

from __future__ import annotations

import time
from typing import Any

import anndata
import numpy as np
import pandas as pd

from ..io import numerics, store
from ..method.cells import labelling_row
from ..method.clustering import kmeans
from ..method.neighbours import knn_graph, leiden_resolution_for
from ..method.runtime import capture, single_threaded

__all__ = ["VARIANTS", "CLUSTERERS", "SCVI_KMEANS", "SCVI_LEIDEN_COUNT", "method_name", "available", "scvi_latent",
           "scvi_rows"]

#: (name in the rows, n_latent): scVI's default and the paper's latent size.
VARIANTS = (("scvi", 10), ("scvi32", 32))
#: How each scVI latent is clustered: K-means, and Leiden at the label count.
CLUSTERERS = ("kmeans", "leiden(count)")


def method_name(variant: str, clusterer: str) -> str:
    """The ``method`` column of an scVI row: ``<variant>+<clusterer>``."""
    return f"{variant}+{clusterer}"


#: scVI's default model clustered by K-means and by Leiden at the label count (the rows studies show).
SCVI_KMEANS, SCVI_LEIDEN_COUNT = (method_name(VARIANTS[0][0], c) for c in CLUSTERERS)


def available() -> bool:
    """Whether scvi-tools can be imported here."""
    try:
        import scvi  # noqa: F401
    except ImportError:
        return False
    return True


def scvi_latent(counts: Any, *, n_latent: int = 10, seed: int = 0, max_epochs: int | None = None) -> tuple[np.ndarray, float]:
    """scVI's latent mean of every cell (trained on raw ``counts``, cells x genes) and the training seconds."""
    import scvi

    X = np.asarray(counts.toarray() if hasattr(counts, "toarray") else counts, dtype=np.float32)
    key = store.content_key("scvi-v1", store.code_hash("paper.scvi"), numerics.effective(), store.array_hash(X), n_latent,
                            seed, max_epochs, scvi.__version__)
    path = store.cache_dir() / "scvi" / f"{key}.npz"
    hit = store.load_npz(path)
    if hit is not None:
        return hit["z"], float(hit["seconds"])
    scvi.settings.seed = seed
    ad = anndata.AnnData(X)
    scvi.model.SCVI.setup_anndata(ad)
    model = scvi.model.SCVI(ad, n_latent=n_latent)
    t0 = time.perf_counter()
    model.train(max_epochs=max_epochs, enable_progress_bar=False, accelerator="cpu", devices=1)
    seconds = time.perf_counter() - t0
    z = np.asarray(model.get_latent_representation(), dtype=np.float32)
    store.save_npz(path, z=z, seconds=np.array(seconds))
    return z, seconds


def _leiden_at_count(z: np.ndarray, k: int, random_state: int) -> np.ndarray:
    ad = anndata.AnnData(np.zeros((z.shape[0], 1), dtype=np.float32))
    ad.obsm["X_latent"] = z
    knn_graph(ad, use_rep="X_latent", random_state=random_state)
    return leiden_resolution_for(ad, k, random_state=random_state)[1]


def scvi_rows(counts: Any, labels: Any, *, seed: int = 0, random_state: int = 0, max_epochs: int | None = None,
              dataset: str = "", variants: tuple[tuple[str, int], ...] = VARIANTS) -> pd.DataFrame:
    """scVI (default and 32-d latent) + K-means and + Leiden at the label count: one row each.

    Rows have the columns of the other baselines, plus ``train_seconds``; without scvi-tools,
    or without raw counts, each row has status ``not installed`` / ``not applicable`` and says why.
    """
    y = np.asarray(labels).astype(str)
    k = int(len(np.unique(y)))
    rows = []
    X = np.asarray(counts.toarray() if hasattr(counts, "toarray") else counts) if counts is not None else None
    problem = ""
    if not available():
        problem, status = "scvi-tools is not installed: pip install -e '.[scvi]'", "not installed"
    elif X is None or not np.array_equal(X, np.round(X)):
        problem, status = "scVI needs raw counts; this dataset holds log-normalised values", "not applicable"
    for name, n_latent in variants:
        for clusterer in CLUSTERERS:
            method = method_name(name, clusterer)
            params = {"n_latent": n_latent, "seed": seed, "max_epochs": max_epochs or "scvi default"}
            if problem:
                rows.append({"method": method, "parameters": str(params), "status": status, "message": problem,
                             "CA": np.nan, "NMI": np.nan, "ARI": np.nan, "clusters_found": np.nan,
                             "train_seconds": np.nan, "embedding": "baseline", "grid": "baseline", "dataset": dataset})
                continue
            z, train_s = scvi_latent(X, n_latent=n_latent, seed=seed, max_epochs=max_epochs)
            fit = (lambda: kmeans(z, k, random_state=random_state)) if clusterer == "kmeans" else \
                (lambda: _leiden_at_count(z, k, random_state))
            with single_threaded():
                pred, caught, seconds = capture(fit)
            row = labelling_row(z, y, pred, method=method, params=params, n_clusters=k, takes_count=True,
                                random_state=random_state, seconds=seconds, caught=caught)
            row.update(train_seconds=round(train_s, 3), embedding="baseline", grid="baseline", dataset=dataset)
            rows.append(row)
    return pd.DataFrame(rows)
