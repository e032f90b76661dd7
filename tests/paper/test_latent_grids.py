"""Each seed's latents in an AnnData, and the grids on them."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from replicate.paper import latent_grids


def test_each_seeds_latent_is_found_under_its_key_and_clustered_as_its_own_embedding(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(2) * 6, 20, axis=0)
    adata = ad.AnnData(rng.normal(size=(40, 3)), obs=pd.DataFrame({"label": np.repeat(["a", "b"], 20)},
                                                                    index=[f"c{i}" for i in range(40)]))
    for seed in (0, 3):
        adata.obsm[latent_grids.vae_key(seed)] = centres + rng.normal(scale=0.1, size=(40, 2))
    assert latent_grids.vae_key(3, latent_grids.SECOND) == "X_vae_second_seed3"
    assert set(latent_grids.latent_means(adata, [0, 3])) == {0, 3}
    rows = latent_grids.cluster(adata, [0, 3], "kmeans", grid="paper", n_jobs=1, progress=False)
    assert list(rows["embedding"]) == ["vae_seed=0", "vae_seed=3"] and (rows["CA"] == 1.0).all()
