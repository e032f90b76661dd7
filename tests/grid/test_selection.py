"""Choosing a setting per method: the paper's, the best in grid (optimistic), label-free."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replicate.grid.selection import (
    SELECTIONS,
    best_in_grid,
    label_free_choice,
    paper_setting_rows,
    settings_table,
)
from replicate.io.errors import ParameterError
from replicate.method.clustering import paper_setting


def _results() -> pd.DataFrame:
    """Two embeddings x three BIRCH settings and one K-means cell, with known scores."""
    rows = []
    settings = [({"threshold": 0.2, "branching_factor": 50}, [0.80, 0.84], [0.30, 0.30], "ok"),   # paper's setting
                ({"threshold": 0.1, "branching_factor": 10}, [0.90, 0.70], [0.50, 0.52], "ok"),   # best silhouette
                ({"threshold": 0.5, "branching_factor": 20}, [0.85, 0.86], [0.20, 0.10], "ok"),   # best ARI
                ({"threshold": 0.7, "branching_factor": 70}, [0.99, 0.99], [0.90, 0.90], "failed")]
    for params, aris, sils, status in settings:
        for emb, ari, sil in zip(("vae_seed=0", "vae_seed=1"), aris, sils):
            rows.append({"dataset": "d", "embedding": emb, "method": "birch",
                         "parameters": json.dumps(params, sort_keys=True), "CA": ari, "NMI": ari, "ARI": ari, "silhouette": sil,
                         "status": "failed" if status == "failed" and emb == "vae_seed=1" else "ok"})
    for emb in ("vae_seed=0", "vae_seed=1"):
        rows.append({"dataset": "d", "embedding": emb, "method": "kmeans", "parameters": "{}", "CA": 0.9, "NMI": 0.9,
                     "ARI": 0.9, "silhouette": 0.4, "status": "ok"})
    return pd.DataFrame(rows)


def test_paper_setting_rows_select_the_papers_setting():
    chosen = paper_setting_rows(_results())
    birch = chosen[chosen["method"] == "birch"]
    assert len(birch) == 2 and {json.dumps(paper_setting("birch"), sort_keys=True)} == set(birch["parameters"])
    assert len(chosen[chosen["method"] == "kmeans"]) == 2
    assert set(chosen["selection"]) == {SELECTIONS["paper"]} == {"paper's setting"}


def test_best_in_grid_is_labelled_optimistic_and_skips_failed_settings():
    chosen = best_in_grid(_results(), "ARI")
    birch = chosen[chosen["method"] == "birch"]
    assert set(birch["parameters"]) == {json.dumps({"branching_factor": 20, "threshold": 0.5})}
    assert "optimistic" in chosen.attrs["note"] and chosen["selection"].str.contains("optimistic").all()
    with pytest.raises(ParameterError, match="metric = 'silhouette' is invalid"):
        best_in_grid(_results(), "silhouette")


def test_label_free_choice_uses_silhouette():
    chosen = label_free_choice(_results())
    birch = chosen[chosen["method"] == "birch"]
    assert set(birch["parameters"]) == {json.dumps({"branching_factor": 10, "threshold": 0.1})}
    assert "no labels" in chosen.attrs["note"]


def test_settings_table_puts_the_three_choices_side_by_side():
    summary = settings_table(_results())
    birch = summary[summary["method"] == "birch"].set_index("selection")
    assert list(birch.index) == list(SELECTIONS.values())
    assert birch.loc[SELECTIONS["best"], "ARI"] == pytest.approx(0.855)
    assert birch.loc[SELECTIONS["label_free"], "silhouette"] == pytest.approx(0.51)
    assert birch.loc[SELECTIONS["paper"], "ARI"] == pytest.approx(0.82)
    kmeans = summary[summary["method"] == "kmeans"]
    assert len(kmeans) == 3 and (kmeans["ARI"] == 0.9).all()
