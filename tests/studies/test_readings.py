"""Readings of the paper's VAE: their parameters, the names derived from configurations, training health."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from replicate.io.facts import paper
from replicate.method.vae_config import VAEConfig
from replicate.studies import readings


def test_every_reading_names_real_parameters():
    fields = {f.name for f in dataclasses.fields(VAEConfig)}
    names = [r["name"] for r in readings.readings()]
    assert len(names) == len(set(names))
    for r in readings.readings():
        assert set(r["params"]) <= fields | set(readings.PREPROCESS_KEYS), r["name"]
        readings.reading_config(r)  # valid values



def test_reading_config_starts_from_the_literal_paper_reading():
    literal = readings.reading_config({"name": "x", "deviations": 0, "params": {}})
    assert literal == VAEConfig.paper_reading()
    changed = readings.reading_config({"name": "x", "deviations": 1, "params": {"logvar_clamp": 5.0, "clip_zscore": 10}},
                                       epochs=2)
    assert changed.logvar_clamp == 5.0 and changed.epochs == 2 and changed.learning_rate == 0.004



def test_label_free_diagnostics():
    mu = np.zeros((50, 4))
    mu[:, 0] = np.linspace(-1, 1, 50)
    assert readings.active_units(mu) == 1
    X = np.ones((3, 4))
    assert readings.trivial_reconstruction(X, "sum") == pytest.approx(2.0)
    assert readings.trivial_reconstruction(X, "mean") == pytest.approx(1.0)



def test_kl_spikes_are_flagged_without_labels():
    calm = readings.kl_spikes({"kl": [120, 100, 98, 101, 97]})
    assert calm == {"kl_spike": False, "kl_max": 120.0, "kl_spike_epochs": ""}
    spiky = readings.kl_spikes({"kl": [120, 100, 12_000, 105, 99, 15_000]})
    assert spiky["kl_spike"] and spiky["kl_spike_epochs"] == "3 6" and spiky["kl_max"] == 15_000



def test_the_names_the_studies_use_are_derived_from_the_configurations():
    assert readings.default_reading() == "batch normalisation"
    assert readings.reading_config(readings.reading_by_name(readings.default_reading())) == VAEConfig()
    name = readings.gene_count_reading(2000)
    assert name is not None and f"{paper()['data']['n_genes']:,} genes" in name
    weight = readings.reading_by_name(name)["params"]["reconstruction_weight"]
    assert weight == pytest.approx(paper()["data"]["n_genes"] / 2000)
    assert readings.gene_count_reading(765) is None  # no reading weights a 765-gene file


def test_reading_params_are_what_differs_from_the_default():
    assert readings.reading_params(VAEConfig()) == {}
    assert readings.reading_params(VAEConfig(batch_norm=False, encoder_hidden=(64,))) == {
        "encoder_hidden": [64], "batch_norm": False}
