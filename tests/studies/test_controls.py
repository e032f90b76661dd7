"""The controls study: Table 1's settings, both controls per setting, the same rows on any n_jobs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from replicate.io import paths
from replicate.method.controls import CONTROLS
from replicate.studies import controls


def test_table1_settings_are_every_distinct_vae_setting_of_the_committed_table():
    table = pd.read_csv(paths.committed(controls.TABLE1) / "table1.csv")
    settings = controls.table1_settings(table)
    vae = table[table["reading"].notna() & table["setting"].notna()]
    assert len(settings) == len(vae.drop_duplicates(["reading", "row", "setting"]))
    assert set(settings["method"]) == {"affinity_propagation", "agglomerative", "birch", "gmm", "kmeans", "spectral"}
    km = settings[(settings["method"] == "kmeans") & (settings["reading"] == "default")]
    assert len(km) == 1 and km["variant"].iloc[0].count(";") == 2  # one setting chosen by all three selections
    assert all(json.loads(p) is not None for p in settings["parameters"])


def _latent():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    return rng.normal(size=(120, 6)) * 0.2 + 4.0 * np.eye(6)[y], y


def test_both_controls_of_each_setting_sit_at_chance_and_any_n_jobs_gives_the_same_rows():
    Z, y = _latent()
    settings = pd.DataFrame({"method": ["kmeans", "gmm"], "parameters": ["{}", '{"covariance_type": "tied"}'],
                             "variant": ["paper's setting"] * 2})
    one = controls.control_rows(Z, y, settings, n_jobs=1)
    two = controls.control_rows(Z, y, settings, n_jobs=2)
    assert list(one["control"]) == [CONTROLS[0], CONTROLS[1]] * 2
    assert (one["ARI"].abs() < 0.1).all() and (one["status"] != "failed").all()
    assert (one.loc[one["control"] == CONTROLS[1], "peak_rss_mb"] > 0).all()
    drop = ["seconds", "peak_rss_mb", "rss_before_mb"]
    pd.testing.assert_frame_equal(one.drop(columns=drop), two.drop(columns=drop))


def test_an_unknown_data_set_is_refused_by_the_command_line():
    with pytest.raises(SystemExit):
        controls.main(["--datasets", "my-cells"])
