"""Each seed's latents in an AnnData, and the grids on them."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

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


SEEDS = [0, 3]
N_CELLS, N_GENES, LATENT = 30, 12, 4


def _history(seed: int, n: int = 5, kl_end: float = 2.0) -> dict[str, np.ndarray]:
    loss = np.linspace(100.0, 50.0 + seed, n)
    kl = np.linspace(10.0, kl_end, n)
    return {"loss": loss, "reconstruction": loss - kl, "kl": kl, "seconds": np.full(n, 0.5 + seed)}


def _adata(seeds=SEEDS, prefix: str = latent_grids.DEFAULT) -> AnnData:
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
        key = latent_grids.vae_key(s, prefix)
        mu = np.array([[centres[lab] + s] * LATENT for lab in labels]) + 0.1 * rng.normal(size=(N_CELLS, LATENT))
        ad.obsm[key] = mu.astype(np.float32)
        ad.obsm[f"{key}_logvar"] = np.full((N_CELLS, LATENT), -1.0 - s, dtype=np.float32)
        ad.uns[key] = {"params": {"epochs": 5, "seed": s}, "history": _history(s), "cached": s == 3}
    return ad


def test_latent_means_read_obsm_per_seed():
    ad = _adata()
    means = latent_grids.latent_means(ad, SEEDS)
    assert list(means) == SEEDS and all(type(k) is int for k in means)
    np.testing.assert_array_equal(means[3], ad.obsm["X_vae_seed3"])
    with pytest.raises(KeyError):
        latent_grids.latent_means(ad, [1])


def test_a_second_reading_has_its_own_prefix():
    ad = _adata(seeds=[0])
    second = _adata(seeds=[0], prefix=latent_grids.SECOND)
    for key in ("X_vae_second_seed0", "X_vae_second_seed0_logvar"):
        ad.obsm[key] = second.obsm[key] * 2
    ad.uns["X_vae_second_seed0"] = second.uns["X_vae_second_seed0"]
    np.testing.assert_array_equal(latent_grids.latent_means(ad, [0], latent_grids.SECOND)[0], 2 * second.obsm["X_vae_second_seed0"])
    assert not np.array_equal(latent_grids.latent_means(ad, [0])[0], latent_grids.latent_means(ad, [0], latent_grids.SECOND)[0])


def test_history_frame_is_long_with_epochs_from_one():
    frame = latent_grids.history_frame(_adata(), SEEDS)
    assert list(frame.columns) == ["seed", "epoch", "loss", "reconstruction", "kl", "seconds"]
    assert len(frame) == 2 * 5
    assert list(frame["seed"]) == [0] * 5 + [3] * 5
    assert list(frame["epoch"]) == [1, 2, 3, 4, 5] * 2
    last = frame[(frame["seed"] == 3) & (frame["epoch"] == 5)].iloc[0]
    assert last["loss"] == pytest.approx(53.0) and last["seconds"] == pytest.approx(3.5)


def test_training_flags_collapse_and_cache():
    ad = _adata()
    flags = latent_grids.training_flags(ad, SEEDS)
    assert flags.to_dict("list") == {"seed": [0, 3], "collapsed": [False, False], "cached": [False, True]}
    ad.uns["X_vae_seed0"]["history"] = _history(0, kl_end=1e-3)       # KL ~ 0 at the end
    ad.obsm["X_vae_seed3"] = np.zeros((N_CELLS, LATENT), np.float32)   # every mean ~ 0
    assert latent_grids.training_flags(ad, SEEDS)["collapsed"].tolist() == [True, True]
    del ad.uns["X_vae_seed3"]["cached"]
    assert latent_grids.training_flags(ad, [3])["cached"].tolist() == [False]


def test_cluster_runs_the_grid_on_every_seed_through_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    ad = _adata()
    rows = latent_grids.cluster(ad, SEEDS, "kmeans", grid="paper", n_jobs=1, progress=False)
    assert list(rows["embedding"]) == ["vae_seed=0", "vae_seed=3"]
    assert set(rows["method"]) == {"kmeans"} and set(rows["status"]) == {"ok"}
    assert set(rows["dataset"]) == {"tiny-test"}
    assert (rows["clusters_found"] == 3).all()
    assert np.allclose(rows["CA"], 1.0) and np.allclose(rows["ARI"], 1.0)  # three well-separated blobs
    stored = list((tmp_path / "clustering").glob("*.csv"))
    assert len(stored) == 1 and len(pd.read_csv(stored[0])) == 2
    again = latent_grids.cluster(ad, [3], ["kmeans"], grid="paper", n_jobs=1, progress=False)
    assert list(again["embedding"]) == ["vae_seed=3"]
    assert again.iloc[0]["CA"] == rows.iloc[1]["CA"] and len(pd.read_csv(stored[0])) == 2  # from the cache
