"""Table 1's tables: the six methods under both readings and every way of choosing a setting, beside the paper."""

from __future__ import annotations

from replicate.paper.table1 import DEFAULT_READING
from replicate.sections import table1

TINY_VAE = dict(seeds=[0, 1], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_both_readings_every_vae_row_and_the_baselines():
    # scanpy's log-normalised cells: the baselines run without scVI (it needs raw counts), in seconds
    table = table1.tables({"dataset": "pbmc68k-reduced", "grid": "paper", "n_jobs": 1,
                           "compare_reading": "batch normalisation, lr 0.001", **TINY_VAE})["table1"]
    vae = table[table["row"].str.startswith("VAE+")]
    assert set(vae["reading"]) == {DEFAULT_READING, "batch normalisation, lr 0.001"}
    assert vae["row"].nunique() == 6 and (vae["n"] <= 2).all()  # the paper's six methods, over 2 seeds
    assert vae["ours_CA"].dropna().between(0, 100).all()
    assert table["row"].str.contains("k-means", case=False).any()  # the baselines beside them
