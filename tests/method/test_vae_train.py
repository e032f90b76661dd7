"""Training one VAE: shapes, losses, determinism, divergence, the options of the trainer."""

import numpy as np
import pytest

from replicate.io import datasets
from replicate.io.errors import ParameterError, TrainingError
from replicate.method.preprocess import zscore
from replicate.method.vae_config import VAEConfig
from replicate.method.vae_train import VAEResult, train

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_adata(tiny_h5_session):
    return zscore(datasets.load(tiny_h5_session), copy=True)



def test_shapes_and_history(tiny_adata):
    res = train(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    assert res.mu.shape == res.logvar.shape == (120, 4)
    assert set(res.history) == {"loss", "reconstruction", "kl", "seconds"}
    assert len(res.history["loss"]) == 3
    assert np.allclose(np.array(res.history["reconstruction"]) + res.history["kl"], res.history["loss"])


def test_loss_decreases_and_latent_separates_types(tiny_adata):
    from replicate.method.clustering import kmeans
    from replicate.method.metrics import clustering_accuracy

    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 15}), seed=0, verbose=False)
    loss = res.history["loss"]
    assert loss[-1] < 0.8 * loss[0]
    pred = kmeans(res.mu, 3)
    assert clustering_accuracy(tiny_adata.obs["label"], pred) > 0.9


def test_same_seed_same_latents_different_seed_differs(tiny_adata):
    cfg = VAEConfig(**TINY)
    a = train(tiny_adata.X, cfg, seed=7, verbose=False)
    b = train(tiny_adata.X, cfg, seed=7, verbose=False)
    c = train(tiny_adata.X, cfg, seed=8, verbose=False)
    # guaranteed tolerance on one CPU: identical to float32 round-off (observed: bit-identical)
    np.testing.assert_allclose(a.mu, b.mu, rtol=0, atol=1e-6)
    assert np.abs(a.mu - c.mu).max() > 1e-3


def test_nonfinite_loss_stops_with_epoch_and_reading(tiny_adata):
    X = tiny_adata.X.copy() * 1e19  # squares overflow float32
    with pytest.raises(TrainingError, match=r"epoch 1/3 .*Reading: enc 32"):
        train(X, VAEConfig(**TINY), seed=0, verbose=False)


def test_collapse_is_reported():
    flat = VAEResult(mu=np.zeros((5, 2)), logvar=np.zeros((5, 2)), history={"kl": [0.0]})
    assert flat.collapsed
    alive = VAEResult(mu=np.ones((5, 2)), logvar=np.zeros((5, 2)), history={"kl": [3.0]})
    assert not alive.collapsed


@pytest.mark.parametrize("enc", [(1024,), (512, 128)])
def test_paper_variants_build(tiny_adata, enc):
    cfg = VAEConfig(**{**TINY, "encoder_hidden": enc, "epochs": 1})
    assert train(tiny_adata.X, cfg, seed=0, verbose=False).mu.shape == (120, 4)


def test_reconstruction_weight_and_kl_warmup_train_and_report_the_unweighted_elbo(tiny_adata):
    base = train(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    heavy = train(tiny_adata.X, VAEConfig(**TINY, reconstruction_weight=8.0), seed=0, verbose=False)
    warm = train(tiny_adata.X, VAEConfig(**TINY, kl_warmup_epochs=3), seed=0, verbose=False)
    for res in (heavy, warm):
        assert np.allclose(np.array(res.history["reconstruction"]) + res.history["kl"], res.history["loss"])
    # weighting the reconstruction term lets the latent spend more KL on it
    assert heavy.history["kl"][-1] > base.history["kl"][-1]
    assert not np.allclose(warm.mu, base.mu)


@pytest.mark.parametrize("kw", [{"batch_norm": True}, {"xla": False}, {"reconstruction": "mean"},
                                {"adam_epsilon": 1e-3, "grad_clipnorm": 1.0}])
def test_stabilisers_and_options_train(tiny_adata, kw):
    res = train(tiny_adata.X, VAEConfig(**{**TINY, **kw}), seed=0, verbose=False)
    assert np.isfinite(res.mu).all() and res.history["loss"][-1] < res.history["loss"][0]


def test_training_error_carries_the_epoch(tiny_adata):
    with pytest.raises(TrainingError) as err:
        train(tiny_adata.X * 1e19, VAEConfig(**TINY), seed=0, verbose=False)
    assert err.value.epoch == 1 and len(err.value.history["loss"]) == 1


def test_several_steps_per_call_train_the_same_model(tiny_adata):
    one = train(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    many = train(tiny_adata.X, VAEConfig(**TINY, steps_per_call=4), seed=0, verbose=False)
    # same batches, noise and updates; only the round-off of the compiled loop may differ
    np.testing.assert_allclose(many.history["loss"], one.history["loss"], rtol=1e-3)
    assert "steps_per_call" in VAEConfig(steps_per_call=4).cache_fields()


def test_bfloat16_first_moment_follows_the_float32_loss_curve(tiny_adata):
    full = train(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    half = train(tiny_adata.X, VAEConfig(**TINY, optimizer_state="bfloat16"), seed=0, verbose=False)
    # the same Adam formula; only the first moment's rounding to 8 mantissa bits differs
    np.testing.assert_allclose(half.history["loss"], full.history["loss"], rtol=0.05)
    assert half.history["loss"] != full.history["loss"]  # the option does change the update
    assert VAEConfig(optimizer_state="bfloat16").cache_fields()["optimizer_state"] == "bfloat16"
    assert "optimizer_state" not in VAEConfig().cache_fields()  # old cache entries stay valid
    with pytest.raises(ParameterError, match="optimizer_state = 'fp8'"):
        VAEConfig(optimizer_state="fp8")

