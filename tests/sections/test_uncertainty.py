"""The uncertainty section's tables: the posterior variances used against the latent means alone."""

from __future__ import annotations

from replicate.sections import uncertainty

TINY_VAE = dict(seeds=[0, 1], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_each_seed_is_compared_and_the_effects_pair_them(tiny_h5):
    made = uncertainty.tables({"dataset": str(tiny_h5), "samples": 3, **TINY_VAE})
    rows, effects = made["uncertainty"], made["uncertainty_effects"]
    assert sorted(rows["seed"].unique()) == [0, 1]
    assert len(effects) and effects.notna().any().all()
