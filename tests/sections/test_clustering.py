"""The clustering section's tables: one method's grid on each seed's latent, and its clusters cell by cell."""

from __future__ import annotations

from replicate.sections import clustering

TINY_VAE = dict(seeds=[0, 1], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_a_methods_grid_covers_every_seed_and_its_clusters_cover_every_cell(tiny_h5):
    made = clustering.tables({"dataset": str(tiny_h5), "method": "kmeans", "grid": "paper", "n_jobs": 1,
                              **TINY_VAE})
    assert set(made) == {"clustering_kmeans", "labels_kmeans"}
    rows, labels = made["clustering_kmeans"], made["labels_kmeans"]
    assert set(rows["embedding"]) == {"vae_seed=0", "vae_seed=1"} and rows["CA"].between(0, 1).all()
    assert len(labels) == 120 and labels["cell"].is_unique and labels["cluster"].nunique() == 3  # 3 true types
