"""One clustering cell: a tidy row for every outcome, and bad input refused before any work."""


import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from replicate.io.errors import ParameterError
from replicate.method import cells, clustering
from replicate.method.cells import run_cell
from replicate.method.clustering import (
    PAPER_METHODS,
    methods,
    paper_setting,
)


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=200, n_features=32, centers=8, random_state=0)
    return Z, y



def test_run_cell_kmeans_on_blobs(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "ok" and row["message"] == ""
    assert row["CA"] > 0.9 and row["clusters_found"] == 8 and row["noise_cells"] == 0
    for column in ("method", "parameters", "clusters_found", "CA", "NMI", "ARI", "silhouette", "seconds",
                   "status", "message", "sklearn", "numpy"):
        assert column in row



@pytest.mark.parametrize("method", methods())
def test_run_cell_every_method_gives_a_row(method, blobs):
    Z, y = blobs
    row = run_cell(Z, y, method, paper_setting(method), n_clusters=8)
    # on 8 well-separated blobs: agglomerative warns that its k-NN graph has 8 components (one per
    # blob), DBSCAN's default eps 0.5 is far below the blobs' spread (every cell is noise)
    expected = {"agglomerative": "warning", "dbscan": "failed"}.get(method, "ok")
    assert row["status"] == expected, row["message"]
    assert json.loads(row["parameters"]) == paper_setting(method)
    for name, value in paper_setting(method).items():
        assert row[f"param_{name}"] == value
    if row["status"] != "ok":
        assert row["message"]
    if method in PAPER_METHODS:
        assert row["CA"] > 0.9, row



def test_affinity_propagation_not_converging_is_a_row(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "affinity_propagation", {"preference": -350, "damping": 0.9, "max_iter": 2}, n_clusters=8)
    assert row["status"] in ("failed", "warning")
    assert "converge" in row["message"]
    assert json.loads(row["parameters"])["max_iter"] == 2



def test_single_cluster_is_failed(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "dbscan", {"eps": 1e6, "min_samples": 5}, n_clusters=8)
    assert row["status"] == "failed" and "only one cluster" in row["message"]
    assert row["clusters_found"] == 1 and row["ARI"] == pytest.approx(0.0)



def test_all_noise_is_failed(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "dbscan", {"eps": 1e-3, "min_samples": 5}, n_clusters=8)
    assert row["status"] == "failed" and "no cluster found" in row["message"]
    assert row["noise_cells"] == 200



def test_exception_is_a_failed_row_with_nan_metrics(monkeypatch, blobs):
    Z, y = blobs

    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(cells, "fit_labels", boom)
    row = run_cell(Z, y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "failed" and "RuntimeError: solver exploded" in row["message"]
    assert np.isnan(row["CA"]) and np.isnan(row["clusters_found"])



def test_wrong_count_is_a_warning(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "ok"
    row = run_cell(np.repeat(Z[:3], [100, 50, 50], axis=0), y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "warning" and "found 3 clusters where 8" in row["message"]



@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if any clusterer is fitted: bad input must be refused first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the parameters were checked")

    monkeypatch.setattr(cells, "fit_labels", forbidden)



@pytest.mark.parametrize("method, params, n_clusters, match", [
    ("kmean", {}, 8, r"method = 'kmean' is unknown; known methods: affinity_propagation, .*kmeans"),
    ("birch", {"threshold": -0.1, "branching_factor": 50}, 8, r"birch parameter threshold = -0\.1 is invalid"),
    ("birch", {"threshold": 0.2, "branching_factor": 1}, 8, r"branching_factor = 1 is invalid"),
    ("affinity_propagation", {"preference": -350, "damping": 1.5}, 8, r"damping = 1\.5 is invalid"),
    ("gmm", {"covariance_type": "ful"}, 8, r"covariance_type = 'ful' is invalid"),
    ("spectral", {"affinity": "cosine", "n_components": 8}, 8, r"affinity = 'cosine' is invalid"),
    ("birch", {"treshold": 0.2}, 8, r"parameter 'treshold' is unknown for method 'birch'; allowed: "),
    ("kmeans", {"random_state": 3}, 8, r"random_state"),
    ("kmeans", {}, 201, r"n_clusters = 201 is invalid for 200 cells"),
    ("kmeans", {}, 0, r"n_clusters = 0 is invalid"),
    ("kmeans", {}, 8.0, r"n_clusters = 8\.0 is invalid"),
    ("spectral", {"affinity": "nearest_neighbors", "n_components": 8, "n_neighbors": 200}, 8, r"n_neighbors = 200"),
])
def test_bad_parameters_raise_before_work(no_fit, blobs, method, params, n_clusters, match):
    Z, y = blobs
    with pytest.raises(ParameterError, match=match):
        run_cell(Z, y, method, params, n_clusters=n_clusters)



def test_bad_embedding_and_labels_raise(no_fit, blobs):
    Z, y = blobs
    bad = Z.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ParameterError, match=r"Z \(the embedding\) contains NaN or inf in 1 cell"):
        run_cell(bad, y, "kmeans", {}, n_clusters=8)
    bad[3, 4] = np.inf
    with pytest.raises(ParameterError, match="NaN or inf"):
        clustering.kmeans(bad, 8)
    with pytest.raises(ParameterError, match=r"labels has shape \(199,\) but Z has 200 cells"):
        run_cell(Z, y[:-1], "kmeans", {}, n_clusters=8)
    with pytest.raises(ParameterError, match="Z must be a cells x dimensions matrix"):
        run_cell(Z[0], y, "kmeans", {}, n_clusters=8)
    with pytest.raises(ParameterError, match="random_state = None is invalid"):
        run_cell(Z, y, "kmeans", {}, n_clusters=8, random_state=None)



def test_a_cell_past_its_time_limit_is_a_timeout_row():
    Z, y = make_blobs(n_samples=1500, n_features=32, centers=8, random_state=0)
    # a linear method has no time model, so it starts, and the limit stops it
    row = run_cell(Z, y, "gmm", {"covariance_type": "full", "max_iter": 100000, "tol": 0.0, "n_init": 50},
                   n_clusters=8, time_limit_s=0.05)
    assert row["status"] == "timeout" and "time limit of 0.05 s reached" in row["message"]
    assert np.isnan(row["CA"]) and row["seconds"] < 5
    fast = run_cell(Z[:200], y[:200], "kmeans", {}, n_clusters=8, time_limit_s=30)
    assert fast["status"] == "ok"



def test_a_cell_estimated_past_twice_its_time_limit_is_a_skipped_row_and_not_started():
    Z, y = make_blobs(n_samples=1500, n_features=32, centers=8, random_state=0)
    row = run_cell(Z, y, "affinity_propagation", {"preference": -350, "damping": 0.9}, n_clusters=8,
                   time_limit_s=0.05)
    assert row["status"] == "skipped" and row["message"].startswith("affinity_propagation on 1,500 cells would take")
    assert "the limit is 0 s" not in row["message"] and np.isnan(row["CA"]) and row["seconds"] < 1
