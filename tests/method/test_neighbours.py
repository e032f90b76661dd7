"""Neighbour graphs and Leiden on them."""

from __future__ import annotations

import anndata
import numpy as np

from replicate.method.neighbours import (
    EXACT_NEIGHBOURS_BELOW,
    knn_graph,
    leiden,
    leiden_resolution_for,
)


def test_knn_graph_works_above_scanpys_exact_neighbour_limit():
    # scanpy switches to pynndescent at 8,192 cells, whose output it cannot read with current SciPy
    n = EXACT_NEIGHBOURS_BELOW + 10
    ad = anndata.AnnData(np.zeros((n, 1), dtype=np.float32))
    ad.obsm["X_latent"] = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    knn_graph(ad, use_rep="X_latent", n_neighbors=5, random_state=0)
    assert ad.obsp["connectivities"].shape == (n, n)
    assert (ad.obsp["distances"].getnnz(axis=1) == 4).all()  # exact: every cell has its 4 other neighbours



def _blobs_graph() -> anndata.AnnData:
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(4, 6) * 8, 40, axis=0)
    ad = anndata.AnnData(np.zeros((160, 1), dtype=np.float32))
    ad.obsm["X_latent"] = (centres + rng.normal(size=centres.shape)).astype(np.float32)
    knn_graph(ad, use_rep="X_latent", n_neighbors=10, random_state=0)
    return ad


def test_leiden_finds_well_separated_groups_and_the_bisection_hits_the_count():
    ad = _blobs_graph()
    labels = leiden(ad, 0.1, 0)
    assert len(np.unique(labels)) == 4 and len(np.unique(labels[:40])) == 1
    resolution, found, runs, exact = leiden_resolution_for(ad, 4, random_state=0)
    assert exact and len(np.unique(found)) == 4 and runs >= 1 and resolution > 0
