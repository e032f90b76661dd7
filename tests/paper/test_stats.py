"""Statistics over VAE seeds: intervals, paired tests and effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.paper.stats import (
    bootstrap_ci,
    paired_effect,
    paired_test,
    unpaired_effect,
)


def test_paired_effect_is_the_mean_difference_by_seed():
    a = pd.Series([0.70, 0.72, 0.68, 0.71], index=[0, 1, 2, 3])
    b = pd.Series([0.75, 0.77, 0.73, 0.76, 0.99], index=[0, 1, 2, 3, 4])  # seed 4 has no partner
    eff = paired_effect(a, b)
    assert eff["effect"] == pytest.approx(5.0) and eff["n"] == 4
    assert eff["ci_low"] == pytest.approx(5.0) and eff["ci_high"] == pytest.approx(5.0)



def test_unpaired_effect_and_its_interval():
    a = pd.Series([0.70, 0.72, 0.68, 0.71])
    b = pd.Series([0.80, 0.82, 0.78])
    eff = unpaired_effect(a, b)
    assert eff["effect"] == pytest.approx(100 * (b.mean() - a.mean())) and eff["n"] == 3
    assert eff["ci_low"] < eff["effect"] < eff["ci_high"]
    assert np.isnan(unpaired_effect(a[:1], b)["ci_low"])


def test_bootstrap_interval_and_paired_test():
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert np.isnan(bootstrap_ci([1.0])[0])
    assert paired_test([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7]) < 0.05
    assert np.isnan(paired_test([1, 2], [1, 2]))
