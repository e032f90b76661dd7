"""The VAE on Keras 3's three backends: each trains (its loss falls), is deterministic, encodes, saves and
loads; the engine is part of the latent store's key; a backend that is asked for but not installed is a
clear error. Keras fixes its backend when first imported, so each backend runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from replicate.io.errors import ParameterError
from replicate.method import vae_backends

BACKENDS = ["tensorflow", "jax", "torch"]

TINY = """
import json, tempfile
import numpy as np
from replicate.method import latents as store, vae_backends
from replicate.method.vae_config import VAEConfig
from replicate.method.vae_model import VAEModel
from replicate.method.vae_train import train
X = np.random.default_rng(0).normal(size=(200, 40)).astype(np.float32)
cfg = VAEConfig(epochs=6, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4, kl_warmup_epochs=2)
a, b = train(X, cfg, seed=3, verbose=False), train(X, cfg, seed=3, verbose=False)
folder = tempfile.mkdtemp()
a.model.save(folder)
again = VAEModel.load(folder).encode(X).mu
eps = np.zeros((200, 4), np.float32)
rec, kl = a.model.loss_terms(X, eps)
print(json.dumps({"engine": vae_backends.engine(), "loss": a.history["loss"], "same": bool(np.array_equal(a.mu, b.mu)),
                  "round_trip": float(np.abs(again - a.mu).max()), "rec": float(rec.mean()),
                  "key": store.entry_paths(X, cfg, 3)[0].name}))
"""


def _run(backend: str, code: str, timeout: int = 600) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_each_backend_trains_a_tiny_vae_that_encodes_saves_and_loads():
    keys = {}
    for backend in BACKENDS:
        out = _run(backend, TINY)
        assert out["engine"] == {"backend": backend, "device": "cpu"}
        loss = out["loss"]
        assert len(loss) == 6 and np.isfinite(loss).all() and loss[-1] < loss[0], (backend, loss)
        assert out["same"] and out["round_trip"] < 1e-5 and np.isfinite(out["rec"])
        keys[backend] = out["key"]
    assert len(set(keys.values())) == 3  # one store entry per engine: they train other networks


def test_a_backend_asked_for_but_not_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(vae_backends.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ParameterError, match=r"KERAS_BACKEND = 'jax' but jax is not installed.*pip install jax"):
        vae_backends.requested()
    monkeypatch.setenv("KERAS_BACKEND", "mlx")
    with pytest.raises(ParameterError, match="use one of tensorflow, jax, torch"):
        vae_backends.requested()


def test_tensorflows_options_are_refused_on_the_other_engines():
    from replicate.method.vae_config import VAEConfig

    with pytest.raises(ParameterError, match="optimizer_state = 'bfloat16'.*TensorFlow engine; on jax"):
        vae_backends.epochs("jax", np.zeros((4, 2), np.float32), None, None, VAEConfig(optimizer_state="bfloat16"))


SCORES = """
import json
import numpy as np
from replicate.method.clustering import kmeans
from replicate.method.latents import latents
from replicate.method.metrics import evaluate
from replicate.method.preprocess import prepare
from replicate.method.vae_config import VAEConfig
adata = prepare("pbmc68k-reduced")
y = adata.obs["label"].to_numpy()
k = len(np.unique(y))
res = latents(adata.X, VAEConfig(epochs=15), seeds=[0, 1, 2], verbose=False, cache=False)
print(json.dumps([evaluate(y, kmeans(r.mu, k))["CA"] for r in res]))
"""


@pytest.mark.slow
def test_the_three_backends_agree_within_the_seed_spread_on_the_offline_data():
    """VAE + K-means on the 700 offline PBMCs (3 seeds each): each backend's mean CA lies within the range of
    all the seeds' CAs, widened by one standard deviation -- another engine is another draw of training."""
    scores = {backend: _run(backend, SCORES, timeout=900) for backend in BACKENDS}
    every = np.concatenate([np.asarray(v) for v in scores.values()])
    low, high = every.min() - every.std(ddof=1), every.max() + every.std(ddof=1)
    means = {b: float(np.mean(v)) for b, v in scores.items()}
    assert all(low <= m <= high for m in means.values()), scores
    assert max(means.values()) - min(means.values()) <= 3 * every.std(ddof=1) + 0.02, scores
