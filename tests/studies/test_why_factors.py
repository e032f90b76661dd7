"""The factors behind the gap, their effects by seed and the decomposition of the gap."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.studies import why_factors


def test_factor_effects_and_the_unexplained_remainder():
    def rows(shift):
        return pd.DataFrame([{"method": m, "seed": s, "CA": 0.7 + shift + 0.01 * s, "ARI": 0.6 + shift}
                             for m in ("kmeans", "affinity_propagation") for s in range(5)])

    effects = why_factors.factor_effects([
        {"factor": "reading", "change": "x", "before": rows(0), "after": rows(0.04)},
        {"factor": "genes", "change": "y", "before": rows(0), "after": rows(-0.01)},
    ])
    km = effects[effects["score"] == "VAE+K-means CA"].set_index("factor")
    assert km.loc["reading", "effect"] == pytest.approx(4.0) and km.loc["genes", "effect"] == pytest.approx(-1.0)
    table = why_factors.decomposition(effects, {"VAE+K-means CA": 14.0})
    rest = table[table["factor"].str.startswith("not explained")].iloc[0]
    assert rest["effect"] == pytest.approx(10.0) and rest["share_of_gap"] == pytest.approx(10 / 14)
    assert list(table["factor"])[:2] == ["reading", "genes"]  # ranked by the size of the effect



def test_the_factors_of_the_paper_run_are_named_from_the_data_files():
    rows = pd.DataFrame([{"method": m, "embedding": f"vae_seed={s}", "parameters": p, "CA": 0.7, "NMI": 0.6, "ARI": 0.5}
                         for m, p in (("kmeans", "{}"), ("affinity_propagation", '{"damping": 0.9, "preference": -350}'))
                         for s in range(3)])
    factors = {f["factor"]: f for f in why_factors.run_factors("pbmc2100-top2000", rows, None, "", None)}
    # the committed experiments in results/why give these, each named from datasets.toml and paper.toml
    assert "loss balance: reconstruction x8.22 (16,449 genes)" in factors
    assert factors["gene set: scDCC's 2,000 genes"]["change"] == "195 of the 2,000 genes swapped"
    assert factors["cell set: all 4,271 cells"]["change"] == "the full data set instead of the 2,100"
    assert factors["gene count, worm neurons: all 13,488 genes"]["change"] == "instead of 2,000 (hvg)"
    other = {f["factor"] for f in why_factors.run_factors("pbmc68k-reduced", rows, None, "", None)}
    assert not any(f.startswith(("gene set", "cell set", "loss balance")) for f in other)
