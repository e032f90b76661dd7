"""Label-free fingerprints of a latent space and their distance to the paper's reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.studies import fingerprints


def _latent(spread: float, noise: float, n: int = 400, k: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread, (k, 32))
    return (centres[rng.integers(0, k, n)] + rng.normal(0, noise, (n, 32))).astype(np.float32)


def test_a_compact_latent_with_eight_groups_matches_the_papers_reports():
    fp = fingerprints.fingerprint(_latent(spread=5.0, noise=0.05), n_clusters=8)
    assert fp["ap_clusters_350"] == fp["ap_clusters_100"] == 8
    assert fp["birch_singletons"] < 0.1 and fp["gmm_failures"] == 0
    assert fp["distance"] == pytest.approx(0.0) and fp["active_units"] == 32


def test_a_diffuse_latent_is_far_from_them():
    fp = fingerprints.fingerprint(_latent(spread=1.0, noise=3.0), n_clusters=8)
    assert fp["ap_clusters_100"] > 16 and fp["birch_singletons"] > 0.9
    assert fp["penalty_ap"] > 1 and fp["penalty_birch"] > 0.8 and fp["distance"] > 0.6


def test_the_distance_follows_the_rule_in_the_data_file():
    row = {"ap_clusters_100": 16, "ap_clusters_200": 8, "ap_clusters_350": 4, "birch_singletons": 0.75,
           "gmm_failures": 1}
    pen = fingerprints.distance(row)
    assert pen["penalty_ap"] == pytest.approx(2 / 3)  # |log2 2| + 0 + |log2 1/2|, averaged
    assert pen["penalty_birch"] == pytest.approx(0.5) and pen["penalty_gmm"] == pytest.approx(0.25)
    assert pen["distance"] == pytest.approx((2 / 3 + 0.5 + 0.25) / 3)


def test_the_matched_reading_is_the_closest_that_always_trained():
    rows = pd.DataFrame({"reading": ["a", "a", "b", "b", "c", "c"], "distance": [0.9, 0.7, 0.3, 0.5, 0.1, 0.1]})
    trained = pd.Series({"a": True, "b": True, "c": False})
    assert fingerprints.choose_matched(rows, trained=trained) == "b"
    assert fingerprints.choose_matched(rows) == "c"
