"""The open points section's tables: preprocessing readings and the ways of choosing a clustering setting."""

from __future__ import annotations

from replicate.sections import open_points

TINY_VAE = dict(seeds=[0], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, learning_rate=0.001)


def test_three_preprocessing_readings_and_three_ways_of_choosing_a_setting(tiny_h5):
    made = open_points.tables({"dataset": str(tiny_h5), "sensitivity_seeds": [0], "grid": "paper", "n_jobs": 1,
                               **TINY_VAE})
    sensitivity, choice = made["preprocessing_sensitivity"], made["selection_effect"]
    assert list(sensitivity["reading"].unique()) == ["median total, no clip (default)", "total 10,000",
                                                     "z-scores clipped at 10"]
    assert sensitivity["CA"].between(0, 1).all()
    assert choice.columns[0] == "row" and choice["row"].str.startswith("VAE+").all()
    assert len(choice.columns) == 4  # best in grid, label-free, the paper's setting
