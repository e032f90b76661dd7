"""Clustering with the posterior's uncertainty: distances, consensus, sigma against errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.studies import uncertainty


def _posteriors(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    mu = rng.normal(0, 0.3, (n, 4)) + 4 * np.eye(3, 4)[y]
    logvar = np.log(rng.uniform(0.05, 0.5, (n, 4)))
    return mu.astype(np.float32), logvar.astype(np.float32), y


def test_the_distances_match_their_formulas():
    mu = np.array([[0.0, 0.0], [3.0, 4.0]])
    logvar = np.log(np.array([[1.0, 1.0], [4.0, 1.0]]))
    w2 = uncertainty.distances(mu, logvar, uncertainty.REPRESENTATIONS[1])
    assert w2[0, 1] == pytest.approx(np.sqrt(25 + 1))  # |mu_i - mu_j|^2 + |sigma_i - sigma_j|^2
    b = uncertainty.distances(mu, logvar, uncertainty.REPRESENTATIONS[2])
    avg = np.array([2.5, 1.0])
    expected = 0.125 * (9 / 2.5 + 16 / 1.0) + 0.5 * np.log(avg.prod() / np.sqrt(1 * 4))
    assert b[0, 1] == pytest.approx(expected) and b[1, 0] == pytest.approx(expected) and b[0, 0] == 0
    e = uncertainty.distances(mu, logvar, uncertainty.REPRESENTATIONS[0])
    assert e[0, 1] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="kind"):
        uncertainty.distances(mu, logvar, "mahalanobis")


def test_consensus_and_the_comparison_rows():
    mu, logvar, y = _posteriors()
    labels = uncertainty.consensus(mu, logvar, 3, samples=5)
    assert len(np.unique(labels)) == 3
    rows = uncertainty.compare(mu, logvar, y, seed=0, samples=5)
    assert set(rows["representation"]) >= set(uncertainty.REPRESENTATIONS)
    km = rows[(rows["method"] == "kmeans") & (rows["representation"] == uncertainty.REPRESENTATIONS[0])].iloc[0]
    assert km["CA"] == pytest.approx(1.0) and "sigma_auc" in rows


def test_misclustered_cells_and_sigma_auc():
    true = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([5, 5, 7, 7, 7, 7])  # one cell of class 0 sits with class 1
    wrong = uncertainty.misclustered(true, pred)
    assert wrong.tolist() == [False, False, True, False, False, False]
    logvar = np.log(np.array([[0.1], [0.1], [4.0], [0.1], [0.1], [0.1]]))
    assert uncertainty.sigma_auc(logvar, wrong) == pytest.approx(1.0)
    assert np.isnan(uncertainty.sigma_auc(logvar, np.zeros(6, bool)))


def test_effects_are_paired_by_seed_and_the_verdict_says_where_it_helps():
    rows = []
    for seed in range(4):
        rows += [{"seed": seed, "method": "spectral", "representation": uncertainty.REPRESENTATIONS[0],
                  "CA": 0.6, "ARI": 0.5},
                 {"seed": seed, "method": "spectral", "representation": uncertainty.REPRESENTATIONS[2],
                  "CA": 0.7 + 0.01 * seed, "ARI": 0.6}]
    eff = uncertainty.effects(pd.DataFrame(rows))
    ca = eff[eff["metric"] == "CA"].iloc[0]
    assert ca["effect"] == pytest.approx(11.5) and ca["ci_low"] > 0
    assert eff[eff["metric"] == "ARI"].iloc[0]["effect"] == pytest.approx(10.0)
