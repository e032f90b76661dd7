"""The study's figures (replicate.publish.study_figures) draw the frames the studies compute."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from replicate.method.clustering import PAPER_METHODS, paper_setting
from replicate.paper.stats import bootstrap_ci
from replicate.paper.table1 import paper_table1, table1
from replicate.publish import study_figures
from replicate.studies.uncertainty import REPRESENTATIONS, effects
from replicate.studies.why_factors import factor_effects

#: Table 1's VAE rows, in the paper's order, as the headline labels them.
VAE_ROWS = ["Affinity propagation", "Agglomerative", "BIRCH", "GMM", "K-means", "Spectral"]
TABLE1_METHODS = ["affinity_propagation", "agglomerative", "birch", "gmm", "kmeans", "spectral"]


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")


def _errorbar_x(ax) -> list[np.ndarray]:
    """The x of each errorbar's points, in drawing order."""
    return [np.asarray(c.lines[0].get_xdata(), float) for c in ax.containers]


def _errorbar_y(ax) -> list[np.ndarray]:
    return [np.asarray(c.lines[0].get_ydata(), float) for c in ax.containers]


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


# ------------------------------------------------------------------------------ headline


def _grid_rows(shift: float) -> pd.DataFrame:
    """Three VAE seeds at the paper's setting of each Table 1 method; CA 50 + 5 i + seed (+ shift) percent."""
    out = []
    for i, m in enumerate(TABLE1_METHODS):
        p = paper_setting(m)
        for s in range(3):
            out.append({"dataset": "d", "method": m, "embedding": f"vae_seed={s}",
                        "parameters": json.dumps(p, sort_keys=True), "status": "ok", "silhouette": 0.3,
                        "CA": 0.5 + 0.05 * i + 0.01 * s + shift, "NMI": 0.5, "ARI": 0.4 + 0.05 * i + shift,
                        **{f"param_{k}": v for k, v in p.items()}})
    return pd.DataFrame(out)


BASELINES = pd.DataFrame([{"method": "pca32+kmeans", "CA": 0.55, "NMI": 0.5, "ARI": 0.40},
                          {"method": "pca32+kmeans", "CA": 0.57, "NMI": 0.5, "ARI": 0.42},
                          {"method": "scanpy+leiden(count)", "CA": 0.60, "NMI": 0.5, "ARI": 0.50}])


@pytest.fixture(scope="module")
def two_readings():
    return table1({"default": _grid_rows(0.0), "matched": _grid_rows(0.1)}, BASELINES)


def test_headline_paper_ours_and_live_baselines_per_metric(two_readings):
    fig = study_figures.headline(two_readings)
    ca, ari = fig.axes
    assert (ca.get_title(), ari.get_title()) == ("CA", "ARI")
    assert (ca.get_xlabel(), ari.get_xlabel()) == ("CA (%)", "ARI (%)")
    assert ca.get_xlim() == ari.get_xlim() == (0, 100)
    assert [t.get_text() for t in ca.get_yticklabels()] == VAE_ROWS
    y = np.arange(6)[::-1]
    # the paper's diamonds, just above each method's line
    paper = np.asarray(ca.collections[0].get_offsets(), float)
    published = paper_table1().set_index("method").loc[TABLE1_METHODS, "CA"]  # the one data file's numbers
    np.testing.assert_allclose(paper[:, 0], published.to_numpy())
    np.testing.assert_allclose(paper[:, 1], y + 0.2)
    # ours, one errorbar series per reading, mean over the three seeds
    np.testing.assert_allclose(_errorbar_x(ca), [[51, 56, 61, 66, 71, 76], [61, 66, 71, 76, 81, 86]])
    np.testing.assert_allclose(_errorbar_x(ari), [[40, 45, 50, 55, 60, 65], [50, 55, 60, 65, 70, 75]])
    np.testing.assert_allclose(_errorbar_y(ca), [y, y - 0.2])
    # the live baselines as vertical lines: PCA+K-means (mean of two runs) dashed, Leiden dotted
    refs = {l.get_label(): (l.get_xdata()[0], l.get_linestyle()) for l in ca.lines
            if l.get_label().endswith(", live")}
    assert refs == {"PCA(32)+K-means, live": (pytest.approx(56.0), "--"), "Leiden, live": (pytest.approx(60.0), ":")}
    assert [l.get_xdata()[0] for l in ari.lines if l.get_label() == "PCA(32)+K-means, live"] == [pytest.approx(41.0)]
    assert sorted(_legend(fig)) == sorted(["paper", "PCA(32)+K-means, live", "Leiden, live",
                                           "ours, default reading (95% CI)", "ours, second reading (95% CI)"])
    assert fig._suptitle.get_text() == "VAE rows of Table 1 at the paper's setting: paper vs ours"


def test_headline_error_bars_are_the_bootstrap_intervals(two_readings):
    fig = study_figures.headline(two_readings, metrics=("CA",))
    (ax,) = fig.axes
    lo, hi = bootstrap_ci([50.0, 51.0, 52.0])
    segs = ax.containers[0].lines[2][0].get_segments()  # the horizontal error bars of the default reading
    first = np.asarray(segs[0])
    np.testing.assert_allclose(sorted(first[:, 0]), [lo, hi])


def test_headline_one_reading_no_baselines_and_callers_axes(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    table = table1(_grid_rows(0.0))
    fig, axes = plt.subplots(1, 3)
    assert study_figures.headline(table, ("CA", "NMI", "ARI"), ax=axes, show=True) is fig
    assert shown == [True] and len(fig.axes) == 3
    assert [a.get_title() for a in axes] == ["CA", "NMI", "ARI"]
    assert len(axes[1].containers) == 1
    np.testing.assert_allclose(_errorbar_x(axes[1]), [[50.0] * 6])
    assert _legend(fig) == ["paper", "ours, default reading (95% CI)"]  # no live lines without baselines
    assert not [l for l in axes[0].lines if l.get_label().endswith(", live")]
    with pytest.raises(ValueError, match=r"draws 2 panel\(s\); ax has 3"):
        study_figures.headline(table, ax=axes)


# ------------------------------------------------------------------------------ forest (factor effects)


def _seed_rows(ca: dict[str, list[float]], ari: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "seed": s, "CA": ca[m][s], "NMI": 0.5, "ARI": ari[m][s]}
                         for m in ca for s in range(len(ca[m]))])


@pytest.fixture(scope="module")
def factor_frame():
    before = _seed_rows({"kmeans": [0.70, 0.72, 0.74], "affinity_propagation": [0.60, 0.60, 0.60]},
                        {"kmeans": [0.50, 0.50, 0.50], "affinity_propagation": [0.40, 0.40, 0.40]})
    genes = _seed_rows({"kmeans": [0.75, 0.77, 0.79], "affinity_propagation": [0.62, 0.62, 0.62]},
                       {"kmeans": [0.49, 0.49, 0.49], "affinity_propagation": [0.43, 0.43, 0.43]})
    long_name = "a factor whose name is much longer than forty-two characters"
    cells = _seed_rows({"kmeans": [0.80, 0.80, 0.80], "affinity_propagation": [0.50, 0.50, 0.50]},
                       {"kmeans": [0.52, 0.52, 0.52], "affinity_propagation": [0.40, 0.40, 0.40]})
    return factor_effects([{"factor": "gene set", "change": "c", "before": before, "after": genes},
                           {"factor": long_name, "change": "c", "before": before, "after": cells}])


def test_forest_one_dot_per_factor_and_score_at_its_effect(factor_frame):
    fig = study_figures.forest(factor_frame)
    (ax,) = fig.axes
    assert _legend(fig) == ["VAE+K-means CA", "VAE+K-means ARI", "VAE+AP CA", "VAE+AP ARI"]
    np.testing.assert_allclose(_errorbar_x(ax), [[5, 8], [-1, 2], [2, -10], [3, 0]], atol=1e-9)
    step = 0.8 / 4
    np.testing.assert_allclose(_errorbar_y(ax)[0], np.array([1, 0]) + 0.4 - 0.5 * step)
    np.testing.assert_allclose(_errorbar_y(ax)[3], np.array([1, 0]) + 0.4 - 3.5 * step)
    # each horizontal bar spans the factor's 95% interval
    km_ca = factor_frame[factor_frame["score"] == "VAE+K-means CA"]
    segs = [np.sort(np.asarray(s)[:, 0]) for s in ax.containers[0].lines[2][0].get_segments()]
    np.testing.assert_allclose(segs, km_ca[["ci_low", "ci_high"]].to_numpy(float))
    assert km_ca["ci_high"].iloc[1] - km_ca["ci_low"].iloc[1] > 1  # a real interval, not a point
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "gene set"
    assert len(labels[1]) == 41 and labels[1].endswith("…") and labels[1].startswith("a factor whose name")
    assert ax.get_xlabel() == "effect on our score (points, 95% CI); > 0 moves towards the paper"
    zero = [l for l in ax.lines if list(l.get_xdata()) == [0, 0]]
    assert len(zero) == 1  # the line of no effect


def test_forest_keeps_the_chosen_scores_and_draws_into_the_callers_axes(factor_frame):
    fig, (a, b) = plt.subplots(1, 2)
    assert study_figures.forest(factor_frame, scores=("VAE+AP ARI", "VAE+K-means CA"), ax=b) is fig
    assert not a.containers and len(b.containers) == 2
    # hues in the order the frame has them, not the order asked
    assert _legend(fig) == ["VAE+K-means CA", "VAE+AP ARI"]
    np.testing.assert_allclose(_errorbar_x(b), [[5, 8], [3, 0]], atol=1e-9)
    with pytest.raises(ValueError, match="draws 1 panel"):
        study_figures.forest(factor_frame, ax=[a, b])


def test_forest_missing_intervals_draw_no_bar(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    eff = pd.DataFrame({"factor": ["f"], "score": ["VAE+K-means CA"], "effect": [4.0], "ci_low": [np.nan],
                        "ci_high": [np.nan]})
    fig = study_figures.forest(eff, show=True)
    assert shown == [True]
    segs = fig.axes[0].containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose(np.asarray(segs[0])[:, 0], [4.0, 4.0])


# ------------------------------------------------------------------------------ fingerprint_scatter


def _readings() -> pd.DataFrame:
    rows = []
    for reading, dist, km, ap in (("default", 2.0, 0.70, 0.60), ("matched", 0.5, 0.80, 0.75)):
        for s in range(3):
            rows.append({"reading": reading, "seed": s, "status": "ok", "distance": dist + 0.1 * s,
                         "kmeans_CA": km + 0.01 * s, "ap_CA": ap})
    rows.append({"reading": "matched", "seed": 3, "status": "diverged", "distance": 99.0, "kmeans_CA": 0.0,
                 "ap_CA": 0.0})
    return pd.DataFrame(rows)


def test_fingerprint_scatter_means_per_reading_without_diverged_seeds():
    fig = study_figures.fingerprint_scatter(_readings())
    (ax,) = fig.axes
    km, ap = (np.asarray(c.get_offsets(), float) for c in ax.collections)
    np.testing.assert_allclose(km, [[2.1, 71.0], [0.6, 81.0]])
    np.testing.assert_allclose(ap, [[2.1, 60.0], [0.6, 75.0]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["VAE + K-means", "VAE + AP"]
    assert ax.get_title() == "Readings of the VAE, mean over 4 seeds"  # the diverged seed is counted in the title
    assert ax.get_xlabel() == "distance to the paper's fingerprints (0 = as reported; label-free)"
    assert ax.get_ylabel() == "CA (%), for information"


def test_fingerprint_scatter_empty_is_none_and_callers_axes():
    assert study_figures.fingerprint_scatter(None) is None
    assert study_figures.fingerprint_scatter(_readings().iloc[0:0]) is None
    fig, (a, b) = plt.subplots(1, 2)
    assert study_figures.fingerprint_scatter(_readings(), ax=a) is fig
    assert len(a.collections) == 2 and not b.collections
    with pytest.raises(ValueError, match="draws 1 panel"):
        study_figures.fingerprint_scatter(_readings(), ax=[a, b])


# ------------------------------------------------------------------------------ uncertainty_effects


def _uncertainty_rows() -> pd.DataFrame:
    """Per method and seed: CA of the mean alone and of the two posterior distances (known differences)."""
    shift = {REPRESENTATIONS[0]: 0.0, REPRESENTATIONS[1]: 0.03, REPRESENTATIONS[2]: -0.02}
    base = {"kmeans": 0.70, "agglomerative": 0.60}
    return pd.DataFrame([{"method": m, "representation": r, "seed": s, "CA": base[m] + 0.01 * s + shift[r]
                          + (0.01 if m == "agglomerative" and r != REPRESENTATIONS[0] else 0.0),
                          "ARI": 0.5 - shift[r]}
                         for m in base for r in REPRESENTATIONS for s in range(3)])


def test_uncertainty_effects_draw_the_ca_effects_per_method_and_representation():
    eff = effects(_uncertainty_rows())
    fig = study_figures.uncertainty_effects(eff)
    (ax,) = fig.axes
    assert _legend(fig) == list(REPRESENTATIONS[1:])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["kmeans", "agglomerative"]
    # CA only (the ARI effects, -3 and +2, are not drawn)
    np.testing.assert_allclose(_errorbar_x(ax), [[3, 4], [-2, -1]], atol=1e-9)
    assert ax.get_xlabel() == "effect on CA (points, 95% CI): with the uncertainty minus the mean alone"


def test_uncertainty_effects_into_the_callers_axes(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    eff = effects(_uncertainty_rows())
    fig, ax = plt.subplots()
    assert study_figures.uncertainty_effects(eff, ax=ax, show=True) is fig
    assert shown == [True] and len(ax.containers) == 2 and len(fig.axes) == 1
    with pytest.raises(ValueError, match="draws 1 panel"):
        study_figures.uncertainty_effects(eff, ax=[ax, ax])


# ------------------------------------------------------------------------------ generalisation


def _generalisation_rows() -> pd.DataFrame:
    rows = []
    for ds, ca, pca in (("d1", 0.80, 0.60), ("d2", 0.70, 0.65)):
        rows += [{"dataset": ds, "reading": "default", "variant": "paper's setting", "method": m, "seed": s,
                  "CA": (ca + 0.01 * s) if m == "kmeans" else 0.5, "NMI": 0.5, "ARI": 0.5}
                 for m in PAPER_METHODS for s in range(3)]
        # neither the matched reading nor the rescaled variant counts as the paper's recipe
        rows.append({"dataset": ds, "reading": "matched", "variant": "paper's setting", "method": "kmeans",
                     "seed": 0, "CA": 0.1})
        rows.append({"dataset": ds, "reading": "default", "variant": "rescaled", "method": "kmeans", "seed": 0,
                     "CA": 0.1})
        rows.append({"dataset": ds, "reading": "baseline", "variant": "live baseline", "method": "pca32+kmeans",
                     "seed": -1, "CA": pca})
        rows.append({"dataset": ds, "reading": "baseline", "variant": "live baseline",
                     "method": "scanpy+leiden(count)", "seed": -1, "CA": 0.55})
    rows.append({"dataset": "d1", "reading": "baseline", "variant": "live baseline", "method": "scvi+kmeans",
                 "seed": -1, "CA": 0.66})
    return pd.DataFrame(rows)


def test_generalisation_one_line_per_dataset_four_series():
    fig = study_figures.generalisation(_generalisation_rows())
    (ax,) = fig.axes
    assert _legend(fig) == ["VAE + K-means", "PCA(32) + K-means", "Leiden, label count", "scVI + K-means"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d1", "d2"]
    assert (ax.get_xlabel(), ax.get_xlim()) == ("CA (%)", (0, 100))
    assert ax.get_title() == "The paper's recipe on other data sets"
    x = _errorbar_x(ax)
    np.testing.assert_allclose(x[:3], [[81, 71], [60, 65], [55, 55]])
    assert x[3][0] == pytest.approx(66) and np.isnan(x[3][1])  # no scVI run on d2
    np.testing.assert_allclose(_errorbar_y(ax), [[1.3, 0.3], [1.1, 0.1], [0.9, -0.1], [0.7, -0.3]])
    # the VAE's bar is the bootstrap interval over its three seeds; one baseline run has none
    lo, hi = bootstrap_ci([80.0, 81.0, 82.0])
    seg = np.asarray(ax.containers[0].lines[2][0].get_segments()[0])
    np.testing.assert_allclose(sorted(seg[:, 0]), [lo, hi])
    seg = np.asarray(ax.containers[1].lines[2][0].get_segments()[0])
    np.testing.assert_allclose(seg[:, 0], [60, 60])


def test_generalisation_empty_is_none_and_callers_axes(monkeypatch):
    assert study_figures.generalisation(None) is None
    assert study_figures.generalisation(_generalisation_rows().iloc[0:0]) is None
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig, (a, b) = plt.subplots(1, 2)
    assert study_figures.generalisation(_generalisation_rows(), ax=b, show=True) is fig
    assert shown == [True] and len(b.containers) == 4 and not a.containers
    with pytest.raises(ValueError, match="draws 1 panel"):
        study_figures.generalisation(_generalisation_rows(), ax=[a, b])
