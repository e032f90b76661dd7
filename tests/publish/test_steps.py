"""The notebooks' steps: reading what ``rp.tl.vae`` wrote, the second reading, tables, clustering."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

from replicate.io.errors import ReplicateError
from replicate.method.vae_config import VAEConfig
from replicate.publish import steps
from replicate.studies.readings import MATCHED, reading_by_name, reading_config
from replicate.studies.why import matched_reading

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


def test_latent_means_and_posteriors_read_obsm_per_seed():
    ad = _adata()
    means = steps.latent_means(ad, SEEDS)
    assert list(means) == SEEDS and all(type(k) is int for k in means)
    np.testing.assert_array_equal(means[3], ad.obsm["X_vae_seed3"])
    post = steps.posteriors(ad, [np.int64(3)])
    mu, logvar = post[3]
    np.testing.assert_array_equal(mu, ad.obsm["X_vae_seed3"])
    assert logvar.shape == (N_CELLS, LATENT) and np.all(logvar == -4.0)
    with pytest.raises(KeyError):
        steps.latent_means(ad, [1])


def test_a_second_reading_has_its_own_prefix():
    ad = _adata(seeds=[0])
    second = _adata(seeds=[0], prefix=steps.SECOND)
    for key in ("X_vae_second_seed0", "X_vae_second_seed0_logvar"):
        ad.obsm[key] = second.obsm[key] * 2
    ad.uns["X_vae_second_seed0"] = second.uns["X_vae_second_seed0"]
    np.testing.assert_array_equal(steps.latent_means(ad, [0], steps.SECOND)[0], 2 * second.obsm["X_vae_second_seed0"])
    assert not np.array_equal(steps.latent_means(ad, [0])[0], steps.latent_means(ad, [0], steps.SECOND)[0])


def test_histories_are_plain_lists():
    ad = _adata()
    hist = steps.histories(ad, SEEDS)
    assert set(hist) == set(SEEDS)
    assert set(hist[0]) == {"loss", "reconstruction", "kl", "seconds"}
    assert isinstance(hist[3]["loss"], list) and hist[3]["loss"] == pytest.approx(list(np.linspace(100.0, 53.0, 5)))
    assert all(isinstance(v, float) for v in hist[0]["kl"])


def test_history_frame_is_long_with_epochs_from_one():
    frame = steps.history_frame(_adata(), SEEDS)
    assert list(frame.columns) == ["seed", "epoch", "loss", "reconstruction", "kl", "seconds"]
    assert len(frame) == 2 * 5
    assert list(frame["seed"]) == [0] * 5 + [3] * 5
    assert list(frame["epoch"]) == [1, 2, 3, 4, 5] * 2
    last = frame[(frame["seed"] == 3) & (frame["epoch"] == 5)].iloc[0]
    assert last["loss"] == pytest.approx(53.0) and last["seconds"] == pytest.approx(3.5)


def test_training_flags_collapse_and_cache():
    ad = _adata()
    assert steps.training_flags(ad, SEEDS) == {"collapsed": [False, False], "cached": [False, True]}
    ad.uns["X_vae_seed0"]["history"] = _history(0, kl_end=1e-3)       # KL ~ 0 at the end
    ad.obsm["X_vae_seed3"] = np.zeros((N_CELLS, LATENT), np.float32)   # every mean ~ 0
    assert steps.training_flags(ad, SEEDS)["collapsed"] == [True, True]
    del ad.uns["X_vae_seed3"]["cached"]
    assert steps.training_flags(ad, [3])["cached"] == [False]


def test_compare_config():
    assert steps.compare_config("") is None
    name, config = steps.compare_config(MATCHED)
    matched, matched_config = matched_reading()
    assert name == f"fingerprint-matched ({matched})" and name.startswith("fingerprint-matched (")
    assert isinstance(config, VAEConfig) and config == matched_config
    tanh_name, tanh = steps.compare_config("tanh")
    assert tanh_name == "tanh" and tanh == reading_config(reading_by_name("tanh"))
    assert tanh.activation == "tanh" and tanh == replace(VAEConfig.paper_reading(), activation="tanh")
    with pytest.raises(ReplicateError, match="no reading named 'no such reading'"):
        steps.compare_config("no such reading")


def test_vae_config_ignores_other_parameters():
    cfg = steps.vae_config({"epochs": 7, "dataset": "x", "seeds": [0]})
    assert isinstance(cfg, VAEConfig) and cfg.epochs == 7 and cfg == replace(VAEConfig(), epochs=7)


def test_save_table(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert steps.save_table(df, "", "table") is None
    assert list(tmp_path.iterdir()) == []
    path = steps.save_table(df, str(tmp_path / "out"), "table")
    assert path == tmp_path / "out" / "table.csv"
    pd.testing.assert_frame_equal(pd.read_csv(path), df)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["table.csv"]  # no temporary left behind


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


def test_cluster_runs_the_grid_on_every_seed_through_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    ad = _adata()
    rows = steps.cluster(ad, SEEDS, "kmeans", grid="paper", n_jobs=1, progress=False)
    assert list(rows["embedding"]) == ["vae_seed=0", "vae_seed=3"]
    assert set(rows["method"]) == {"kmeans"} and set(rows["status"]) == {"ok"}
    assert set(rows["dataset"]) == {"tiny-test"}
    assert (rows["clusters_found"] == 3).all()
    assert np.allclose(rows["CA"], 1.0) and np.allclose(rows["ARI"], 1.0)  # three well-separated blobs
    stored = list((tmp_path / "clustering").glob("*.csv"))
    assert len(stored) == 1 and len(pd.read_csv(stored[0])) == 2
    again = steps.cluster(ad, [3], ["kmeans"], grid="paper", n_jobs=1, progress=False)
    assert list(again["embedding"]) == ["vae_seed=3"]
    assert again.iloc[0]["CA"] == rows.iloc[1]["CA"] and len(pd.read_csv(stored[0])) == 2  # from the cache
