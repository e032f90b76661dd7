import numpy as np
import pytest

from replicate import datasets, store
from replicate.errors import ParameterError, TrainingError
from replicate.preprocess import preprocess
from replicate.vae import VAEConfig, VAEResult, train_vae, vae, vae_latents

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_adata(tiny_h5_session):
    return preprocess(datasets.load(tiny_h5_session))


def test_paper_reading_and_the_documented_deviations():
    from replicate._resources import paper

    m = paper()["model"]
    lit = VAEConfig.paper_reading()
    assert (lit.encoder_hidden, lit.decoder_hidden, lit.latent_dim) == (tuple(m["encoder_hidden"]), tuple(m["decoder_hidden"]), m["latent_dim"])
    assert (lit.learning_rate, lit.batch_size, lit.epochs) == (m["learning_rate"], m["batch_size"], m["epochs"])
    assert lit.logvar_clamp is None and lit.grad_clipnorm is None and not lit.batch_norm
    assert lit.reconstruction == "sum" and lit.adam_epsilon == 1e-7
    # the default differs from the literal reading only in the one documented place
    diff = {k for k, v in VAEConfig().__dict__.items() if getattr(lit, k) != v}
    assert diff == {"batch_norm"}


def test_shapes_and_history(tiny_adata):
    res = train_vae(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    assert res.mu.shape == res.logvar.shape == (120, 4)
    assert set(res.history) == {"loss", "reconstruction", "kl", "seconds"}
    assert len(res.history["loss"]) == 3
    assert np.allclose(np.array(res.history["reconstruction"]) + res.history["kl"], res.history["loss"])


def test_loss_decreases_and_latent_separates_types(tiny_adata):
    from replicate.clustering import kmeans
    from replicate.metrics import clustering_accuracy

    res = train_vae(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 15}), seed=0, verbose=False)
    loss = res.history["loss"]
    assert loss[-1] < 0.8 * loss[0]
    pred = kmeans(res.mu, 3)
    assert clustering_accuracy(tiny_adata.obs["label"], pred) > 0.9


def test_same_seed_same_latents_different_seed_differs(tiny_adata):
    cfg = VAEConfig(**TINY)
    a = train_vae(tiny_adata.X, cfg, seed=7, verbose=False)
    b = train_vae(tiny_adata.X, cfg, seed=7, verbose=False)
    c = train_vae(tiny_adata.X, cfg, seed=8, verbose=False)
    # guaranteed tolerance on one CPU: identical to float32 round-off (observed: bit-identical)
    np.testing.assert_allclose(a.mu, b.mu, rtol=0, atol=1e-6)
    assert np.abs(a.mu - c.mu).max() > 1e-3


def test_nonfinite_loss_stops_with_epoch_and_reading(tiny_adata):
    X = tiny_adata.X.copy() * 1e19  # squares overflow float32
    with pytest.raises(TrainingError, match=r"epoch 1/3 .*Reading: enc 32"):
        train_vae(X, VAEConfig(**TINY), seed=0, verbose=False)


def test_collapse_is_reported():
    flat = VAEResult(mu=np.zeros((5, 2)), logvar=np.zeros((5, 2)), history={"kl": [0.0]})
    assert flat.collapsed
    alive = VAEResult(mu=np.ones((5, 2)), logvar=np.zeros((5, 2)), history={"kl": [3.0]})
    assert not alive.collapsed


@pytest.mark.parametrize("enc", [(1024,), (512, 128)])
def test_paper_variants_build(tiny_adata, enc):
    cfg = VAEConfig(**{**TINY, "encoder_hidden": enc, "epochs": 1})
    assert train_vae(tiny_adata.X, cfg, seed=0, verbose=False).mu.shape == (120, 4)


@pytest.mark.parametrize("kw, name", [({"epochs": 0}, "epochs"), ({"latent_dim": -2}, "latent_dim"),
                                      ({"reconstruction": "max"}, "reconstruction"),
                                      ({"activation": "nope"}, "activation")])
def test_bad_config_names_the_parameter(kw, name):
    with pytest.raises(ParameterError, match=name):
        VAEConfig(**kw)


def test_cache_hit_and_invalidation(tiny_adata, capsys):
    cfg = VAEConfig(**{**TINY, "epochs": 2})
    (first,) = vae_latents(tiny_adata.X, cfg, seeds=[3])
    (again,) = vae_latents(tiny_adata.X, cfg, seeds=[3])
    assert not first.cached and again.cached
    np.testing.assert_array_equal(first.mu, again.mu)
    assert again.history["loss"] == pytest.approx(first.history["loss"])
    (changed,) = vae_latents(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 2, "learning_rate": 2e-3}), seeds=[3])
    assert not changed.cached
    entries = list((store.cache_dir() / "vae").glob("*.npz"))
    assert not any(p.name.endswith(".tmp") for p in entries)


def test_scanpy_style_entry_point(tiny_adata):
    a = tiny_adata.copy()
    vae(a, VAEConfig(**{**TINY, "epochs": 1}), seed=0, verbose=False)
    assert a.obsm["X_vae"].shape == (120, 4) and a.obsm["X_vae_logvar"].shape == (120, 4)
    assert a.uns["X_vae"]["params"]["seed"] == 0


def test_save_load_round_trip(tiny_adata, tmp_path):
    from replicate.vae import VAEModel

    res = train_vae(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1, "logvar_clamp": 3.0}), seed=0, verbose=False)
    folder = res.model.save(tmp_path / "model")
    assert {p.name for p in folder.iterdir()} == {"config.json", "encoder.weights.h5", "decoder.weights.h5"}
    loaded = VAEModel.load(folder)
    assert loaded.config == res.model.config
    mu, logvar = loaded.encode(tiny_adata.X)
    np.testing.assert_allclose(mu, res.mu, atol=1e-6)
    np.testing.assert_allclose(logvar, res.logvar, atol=1e-6)
    assert np.abs(logvar).max() <= 3.0


@pytest.mark.parametrize("kw", [{"batch_norm": True}, {"xla": False}, {"reconstruction": "mean"},
                                {"adam_epsilon": 1e-3, "grad_clipnorm": 1.0}])
def test_stabilisers_and_options_train(tiny_adata, kw):
    res = train_vae(tiny_adata.X, VAEConfig(**{**TINY, **kw}), seed=0, verbose=False)
    assert np.isfinite(res.mu).all() and res.history["loss"][-1] < res.history["loss"][0]


def test_training_error_carries_the_epoch(tiny_adata):
    with pytest.raises(TrainingError) as err:
        train_vae(tiny_adata.X * 1e19, VAEConfig(**TINY), seed=0, verbose=False)
    assert err.value.epoch == 1 and len(err.value.history["loss"]) == 1
