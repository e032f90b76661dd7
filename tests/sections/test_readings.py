"""The second VAE reading a section compares with the default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from replicate.io.errors import ReplicateError
from replicate.method.vae_config import VAEConfig
from replicate.sections.readings import second_reading
from replicate.studies.readings import MATCHED, reading_by_name, reading_config
from replicate.studies.why import matched_reading


def test_the_second_reading_is_named_and_configured_or_absent():
    assert second_reading("") is None
    label, config = second_reading(MATCHED)
    assert label.startswith(f"{MATCHED} (") and isinstance(config, VAEConfig)  # the committed study's choice
    label, config = second_reading("batch normalisation, lr 0.001")
    assert label == "batch normalisation, lr 0.001" and config.learning_rate == 0.001


def test_a_reading_by_name_is_that_reading_of_the_stability_study():
    assert second_reading("") is None
    name, config = second_reading(MATCHED)
    matched, matched_config = matched_reading()
    assert name == f"fingerprint-matched ({matched})" and name.startswith("fingerprint-matched (")
    assert isinstance(config, VAEConfig) and config == matched_config
    tanh_name, tanh = second_reading("tanh")
    assert tanh_name == "tanh" and tanh == reading_config(reading_by_name("tanh"))
    assert tanh.activation == "tanh" and tanh == replace(VAEConfig.paper_reading(), activation="tanh")
    with pytest.raises(ReplicateError, match="no reading named 'no such reading'"):
        second_reading("no such reading")
