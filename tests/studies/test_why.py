"""The 'why we differ' experiments: the readings they fingerprint and the reading matched by fingerprints."""

from __future__ import annotations

from replicate.method.vae_config import VAEConfig
from replicate.studies import readings, why


def test_the_matched_reading_comes_from_the_committed_readings_study_without_labels():
    name, config = why.matched_reading()
    assert name in why.candidate_readings() and isinstance(config, VAEConfig)
    assert config == readings.reading_config(readings.reading_by_name(name))
    rows = why.committed(why.READINGS)
    summary = why.readings_summary(rows)
    assert summary.loc[name, "trained"] == summary.loc[name, "seeds"]


def test_candidates_leave_out_readings_that_failed_in_the_stability_study():
    names = why.candidate_readings()
    assert "paper, literal" not in names and readings.default_reading() in names
