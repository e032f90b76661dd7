"""The analyses behind C1 (two sources of randomness) and C8 (encoder variants)."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd

from replicate.io import datasets
from replicate.method.preprocess import zscore
from replicate.method.vae_config import VAEConfig
from replicate.paper.analyses import encoder_variants, variation_sources


def _labelled(n_per: int = 20) -> anndata.AnnData:
    labels = np.repeat(["a", "b", "c"], n_per)
    return anndata.AnnData(np.zeros((3 * n_per, 2), np.float32),
                           obs=pd.DataFrame({"label": labels}, index=[f"c{i}" for i in range(3 * n_per)]))


def test_variation_sources_vary_the_vae_seed_and_then_the_kmeans_seed():
    rng = np.random.default_rng(0)
    adata = _labelled()
    latents = {s: np.repeat(np.eye(3, 4) * 6, 20, axis=0) + rng.normal(size=(60, 4)) for s in (4, 7)}
    spread = variation_sources(adata, latents, n_states=3)
    by = spread.groupby("source")["latent"].apply(list).to_dict()
    assert by == {"VAE seed": ["4", "7"], "K-means random_state": ["0", "1", "2"]}
    assert (spread["CA"] > 0.9).all()


def test_encoder_variants_train_each_encoder_with_the_same_seeds(tiny_h5_session):
    adata = zscore(datasets.load(tiny_h5_session), copy=True)
    cfg = VAEConfig(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=2, learning_rate=1e-3)
    rows = encoder_variants(adata, cfg, [0, 1], [[16], [24, 8]])
    assert rows["encoder"].tolist() == ["default", "default", "enc 16", "enc 16", "enc 24-8", "enc 24-8"]
    assert rows["architecture"].tolist()[::2] == ["32", "16", "24-8"] and rows["seed"].tolist() == [0, 1] * 3
    assert rows[["CA", "NMI", "ARI"]].apply(lambda v: v.between(0, 1)).all().all()
