"""The claims section's tables: nine checks per reading and the analyses behind them."""

from __future__ import annotations

from replicate.paper.table1 import DEFAULT_READING
from replicate.sections import claims

TINY_VAE = dict(seeds=[0, 1], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_nine_checks_for_the_reading_and_the_analyses_behind_them():
    made = claims.tables({"dataset": "pbmc68k-reduced", "grid": "paper", "n_jobs": 1, "variant_seeds": [0],
                          "encoder_variants": [[16]], **TINY_VAE})
    checks = made["claims"]
    assert checks["claim"].nunique() == 9 and set(checks["reading"]) == {DEFAULT_READING}
    variants = made["encoder_variants"]
    assert variants["encoder"].iloc[0] == "default" and variants["encoder"].nunique() == 2  # the default and [16]
    assert set(variants["architecture"].astype(str)) == {"32", "16"} and (variants["seed"] == 0).all()
    assert set(made["variation_sources"]["source"]) == {"VAE seed", "K-means random_state"}
    assert len(made["seed_statistics"])
