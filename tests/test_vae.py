import numpy as np
import pytest

from replicate import datasets, store
from replicate.errors import ParameterError, TrainingError
from replicate.preprocess import zscore
from replicate.vae import VAEConfig, VAEModel, VAEResult, fit, train_vae, vae_latents

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_adata(tiny_h5_session):
    return zscore(datasets.load(tiny_h5_session), copy=True)


def test_paper_reading_and_the_documented_deviations():
    from replicate._resources import paper

    m = paper()["model"]
    lit = VAEConfig.paper_reading()
    assert (lit.encoder_hidden, lit.decoder_hidden, lit.latent_dim) == (tuple(m["encoder_hidden"]), tuple(m["decoder_hidden"]), m["latent_dim"])
    assert (lit.learning_rate, lit.batch_size, lit.epochs) == (m["learning_rate"], m["batch_size"], m["epochs"])
    assert lit.logvar_clamp is None and lit.grad_clipnorm is None and not lit.batch_norm
    assert lit.reconstruction == "sum" and lit.adam_epsilon == 1e-7
    assert lit.reconstruction_weight == 1.0 and lit.kl_warmup_epochs == 0
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


def test_cache_keys_of_the_first_format_are_kept():
    # fields added later are left out of the key while neutral, so older cache entries stay valid
    v1 = {"encoder_hidden", "decoder_hidden", "latent_dim", "activation", "reconstruction", "learning_rate",
          "batch_size", "epochs", "logvar_clamp", "grad_clipnorm", "adam_epsilon", "batch_norm", "xla"}
    assert set(VAEConfig().cache_fields()) == v1
    assert set(VAEConfig(reconstruction_weight=8.0).cache_fields()) == v1 | {"reconstruction_weight"}
    assert set(VAEConfig(kl_warmup_epochs=5).cache_fields()) == v1 | {"kl_warmup_epochs"}


def test_fit_returns_a_model_also_from_the_cache(tiny_adata):
    cfg = VAEConfig(**{**TINY, "epochs": 2})
    first = fit(tiny_adata.X, cfg, seed=11, verbose=False)
    again = fit(tiny_adata.X, cfg, seed=11, verbose=False)
    assert not first.cached and again.cached and again.model is not None
    mu, _ = again.model.encode(tiny_adata.X)
    np.testing.assert_allclose(mu, first.mu, atol=1e-6)
    # an entry without weights (written before weights were stored) is trained again, same latents
    for p in (store.cache_dir() / "vae").glob("*.weights.npz"):
        p.unlink()
    third = fit(tiny_adata.X, cfg, seed=11, verbose=False)
    np.testing.assert_allclose(third.model.encode(tiny_adata.X)[0], first.mu, atol=1e-6)
    assert list((store.cache_dir() / "vae").glob("*.weights.npz"))


def test_encode_refuses_other_genes(tiny_adata):
    res = train_vae(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1}), seed=0, verbose=False)
    with pytest.raises(ParameterError, match="trained on 60 genes"):
        res.model.encode(tiny_adata.X[:, :10])
    mu, _ = res.model.encode(tiny_adata)  # an AnnData is accepted
    np.testing.assert_allclose(mu, res.mu, atol=1e-6)


def test_elbo_terms_match_a_hand_computation():
    """A 2-gene, 1-latent network with hand-set weights: the loss terms equal eqs. 4 and 5 by hand."""
    cfg = VAEConfig(encoder_hidden=(2,), decoder_hidden=(1,), latent_dim=1, batch_norm=False, epochs=1)
    enc = {"enc_000": np.eye(2, dtype=np.float32), "enc_001": np.zeros(2, np.float32),       # hidden = relu(x)
           "enc_002": np.array([[1.0], [-1.0]], np.float32), "enc_003": np.array([0.5], np.float32),  # mu
           "enc_004": np.array([[0.2], [0.1]], np.float32), "enc_005": np.array([-1.0], np.float32)}  # log var
    dec = {"dec_000": np.array([[2.0]], np.float32), "dec_001": np.array([0.0], np.float32),     # relu(2 z)
           "dec_002": np.array([[1.0, -1.0]], np.float32), "dec_003": np.array([0.1, 0.2], np.float32)}
    model = VAEModel.from_weights(cfg, 2, {**enc, **dec})
    x = np.array([[1.0, 2.0], [3.0, 0.0]], np.float32)
    eps = np.array([[0.5], [-1.0]], np.float32)
    rec, kl = model.loss_terms(x, eps)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    h = relu(x)
    mu = h @ [[1.0], [-1.0]] + 0.5
    logvar = h @ [[0.2], [0.1]] - 1.0
    z = mu + np.exp(0.5 * logvar) * eps
    x_hat = relu(2 * z) @ [[1.0, -1.0]] + [0.1, 0.2]
    np.testing.assert_allclose(rec, 0.5 * ((x - x_hat) ** 2).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(kl, -0.5 * (1 + logvar - mu**2 - np.exp(logvar)).sum(axis=1), rtol=1e-5)
    # first cell by hand: h = (1, 2), mu = -0.5, log var = -0.6, z = -0.5 + 0.5 e^-0.3, x_hat = (0.1, 0.2)
    z0 = -0.5 + 0.5 * np.exp(-0.3)
    assert z0 < 0 and rec[0] == pytest.approx(0.5 * (0.9**2 + 1.8**2), rel=1e-5)
    assert kl[0] == pytest.approx(-0.5 * (1 - 0.6 - 0.25 - np.exp(-0.6)), rel=1e-5)


def test_reconstruction_weight_and_kl_warmup_train_and_report_the_unweighted_elbo(tiny_adata):
    base = train_vae(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    heavy = train_vae(tiny_adata.X, VAEConfig(**TINY, reconstruction_weight=8.0), seed=0, verbose=False)
    warm = train_vae(tiny_adata.X, VAEConfig(**TINY, kl_warmup_epochs=3), seed=0, verbose=False)
    for res in (heavy, warm):
        assert np.allclose(np.array(res.history["reconstruction"]) + res.history["kl"], res.history["loss"])
    # weighting the reconstruction term lets the latent spend more KL on it
    assert heavy.history["kl"][-1] > base.history["kl"][-1]
    assert not np.allclose(warm.mu, base.mu)


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


@pytest.mark.slow
def test_seeds_in_parallel_processes_equal_seeds_one_by_one(tiny_adata, tmp_path, monkeypatch):
    """threads=1: each training in a worker with one TensorFlow thread, two at once or one after the other."""
    cfg = VAEConfig(**{**TINY, "epochs": 2, "threads": 1})
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "a"))
    one_by_one = vae_latents(tiny_adata.X, cfg, seeds=[0, 1, 2], verbose=False, n_jobs=1)
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "b"))
    side_by_side = vae_latents(tiny_adata.X, cfg, seeds=[0, 1, 2], verbose=False, n_jobs=2)
    for a, b in zip(one_by_one, side_by_side):
        np.testing.assert_array_equal(a.mu, b.mu)
        assert a.history["loss"] == b.history["loss"]
    with pytest.raises(ParameterError, match="n_jobs > 1 needs config.threads"):
        vae_latents(tiny_adata.X, VAEConfig(**TINY), seeds=[5, 6], verbose=False, n_jobs=2)


def test_several_steps_per_call_train_the_same_model(tiny_adata):
    one = train_vae(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    many = train_vae(tiny_adata.X, VAEConfig(**TINY, steps_per_call=4), seed=0, verbose=False)
    # same batches, noise and updates; only the round-off of the compiled loop may differ
    np.testing.assert_allclose(many.history["loss"], one.history["loss"], rtol=1e-3)
    assert "steps_per_call" in VAEConfig(steps_per_call=4).cache_fields()


def test_a_diverging_seed_can_be_recorded_instead_of_stopping_the_others(tiny_adata):
    X = tiny_adata.X.copy()
    with pytest.raises(TrainingError):
        vae_latents(X * 1e19, VAEConfig(**TINY), seeds=[0], verbose=False, cache=False)
    out = vae_latents(X * 1e19, VAEConfig(**TINY), seeds=[0, 1], verbose=False, cache=False, skip_diverged=True)
    assert out == [None, None]


def test_bfloat16_first_moment_follows_the_float32_loss_curve(tiny_adata):
    full = train_vae(tiny_adata.X, VAEConfig(**TINY), seed=0, verbose=False)
    half = train_vae(tiny_adata.X, VAEConfig(**TINY, optimizer_state="bfloat16"), seed=0, verbose=False)
    # the same Adam formula; only the first moment's rounding to 8 mantissa bits differs
    np.testing.assert_allclose(half.history["loss"], full.history["loss"], rtol=0.05)
    assert half.history["loss"] != full.history["loss"]  # the option does change the update
    assert VAEConfig(optimizer_state="bfloat16").cache_fields()["optimizer_state"] == "bfloat16"
    assert "optimizer_state" not in VAEConfig().cache_fields()  # old cache entries stay valid
    with pytest.raises(ParameterError, match="optimizer_state = 'fp8'"):
        VAEConfig(optimizer_state="fp8")
