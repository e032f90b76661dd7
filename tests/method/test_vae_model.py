"""The VAE's networks and loss, and the trained model: encode, loss terms, save and load."""

import numpy as np
import pytest

from replicate.io import datasets
from replicate.io.errors import ParameterError
from replicate.method.preprocess import zscore
from replicate.method.vae_config import VAEConfig
from replicate.method.vae_model import VAEModel
from replicate.method.vae_train import train

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_adata(tiny_h5_session):
    return zscore(datasets.load(tiny_h5_session), copy=True)



def test_elbo_terms_match_a_hand_computation():
    """A 2-gene, 1-latent network with hand-set weights: the loss terms equal eqs. 4 and 5 by hand."""
    cfg = VAEConfig(encoder_hidden=(2,), decoder_hidden=(1,), latent_dim=1, batch_norm=False, epochs=1)
    enc = {"enc_000": np.eye(2, dtype=np.float32), "enc_001": np.zeros(2, np.float32),       # hidden = relu(x)
           "enc_002": np.array([[1.0], [-1.0]], np.float32), "enc_003": np.array([0.5], np.float32),  # mu
           "enc_004": np.array([[0.2], [0.1]], np.float32), "enc_005": np.array([-1.0], np.float32)}  # log var
    dec = {"dec_000": np.array([[2.0]], np.float32), "dec_001": np.array([0.0], np.float32),     # relu(2 z)
           "dec_002": np.array([[1.0, -1.0]], np.float32), "dec_003": np.array([0.1, 0.2], np.float32)}
    model = VAEModel(cfg, 2, weights={**enc, **dec})
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


def test_encode_refuses_other_genes(tiny_adata):
    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1}), seed=0, verbose=False)
    with pytest.raises(ParameterError, match="trained on 60 genes"):
        res.model.encode(tiny_adata.X[:, :10])
    # a model trained on a bare matrix knows no genes: an AnnData cannot be aligned, and it says so
    with pytest.raises(ParameterError, match="does not know its training genes"):
        res.model.encode(tiny_adata)
    mu, _ = res.model.encode(tiny_adata.X)
    np.testing.assert_array_equal(mu, res.mu)


def test_save_load_round_trip(tiny_adata, tmp_path):
    from replicate.method.vae_model import VAEModel

    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1, "logvar_clamp": 3.0}), seed=0, verbose=False)
    folder = res.model.save(tmp_path / "model")
    assert {p.name for p in folder.iterdir()} == {"config.json", "weights.npz"}
    loaded = VAEModel.load(folder)
    assert loaded.config == res.model.config and loaded.genes is None and loaded.scaling is None
    mu, logvar = loaded.encode(tiny_adata.X)
    np.testing.assert_array_equal(mu, res.mu)
    np.testing.assert_array_equal(logvar, res.logvar)
    assert np.abs(logvar).max() <= 3.0


def test_save_load_keeps_the_training_genes_and_their_scaling(tiny_adata, tmp_path):
    from replicate.method.preprocess import scaling_of

    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1}), seed=0, verbose=False)
    model = res.model.with_data(genes=list(tiny_adata.var_names), scaling=scaling_of(tiny_adata))
    loaded = VAEModel.load(model.save(tmp_path / "m"))
    assert loaded.genes == list(tiny_adata.var_names)
    np.testing.assert_array_equal(loaded.scaling["mean"], tiny_adata.var["mean"].to_numpy())
    np.testing.assert_array_equal(loaded.scaling["std"], tiny_adata.var["std"].to_numpy())
    assert loaded.scaling["target_sum"] == tiny_adata.uns["zscore"]["target_sum_used"]
    # an AnnData is aligned by name and scaled like the training cells: the training cells come back
    np.testing.assert_array_equal(loaded.encode(tiny_adata).mu, res.mu)


def test_the_training_step_and_the_loss_terms_share_one_sampling_and_loss_function(tiny_adata, monkeypatch):
    from replicate.method import vae_model, vae_train

    calls = {"training": 0, "inference": 0}
    original = vae_model.sample_and_loss

    def counting(*args, training, **kw):
        calls["training" if training else "inference"] += 1
        return original(*args, training=training, **kw)

    monkeypatch.setattr(vae_train, "sample_and_loss", counting)
    monkeypatch.setattr(vae_model, "sample_and_loss", counting)
    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1, "xla": False}), seed=0, verbose=False)
    res.model.loss_terms(tiny_adata.X[:4], np.zeros((4, 4), np.float32))
    assert calls["training"] >= 1 and calls["inference"] == 1



def test_encode_refuses_a_matrix_not_on_the_training_scale(tiny_adata, tiny_h5_session):
    """Raw counts, log values or NaN given as a bare matrix are not encoded silently (mean |z| would be far
    from the training cells'): the same kind of check rp.tl.vae makes before training."""
    res = train(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1}), seed=0, verbose=False)
    counts = np.asarray(datasets.load(tiny_h5_session).X, dtype=np.float32)
    with pytest.raises(ParameterError, match="no value is negative.*raw counts or log-normalised"):
        res.model.encode(counts)
    with pytest.raises(ParameterError, match="not look scaled like the training cells: it holds 1 NaN"):
        res.model.encode(np.where(np.arange(tiny_adata.X.size).reshape(tiny_adata.X.shape) == 7, np.nan,
                                  tiny_adata.X))
    with pytest.raises(ParameterError, match="genes' means are"):
        res.model.encode(tiny_adata.X + np.where(np.arange(tiny_adata.n_vars) % 2, 8.0, -8.0))
    assert res.model.encode(counts, check=False).mu.shape == (counts.shape[0], 4)
    assert res.model.encode(tiny_adata.X[:30] * 1.1).mu.shape == (30, 4)  # new cells need not be exact z-scores
