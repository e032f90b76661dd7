"""One run's figures (replicate.publish.figures): each draws what it is given, where it is told to."""

from __future__ import annotations

import anndata
import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from replicate.publish import figures


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")


@pytest.fixture
def adata():
    """Nine cells of three labels (4 a, 3 b, 2 c) with a two-dimensional embedding."""
    rng = np.random.default_rng(0)
    labels = list("aaaabbbcc")
    ad = anndata.AnnData(np.zeros((9, 2), dtype=np.float32),
                         obs=pd.DataFrame({"label": pd.Categorical(labels)}, index=[f"c{i}" for i in range(9)]))
    ad.obsm["X_umap"] = rng.normal(size=(9, 2))
    ad.obsm["X_tsne"] = rng.normal(size=(9, 2)) + 10
    ad.uns["other"] = {"kept": 1}
    return ad


def _history(seeds=(0, 1), epochs=(1, 2, 3)) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "epoch": e, "reconstruction": 10.0 - e + s, "kl": 0.1 * e * (s + 1)}
                         for s in seeds for e in epochs])


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


# ------------------------------------------------------------------------------ axes_for, finish, glued


def test_axes_for_makes_a_new_figure_of_n_panels():
    fig, axs, new = figures.axes_for(None, 3, (6.0, 2.0))
    assert new is True and len(axs) == 3 and fig.axes == axs
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 2.0))
    plt.close(fig)
    fig, axs, new = figures.axes_for(None, 1, (3.0, 2.0))
    assert new is True and len(axs) == 1 and axs[0] is fig.axes[0]


def test_axes_for_uses_the_callers_axes_and_checks_their_number():
    fig, grid = plt.subplots(1, 2)
    got_fig, axs, new = figures.axes_for(grid[1], 1, (1, 1))
    assert got_fig is fig and axs == [grid[1]] and new is False
    got_fig, axs, new = figures.axes_for(grid, 2, (1, 1))          # a numpy array of Axes
    assert got_fig is fig and axs == list(grid) and new is False
    got_fig, axs, new = figures.axes_for([grid[1], grid[0]], 2, (1, 1))  # a list, order kept
    assert axs == [grid[1], grid[0]]
    assert len(fig.axes) == 2  # nothing new was drawn
    with pytest.raises(ValueError, match=r"draws 2 panel\(s\); ax has 1"):
        figures.axes_for(grid[0], 2, (1, 1))
    with pytest.raises(ValueError, match=r"draws 3 panel\(s\); ax has 2"):
        figures.axes_for(grid, 3, (1, 1))


def test_finish_lays_out_only_new_figures_and_shows_when_asked(monkeypatch):
    shown, laid = [], []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig = plt.figure()
    monkeypatch.setattr(fig, "tight_layout", lambda **kw: laid.append(kw))
    assert figures.finish(fig, True, None, rect=(0, 0.1, 1, 1)) is fig
    assert laid == [{"rect": (0, 0.1, 1, 1)}] and shown == []
    assert figures.finish(fig, False, True) is fig
    assert laid == [{"rect": (0, 0.1, 1, 1)}] and shown == [True]
    figures.finish(fig, False, False)
    assert shown == [True]


def test_glued_glues_the_figure_by_name_and_closes_it(monkeypatch):
    calls = []
    monkeypatch.setattr(figures, "glue", lambda name, fig, **kw: calls.append((name, fig, kw)))
    fig = plt.figure()
    assert plt.fignum_exists(fig.number)
    figures.glued("fig-umap", fig)
    assert calls == [("fig-umap", fig, {"display": True})]
    assert not plt.fignum_exists(fig.number)


# ------------------------------------------------------------------------------ label_counts


def test_label_counts_draws_one_bar_per_label_largest_first(adata):
    fig = figures.label_counts(adata)
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == [4, 3, 2]
    assert _ticks(ax.get_yticklabels()) == ["a", "b", "c"]
    assert ax.get_title() == "9 cells, 3 labels"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("cells", "true label")
    assert fig.get_size_inches()[0] <= figures.WIDTH


def test_label_counts_into_the_callers_axes_and_show(adata, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.label_counts(adata, ax=b) is fig
    assert len(fig.axes) == 2 and b.get_title() == "9 cells, 3 labels" and a.get_title() == "" and not a.patches
    assert shown == []
    figures.label_counts(adata, show=True)
    assert shown == [True]


# ------------------------------------------------------------------------------ loss_curves


def test_loss_curves_one_line_per_seed_kl_on_a_log_scale():
    fig = figures.loss_curves(_history())
    rec, kl = fig.axes
    assert (rec.get_title(), kl.get_title()) == ("reconstruction (eq. 4)", "KL divergence (eq. 5)")
    assert rec.get_xlabel() == kl.get_xlabel() == "epoch"
    assert rec.get_ylabel() == kl.get_ylabel() == "mean loss per cell (nats)"
    assert (rec.get_yscale(), kl.get_yscale()) == ("linear", "log")
    np.testing.assert_allclose(rec.lines[0].get_ydata(), [9.0, 8.0, 7.0])
    np.testing.assert_allclose(rec.lines[1].get_ydata(), [10.0, 9.0, 8.0])
    np.testing.assert_allclose(kl.lines[1].get_ydata(), [0.2, 0.4, 0.6])
    np.testing.assert_allclose(kl.lines[0].get_xdata(), [1, 2, 3])
    assert rec.get_legend() is None  # one legend, beside the KL panel
    legend = kl.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1"] and legend.get_title().get_text() == "seed"


def test_loss_curves_legend_takes_two_columns_beyond_ten_seeds():
    fig = figures.loss_curves(_history(seeds=range(11), epochs=(1, 2)))
    legend = fig.axes[1].get_legend()
    assert len(legend.get_texts()) == 11 and legend._ncols == 2
    plt.close(fig)
    assert figures.loss_curves(_history(seeds=range(10), epochs=(1, 2))).axes[1].get_legend()._ncols == 1


def test_loss_curves_need_two_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.loss_curves(_history(), ax=[a, b]) is fig
    assert a.get_title() == "reconstruction (eq. 4)" and b.get_yscale() == "log" and len(fig.axes) == 2
    with pytest.raises(ValueError, match="draws 2 panel"):
        figures.loss_curves(_history(), ax=a)


# ------------------------------------------------------------------------------ embedding


def test_embedding_plots_the_basis_coloured_by_label_and_changes_nothing(adata):
    before = (set(adata.uns), set(adata.obsm), list(adata.obs.columns))
    fig = figures.embedding(adata)
    ax = fig.axes[0]
    assert ax.get_title() == "umap, coloured by label"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    np.testing.assert_allclose(np.asarray(ax.collections[0].get_offsets(), float), adata.obsm["X_umap"])
    assert (set(adata.uns), set(adata.obsm), list(adata.obs.columns)) == before
    assert "label_colors" not in adata.uns


def test_embedding_other_basis_title_and_callers_axes(adata):
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.embedding(adata, basis="X_tsne", title="my map", ax=b) is fig
    assert b.get_title() == "my map" and a.get_title() == ""
    np.testing.assert_allclose(np.asarray(b.collections[0].get_offsets(), float), adata.obsm["X_tsne"])
    plt.close(fig)
    adata.obs["cluster"] = pd.Categorical(list("xxyyyyxxy"))
    fig = figures.embedding(adata, color="cluster")
    assert fig.axes[0].get_title() == "umap, coloured by cluster"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["x", "y"]


# ------------------------------------------------------------------------------ grid_heatmaps


def _birch() -> pd.DataFrame:
    """Two seeds over a 2 x 2 BIRCH grid; CA = threshold + branching/100 (+0.02 for seed 1)."""
    rows = []
    for t in (0.1, 0.2):
        for b in (10, 20):
            for s in range(2):
                rows.append({"method": "birch", "embedding": f"vae_seed={s}", "param_threshold": t,
                             "param_branching_factor": b, "CA": 0.4 + t + b / 100 + 0.02 * s, "NMI": 0.5,
                             "ARI": 0.3 + t})
    rows.append({"method": "kmeans", "embedding": "vae_seed=0", "CA": 0.99, "NMI": 0.99, "ARI": 0.99})
    return pd.DataFrame(rows)


def test_grid_heatmaps_two_axis_grid_is_annotated_heatmaps():
    fig = figures.grid_heatmaps(_birch(), "birch")
    ca, ari = (a for a in fig.axes if a.get_title())
    assert (ca.get_title(), ari.get_title()) == ("CA, mean over VAE seeds", "ARI, mean over VAE seeds")
    assert (ca.get_xlabel(), ca.get_ylabel()) == ("threshold", "branching_factor")
    assert _ticks(ca.get_xticklabels()) == ["0.1", "0.2"]
    assert [float(t) for t in _ticks(ca.get_yticklabels())] == [10, 20]
    # rows: branching 10, 20; columns: threshold 0.1, 0.2; percent, mean over seeds
    assert _texts(ca) == ["61", "71", "71", "81"]
    assert _texts(ari) == ["40", "50", "40", "50"]
    colorbars = [a.get_ylabel() for a in fig.axes if not a.get_title()]
    assert colorbars == ["CA (%)", "ARI (%)"]


def test_grid_heatmaps_metrics_and_callers_axes():
    fig, (a, b) = plt.subplots(2, 1)
    rows = _birch().assign(method=lambda d: d["method"].replace("birch", "affinity_propagation")).rename(
        columns={"param_threshold": "param_preference", "param_branching_factor": "param_damping"})
    assert figures.grid_heatmaps(rows, "affinity_propagation", ("NMI", "CA"), ax=[a, b]) is fig
    assert a.get_title() == "NMI, mean over VAE seeds" and b.get_title() == "CA, mean over VAE seeds"
    assert (a.get_xlabel(), a.get_ylabel()) == ("preference", "damping")
    assert _texts(a) == ["50"] * 4 and _texts(b) == ["61", "71", "71", "81"]
    with pytest.raises(ValueError, match=r"draws 2 panel\(s\); ax has 1"):
        figures.grid_heatmaps(rows, "affinity_propagation", ax=a)
    with pytest.raises(ValueError, match="no results for method 'gmm'"):
        figures.grid_heatmaps(rows, "gmm")


def test_grid_heatmaps_spectral_rbf_cells_form_their_own_row():
    rows = []
    for nc in (4, 8):
        for nn in (20, 40):
            rows.append({"method": "spectral", "param_affinity": "nearest_neighbors", "param_n_components": nc,
                         "param_n_neighbors": nn, "CA": 0.5 + nc / 100 + nn / 1000, "NMI": 0.5, "ARI": 0.4})
        rows.append({"method": "spectral", "param_affinity": "rbf", "param_n_components": nc,
                     "param_n_neighbors": np.nan, "CA": 0.3, "NMI": 0.3, "ARI": 0.2 + nc / 100})
    fig = figures.grid_heatmaps(pd.DataFrame(rows), "spectral")
    ca, ari = (a for a in fig.axes if a.get_title())
    assert (ca.get_xlabel(), ca.get_ylabel()) == ("n_components", "n_neighbors")
    assert _ticks(ca.get_yticklabels())[-1] == "rbf" and len(ca.get_yticklabels()) == 3
    assert _ticks(ca.get_xticklabels()) == ["4", "8"]
    assert _texts(ca) == ["56", "60", "58", "62", "30", "30"]
    assert _texts(ari)[-2:] == ["24", "28"]


def _gmm() -> pd.DataFrame:
    return pd.DataFrame([{"method": "gmm", "embedding": f"vae_seed={s}", "param_covariance_type": c,
                          "param_n_init": 1, "CA": ca + 0.02 * s, "NMI": 0.5, "ARI": 0.4}
                         for c, ca in (("full", 0.6), ("tied", 0.8)) for s in range(2)])


def test_grid_heatmaps_one_axis_grid_is_bars_of_the_three_metrics():
    fig = figures.grid_heatmaps(_gmm(), "gmm")
    (ax,) = fig.axes
    assert ax.get_title() == "gmm: the grid"
    assert ax.get_xlabel() == "covariance_type"  # the constant param_n_init is not an axis
    assert ax.get_ylabel() == "percent (mean ± s.d.)" and ax.get_ylim() == (0, 100)
    assert _ticks(ax.get_xticklabels()) == ["full", "tied"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CA", "NMI", "ARI"]
    heights = [[bar.get_height() for bar in c] for c in ax.containers]
    np.testing.assert_allclose(heights, [[61, 81], [50, 50], [40, 40]])


def test_grid_heatmaps_bars_when_a_grid_axis_is_missing_and_into_one_axes():
    rows = pd.DataFrame({"method": "dbscan", "param_eps": [0.5, 0.5, 1.0, 1.0], "CA": [0.2, 0.4, 0.6, 0.8],
                         "NMI": 0.1, "ARI": 0.1})
    fig, ax = plt.subplots()
    assert figures.grid_heatmaps(rows, "dbscan", ax=ax) is fig
    assert len(fig.axes) == 1 and ax.get_title() == "dbscan: the grid" and ax.get_xlabel() == "eps"
    np.testing.assert_allclose([b.get_height() for b in ax.containers[0]], [30, 70])
    with pytest.raises(ValueError, match="draws 1 panel"):
        figures.grid_heatmaps(_gmm(), "gmm", ax=[ax, ax])


def test_grid_heatmaps_show(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    figures.grid_heatmaps(_birch(), "birch", show=True)
    figures.grid_heatmaps(_gmm(), "gmm", show=True)
    figures.grid_heatmaps(_gmm(), "gmm")
    assert shown == [True, True]


# ------------------------------------------------------------------------------ contingency


def test_contingency_orders_clusters_by_best_match_and_writes_counts():
    fig = figures.contingency(["a", "a", "b", "b", "b"], [1, 1, 0, 0, 2], title="k-means")
    ax = fig.axes[0]
    assert ax.get_title() == "k-means"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted cluster", "true label")
    assert _ticks(ax.get_xticklabels()) == ["1", "0", "2"] and _ticks(ax.get_yticklabels()) == ["a", "b"]
    assert _texts(ax) == ["2", "0", "0", "0", "2", "1"]
    assert fig.axes[1].get_ylabel() == "cells"  # the colour bar


def test_contingency_beyond_fourteen_clusters_drops_counts_and_ticks():
    true = np.repeat(np.arange(16), 3)
    fig = figures.contingency(true, (true + 1) % 16)
    ax = fig.axes[0]
    assert ax.get_title() == "true label vs predicted cluster"
    assert _texts(ax) == [] and list(ax.get_xticks()) == []
    assert ax.get_xlabel() == "predicted cluster (16 clusters, best matches first)"
    assert len(ax.get_yticklabels()) == 16
    assert fig.get_size_inches()[0] <= figures.WIDTH
    plt.close(fig)
    true = np.repeat(np.arange(14), 2)
    ax = figures.contingency(true, true).axes[0]
    assert len(_texts(ax)) == 14 * 14 and ax.get_xlabel() == "predicted cluster"


def test_contingency_into_the_callers_axes(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.contingency([0, 1], [1, 0], ax=a, show=True) is fig
    assert shown == [True] and _texts(a) == ["1", "0", "0", "1"] and b.get_title() == ""
    with pytest.raises(ValueError, match="draws 1 panel"):
        figures.contingency([0, 1], [1, 0], ax=[a, b])


# ------------------------------------------------------------------------------ metric_bars


def test_metric_bars_percent_per_value_legend_beside():
    rows = pd.DataFrame({"reading": ["x", "x", "y"], "CA": [0.5, 0.7, 0.9], "NMI": [0.5, 0.5, 0.2],
                         "ARI": [0.4, 0.4, 0.1]})
    fig = figures.metric_bars(rows, "reading", title="by reading")
    (ax,) = fig.axes
    assert ax.get_title() == "by reading" and ax.get_xlim() == (0, 100)
    assert ax.get_xlabel() == "percent (mean ± s.d.)" and ax.get_ylabel() == ""
    assert _ticks(ax.get_yticklabels()) == ["x", "y"]
    widths = [[bar.get_width() for bar in c] for c in ax.containers]
    np.testing.assert_allclose(widths, [[60, 90], [50, 20], [40, 10]])
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["CA", "NMI", "ARI"]
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1  # outside the data


def test_metric_bars_into_the_callers_axes():
    rows = pd.DataFrame({"m": ["p"], "CA": [0.3], "NMI": [0.2], "ARI": [0.1]})
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.metric_bars(rows, "m", ax=b) is fig
    assert not a.containers and [c[0].get_width() for c in b.containers] == pytest.approx([30, 20, 10])
    with pytest.raises(ValueError, match="draws 1 panel"):
        figures.metric_bars(rows, "m", ax=[a, b])
