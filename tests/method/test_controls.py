"""Negative controls: a random embedding shaped like the latent, permuted labels, scaled scores."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.io.errors import ParameterError
from replicate.method.cells import run_cell
from replicate.method.controls import permuted_labels, random_embedding, scaled


def _separated(n_per: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n_per)
    Z = rng.normal(size=(len(y), 8)) * 0.3 + 3.0 * np.eye(8)[y % 8] + np.array([5.0] + [0.0] * 7)
    return Z, y


def test_the_random_embedding_has_the_latents_shape_and_scale_but_not_its_structure():
    Z, y = _separated()
    noise = random_embedding(Z, seed=1)
    assert noise.shape == Z.shape
    assert np.allclose(noise.mean(0), Z.mean(0), atol=0.2) and np.allclose(noise.std(0), Z.std(0), rtol=0.2)
    assert np.array_equal(noise, random_embedding(Z, seed=1)) and not np.array_equal(noise, random_embedding(Z, seed=2))
    real = run_cell(Z, y, "kmeans", {}, n_clusters=4)
    control = run_cell(noise, y, "kmeans", {}, n_clusters=4)
    assert real["ARI"] > 0.95 and abs(control["ARI"]) < 0.1  # chance on noise, whatever the method


def test_permuted_labels_keep_the_label_counts_and_lose_the_cells():
    Z, y = _separated()
    p = permuted_labels(y, seed=0)
    assert sorted(p) == sorted(y) and not np.array_equal(p, y)
    assert abs(run_cell(Z, p, "kmeans", {}, n_clusters=4)["ARI"]) < 0.1


def test_scaled_puts_the_control_at_0_and_perfect_at_1():
    assert scaled(0.3, 0.3) == 0.0 and scaled(1.0, 0.3) == 1.0
    assert scaled(0.65, 0.3) == pytest.approx(0.5)
    assert scaled(0.1, 0.3) < 0  # worse than noise
    assert np.isnan(scaled(0.5, 1.0)) and np.isnan(scaled(np.nan, 0.2))
    assert np.allclose(scaled([0.3, 1.0], [0.3, 0.3]), [0.0, 1.0])


def test_a_latent_that_is_not_a_matrix_is_refused():
    with pytest.raises(ParameterError, match="cells x dimensions"):
        random_embedding(np.zeros(5))
