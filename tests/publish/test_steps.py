"""What every section page opens with: its data, the run it comes from, the VAE reading of its parameters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from replicate.method.vae_config import VAEConfig
from replicate.publish import steps

from ..paper.test_latent_grids import _adata  # an AnnData as ``rp.tl.vae`` leaves it, per seed

def test_vae_key():
    assert steps.vae_key(0) == "X_vae_seed0"
    assert steps.vae_key(np.int64(12)) == "X_vae_seed12"
    assert steps.vae_key(2, steps.SECOND) == "X_vae_second_seed2"


def test_vae_config_ignores_other_parameters():
    cfg = steps.vae_config({"epochs": 7, "dataset": "x", "seeds": [0]})
    assert isinstance(cfg, VAEConfig) and cfg.epochs == 7 and cfg == replace(VAEConfig(), epochs=7)


def test_data_summary():
    text = steps.data_summary(_adata())
    assert text == ("30 cells and 12 genes, with 3 true labels (the largest has 14 cells, the smallest 6). "
                    "Preprocessing: read X: raw counts; normalised to 10,000 and log1p; "
                    "z-scored every gene (mean 0, standard deviation 1).")


def test_page_header_names_the_run():
    text = steps.page_header(_adata(), "smoke")
    assert text.startswith("**Run:** dataset `tiny-test` (30 cells × 12 genes), profile `smoke`")
    assert "**Versions:**" in text and "scikit-learn" in text
    bare = _adata()
    del bare.uns["dataset"]
    assert "dataset `?`" in steps.page_header(bare, "")
