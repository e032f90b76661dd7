"""The generalisation chapter's tables for readers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from replicate.io import paths
from replicate.publish.pages import generalisation as pages

from ...studies.test_generalisation import _rows


def test_the_uncertainty_table_names_the_data_sets_it_was_not_run_on(monkeypatch, tmp_path):
    from replicate.studies import uncertainty

    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    folder = tmp_path / "results" / "generalisation"
    folder.mkdir(parents=True)
    for ds, cells in (("pbmc4k-top2000", 4271), ("cbmc-top2000", 8617)):
        _rows(0.8, 0.6).assign(dataset=ds, cells=cells, genes=2000, labels=8).to_csv(folder / f"{ds}.csv", index=False)
    rows = [{"seed": s, "method": "spectral", "representation": r, "CA": 0.6 + 0.01 * s * (r != uncertainty.REPRESENTATIONS[0]),
             "ARI": 0.5, "dataset": "pbmc4k-top2000"} for s in range(3) for r in uncertainty.REPRESENTATIONS[:2]]
    pd.DataFrame(rows).to_csv(folder / "uncertainty.csv", index=False)
    html = pages.uncertainty_display().to_html()
    assert "pbmc4k-top2000" in html and "Spectral" in html and ">spectral<" not in html
    assert "Not run on cbmc-top2000 (8,617 cells)" in html and "5,000 cells" in html



def test_the_cross_dataset_table_prints_baselines_to_one_decimal():
    rows = pd.DataFrame({"dataset": "toy", "cells": 10, "genes": 5, "labels": 2,
                         "reading": ["default", "default", "baseline"], "variant": ["paper's setting"] * 2 + ["live baseline"],
                         "method": ["kmeans", "kmeans", "pca32+kmeans"], "CA": [0.70, 0.74, 0.742],
                         "seed": [0, 1, -1]})
    styler = pages.table_display(rows)
    table = styler.data
    assert "over 2 VAE seeds per data set" in styler.caption and "Table 1 averages 10 seeds" in styler.caption
    assert table.loc["toy (10 × 5, 2 labels)", "PCA+K-means"] == "74.2"
    assert table.loc["toy (10 × 5, 2 labels)", "kmeans"].startswith("72.0")



def test_the_training_table_says_when_scvi_was_not_run():
    assert "not run" in pages.training_display(_rows(0.8, 0.6).assign(train_seconds=np.nan, cells=2100))


def test_the_summary_states_the_margin_and_the_verdicts_from_the_claims_rules():
    rows = pd.concat([_rows(0.8, 0.6), _rows(0.6, 0.65).assign(dataset="e")], ignore_index=True)
    text = pages.summary(rows)
    assert text.startswith("On 2 labelled data sets") and "margin (10 CA points) on 1 of them;" in text
    assert "+20.0 (d)" in text and "−5.0" not in text and "-5.0 (e)" in text
    # no win reads as words, not "on 0"; nor do all
    assert "margin (10 CA points) on none of them;" in pages.summary(_rows(0.6, 0.65))
    assert "margin (10 CA points) on all of them;" in pages.summary(_rows(0.8, 0.6))


def test_the_cost_table_reads_as_words(monkeypatch, tmp_path):
    from replicate.publish import audit

    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    folder = tmp_path / "results" / "generalisation"
    folder.mkdir(parents=True)
    pd.DataFrame({"method": ["affinity_propagation", "kmeans"], "cells": [8617, 8617], "seconds": [55.9, np.nan],
                  "peak_rss_mb": [2201.2, 541.7], "status": ["ok", "refused"]}).to_csv(folder / "method-costs.csv",
                                                                                        index=False)
    html = pages.costs_display().to_html()
    assert "Affinity propagation" in html and "peak memory (MB)" in html and "8,617" in html and "—" in html
    (tmp_path / "p.html").write_text(f"<html><body><main>{html}</main></body></html>")
    assert audit.audit(tmp_path) == []
