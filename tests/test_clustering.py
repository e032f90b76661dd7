from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import cluster, mixture
from sklearn.datasets import make_blobs

from replicate import clustering
from replicate.clustering import (
    PAPER_METHODS,
    PRE_EXPERIMENTS,
    SKLEARN_0241,
    SKLEARN_0241_KMEANS,
    expand_grid,
    grid_label,
    methods,
    paper_setting,
    run_cell,
)
from replicate.errors import ParameterError
from replicate.metrics import clustering_accuracy


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=200, n_features=32, centers=8, random_state=0)
    return Z, y


# --------------------------------------------------------------------------- grids


@pytest.mark.parametrize("method, size", [("affinity_propagation", 35), ("agglomerative", 4), ("birch", 49),
                                          ("gmm", 4), ("kmeans", 1), ("spectral", 25), ("dbscan", 12),
                                          ("optics", 9)])
def test_grid_sizes(method, size):
    cells = expand_grid(method)
    assert len(cells) == size
    assert len({json.dumps(c, sort_keys=True) for c in cells}) == size  # no duplicates


def test_spectral_grid_is_union_of_two_subgrids():
    cells = expand_grid("spectral")
    nn = [c for c in cells if c["affinity"] == "nearest_neighbors"]
    rbf = [c for c in cells if c["affinity"] == "rbf"]
    assert len(nn) == 20 and len(rbf) == 5
    assert all("n_neighbors" not in c for c in rbf)


@pytest.mark.parametrize("method", methods())
def test_paper_choice_is_in_grid(method):
    assert paper_setting(method) in expand_grid(method)


def test_paper_choices_match_spec():
    assert paper_setting("affinity_propagation") == {"preference": -350, "damping": 0.9}
    assert paper_setting("agglomerative")["linkage"] == "ward"
    assert paper_setting("birch") == {"threshold": 0.2, "branching_factor": 50}
    assert paper_setting("gmm") == {"covariance_type": "tied"}
    assert paper_setting("spectral") == {"affinity": "nearest_neighbors", "n_components": 8, "n_neighbors": 40}
    assert set(PAPER_METHODS) | set(PRE_EXPERIMENTS) == set(methods())
    assert methods(pre_experiments=False) == list(PAPER_METHODS)


def test_thinning_is_labelled_and_keeps_the_paper_choice():
    thinned = expand_grid("birch", thin=3)
    assert len(thinned) < 49
    assert paper_setting("birch") in thinned
    assert grid_label(3) == "thinned:every-3rd+paper"
    assert grid_label(None) == grid_label(1) == "full"
    assert expand_grid("affinity_propagation", thin="paper") == [paper_setting("affinity_propagation")]
    assert grid_label("paper") == "paper-setting"
    with pytest.raises(ParameterError, match="thin"):
        expand_grid("birch", thin=0)


# --------------------------------------------------------------------------- 0.24.1 settings


def _spy(monkeypatch, module, name):
    """Replace ``module.name`` by a subclass that records its parameters when it fits."""
    seen: list[dict] = []
    base = getattr(module, name)

    class Spy(base):
        def fit_predict(self, X, y=None, **kw):
            seen.append(self.get_params())
            return super().fit_predict(X, y, **kw)

    Spy.__name__ = name
    monkeypatch.setattr(module, name, Spy)
    return seen


def test_every_0241_setting_has_a_reason():
    for method, settings in SKLEARN_0241.items():
        for name, (value, reason) in settings.items():
            assert isinstance(reason, str) and "0.24.1" in reason, (method, name)


def test_0241_settings_reach_the_estimators(monkeypatch, blobs):
    Z, y = blobs
    spies = {name: _spy(monkeypatch, cluster, name) for name in
             ("KMeans", "AffinityPropagation", "AgglomerativeClustering", "Birch", "SpectralClustering")}
    spies["GaussianMixture"] = _spy(monkeypatch, mixture, "GaussianMixture")
    for method in PAPER_METHODS:
        run_cell(Z, y, method, paper_setting(method), n_clusters=8, random_state=0)
    (km,) = spies["KMeans"]
    assert km["n_init"] == 10 and km["algorithm"] == "elkan" and km["random_state"] == 0
    (ap,) = spies["AffinityPropagation"]
    assert (ap["random_state"], ap["max_iter"], ap["convergence_iter"], ap["affinity"]) == (0, 200, 15, "euclidean")
    assert (ap["preference"], ap["damping"]) == (-350, 0.9)
    (ag,) = spies["AgglomerativeClustering"]
    assert ag["metric"] == "euclidean" and ag["linkage"] == "ward" and ag["connectivity"] is not None
    assert ag["connectivity"].shape == (200, 200)
    (bi,) = spies["Birch"]
    assert (bi["n_clusters"], bi["threshold"], bi["branching_factor"]) == (8, 0.2, 50)
    (sp,) = spies["SpectralClustering"]
    assert (sp["n_init"], sp["assign_labels"], sp["eigen_tol"], sp["random_state"]) == (10, "kmeans", 0.0, 0)
    (gm,) = spies["GaussianMixture"]
    assert (gm["n_components"], gm["covariance_type"], gm["random_state"], gm["n_init"]) == (8, "tied", 0, 1)


def test_foundation_kmeans_keeps_working(blobs):
    Z, y = blobs
    assert SKLEARN_0241_KMEANS["n_init"] == 10
    pred = clustering.kmeans(Z, 8)
    assert len(np.unique(pred)) == 8
    assert clustering_accuracy(y, pred) > 0.9


# --------------------------------------------------------------------------- one cell


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

    monkeypatch.setattr(clustering, "fit_labels", boom)
    row = run_cell(Z, y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "failed" and "RuntimeError: solver exploded" in row["message"]
    assert np.isnan(row["CA"]) and np.isnan(row["clusters_found"])


def test_wrong_count_is_a_warning(blobs):
    Z, y = blobs
    row = run_cell(Z, y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "ok"
    row = run_cell(np.repeat(Z[:3], [100, 50, 50], axis=0), y, "kmeans", {}, n_clusters=8)
    assert row["status"] == "warning" and "found 3 clusters where 8" in row["message"]


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if any clusterer is fitted: bad input must be refused first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the parameters were checked")

    monkeypatch.setattr(clustering, "fit_labels", forbidden)


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
    row = run_cell(Z, y, "affinity_propagation", {"preference": -350, "damping": 0.9}, n_clusters=8,
                   time_limit_s=0.05)
    assert row["status"] == "timeout" and "time limit of 0.05 s reached" in row["message"]
    assert np.isnan(row["CA"]) and row["seconds"] < 5
    fast = run_cell(Z[:200], y[:200], "kmeans", {}, n_clusters=8, time_limit_s=30)
    assert fast["status"] == "ok"
