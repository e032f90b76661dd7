"""The why section's tables: the factors behind the gap to the paper, and what its page draws beside them."""

from __future__ import annotations

from replicate.sections import why

TINY_VAE = dict(seeds=[0, 1], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_the_factors_the_grids_and_the_histories_of_every_seed(tiny_h5):
    made = why.tables({"dataset": str(tiny_h5), "grid": "paper", "n_jobs": 1,
                       "compare_reading": "batch normalisation, lr 0.001", **TINY_VAE})
    assert set(made) == {"factor_effects", "decomposition", "paper_settings", "histories"}
    histories = made["histories"]
    assert list(histories.columns[:2]) == ["seed", "epoch"] and len(histories) == 2 * 2  # 2 seeds x 2 epochs
    assert {"loss", "kl"} <= set(histories.columns)
    assert set(made["paper_settings"]["embedding"]) == {"vae_seed=0", "vae_seed=1"}
    assert len(made["factor_effects"]) and len(made["decomposition"])
