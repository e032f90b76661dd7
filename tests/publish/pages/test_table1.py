"""Table 1 and the clustering and baseline pages for readers: the styled tables, sentences and glue."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replicate.grid.selection import SELECTIONS
from replicate.method.cells import params_json
from replicate.method.clustering import paper_setting
from replicate.paper.table1 import COPIED, LIVE, paper_table1, table1
from replicate.publish.pages import table1 as pages

SEEDS = (0, 1, 2)
AP = "affinity_propagation"
#: Affinity propagation's grid here: the paper's setting, the best by ARI, the best silhouette, a failing one.
AP_BEST = {"preference": -100, "damping": 0.5}
AP_SILHOUETTE = {"preference": -200, "damping": 0.7}
AP_FAILING = {"preference": -400, "damping": 0.6}


def _cell(method: str, params: dict, seed: int, ca: float, ari: float, sil: float, *, status: str = "ok",
          found: int = 8) -> dict:
    return {"dataset": "test", "embedding": f"vae_seed={seed}", "method": method, "parameters": params_json(params),
            "grid": "full", "CA": ca, "NMI": (ca + ari) / 2, "ARI": ari, "silhouette": sil, "status": status,
            "clusters_found": found, **{f"param_{k}": v for k, v in params.items()}}


def grid_rows(kmeans_ca: float = 0.80, seeds=SEEDS) -> pd.DataFrame:
    """Synthetic grid cells over VAE seeds: every Table 1 method at the paper's setting, plus a small AP grid.

    K-means CA is ``kmeans_ca + 0.01 * seed``; AP's best ARI is not at the paper's setting, and its
    highest silhouette is at a third setting; the fourth AP setting fails on every seed.
    """
    rows = []
    for s in seeds:
        rows.append(_cell("kmeans", paper_setting("kmeans"), s, kmeans_ca + 0.01 * s, 0.60 + 0.01 * s, 0.30))
        rows.append(_cell(AP, paper_setting(AP), s, 0.70, 0.50, 0.20, found=20 + s))
        rows.append(_cell(AP, AP_BEST, s, 0.75, 0.65, 0.10, found=12))
        rows.append(_cell(AP, AP_SILHOUETTE, s, 0.60, 0.40, 0.60, found=6))
        rows.append(_cell(AP, AP_FAILING, s, 0.20, 0.00, float("nan"), status="failed", found=1))
        for method, ca in (("agglomerative", 0.78), ("birch", 0.90), ("gmm", 0.75), ("spectral", 0.70)):
            rows.append(_cell(method, paper_setting(method), s, ca, ca - 0.1, 0.25))
    return pd.DataFrame(rows)


def baseline_rows() -> pd.DataFrame:
    return pd.DataFrame([
        {"method": "pca32+kmeans", "clusters_found": 8, "CA": 0.55, "NMI": 0.50, "ARI": 0.40, "seconds": 1.234,
         "status": "ok", "message": ""},
        {"method": "scanpy+leiden", "clusters_found": 11, "CA": 0.61234, "NMI": 0.52, "ARI": 0.41, "seconds": 12.06,
         "status": "ok", "message": "found 11 clusters, not 8"},
    ])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return table1(grid_rows(), baseline_rows())


@pytest.fixture(scope="module")
def two_readings() -> pd.DataFrame:
    return table1({"default": grid_rows(), "matched reading": grid_rows(kmeans_ca=0.60)}, baseline_rows())


# --------------------------------------------------------------------------- Table 1


def test_glue_names_are_plain():
    assert pages.glue_name("VAE+Affinity propagation") == "vae_affinity_propagation"
    assert pages.glue_name("Leiden, label count (live)") == "leiden_label_count_live"
    assert pages.glue_name("PCA(32)+k-means (live)") == "pca_32_k_means_live"
    assert pages.glue_name("  --Already_plain 3--") == "already_plain_3"


def test_table1_main_rows_in_the_papers_order_with_paper_ours_and_delta(table):
    styler = pages.table1_main(table)
    shown = styler.data
    copied = list(paper_table1().query("source != 'paper'")["row"])
    vae = list(paper_table1().query("source == 'paper'")["row"])
    assert list(shown.index) == copied + vae + ["PCA(32)+k-means, live", "Leiden, resolution 1, live"]
    assert list(shown.columns) == [(m, c) for m in ("CA", "NMI", "ARI") for c in ("paper", "ours", "Δ")]
    paper = paper_table1().set_index("row")
    km = shown.loc["VAE+K-means"]
    # CA 80, 81, 82 over three seeds: mean 81.0, s.d. 1.0
    assert km[("CA", "ours")] == "81.0±1.0"
    assert km[("CA", "paper")] == f"{paper.loc['VAE+K-means', 'CA']:.2f}"
    delta = 81.0 - paper.loc["VAE+K-means", "CA"]
    assert km[("CA", "Δ")] == f"{delta:+.1f}".replace("-", "−")
    assert shown.loc["VAE+BIRCH", ("CA", "Δ")].startswith("+")  # BIRCH 90 is above the paper
    # copied rows: the paper's numbers only; live rows: ours only (no paper number, no Δ)
    assert shown.loc["SIMLR", ("CA", "ours")] == "" and shown.loc["SIMLR", ("CA", "Δ")] == ""
    assert shown.loc["SIMLR", ("CA", "paper")] == f"{paper.loc['SIMLR', 'CA']:.2f}"
    live = shown.loc["PCA(32)+k-means, live"]
    assert live[("CA", "paper")] == "" and live[("CA", "Δ")] == "" and live[("CA", "ours")] == "55.0"
    # a border above the first VAE row and above the first live row
    borders = [s["selector"] for s in styler.table_styles if "border-top" in str(s["props"])]
    assert borders == [f"tbody tr:nth-child({len(copied) + 1})", f"tbody tr:nth-child({len(copied) + len(vae) + 1})"]
    assert f"the first {len(copied)} rows copied" in styler.caption and "second reading" not in styler.caption


def test_table1_main_puts_the_second_reading_under_each_vae_row(two_readings):
    styler = pages.table1_main(two_readings)
    shown = styler.data
    names = list(shown.index)
    km = names.index("VAE+K-means")
    assert names[km + 1] == "  ↳ second reading"
    assert shown.iloc[km + 1][("CA", "ours")] == "61.0±1.0"
    assert names.count("  ↳ second reading") == 6
    assert "↳ second reading: matched reading." in styler.caption


def test_table1_selections_shows_the_three_choices(two_readings):
    shown = pages.table1_selections(two_readings).data
    assert list(shown.columns) == [(m, s) for m in ("CA", "ARI") for s in ("paper's", "best †", "label-free ‡")]
    ap = shown.loc["VAE+Affinity propagation"]
    assert ap[("CA", "paper's")] == pytest.approx(70.0)
    assert ap[("ARI", "best †")] == pytest.approx(65.0)         # best ARI: AP_BEST
    assert ap[("CA", "label-free ‡")] == pytest.approx(60.0)     # highest silhouette: AP_SILHOUETTE
    rows = list(shown.index)
    assert rows[rows.index("VAE+K-means") + 1] == "  ↳ second reading"
    assert shown.iloc[rows.index("VAE+K-means") + 1][("CA", "paper's")] == pytest.approx(61.0)


def test_summary_sentences_follow_the_table(table):
    paper = paper_table1().set_index("row")
    text = pages.summary(table, 3)
    assert text.startswith("At the paper's setting, VAE + K-means reached CA 81.00 (95% interval ")
    assert "over 3 VAE seeds" in text and f"against the paper's {paper.loc['VAE+K-means', 'CA']:.2f}" in text
    assert f"affinity propagation reached 70.00 against {paper.loc['VAE+Affinity propagation', 'CA']:.2f}" in text
    # BIRCH (90) is above the paper's CA; the five others are below
    assert " 5 of the 6 VAE rows are below the paper's CA" in text
    assert text.endswith("a PCA(32) + K-means baseline run on the same cells reaches 55.00.")
    one = pages.summary(table1(grid_rows(seeds=[0])), 1)
    assert "over one VAE seed" in one and "interval" not in one and one.endswith("below the paper's CA.")


def test_glue_table1_glues_every_number_the_prose_pages_use(two_readings, monkeypatch):
    glued: dict = {}
    monkeypatch.setattr(pages, "glue", lambda key, value, display=True: glued.__setitem__(key, (value, display)))
    pages.glue_table1(two_readings, 3)
    assert not any(display for _, display in glued.values())
    value = {k: v for k, (v, _) in glued.items()}
    km = two_readings[(two_readings["row"] == "VAE+K-means") & (two_readings["selection"] == SELECTIONS["paper"])
                      & (two_readings["reading"] == "default")].iloc[0]
    assert value["kmeans_CA_ours"] == pytest.approx(81.0)
    assert value["kmeans_CA_paper"] == paper_table1().set_index("row").loc["VAE+K-means", "CA"]
    assert value["kmeans_CA_gap"] == pytest.approx(value["kmeans_CA_paper"] - 81.0)
    assert value["kmeans_CA_lo"] == km["ci_low_CA"] and value["kmeans_CA_hi"] == km["ci_high_CA"]
    assert value["kmeans_CA_lo"] <= 81.0 <= value["kmeans_CA_hi"]
    assert value["kmeans_CA_matched_reading"] == pytest.approx(61.0)       # the second reading's own key
    assert value["affinity_propagation_ARI_ours"] == pytest.approx(50.0)
    assert value["best_vae_affinity_propagation_ARI"] == pytest.approx(65.0)
    assert value["live_pca_32_k_means_live_CA"] == pytest.approx(55.0)
    assert value["live_leiden_resolution_1_live_NMI"] == pytest.approx(52.0)
    assert value["n_seeds"] == 3 and isinstance(value["n_seeds"], int)
    assert value["matched_name"] == "matched reading"
    assert value["table1_summary"] == pages.summary(two_readings, 3)
    # six methods x three metrics x five numbers for the default reading, one each for the second
    assert len([k for k in value if k.endswith(("_ours", "_paper", "_gap", "_lo", "_hi"))]) == 6 * 3 * 5


def test_glue_table1_names_no_second_reading_as_none(table, monkeypatch):
    glued: dict = {}
    monkeypatch.setattr(pages, "glue", lambda key, value, display=True: glued.__setitem__(key, value))
    pages.glue_table1(table, 3)
    assert glued["matched_name"] == "none"
    assert not any(k.endswith("_matched_reading") for k in glued)


# --------------------------------------------------------------------------- a method's grid


def test_short_parameters():
    assert pages.short_parameters(params_json({"preference": -350, "damping": 0.9})) == "damping 0.9, preference -350"
    assert pages.short_parameters(params_json({"covariance_type": "tied"})) == "covariance type tied"
    assert pages.short_parameters("{}") == "defaults"
    assert pages.short_parameters("not json") == "not json"
    assert pages.short_parameters(None) == "None"


def test_grid_summary_frame_one_line_per_setting():
    rows = grid_rows()
    out = pages.grid_summary_frame(rows[rows["method"] == AP])
    assert list(out.index) == [pages.short_parameters(params_json(p))
                               for p in (paper_setting(AP), AP_BEST, AP_SILHOUETTE, AP_FAILING)]
    assert out.index.name == "setting"
    assert list(out.columns) == ["clusters found", "status", "CA (%)", "NMI (%)", "ARI (%)"]
    paper = out.loc["damping 0.9, preference -350"]
    assert paper["clusters found"] == "20–22" and paper["status"] == "ok 3"
    assert paper["CA (%)"] == "70.0 ± 0.0"
    assert out.loc["damping 0.5, preference -100", "clusters found"] == "12"
    assert out.loc["damping 0.6, preference -400", "status"] == "failed 3"
    km = pages.grid_summary_frame(rows[rows["method"] == "kmeans"])
    assert list(km.index) == ["defaults"] and km.loc["defaults", "CA (%)"] == "81.0 ± 1.0"
    one = pages.grid_summary_frame(grid_rows(seeds=[0]).query("method == 'kmeans'"))
    assert one.loc["defaults", "CA (%)"] == "80.0"  # one seed: no s.d.
    missing = rows[rows["method"] == "kmeans"].assign(CA=float("nan"))
    assert pages.grid_summary_frame(missing).loc["defaults", "CA (%)"] == "—"


def test_grid_summary_styles_the_frame():
    rows = grid_rows().query("method == 'kmeans'")
    styler = pages.grid_summary(rows)
    pd.testing.assert_frame_equal(styler.data, pages.grid_summary_frame(rows))
    styles = {s["selector"]: dict(s["props"]) for s in styler.table_styles}
    assert styles["td, th"]["white-space"] == "nowrap"
    assert styles["th.row_heading"]["white-space"] == "normal"  # long settings wrap in the index


def test_settings_display_the_three_choices_of_one_method():
    rows = grid_rows().query("method == @AP")
    styler = pages.settings_display(rows)
    shown = styler.data
    assert list(shown.columns) == ["selection", "setting", "CA (%)", "NMI (%)", "ARI (%)", "silhouette"]
    assert list(shown["selection"]) == list(SELECTIONS.values())
    assert list(shown["setting"]) == ["damping 0.9, preference -350", "damping 0.5, preference -100",
                                      "damping 0.7, preference -200"]
    assert list(shown["ARI (%)"]) == pytest.approx([50.0, 65.0, 40.0])
    assert list(shown["silhouette"]) == pytest.approx([0.2, 0.1, 0.6])
    assert styler.caption == "Mean over VAE seeds."


def test_method_summary_names_the_setting_the_best_and_the_failures():
    rows = grid_rows().query("method == @AP")
    text = pages.method_summary(rows, AP)
    assert text.startswith(f"At the paper's setting {paper_setting(AP)}, affinity_propagation reached CA 70.0 and "
                           "ARI 50.0 on average over 3 VAE latent(s)")
    assert "the best setting of its grid by ARI, chosen with the labels, reached ARI 65.0." in text
    assert text.endswith(" 3 of 12 grid cells (1 setting(s)) failed or timed out; "
                         "they are rows with a message below, never averaged in.")
    km = pages.method_summary(grid_rows().query("method == 'kmeans'"), "kmeans")
    # K-means has one cell (scikit-learn defaults): no "best setting", no failures
    assert km == ("At the paper's setting (scikit-learn defaults), kmeans reached CA 81.0 and ARI 61.0 on average "
                  "over 3 VAE latent(s).")


# --------------------------------------------------------------------------- baselines and open points


def test_baselines_table_percent_names_and_notes():
    styler = pages.baselines_table(baseline_rows())
    shown = styler.data
    assert list(shown["baseline"]) == ["PCA(32)+k-means", "Leiden, resolution 1"]
    assert list(shown.columns) == ["baseline", "clusters", "CA (%)", "NMI (%)", "ARI (%)", "seconds", "status"]
    assert list(shown["CA (%)"]) == pytest.approx([55.0, 61.23])
    assert list(shown["seconds"]) == pytest.approx([1.2, 12.1])
    assert styler.caption == "Leiden, resolution 1: found 11 clusters, not 8"
    quiet = baseline_rows().assign(message=["", float("nan")])
    assert pages.baselines_table(quiet).caption == "All baselines ran without warnings."
    other = baseline_rows().assign(method=["pca32+kmeans", "something new"])
    assert list(pages.baselines_table(other).data["baseline"]) == ["PCA(32)+k-means", "something new"]


def _with_scvi_not_applicable() -> pd.DataFrame:
    why = "scVI needs raw counts; this dataset holds log-normalised values"
    scvi = [{"method": m, "clusters_found": float("nan"), "CA": float("nan"), "NMI": float("nan"), "ARI": float("nan"),
             "seconds": float("nan"), "status": "not applicable", "message": why}
            for m in ("scvi+kmeans", "scvi+leiden(count)")]
    return pd.concat([baseline_rows(), pd.DataFrame(scvi)], ignore_index=True)


def test_a_baseline_that_could_not_run_is_one_sentence_not_a_row_of_blanks():
    rows = _with_scvi_not_applicable()
    styler = pages.baselines_table(rows)
    assert list(styler.data["baseline"]) == ["PCA(32)+k-means", "Leiden, resolution 1"]
    assert styler.caption.endswith("Not run: scVI+k-means, scVI+Leiden, label count (not applicable: scVI needs raw "
                                   "counts; this dataset holds log-normalised values).")
    assert "nan" not in styler.to_html()
    text = pages.baselines_summary(rows)
    assert text.startswith("Run on the same cells and preprocessing as the VAE, the baselines reach CA "
                           "PCA(32)+k-means 55.0; Leiden, resolution 1 61.2. Not run: scVI+k-means")
    assert "nan" not in text and list(pages.ran(rows)["method"]) == ["pca32+kmeans", "scanpy+leiden"]
    assert pages.not_run(baseline_rows()) == ""
    nothing = _with_scvi_not_applicable().iloc[2:]
    assert pages.baselines_summary(nothing).startswith("No baseline could run here. Not run: scVI+k-means")
    assert pages.baselines_table(nothing).caption.startswith("No baseline could run here. Not run:")


def test_a_silhouette_that_does_not_exist_says_why():
    rows = grid_rows().query("method == @AP").copy()
    rows.loc[rows["parameters"] == params_json(paper_setting(AP)), "silhouette"] = float("nan")
    html = pages.settings_display(rows).to_html()
    assert pages.NO_SILHOUETTE in html and "nan" not in html


def test_baselines_summary():
    assert pages.baselines_summary(baseline_rows()) == (
        "Run on the same cells and preprocessing as the VAE, the baselines reach CA PCA(32)+k-means 55.0; "
        "Leiden, resolution 1 61.2.")


def test_open_points_summary_ranges_readings_and_prices_the_labels():
    sens = pd.DataFrame({"reading": ["paper", "paper", "total 10,000", "clipped"], "CA": [0.70, 0.72, 0.80, 0.65]})
    choice = pd.DataFrame({SELECTIONS["paper"]: [60.0, 70.0], SELECTIONS["best"]: [80.0, 75.0],
                           SELECTIONS["label_free"]: [70.0, 65.0]}, index=["VAE+K-means", "VAE+GMM"])
    text = pages.open_points_summary(sens, choice)
    assert text.startswith("The preprocessing readings move VAE + K-means CA between 65.0 and 80.0 "
                           "(total 10,000 highest).")
    assert "adds 10.0 ARI points on average: the price of not knowing the labels." in text
    only = pages.open_points_summary(sens, choice[[SELECTIONS["paper"]]])
    assert only == "The preprocessing readings move VAE + K-means CA between 65.0 and 80.0 (total 10,000 highest)."


def test_the_table_has_the_rows_the_pages_expect(table):
    """The frame the displays read: copied rows, three selections per VAE row, live baselines."""
    assert set(table["selection"]) == {COPIED, LIVE, *SELECTIONS.values()}
    ap_best = table[(table["row"] == "VAE+Affinity propagation") & (table["selection"] == SELECTIONS["best"])].iloc[0]
    assert json.loads(ap_best["setting"]) == AP_BEST
