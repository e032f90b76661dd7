"""The paper's clusterers: the methods of ``replicate/data/grids.toml`` built with scikit-learn
0.24.1's settings (:data:`SKLEARN_0241`, each with the reason it is set), their parameter checks,
and fitting one setting (:func:`fit_labels`). One scored grid cell is :mod:`replicate.method.cells`;
expanding a method's grid is :mod:`replicate.grid.plan`. Bad input raises
:class:`~replicate.io.errors.ParameterError` before any work starts.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn import cluster, mixture
from sklearn.cluster import KMeans
from sklearn.neighbors import kneighbors_graph

from ..io.errors import ParameterError
from ..io.facts import load_toml
from . import budget
from .metrics import evaluate
from .runtime import single_threaded

__all__ = ["SKLEARN_0241", "SKLEARN_0241_KMEANS", "PAPER_METHODS", "PRE_EXPERIMENTS", "methods", "method_info",
           "paper_setting", "sklearn_0241_kwargs", "check_inputs", "check_params", "check_seed", "fit_labels",
           "kmeans", "kmeans_scores"]

# --------------------------------------------------------------------------- 0.24.1 settings

#: Every estimator setting pinned so today's scikit-learn behaves like 0.24.1 (the paper's
#: version), as ``method -> {parameter: (value, reason)}``. Settings whose default did not change
#: are pinned too, so a future change of default cannot silently alter the results. random_state
#: is not here: every stochastic method takes an explicit ``random_state`` (default 0).
#: Known residual differences that no setting can remove:
#: - the k-means inside GaussianMixture's initialisation and SpectralClustering's label
#:   assignment runs Lloyd today, Elkan in 0.24.1 (same iterates in exact arithmetic);
#: - k-means++ draws its first centre with ``rng.choice`` since 1.3 (``rng.randint`` in 0.24.1),
#:   so a given seed gives a different, equally distributed, initialisation.
SKLEARN_0241: dict[str, dict[str, tuple[Any, str]]] = {
    "kmeans": {
        "n_init": (10, "0.24.1 default 10; 'auto' since 1.4, which is a single k-means++ start"),
        "init": ("k-means++", "0.24.1 default (unchanged)"),
        "max_iter": (300, "0.24.1 default (unchanged)"),
        "tol": (1e-4, "0.24.1 default (unchanged)"),
        "algorithm": ("elkan", "0.24.1 'auto' meant Elkan for k > 1; 'auto' became Lloyd in 1.1 and was "
                               "removed in 1.3 (Elkan is an exact acceleration: same labels up to rounding)"),
    },
    "affinity_propagation": {
        "affinity": ("euclidean", "s(i,k) = -||x_i - x_k||^2, the paper's similarity (0.24.1 default, unchanged)"),
        "max_iter": (200, "0.24.1 default (unchanged)"),
        "convergence_iter": (15, "0.24.1 default (unchanged)"),
        # random_state: 0.24.1's default 'warn' used 0 for the tie-breaking noise; the default is
        # None (a fresh draw per fit) since 1.0, so random_state=0 reproduces 0.24.1.
    },
    "agglomerative": {
        "metric": ("euclidean", "0.24.1 spelled it affinity='euclidean'; renamed metric in 1.2, affinity removed in 1.4"),
        "compute_full_tree": ("auto", "0.24.1 default (unchanged)"),
        "distance_threshold": (None, "0.24.1 default (unchanged): cut at n_clusters"),
    },
    "birch": {
        "compute_labels": (True, "0.24.1 default (unchanged)"),
        # the global step is AgglomerativeClustering(n_clusters) (ward) in both versions.
    },
    "gmm": {
        "n_init": (1, "0.24.1 default (unchanged)"),
        "init_params": ("kmeans", "0.24.1 default (unchanged; 1.1 added other choices)"),
        "max_iter": (100, "0.24.1 default (unchanged)"),
        "tol": (1e-3, "0.24.1 default (unchanged)"),
        "reg_covar": (1e-6, "0.24.1 default (unchanged)"),
    },
    "spectral": {
        "n_init": (10, "0.24.1 default (unchanged): k-means restarts of the label assignment"),
        "assign_labels": ("kmeans", "0.24.1 default (unchanged; 1.1 added 'cluster_qr')"),
        "eigen_solver": ("arpack", "0.24.1 default None meant ARPACK (unchanged)"),
        "eigen_tol": (0.0, "0.24.1 default 0.0; 'auto' since 1.2 (0.0 for ARPACK, so pinned, not changed)"),
        "gamma": (1.0, "0.24.1 default (unchanged): the rbf kernel's width"),
    },
    "dbscan": {
        "metric": ("euclidean", "0.24.1 default (unchanged)"),
        "algorithm": ("auto", "0.24.1 default (unchanged)"),
        "leaf_size": (30, "0.24.1 default (unchanged)"),
    },
    "optics": {
        "metric": ("minkowski", "0.24.1 default (unchanged)"),
        "p": (2, "0.24.1 default (unchanged): Euclidean"),
        "max_eps": (math.inf, "0.24.1 default (unchanged)"),
        "cluster_method": ("xi", "0.24.1 default (unchanged)"),
        "min_cluster_size": (None, "0.24.1 default (unchanged)"),
        "predecessor_correction": (True, "0.24.1 default (unchanged)"),
    },
    # Not a clusterer: the PCA of the PCA(32)+K-means baseline (replicate.paper.baselines).
    "pca": {
        "svd_solver": ("0.24.1-auto", "0.24.1 'auto': 'full' if max(shape) <= 500, else 'randomized' if "
                                      "k < 0.8 min(shape), else 'full'; 1.5 added 'covariance_eigh' for tall "
                                      "data, so the 0.24.1 rule is applied by replicate.paper.baselines.pca_solver_0241"),
        "whiten": (False, "0.24.1 default (unchanged)"),
        "iterated_power": ("auto", "0.24.1 default (unchanged)"),
        "tol": (0.0, "0.24.1 default (unchanged)"),
    },
}


def sklearn_0241_kwargs(method: str) -> dict[str, Any]:
    """The 0.24.1 settings of ``method`` (a clusterer, or ``"pca"``) as keyword arguments (values only)."""
    if method not in SKLEARN_0241:
        method_info(method)  # a clear error for an unknown name
        return {}
    return {name: value for name, (value, _) in SKLEARN_0241[method].items()}


#: Kept for callers of the foundation's K-means (same values as ``sklearn_0241_kwargs("kmeans")``).
SKLEARN_0241_KMEANS = {name: value for name, (value, _) in SKLEARN_0241["kmeans"].items()}

# --------------------------------------------------------------------------- the methods


def _grids() -> dict[str, dict[str, Any]]:
    return load_toml("grids")


def methods(*, pre_experiments: bool = True) -> list[str]:
    """Method names in the order of ``grids.toml``; without DBSCAN/OPTICS if ``pre_experiments`` is false."""
    return [m for m, info in _grids().items() if pre_experiments or not info["pre_experiment"]]


#: The six methods of Table 1, and the pre-experiments (DBSCAN, OPTICS), as grids.toml declares them.
PAPER_METHODS: tuple[str, ...] = tuple(methods(pre_experiments=False))
PRE_EXPERIMENTS: tuple[str, ...] = tuple(m for m in methods() if m not in PAPER_METHODS)


def method_info(method: str) -> dict[str, Any]:
    """The ``grids.toml`` entry of ``method``; a ParameterError listing the known methods otherwise."""
    grids = _grids()
    if method not in grids:
        raise ParameterError(f"method = {method!r} is unknown; known methods: {', '.join(grids)}.")
    return grids[method]


def paper_setting(method: str) -> dict[str, Any]:
    """The paper's chosen setting of ``method`` (Table 1's VAE rows use it)."""
    return dict(method_info(method)["paper_setting"])


# --------------------------------------------------------------------------- validation


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _rules(n_cells: int) -> dict[str, tuple[Any, str]]:
    """parameter -> (check, what is allowed); n_cells bounds the neighbour counts."""
    return {
        "preference": (_is_real, "a finite number (the paper uses -100 .. -400)"),
        "damping": (lambda v: _is_real(v) and 0.5 <= v < 1, "a number in [0.5, 1)"),
        "linkage": (lambda v: v in ("ward", "complete", "average", "single"), "'ward', 'complete', 'average' or 'single'"),
        "connectivity_n_neighbors": (lambda v: _is_int(v) and 1 <= v < n_cells, f"an integer in 1..{n_cells - 1}"),
        "threshold": (lambda v: _is_real(v) and v > 0, "a number > 0"),
        "branching_factor": (lambda v: _is_int(v) and v > 1, "an integer > 1"),
        "covariance_type": (lambda v: v in ("full", "tied", "diag", "spherical"), "'full', 'tied', 'diag' or 'spherical'"),
        "n_components": (lambda v: _is_int(v) and 1 <= v < n_cells, f"an integer in 1..{n_cells - 1}"),
        "n_neighbors": (lambda v: _is_int(v) and 1 <= v < n_cells, f"an integer in 1..{n_cells - 1}"),
        "eps": (lambda v: _is_real(v) and v > 0, "a number > 0"),
        "min_samples": (lambda v: _is_int(v) and 1 <= v <= n_cells, f"an integer in 1..{n_cells}"),
        "xi": (lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"),
        "max_iter": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        "convergence_iter": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        "n_init": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        "tol": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
        "reg_covar": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
        "gamma": (lambda v: _is_real(v) and v > 0, "a number > 0"),
        "eigen_tol": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
    }


#: Values some methods restrict further than the generic rule (or where only one value makes sense).
_METHOD_RULES: dict[str, dict[str, tuple[Any, str]]] = {
    "spectral": {"affinity": (lambda v: v in ("nearest_neighbors", "rbf"), "'nearest_neighbors' or 'rbf'")},
    "affinity_propagation": {"affinity": (lambda v: v == "euclidean", "'euclidean' (s = -||xi - xk||^2)")},
}


def check_params(method: str, params: dict[str, Any], n_cells: int) -> None:
    """Raise ParameterError unless ``params`` is a valid setting of ``method`` for ``n_cells`` cells.

    Allowed names are the method's grid axes and its 0.24.1 settings (which a cell may override,
    e.g. ``max_iter``); anything else is a typo and is refused rather than silently ignored.
    """
    info = method_info(method)
    if not isinstance(params, dict):
        raise ParameterError(f"params = {params!r} is invalid: use a dict of parameter -> value.")
    if "random_state" in params:
        raise ParameterError("params must not contain random_state; pass random_state= to the function instead.")
    allowed = {n for sub in info["grid"] for n in sub} | set(SKLEARN_0241.get(method, {}))
    rules = {**_rules(n_cells), **_METHOD_RULES.get(method, {})}
    for name, value in params.items():
        if name not in allowed:
            raise ParameterError(f"parameter {name!r} is unknown for method {method!r}; "
                                 f"allowed: {', '.join(sorted(allowed)) or 'none'}.")
        rule = rules.get(name)
        if rule is not None and not rule[0](value):
            raise ParameterError(f"{method} parameter {name} = {value!r} is invalid: use {rule[1]}.")


def check_inputs(Z: Any, labels: Any = None, n_clusters: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate an embedding (cells x dims, finite), its labels and a cluster count; return arrays."""
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[0] < 2 or Z.shape[1] < 1:
        raise ParameterError(f"Z must be a cells x dimensions matrix with at least 2 cells, got shape {Z.shape}.")
    if not np.issubdtype(Z.dtype, np.number):
        raise ParameterError(f"Z must be numeric, got dtype {Z.dtype}.")
    if not np.isfinite(Z).all():
        bad = int((~np.isfinite(Z)).any(axis=1).sum())
        raise ParameterError(f"Z (the embedding) contains NaN or inf in {bad} cell(s); it cannot be clustered.")
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != Z.shape[0]:
            raise ParameterError(f"labels has shape {y.shape} but Z has {Z.shape[0]} cells; "
                                 "there must be one label per cell.")
    if n_clusters is not None and not (_is_int(n_clusters) and 1 <= n_clusters <= Z.shape[0]):
        raise ParameterError(f"n_clusters = {n_clusters!r} is invalid for {Z.shape[0]} cells: "
                             f"use an integer in 1..{Z.shape[0]}.")
    return Z, y


def check_seed(random_state: Any) -> None:
    """Every stochastic method gets an explicit integer seed, so a cell is reproducible."""
    if not (_is_int(random_state) and 0 <= random_state < 2**32):
        raise ParameterError(f"random_state = {random_state!r} is invalid: use an integer in 0..2**32 - 1.")


# --------------------------------------------------------------------------- fitting


def _connectivity(Z: np.ndarray, k: int) -> Any:
    """The symmetrised k-NN graph of the connectivity constraint (grids.toml explains k)."""
    graph = kneighbors_graph(Z, n_neighbors=k, include_self=False)
    return 0.5 * (graph + graph.T)


def _estimator(Z: np.ndarray, method: str, params: dict[str, Any], n_clusters: int, random_state: int) -> Any:
    """The scikit-learn estimator of one setting (0.24.1 settings, then ``params``)."""
    kw = {**sklearn_0241_kwargs(method), **params}
    if method == "kmeans":
        return cluster.KMeans(n_clusters=n_clusters, random_state=random_state, **kw)
    if method == "affinity_propagation":
        return cluster.AffinityPropagation(random_state=random_state, **kw)
    if method == "agglomerative":
        conn = _connectivity(Z, kw.pop("connectivity_n_neighbors"))
        return cluster.AgglomerativeClustering(n_clusters=n_clusters, connectivity=conn, **kw)
    if method == "birch":
        return cluster.Birch(n_clusters=n_clusters, **kw)
    if method == "gmm":
        return mixture.GaussianMixture(n_components=n_clusters, random_state=random_state, **kw)
    if method == "spectral":
        return cluster.SpectralClustering(n_clusters=n_clusters, random_state=random_state, **kw)
    if method == "dbscan":
        return cluster.DBSCAN(**kw)
    if method == "optics":
        return cluster.OPTICS(**kw)
    # a method in grids.toml without a builder here
    raise ParameterError(f"method = {method!r} has a grid but no estimator builder in replicate.method.clustering.")


def _birch(est: Any, Z: np.ndarray, max_seconds: float | None) -> np.ndarray:
    """BIRCH in two steps, its final one checked once the tree's subclusters are known: the CF tree, the
    refusal, then only the global step (``partial_fit()``): the labels ``fit_predict`` gives."""
    n_clusters = est.n_clusters
    est.set_params(n_clusters=None).fit(Z)
    budget.check_global_step(Z.shape[0], len(est.subcluster_centers_), max_seconds=max_seconds)
    est.set_params(n_clusters=n_clusters).partial_fit()
    return np.asarray(est.predict(Z))


def fit_labels(Z: np.ndarray, method: str, params: dict[str, Any], *, n_clusters: int,
               random_state: int = 0, max_seconds: float | None = None) -> np.ndarray:
    """Cluster the rows of ``Z`` with one setting of ``method`` (0.24.1 settings, then ``params``).

    A setting that would not fit in the memory available, would take longer than ``max_seconds`` by its
    measured cost model, or cannot work (an rbf affinity that underflows at the latent's scale) is refused
    before it starts with :class:`~replicate.method.budget.ResourceError`: one line naming the estimate,
    what is available and what to do (:mod:`replicate.method.budget`); BIRCH's final step is checked once
    its tree's subclusters are known.
    """
    budget.check(Z, method, params, max_seconds=max_seconds)
    est = _estimator(Z, method, params, n_clusters, random_state)
    if method == "birch":
        return _birch(est, Z, max_seconds)
    return np.asarray(est.fit_predict(Z))


# --------------------------------------------------------------------------- K-means at the paper's setting


def kmeans(Z: np.ndarray, n_clusters: int, *, random_state: int = 0) -> np.ndarray:
    """K-means labels of the rows of ``Z`` with scikit-learn 0.24.1's defaults (single-threaded, as a cell)."""
    Z, _ = check_inputs(Z, None, n_clusters)
    with single_threaded():
        return KMeans(n_clusters=n_clusters, random_state=random_state, **SKLEARN_0241_KMEANS).fit_predict(Z)


def kmeans_scores(latents: dict[str, np.ndarray], labels: Any, *, random_state: int = 0) -> pd.DataFrame:
    """VAE+K-means (0.24.1 settings, the label count) on named latents: one row per latent (fractions)."""
    y = np.asarray(labels)
    k = int(len(np.unique(y)))
    return pd.DataFrame([{"latent": name, **evaluate(y, kmeans(Z, k, random_state=random_state))}
                         for name, Z in latents.items()])
