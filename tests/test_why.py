"""The 'why we differ' study: training health, gene selection, paired effects, decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate import datasets, stability, why

from .conftest import synthetic_counts, write_h5


def test_kl_spikes_are_flagged_without_labels():
    calm = stability.kl_spikes({"kl": [120, 100, 98, 101, 97]})
    assert calm == {"kl_spike": False, "kl_max": 120.0, "kl_spike_epochs": ""}
    spiky = stability.kl_spikes({"kl": [120, 100, 12_000, 105, 99, 15_000]})
    assert spiky["kl_spike"] and spiky["kl_spike_epochs"] == "3 6" and spiky["kl_max"] == 15_000


def test_select_genes_by_mean_and_by_dispersion(tmp_path):
    X, y = synthetic_counts(n_per=30, n_genes=60)
    X[:, :5] *= 20  # five highly expressed genes
    adata = datasets.load(write_h5(tmp_path / "c.h5", X, y))
    by_mean = why.select_genes(adata, 5, "mean")
    assert list(by_mean.var_names) == [f"gene{i}" for i in range(5)]
    np.testing.assert_array_equal(by_mean.X, adata.X[:, :5])  # raw counts kept
    assert why.select_genes(adata, 10, "hvg").n_vars == 10
    with pytest.raises(Exception, match="how = 'top'"):
        why.select_genes(adata, 5, "top")


def test_paired_effect_is_the_mean_difference_by_seed():
    a = pd.Series([0.70, 0.72, 0.68, 0.71], index=[0, 1, 2, 3])
    b = pd.Series([0.75, 0.77, 0.73, 0.76, 0.99], index=[0, 1, 2, 3, 4])  # seed 4 has no partner
    eff = why.paired_effect(a, b)
    assert eff["effect"] == pytest.approx(5.0) and eff["n"] == 4
    assert eff["ci_low"] == pytest.approx(5.0) and eff["ci_high"] == pytest.approx(5.0)


def test_factor_effects_and_the_unexplained_remainder():
    def rows(shift):
        return pd.DataFrame([{"method": m, "seed": s, "CA": 0.7 + shift + 0.01 * s, "ARI": 0.6 + shift}
                             for m in ("kmeans", "affinity_propagation") for s in range(5)])

    effects = why.factor_effects([
        {"factor": "reading", "change": "x", "before": rows(0), "after": rows(0.04)},
        {"factor": "genes", "change": "y", "before": rows(0), "after": rows(-0.01)},
    ])
    km = effects[effects["score"] == "VAE+K-means CA"].set_index("factor")
    assert km.loc["reading", "effect"] == pytest.approx(4.0) and km.loc["genes", "effect"] == pytest.approx(-1.0)
    table = why.decomposition(effects, {"VAE+K-means CA": 14.0})
    rest = table[table["factor"].str.startswith("not explained")].iloc[0]
    assert rest["effect"] == pytest.approx(10.0) and rest["share_of_gap"] == pytest.approx(10 / 14)
    assert list(table["factor"])[:2] == ["reading", "genes"]  # ranked by the size of the effect
