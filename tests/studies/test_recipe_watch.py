"""What a recipe run shows while it works, and the memory of one fit."""

from __future__ import annotations

import time

import numpy as np
import pytest

from replicate.io import progress
from replicate.studies import recipe_watch


def test_the_heartbeat_names_the_stage_and_the_latest_detail(tmp_path, monkeypatch):
    log = tmp_path / "progress.txt"
    monkeypatch.setenv(progress.ENV, str(log))
    with recipe_watch.heartbeat("[recipe] rows", every_s=0.05):
        recipe_watch.detail["text"] = "scVI epoch 3 of 400"
        time.sleep(0.3)
    lines = log.read_text().splitlines()
    assert len(lines) >= 2 and all(line.startswith("[recipe] rows: still running") for line in lines)
    assert lines[-1].endswith("scVI epoch 3 of 400")
    assert recipe_watch.detail["text"] == ""  # cleared for the next stage


def test_peak_memory_sees_an_allocation_that_is_gone_by_the_end():
    with recipe_watch.peak_memory() as peak:
        block = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        del block
    if np.isnan(peak["peak_rss_mb"]):
        pytest.fail("the kernel's high-water mark could not be reset (/proc/self/clear_refs)")
    assert peak["peak_rss_mb"] - peak["rss_before_mb"] > 250


def test_scvi_training_reports_its_epochs_and_the_patch_is_undone():
    import anndata
    import scvi

    original = scvi.model.SCVI.train
    seen = []
    rng = np.random.default_rng(0)
    ad = anndata.AnnData(rng.poisson(2.0, size=(60, 20)).astype(np.float32))
    scvi.model.SCVI.setup_anndata(ad)
    model = scvi.model.SCVI(ad, n_latent=2)
    with recipe_watch.scvi_epochs():
        assert scvi.model.SCVI.train is not original

        class Spy:  # records the detail after each epoch without a heartbeat thread
            def __setitem__(self, key, value):
                seen.append(value)

        recipe_watch.detail, saved = Spy(), recipe_watch.detail
        try:
            model.train(max_epochs=3, enable_progress_bar=False, accelerator="cpu", devices=1)
        finally:
            recipe_watch.detail = saved
    assert scvi.model.SCVI.train is original
    assert seen == ["scVI epoch 1 of 3", "scVI epoch 2 of 3", "scVI epoch 3 of 3"]


def test_lightnings_own_lines_go_to_the_log_and_the_progress_stays(tmp_path, capfd):
    """scVI trained inside the recipe's watch: "GPU available", the seed line and Lightning's warnings land in the
    log (with no machine folder), the terminal shows none of them, and the loggers are as before afterwards."""
    import logging

    import anndata
    import scvi

    rng = np.random.default_rng(0)
    ad = anndata.AnnData(rng.poisson(2.0, size=(60, 20)).astype(np.float32))
    scvi.model.SCVI.setup_anndata(ad)
    model = scvi.model.SCVI(ad, n_latent=2)
    before = [(lg.handlers[:], lg.propagate) for lg in map(logging.getLogger, recipe_watch.NOISY_LOGGERS)]
    capfd.readouterr()
    log = tmp_path / "recipe.log"
    with recipe_watch.scvi_epochs(log=log):
        scvi.settings.seed = 0
        model.train(max_epochs=2, enable_progress_bar=False, accelerator="cpu", devices=1)
    out, err = capfd.readouterr()
    text = log.read_text()
    assert "GPU available" in text and "log_every_n_steps" in text and "site-packages" not in text
    assert "GPU available" not in out + err and "log_every_n_steps" not in out + err, out + err
    assert [(lg.handlers, lg.propagate) for lg in map(logging.getLogger, recipe_watch.NOISY_LOGGERS)] == before
