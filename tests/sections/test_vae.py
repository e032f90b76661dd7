"""The VAE section's tables: every seed's training, epoch by epoch, and its flags."""

from __future__ import annotations

from replicate.sections import vae

TINY_VAE = dict(seeds=[0, 1], epochs=3, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_every_seed_every_epoch_and_whether_it_collapsed(tiny_h5):
    made = vae.tables({"dataset": str(tiny_h5), **TINY_VAE})
    history, flags = made["vae_history"], made["training_flags"]
    assert list(history.columns[:2]) == ["seed", "epoch"] and {"loss", "reconstruction", "kl"} <= set(history.columns)
    assert history.groupby("seed")["epoch"].apply(list).to_dict() == {0: [1, 2, 3], 1: [1, 2, 3]}
    assert list(flags.columns) == ["seed", "collapsed", "cached"] and flags["seed"].tolist() == [0, 1]
    again = vae.tables({"dataset": str(tiny_h5), **TINY_VAE})["training_flags"]
    assert again["cached"].all()  # the second time, every training comes from the cache
