"""Claim checks on crafted results: each verdict follows its rule, and can flip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from replicate.grid.plan import expand_grid
from replicate.method.clustering import paper_setting
from replicate.paper import claims

SEEDS = range(5)


def _rows(method: str, score: float, settings=None, seeds=SEEDS) -> list[dict]:
    out = []
    for params in settings or [paper_setting(method)]:
        s = score(params) if callable(score) else score
        for seed in seeds:
            out.append({"dataset": "test", "method": method, "embedding": f"vae_seed={seed}", "parameters": json.dumps(params, sort_keys=True),
                        "status": "ok", "silhouette": s / 2, "CA": s + 0.001 * seed, "NMI": s, "ARI": s - 0.001 * seed,
                        **{f"param_{k}": v for k, v in params.items()}})
    return out


def results(kmeans=0.85, others=0.80, dbscan=0.3, birch_score=None, ap_score=None, gmm_score=None) -> pd.DataFrame:
    rows = _rows("kmeans", kmeans)
    rows += _rows("agglomerative", others) + _rows("spectral", others)
    rows += _rows("gmm", gmm_score or others, expand_grid("gmm"))
    rows += _rows("birch", birch_score or others, expand_grid("birch"))
    rows += _rows("affinity_propagation", ap_score or others, expand_grid("affinity_propagation"))
    rows += _rows("dbscan", dbscan, expand_grid("dbscan")[:2])
    return pd.DataFrame(rows)


BASE = pd.DataFrame([{"method": "pca32+kmeans", "CA": 0.55, "NMI": 0.5, "ARI": 0.4}])


def _variants(drop: float) -> pd.DataFrame:
    rows = [{"encoder": "default", "seed": s, "ARI": 0.8} for s in SEEDS]
    rows += [{"encoder": e, "seed": s, "ARI": 0.8 - drop} for e in ("enc 1024", "enc 512-128") for s in SEEDS]
    return pd.DataFrame(rows)


def verdicts(*args, **kw) -> dict[str, str]:
    return dict(zip(*claims.check_all(*args, **kw)[["claim", "verdict"]].T.values))


def test_all_nine_are_checked_with_rules_and_evidence():
    checks = claims.check_all(results(), BASE, _variants(0.02))
    assert list(checks["claim"]) == [f"C{i}" for i in range(1, 10)]
    assert checks["rule"].str.len().min() > 20 and checks["evidence"].str.len().min() > 10


def test_c1_follows_which_method_is_best():
    assert verdicts(results(kmeans=0.85))["C1"] == claims.SUPPORTED
    assert verdicts(results(kmeans=0.70))["C1"] == claims.NOT_SUPPORTED


def test_c2_compares_with_the_copied_deep_baselines():
    assert verdicts(results(kmeans=0.90, others=0.90))["C2"] == claims.SUPPORTED
    assert verdicts(results(kmeans=0.60, others=0.60))["C2"] == claims.NOT_SUPPORTED


def test_c3_c4_c7():
    v = verdicts(results(others=0.83, dbscan=0.3))
    assert v["C3"] == v["C4"] == v["C7"] == claims.SUPPORTED
    v = verdicts(results(others=0.70, dbscan=0.95, gmm_score=lambda p: 0.9 if p["covariance_type"] == "tied" else 0.6))
    assert v["C3"] == v["C4"] == v["C7"] == claims.NOT_SUPPORTED


def test_c5_and_c6_read_the_grids():
    good_ap = lambda p: 0.85 if p["damping"] == 0.9 or p["preference"] == -350 else 0.4  # noqa: E731
    good_birch = lambda p: 0.85 if p["threshold"] <= 0.3 else 0.5  # noqa: E731
    v = verdicts(results(ap_score=good_ap, birch_score=good_birch))
    assert v["C5"] == v["C6"] == claims.SUPPORTED
    v = verdicts(results(ap_score=lambda p: 0.85 if p["preference"] == -350 else 0.3,
                         birch_score=lambda p: 0.85 if p["threshold"] == 0.2 and p["branching_factor"] == 50 else 0.5))
    assert v["C5"] == v["C6"] == claims.NOT_SUPPORTED


def test_c8_similar_but_slightly_lower():
    assert verdicts(results(), BASE, _variants(0.02))["C8"] == claims.SUPPORTED
    assert verdicts(results(), BASE, _variants(0.20))["C8"] == claims.NOT_SUPPORTED
    assert verdicts(results(), BASE, _variants(-0.02))["C8"] == claims.NOT_SUPPORTED
    assert verdicts(results(), BASE, None)["C8"] == claims.NOT_TESTABLE


def test_c9_needs_a_wide_margin_over_live_pca():
    assert verdicts(results(kmeans=0.85), BASE)["C9"] == claims.SUPPORTED
    close = BASE.assign(CA=0.84)
    assert verdicts(results(kmeans=0.85), close)["C9"] == claims.NOT_SUPPORTED
    assert verdicts(results())["C9"] == claims.NOT_TESTABLE


def test_statistics():
    lo, hi = claims.bootstrap_ci([1, 2, 3, 4, 5])
    assert 1 <= lo < 3 < hi <= 5
    assert np.isnan(claims.bootstrap_ci([1.0])[0])
    assert claims.paired_test([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7]) == pytest.approx(0.03125)
    assert np.isnan(claims.paired_test([1, 2], [1, 2]))


def test_c7_counts_failed_fits_against_the_claim():
    r = results(others=0.83)
    full = (r.method == "gmm") & (r.param_covariance_type == "full") & (r.embedding != "vae_seed=0")
    r.loc[full, ["status", "CA", "NMI", "ARI"]] = ["failed", np.nan, np.nan, np.nan]
    check = claims.check_all(r).set_index("claim").loc["C7"]
    assert check["verdict"] == claims.NOT_SUPPORTED and "full 4 of 5" in check["evidence"]


def test_rules_and_thresholds_come_from_the_data_file(monkeypatch):
    assert "at damping 0.9, at least 4 of the 7 preferences are within 5.0 points" in claims.rule_text("C5")
    assert "every threshold in 0.1-0.3" in claims.rule_text("C6")
    assert claims.COUNT_TAKING == ("agglomerative", "birch", "gmm", "kmeans", "spectral")
    assert verdicts(results(kmeans=0.85), BASE)["C9"] == claims.SUPPORTED  # 30 points above PCA
    stricter = {cid: dict(rule) for cid, rule in claims.rules().items()}
    stricter["C9"]["margin"] = 40.0
    monkeypatch.setattr(claims, "rules", lambda: stricter)
    check = claims.check_all(results(kmeans=0.85), BASE).set_index("claim").loc["C9"]
    assert check["verdict"] == claims.NOT_SUPPORTED and "by at least 40.0 points" in check["rule"]
