"""The paper's clusterers: their settings as the paper reports them and scikit-learn 0.24.1's."""



import numpy as np
import pytest
from sklearn import cluster, mixture
from sklearn.datasets import make_blobs

from replicate.method import clustering
from replicate.method.cells import run_cell
from replicate.method.clustering import (
    PAPER_METHODS,
    PRE_EXPERIMENTS,
    SKLEARN_0241,
    SKLEARN_0241_KMEANS,
    fit_labels,
    methods,
    paper_setting,
    sklearn_0241_kwargs,
)
from replicate.method.metrics import clustering_accuracy


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=200, n_features=32, centers=8, random_state=0)
    return Z, y



def test_paper_choices_match_spec():
    assert paper_setting("affinity_propagation") == {"preference": -350, "damping": 0.9}
    assert paper_setting("agglomerative")["linkage"] == "ward"
    assert paper_setting("birch") == {"threshold": 0.2, "branching_factor": 50}
    assert paper_setting("gmm") == {"covariance_type": "tied"}
    assert paper_setting("spectral") == {"affinity": "nearest_neighbors", "n_components": 8, "n_neighbors": 40}
    assert set(PAPER_METHODS) | set(PRE_EXPERIMENTS) == set(methods())
    assert methods(pre_experiments=False) == list(PAPER_METHODS)



def _spy(monkeypatch, module, name):
    """Replace ``module.name`` by a subclass that records its parameters when it fits."""
    seen: list[dict] = []
    base = getattr(module, name)

    class Spy(base):
        def fit_predict(self, X, y=None, **kw):
            seen.append(self.get_params())
            return super().fit_predict(X, y, **kw)

        if name == "Birch":  # fitted in two steps: the tree, then (checked) the global step
            def partial_fit(self, X=None, y=None):
                seen.append(self.get_params())
                return super().partial_fit(X, y)

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



def test_birch_in_two_steps_gives_the_labels_of_one_fit_predict(blobs):
    """fit_labels builds BIRCH's tree, checks its final step on the subclusters, then runs only that step:
    the labels scikit-learn's own fit_predict gives, also where it warns of too few subclusters."""
    Z, _ = blobs
    for params, k in (({"threshold": 0.2}, 8), ({"threshold": 0.5, "branching_factor": 20}, 5), ({"threshold": 50.0}, 8)):
        ours = fit_labels(Z, "birch", params, n_clusters=k)
        theirs = cluster.Birch(n_clusters=k, **{**sklearn_0241_kwargs("birch"), **params}).fit_predict(Z)
        assert np.array_equal(ours, theirs)
