"""The "why we differ" page for readers: glued summary, findings, ranked table, committed experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.io.facts import PAPER_DATASET, paper, registry
from replicate.publish.pages import why as pages
from replicate.studies.why import CELL_SET, GENE_SET, WORM, committed
from replicate.studies.why_factors import decomposition

KM, AP = "VAE+K-means CA", "VAE+AP CA"


def _effect(factor: str, score: str, effect: float, lo: float, hi: float, *, counts: bool = True, n: int = 10,
            page: str = "08_why", change: str = "a change") -> dict:
    return {"factor": factor, "change": change, "score": score, "paired": True, "counts": counts, "page": page,
            "effect": effect, "n": n, "ci_low": lo, "ci_high": hi}


def effects() -> pd.DataFrame:
    """K-means: a counted reading (+4), a larger random perturbation (−7, not counted), a gene set (+1)."""
    return pd.DataFrame([
        _effect("VAE reading (fingerprint-matched)", KM, 4.0, 2.0, 6.0),
        _effect("VAE seed", KM, -7.0, -9.0, 1.0, counts=False, page=""),
        _effect("gene set (scDeepCluster's 2,000)", KM, 1.0, -1.0, 3.0, n=5, page="09_generalisation"),
        _effect("loss balance", KM, 2.5, 0.5, 4.5),
        _effect("VAE reading (fingerprint-matched)", AP, 12.0, 9.0, 15.0),
    ])


@pytest.fixture
def ranked() -> pd.DataFrame:
    return decomposition(effects(), {KM: 10.0, AP: 20.0})


@pytest.fixture
def glued(monkeypatch) -> dict:
    out: dict = {}

    def fake(key, value, display=True):
        assert display is False
        out[key] = value

    monkeypatch.setattr(pages, "glue", fake)
    return out


def test_glue_decomposition_on_the_papers_cells(ranked, glued):
    pages.glue_decomposition(ranked, PAPER_DATASET)
    # counted positive effects 4 + 2.5 + 1 = 7.5 of the 10-point gap; the seed (not counted) is left out
    assert glued["why_gap"] == pytest.approx(10.0)
    assert glued["why_explained"] == pytest.approx(7.5)
    assert glued["why_remainder"] == pytest.approx(2.5)
    assert glued["why_summary"] == (
        "Of the 10.0-point gap between the paper's VAE + K-means CA and ours, the counted factors that raise our "
        "score add up to 7.5 points: VAE reading (fingerprint-matched) +4.0 (95% CI +2.0 to +6.0), loss balance +2.5 "
        "(95% CI +0.5 to +4.5) and gene set (scDeepCluster's 2,000) +1.0 (95% CI -1.0 to +3.0, an interval that "
        "includes 0). The sum assumes the effects add up. 2.5 points (25% of the gap) remain unexplained. The "
        "largest factor is VAE reading (fingerprint-matched).")
    # a counted factor that lowers our score is named as left out of the sum
    lowered = decomposition(pd.concat([effects(), pd.DataFrame([_effect("gene count", KM, -0.5, -2.0, 1.0)])]),
                            {KM: 10.0, AP: 20.0})
    pages.glue_decomposition(lowered, PAPER_DATASET)
    assert "The 1 counted factor that lowers it (0.5 points in all) is left out of that sum" in glued["why_summary"]


def test_glue_decomposition_on_another_data_set(ranked, glued):
    pages.glue_decomposition(ranked, "pbmc68k-reduced")
    assert glued["why_gap"] == pytest.approx(10.0)
    text = glued["why_summary"]
    assert text.startswith("This run is on pbmc68k-reduced, not the paper's 2,100 cells")
    assert "(10.0 CA points for VAE + K-means)" in text and "largest factor" not in text


def test_glue_decomposition_without_a_counted_factor(glued):
    only_seed = decomposition(effects().query("counts == False"), {KM: 10.0})
    pages.glue_decomposition(only_seed, PAPER_DATASET)
    assert glued["why_explained"] == pytest.approx(0.0) and glued["why_remainder"] == pytest.approx(10.0)
    assert glued["why_summary"].endswith("10.0 points (100% of the gap) remain unexplained.")


def test_findings_in_sentences():
    text = pages.findings(effects())
    assert text.startswith("The reading whose latent space behaves as the paper reports changes VAE + affinity "
                           "propagation by +12.0 CA points (+9.0 to +15.0) but VAE + K-means by +4.0 (+2.0 to +6.0)")
    assert (f"as if the data had the paper's {paper()['data']['n_genes']:,} genes moves VAE + K-means by +2.5 points "
            "(+0.5 to +4.5).") in text
    assert "16,449 genes" in text
    assert text.endswith("Another 2,000-gene selection of the same cells moves it by +1.0 (-1.0 to +3.0).")
    # a factor that was not measured is left out, not written with empty numbers
    no_reading = pages.findings(effects()[~effects()["factor"].str.startswith("VAE reading")])
    assert "latent space" not in no_reading and no_reading.startswith("Weighting the reconstruction")
    assert pages.findings(effects().iloc[0:0]) == ""
    # one seed (a quick run): no interval, said in words, never "+nan to +nan"
    one_seed = pages.findings(effects().assign(ci_low=np.nan, ci_high=np.nan))
    assert "nan" not in one_seed and "+12.0 CA points (no interval: one seed)" in one_seed


def test_ranked_display_one_score(ranked):
    styler = pages.ranked_display(ranked, KM)
    shown = styler.data
    assert list(shown.columns) == ["factor", "change", "effect (points)", "95% CI", "seeds", "share of the gap",
                                   "evidence"]
    assert list(shown["factor"]) == ["VAE seed", "VAE reading (fingerprint-matched)", "loss balance",
                                     "gene set (scDeepCluster's 2,000)", "not explained by the measured factors"]
    by = shown.set_index("factor")
    assert by.loc["VAE seed", "share of the gap"] == "(not counted)"
    assert by.loc["VAE reading (fingerprint-matched)", "share of the gap"] == "40%"
    assert by.loc["VAE reading (fingerprint-matched)", "95% CI"] == "+2.0 to +6.0"
    assert by.loc["VAE seed", "effect (points)"] == "-7.0"
    assert by.loc["gene set (scDeepCluster's 2,000)", "seeds"] == "5"
    rest = by.loc["not explained by the measured factors"]
    assert (rest["effect (points)"], rest["95% CI"], rest["seeds"], rest["share of the gap"], rest["evidence"]) == \
        ("+2.5", "", "", "25%", "")
    assert AP not in set(ranked.loc[shown.index, "score"])
    html = styler.to_html()
    assert "color: #777" in html and "scikit-learn 0.24.1" in styler.caption


def test_ranked_display_several_scores(ranked):
    styler = pages.ranked_display(ranked, [AP, KM])
    wide = styler.data
    assert list(wide.columns) == [AP, KM]
    assert wide.loc["VAE reading (fingerprint-matched)", AP] == "+12.0 (+9.0 to +15.0)"
    assert wide.loc["VAE reading (fingerprint-matched)", KM] == "+4.0 (+2.0 to +6.0)"
    assert wide.loc["not explained by the measured factors", AP] == "+8.0"  # no interval
    assert wide.loc["VAE seed", AP] == pages.NOT_MEASURED  # a factor measured on one score only: said, not "nan"
    assert wide.index.name is None
    # a factor whose experiment gave no number for a score (the worm gene count for VAE + AP) is not "+nan"
    unmeasured = ranked.copy()
    unmeasured.loc[(unmeasured["score"] == AP) & unmeasured["factor"].str.startswith("VAE reading"), "effect"] = np.nan
    cell = pages.ranked_display(unmeasured, [AP, KM]).data.loc["VAE reading (fingerprint-matched)", AP]
    assert cell == pages.NOT_MEASURED and "Not measured: " in pages.ranked_display(ranked, [AP, KM]).caption


def _mean_sd(values: pd.Series) -> str:
    values = 100 * values
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}" if len(values) > 1 else f"{values.mean():.1f}"


def test_gene_count_display_on_the_committed_worm_study():
    rows = committed(f"{WORM}-gene-count")
    assert rows is not None, "results/why/worm-2100-gene-count.csv is committed"
    styler = pages.gene_count_display()
    shown = styler.data
    assert list(shown.index) == list(dict.fromkeys(rows["variant"]))
    readings = [r for r in dict.fromkeys(rows["reading"]) if r != "baseline"]
    assert list(shown.columns) == ([f"VAE ({r}) + K-means" for r in readings]
                                   + ["PCA(32) + K-means", "Leiden (label count)", "VAE − PCA (default)"])
    for variant, part in rows.groupby("variant"):
        vae = part.query("reading == 'default' and method == 'kmeans'")["CA"]
        pca = part.query("method == 'pca32+kmeans'")["CA"]
        assert shown.loc[variant, "VAE (default) + K-means"] == _mean_sd(vae)
        assert shown.loc[variant, "PCA(32) + K-means"] == _mean_sd(pca) and "±" not in _mean_sd(pca)
        assert shown.loc[variant, "Leiden (label count)"] == _mean_sd(part.query("method == 'scanpy+leiden(count)'")["CA"])
        assert shown.loc[variant, "VAE − PCA (default)"] == f"{100 * (vae.mean() - pca.mean()):+.1f}".replace("-", "−")
    info = registry()["worm-2100"]
    assert styler.caption == (f"CA (%), mean ± s.d. over VAE seeds; worm neurons, {info['cells']:,} cells, "
                              f"{info['labels']} labels.")
    assert "2,100 cells, 10 labels" in styler.caption


def test_gene_count_display_before_the_study_ran(monkeypatch):
    monkeypatch.setattr(pages, "committed", lambda name: None)
    assert pages.gene_count_display() == ("The gene-count study has not been run: "
                                          "python -m replicate.studies.why --steps gene-count")
    assert pages.datasets_display().startswith("The gene-set and cell-set runs have not been run")


def test_datasets_display_on_the_committed_gene_and_cell_sets():
    from replicate.publish.names import NAMES

    frames = {name: committed(name) for name in (GENE_SET, CELL_SET)}
    assert all(f is not None for f in frames.values())
    styler = pages.datasets_display()
    shown = styler.data
    assert list(shown.columns) == ["dataset", "reading", "method", "CA", "ARI", "seeds"]
    assert isinstance(shown.index, pd.RangeIndex) and "affinity_propagation" not in styler.to_html()
    assert list(dict.fromkeys(shown["dataset"])) == [GENE_SET, CELL_SET]
    assert len(shown) == sum(len(f.groupby(["dataset", "reading", "method"])) for f in frames.values())
    at = shown.set_index(["dataset", "reading", "method"])
    for name, rows in frames.items():
        km = rows.query("reading == 'default' and method == 'kmeans'")
        cell = at.loc[(name, "default", NAMES["kmeans"])]
        assert cell["CA"] == _mean_sd(km["CA"]) and cell["ARI"] == _mean_sd(km["ARI"])
        assert cell["seeds"] == km["seed"].nunique() > 1
        baseline = at.loc[(name, "baseline", NAMES["pca32+kmeans"])]
        assert baseline["seeds"] == 1 and "±" not in baseline["CA"]
    assert styler.caption == "Percent, mean ± s.d. over VAE seeds (baselines: one run)."


def test_datasets_display_with_one_of_the_two_runs(monkeypatch):
    real = pages.committed
    monkeypatch.setattr(pages, "committed", lambda name: real(name) if name == CELL_SET else None)
    shown = pages.datasets_display().data
    assert set(shown["dataset"]) == {CELL_SET}
