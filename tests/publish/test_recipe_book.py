"""The recipe's own book: the verdict first, the figure, the controls; looked at in a browser."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replicate.method.clustering import PAPER_METHODS
from replicate.publish import recipe_book
from replicate.studies import generalisation
from replicate.studies.recipe_tables import RESCALED, summary

PAPER = generalisation.PAPER_VARIANT


def _result(folder) -> dict:
    rows = [{"reading": "default", "variant": PAPER, "method": m, "seed": s, "status": "ok", "seconds": 1.0,
             "parameters": "{}", "CA": 0.7 if m == "kmeans" else 0.5, "NMI": 0.6, "ARI": 0.5, "vae_seconds": 30.0}
            for m in PAPER_METHODS for s in range(2)]
    rows.append({"reading": "baseline", "variant": "live baseline", "method": "pca32+kmeans", "seed": -1,
                 "status": "ok", "seconds": 0.5, "CA": 0.68, "NMI": 0.5, "ARI": 0.5})
    rows = pd.DataFrame(rows).assign(dataset="d")
    controls = pd.DataFrame([{"method": m, "variant": PAPER, "control": c, "CA": 0.3, "NMI": 0.0, "ARI": 0.0,
                              "peak_rss_mb": 900.0, "rss_before_mb": 850.0}
                             for m in PAPER_METHODS for c in ("random embedding", "permuted labels")])
    info = {"file": "cells.h5ad", "cells": 400, "genes_kept": 300, "n_genes": 2000, "labels": 3,
            "label_key": "cell_type", "seeds": [0, 1], "epochs": 30, "epochs_changed": False,
            "stage_seconds": {"rows": 60.0, "controls": 12.0}, "date": "2026-12-02"}
    folder.mkdir(parents=True, exist_ok=True)
    return {"folder": folder, "rows": rows, "controls": controls, "verdicts": generalisation.verdicts(rows),
            "summary": summary(rows, controls), "info": info}


def test_labels_name_the_method_its_setting_and_a_reading_other_than_the_default():
    assert recipe_book.label("kmeans", PAPER, "default") == "K-means"
    assert recipe_book.label("affinity_propagation", RESCALED, "default") == "Affinity propagation, rescaled"
    assert recipe_book.label("pca32+kmeans", "live baseline", "baseline") == "PCA(32) + K-means"
    assert recipe_book.label("gmm", PAPER, "matched") == "Gaussian mixture [matched]"


def test_the_verdict_page_opens_with_the_answer_and_shows_every_control(tmp_path):
    result = _result(tmp_path)
    page = recipe_book.verdict_page(result, result["summary"])
    first = [line for line in page.splitlines() if line.strip()][1]
    assert first.startswith("**On these 400 cells the VAE route is not better than PCA(32) + K-means")
    assert "CA random" in page and "ARI permuted" in page and "| C9 |" in page
    assert "warning" not in page  # 30 epochs: the recipe itself
    result["info"]["epochs_changed"], result["info"]["epochs"] = True, 3
    assert "trained 3 epochs, not the paper's 30" in recipe_book.verdict_page(result, result["summary"])
    assert recipe_book.headline_of(result) == first.strip("*")


@pytest.mark.slow
def test_the_book_builds_and_its_figure_is_drawn(tmp_path):
    result = _result(tmp_path / "run")
    html = recipe_book.build(result)
    index = (html / "index.html").read_text()
    assert "the VAE route is not better" in index and "scores.png" in index
    assert (html / "details.html").is_file() and (tmp_path / "run" / "book" / "scores.png").stat().st_size > 10_000
    assert not (tmp_path / "run" / ".book.building").exists()
    assert json.loads(json.dumps(result["info"]))["file"] in (html / "details.html").read_text()
