"""The recipe's summary (scores beside their controls) and its verdict sentence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from replicate.method.clustering import PAPER_METHODS
from replicate.studies import generalisation
from replicate.studies.recipe_tables import RESCALED, headline, setting_of, summary

PAPER = generalisation.PAPER_VARIANT


def _rows(kmeans_ca: float, pca_ca: float) -> pd.DataFrame:
    rows = [{"reading": "default", "variant": PAPER, "method": m, "seed": s, "status": "ok", "seconds": 1.0,
             "parameters": json.dumps({}), "CA": kmeans_ca if m == "kmeans" else 0.5, "NMI": 0.7, "ARI": 0.6,
             "clusters_found": 30 + 13 * s if m == "affinity_propagation" else 8}
            for m in PAPER_METHODS for s in range(3)]
    rows += [{"reading": "default", "variant": f"preference x{f} (latent scale)", "method": "affinity_propagation",
              "seed": s, "status": "ok", "seconds": 2.0, "parameters": "{}", "CA": 0.4, "NMI": 0.4, "ARI": 0.3}
             for s, f in enumerate((0.41, 0.43, 0.45))]
    rows.append({"reading": "baseline", "variant": "live baseline", "method": "pca32+kmeans", "seed": -1,
                 "status": "ok", "seconds": 0.5, "CA": pca_ca, "NMI": 0.5, "ARI": 0.5})
    return pd.DataFrame(rows).assign(dataset="d")


def _controls() -> pd.DataFrame:
    out = []
    for m, v in [(m, PAPER) for m in PAPER_METHODS] + [("affinity_propagation", "preference x0.41 (latent scale)")]:
        out.append({"method": m, "variant": v, "control": "random embedding", "CA": 0.3, "NMI": 0.02, "ARI": 0.0})
        out.append({"method": m, "variant": v, "control": "permuted labels", "CA": 0.28, "NMI": 0.01, "ARI": -0.01,
                    "peak_rss_mb": 900.0, "rss_before_mb": 800.0})
    return pd.DataFrame(out)


def test_the_summary_puts_each_score_beside_its_controls_and_scales_it():
    table = summary(_rows(0.86, 0.60), _controls())
    km = table[(table["method"] == "kmeans") & (table["reading"] == "default")].iloc[0]
    assert km["CA"] == pytest.approx(86.0) and km["CA random"] == pytest.approx(30.0)
    assert km["CA permuted"] == pytest.approx(28.0) and km["CA scaled"] == pytest.approx((0.86 - 0.3) / 0.7)
    assert km["memory added MB"] == pytest.approx(100.0) and km["seeds"] == 3 and km["status"] == "ok 3"
    ap_paper = table[(table["method"] == "affinity_propagation") & (table["variant"] == PAPER)].iloc[0]
    assert km["clusters"] == "8" and ap_paper["clusters"] == "30–56"  # beside every score: what each method found
    # the rescaled AP rows of the three seeds are one setting, judged by its own control
    ap = table[table["variant"] == RESCALED]
    assert len(ap) == 1 and ap["seeds"].iloc[0] == 3 and ap["CA random"].iloc[0] == pytest.approx(30.0)
    base = table[table["reading"] == "baseline"].iloc[0]
    assert base["CA random"] == pytest.approx(30.0)  # the K-means control judges the baselines
    assert setting_of("preference x2 (latent scale)") == RESCALED and setting_of(PAPER) == PAPER


def test_the_headline_follows_claim_c9s_rule():
    for kmeans_ca, better in ((0.86, True), (0.65, False)):
        rows = _rows(kmeans_ca, 0.60)
        table = summary(rows, _controls())
        head = headline(table, generalisation.verdicts(rows), cells=2100)
        assert head["better"] is better and head["gap"] == pytest.approx(100 * kmeans_ca - 60)
        assert ("is better" if better else "is not better") in head["sentence"]
        assert "2,100 cells" in head["sentence"] and "at least 10" in head["sentence"]


def test_a_seed_whose_vae_diverged_is_not_averaged_in():
    rows = _rows(0.86, 0.60)
    rows.loc[(rows["seed"] == 2) & (rows["variant"] == PAPER), ["status", "CA"]] = ["vae diverged", np.nan]
    km = summary(rows, _controls()).query("method == 'kmeans' and reading == 'default'").iloc[0]
    assert km["seeds"] == 2 and km["CA"] == pytest.approx(86.0)
