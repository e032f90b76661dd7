"""The recipe on a labelled file the test makes: every table, the controls near chance, a resumed run."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from replicate.io.errors import ParameterError
from replicate.method.vae_config import VAEConfig
from replicate.studies import recipe
from replicate.studies.recipe_tables import RESCALED
from tests.conftest import synthetic_counts


def _h5ad(path, *, n_per: int = 60, key: str = "cell_type"):
    X, y = synthetic_counts(n_per=n_per, n_genes=120, n_types=3)
    obs = pd.DataFrame({key: [f"type {int(v)}" for v in y]}, index=[f"c{i}" for i in range(len(y))])
    ad.AnnData(X.astype(np.float32), obs=obs).write_h5ad(path)
    return path


def test_the_recipes_folder_readings_and_latent_scale():
    assert str(recipe.default_folder("data/my.cells.h5ad")) == "recipe-my"
    assert recipe.readings() == {"default": VAEConfig(threads=1)}
    assert recipe.readings(epochs=3)["default"].epochs == 3
    assert recipe.reference_scale() > 0  # read from the committed generalisation study


def test_a_file_without_labels_is_refused_naming_the_option(tmp_path):
    path = _h5ad(tmp_path / "cells.h5ad")
    with pytest.raises(ParameterError, match="--label-key"):
        recipe.run(path, out=tmp_path / "out")
    with pytest.raises(ParameterError, match="at least one VAE seed"):
        recipe.run(path, label_key="cell_type", seeds=[], out=tmp_path / "out")


@pytest.mark.slow
def test_the_recipe_runs_on_a_labelled_file_and_resumes(tmp_path):
    path = _h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "run"
    result = recipe.run(path, label_key="cell_type", seeds=[0], epochs=3, scvi=False, out=out)
    for name in ("rows.csv", "controls.csv", "verdicts.csv", "summary.csv", "recipe.json"):
        assert (out / name).is_file(), name
    info = json.loads((out / "recipe.json").read_text())
    assert info["cells"] == 180 and info["labels"] == 3 and info["epochs"] == 3 and info["epochs_changed"]
    assert str(tmp_path) not in (out / "recipe.json").read_text()  # no absolute path of this machine
    table = result["summary"]
    own = table[table["reading"] == "default"]
    assert set(own["method"]) == {"affinity_propagation", "agglomerative", "birch", "gmm", "kmeans", "spectral"}
    assert RESCALED in set(own["variant"])
    # the controls sit at chance, far below the real latent's scores on these separable cells
    km = own[own["method"] == "kmeans"].iloc[0]
    assert km["ARI"] > 90 and abs(km["ARI random"]) < 15 and abs(km["ARI permuted"]) < 15
    assert {"pca32+kmeans", "scanpy+leiden(count)"} <= set(table[table["reading"] == "baseline"]["method"])
    assert set(result["verdicts"]["reading"]) == {"default"}
    # a second run keeps the finished tables
    stamps = {n: (out / n).stat().st_mtime_ns for n in ("rows.csv", "controls.csv")}
    again = recipe.run(path, label_key="cell_type", seeds=[0], epochs=3, scvi=False, out=out)
    assert {n: (out / n).stat().st_mtime_ns for n in stamps} == stamps
    pd.testing.assert_frame_equal(again["summary"], result["summary"])


@pytest.mark.slow
def test_the_recipe_keeps_the_most_variable_genes_and_adds_the_matched_reading(tmp_path):
    X, y = synthetic_counts(n_per=40, n_genes=300, n_types=3)
    obs = pd.DataFrame({"cell_type": [f"type {int(v)}" for v in y]}, index=[f"c{i}" for i in range(len(y))])
    path = tmp_path / "wide.h5ad"
    ad.AnnData(X.astype(np.float32), obs=obs).write_h5ad(path)
    out = tmp_path / "run"
    result = recipe.run(path, label_key="cell_type", n_genes=100, seeds=[0], matched=True, epochs=3, scvi=False,
                        out=out)
    info = json.loads((out / "recipe.json").read_text())
    assert info["genes_kept"] == 100 and info["n_genes"] == 100
    rows = pd.read_csv(out / "rows.csv")
    assert set(rows["genes"].dropna().astype(int)) == {100}
    assert set(result["verdicts"]["reading"]) == {"default", recipe.MATCHED}
    own = result["summary"][result["summary"]["reading"] == recipe.MATCHED]
    assert set(own["method"]) >= {"kmeans", "gmm"}


def test_inputs_are_checked_before_anything_is_created(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="nope.h5ad: no such file or folder, and not a registered data set"):
        recipe.run(tmp_path / "nope.h5ad", label_key="cell_type", out=out)
    path = _h5ad(tmp_path / "cells.h5ad")
    with pytest.raises(ParameterError, match=r"cells.h5ad is an .h5ad file: .*--label-key \(its .obs columns: cell_type\)"):
        recipe.run(path, out=out)
    with pytest.raises(ParameterError, match=r"--label-key 'celltype' is not a column of .obs \(its columns: cell_type\)"):
        recipe.run(path, label_key="celltype", out=out)
    assert not out.exists()  # no debris from a refused input


@pytest.mark.slow
def test_a_diverged_seed_is_said_on_the_terminal_in_recipe_json_and_in_the_verdict(tmp_path, monkeypatch, capfd):
    """One of three seeds diverges for real (its training at a learning rate that explodes): the terminal says where,
    recipe.json and the verdict page record it, and the verdict sentence says it is judged on 2 of 3 seeds."""
    from dataclasses import replace

    from replicate.method import latents as store
    from replicate.method.vae_train import train
    from replicate.io.errors import TrainingError
    from replicate.publish import recipe_book

    def in_process(X, cfg, seeds, verbose, n_jobs):  # the trainings here (a test cannot patch spawned workers)
        for seed in seeds:
            try:
                yield seed, train(X, replace(cfg, learning_rate=1e9) if seed == 2 else cfg, seed=seed, verbose=verbose)
            except TrainingError as exc:
                yield seed, exc

    monkeypatch.setattr(store, "_train_in_workers", in_process)
    path = _h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "run"
    result = recipe.run(path, label_key="cell_type", seeds=[0, 1, 2], epochs=3, scvi=False, out=out, n_jobs=1)
    assert "VAE seed 2: DIVERGED at epoch" in capfd.readouterr().err
    (lost,) = json.loads((out / "recipe.json").read_text())["diverged"]
    assert lost["seed"] == 2 and lost["reading"] == "default" and 1 <= lost["epoch"] <= 3
    sentence = recipe_book.headline_of(result)
    assert "judged on 2 of 3 seeds: seed 2 diverged at epoch" in sentence, sentence
    page = recipe_book.verdict_page(result, result["summary"])
    assert "Seed 2 diverged at epoch" in page and "judged on the seeds that trained" in page
    assert "| clusters found (labels: 3) |" in page
    # a re-run does not train the diverged seed again: it is cached as diverged
    again = recipe.run(path, label_key="cell_type", seeds=[0, 1, 2], epochs=3, scvi=False, out=out, n_jobs=1,
                       force=True)
    assert "as cached from an earlier run" in capfd.readouterr().err
    assert again["info"]["diverged"] == [lost]


@pytest.mark.slow
def test_a_changed_file_or_setting_makes_the_tables_again(tmp_path, capfd, monkeypatch):
    path = _h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "run"
    recipe.run(path, label_key="cell_type", seeds=[0], epochs=2, scvi=False, out=out, n_jobs=1)
    assert json.loads((out / "recipe.json").read_text())["sha256"]
    stamp = (out / "rows.csv").stat().st_mtime_ns
    recipe.run(path, label_key="cell_type", seeds=[0, 1], epochs=2, scvi=False, out=out, n_jobs=1)
    assert "made with other settings (seeds [0] then, [0, 1] now)" in capfd.readouterr().err
    assert (out / "rows.csv").stat().st_mtime_ns != stamp
    _h5ad(path, n_per=50)  # the same name, other cells
    recipe.run(path, label_key="cell_type", seeds=[0, 1], epochs=2, scvi=False, out=out, n_jobs=1)
    assert "the input file changed since its tables were made" in capfd.readouterr().err
    assert json.loads((out / "recipe.json").read_text())["cells"] == 150
    # other CPU caps (or other code) make them again too: a kept table is one the code as it is would make
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX")
    stamp = (out / "rows.csv").stat().st_mtime_ns
    recipe.run(path, label_key="cell_type", seeds=[0, 1], epochs=2, scvi=False, out=out, n_jobs=1)
    assert "made with other settings (caps 'xla AVX2," in capfd.readouterr().err
    assert (out / "rows.csv").stat().st_mtime_ns != stamp
