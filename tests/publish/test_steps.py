"""What every section page opens with: its data, the run it comes from, the VAE reading of its parameters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from anndata import AnnData

from replicate.method.vae_config import VAEConfig
from replicate.publish import steps

SEEDS = [0, 3]
N_CELLS, N_GENES, LATENT = 30, 12, 4


def _history(seed: int, n: int = 5, kl_end: float = 2.0) -> dict[str, np.ndarray]:
    loss = np.linspace(100.0, 50.0 + seed, n)
    kl = np.linspace(10.0, kl_end, n)
    return {"loss": loss, "reconstruction": loss - kl, "kl": kl, "seconds": np.full(n, 0.5 + seed)}


def _adata(seeds=SEEDS, prefix: str = steps.DEFAULT) -> AnnData:
    """An AnnData with latents, log-variances and histories as ``rp.tl.vae`` writes them, per seed."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], [14, 10, 6])
    ad = AnnData(rng.normal(size=(N_CELLS, N_GENES)).astype(np.float32),
                 obs=pd.DataFrame({"label": labels}, index=[f"cell{i}" for i in range(N_CELLS)]))
    ad.uns["dataset"] = {"name": "tiny-test"}
    ad.uns["zscore"] = {"steps": ["read X: raw counts", "normalised to 10,000 and log1p",
                                  "z-scored every gene (mean 0, standard deviation 1)"]}
    centres = {"a": 0.0, "b": 10.0, "c": -10.0}
    for s in seeds:
        key = steps.vae_key(s, prefix)
        mu = np.array([[centres[lab] + s] * LATENT for lab in labels]) + 0.1 * rng.normal(size=(N_CELLS, LATENT))
        ad.obsm[key] = mu.astype(np.float32)
        ad.obsm[f"{key}_logvar"] = np.full((N_CELLS, LATENT), -1.0 - s, dtype=np.float32)
        ad.uns[key] = {"params": {"epochs": 5, "seed": s}, "history": _history(s), "cached": s == 3}
    return ad


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
