"""The paper's VAE (Sec. II, IV) in Keras 3: the networks, the loss, and the trained model.

Encoder genes -> 2048 -> (mu, log sigma^2) in 32-d; one reparameterised sample
z = mu + sigma * eps; decoder 32 -> 128 -> genes; p(x|z) = N(x_hat, I), so the reconstruction
term is 0.5 * sum (x - x_hat)^2 (eq. 4); analytic KL to N(0, I) (eq. 5); loss = -ELBO.
:func:`sample_and_loss` is the one statement of that sampling and loss: the trainer's step and
:meth:`VAEModel.loss_terms` both call it. Only mu is clustered; log sigma^2 is returned too (the
paper's future-work idea).

A :class:`VAEModel` keeps what it needs to encode new cells the way its training cells were
scaled: the training genes' names and their z-score scaling (:mod:`replicate.method.preprocess`).
Keras is imported only when a network is built or run, on the backend ``KERAS_BACKEND`` names
(TensorFlow by default; JAX and PyTorch too: :mod:`replicate.method.vae_backends`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from anndata import AnnData

from ..io import store
from ..io.errors import ParameterError
from .preprocess import scale_like
from .vae_config import VAEConfig

__all__ = ["Latents", "VAEModel", "elbo_terms", "sample_and_loss", "build_networks", "not_training_scale"]


class Latents(NamedTuple):
    """The encoder's output for each cell: the latent mean and the (clamped, if configured) log-variance."""

    mu: np.ndarray
    logvar: np.ndarray


def elbo_terms(x: Any, x_hat: Any, mu: Any, logvar: Any, *, reconstruction: str = "sum") -> tuple[Any, Any]:
    """Per-cell reconstruction (eq. 4) and KL (eq. 5) terms of the negative ELBO (tensors of Keras' backend).

    reconstruction ``"sum"``: 0.5 * sum over genes of (x - x_hat)^2; ``"mean"``: the mean over
    genes (Keras' mse). KL: -0.5 * sum over latent dimensions of (1 + log sigma^2 - mu^2 - sigma^2).
    Written with ``keras.ops``, so TensorFlow, JAX and PyTorch compute it alike (on TensorFlow these
    are the very ops ``tf.square``, ``tf.reduce_sum``, ``tf.exp`` the trainer always used).
    """
    from keras import ops

    sq = ops.square(x - x_hat)
    rec = 0.5 * ops.sum(sq, axis=1) if reconstruction == "sum" else ops.mean(sq, axis=1)
    kl = -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=1)
    return rec, kl


def sample_and_loss(encoder: Any, decoder: Any, x: Any, eps: Any, cfg: VAEConfig, *,
                    training: bool) -> tuple[Any, Any]:
    """Encode ``x``, clamp log sigma^2 (if configured), draw z = mu + sigma * eps, decode: the per-cell
    reconstruction and KL terms (:func:`elbo_terms`). ``training`` selects batch norm's batch statistics."""
    from keras import ops

    x = ops.convert_to_tensor(x)  # NumPy cells on the backend's device (a no-op on a tensor)
    mu, logvar = encoder(x, training=training)
    if cfg.logvar_clamp is not None:
        logvar = ops.clip(logvar, -cfg.logvar_clamp, cfg.logvar_clamp)
    z = mu + ops.exp(0.5 * logvar) * ops.convert_to_tensor(eps)  # NumPy noise on the backend's device
    x_hat = decoder(z, training=training)
    return elbo_terms(x, x_hat, mu, logvar, reconstruction=cfg.reconstruction)


def _hidden(h: Any, width: int, cfg: VAEConfig, name: str) -> Any:
    from keras import layers

    if not cfg.batch_norm:
        return layers.Dense(width, activation=cfg.activation, name=name)(h)
    h = layers.Dense(width, name=name)(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    return layers.Activation(cfg.activation, name=f"{name}_act")(h)


def build_networks(n_genes: int, cfg: VAEConfig) -> tuple[Any, Any]:
    """The untrained (encoder, decoder) Keras models of ``cfg`` for ``n_genes`` genes."""
    import keras
    from keras import layers

    x = keras.Input((n_genes,), name="expression")
    h = x
    for i, width in enumerate(cfg.encoder_hidden):
        h = _hidden(h, width, cfg, f"enc_{i}")
    mu = layers.Dense(cfg.latent_dim, name="z_mean")(h)
    logvar = layers.Dense(cfg.latent_dim, name="z_log_var")(h)
    encoder = keras.Model(x, [mu, logvar], name="encoder")
    z = keras.Input((cfg.latent_dim,), name="z")
    h = z
    for i, width in enumerate(cfg.decoder_hidden):
        h = _hidden(h, width, cfg, f"dec_{i}")
    out = layers.Dense(n_genes, name="x_hat")(h)
    decoder = keras.Model(z, out, name="decoder")
    return encoder, decoder


Weights = dict[str, np.ndarray]


def not_training_scale(X: np.ndarray) -> str | None:
    """Why a matrix of cells cannot be on the z-score scale the VAE trained on (None: it can be). Loose on
    purpose: new cells scaled with the training cells' gene means and deviations are not exactly z-scores."""
    if not np.isfinite(X).all():
        return f"it holds {int(np.isnan(X).sum()):,} NaN and {int(np.isinf(X).sum()):,} infinite values"
    if X.size and X.min() >= 0:
        return (f"no value is negative (from {float(X.min()):.3g} to {float(X.max()):.3g}): raw counts or "
                "log-normalised values, not z-scores")
    centre, spread = float(np.median(np.abs(X.mean(axis=0)))), float(np.median(X.std(axis=0)))
    if X.shape[0] > 1 and (centre > 1.0 or not 0.1 <= spread <= 10.0):
        return f"the genes' means are {centre:.3g} from 0 and their standard deviations {spread:.3g} (medians)"
    return None


class VAEModel:
    """A trained encoder/decoder pair: encodes new cells, saves and loads itself.

    Parameters
    ----------
    config
        The training's :class:`~replicate.method.vae_config.VAEConfig`.
    n_genes
        The number of genes (inputs) it was trained on.
    networks
        The trained ``(encoder, decoder)`` Keras models; or
    weights
        their arrays (:meth:`weights`), or a function returning them: the networks are then
        built on first use (a model from the cache costs nothing until it encodes).
    genes
        The training genes' names, in order: new cells are aligned to them by name.
    scaling
        How the training cells were z-scored (:func:`replicate.method.preprocess.scaling_of`):
        new cells are scaled the same way.
    """

    def __init__(self, config: VAEConfig, n_genes: int, *, networks: tuple[Any, Any] | None = None,
                 weights: Weights | Callable[[], Weights] | None = None, genes: list[str] | None = None,
                 scaling: dict[str, Any] | None = None) -> None:
        if networks is None and weights is None:
            raise ParameterError("a VAEModel needs its trained networks or their weights.")
        self.config, self.n_genes = config, int(n_genes)
        self.genes = None if genes is None else [str(g) for g in genes]
        self.scaling = scaling
        self._networks, self._weights = networks, weights
        if self.genes is not None and len(self.genes) != self.n_genes:
            raise ParameterError(f"genes has {len(self.genes)} names for a model of {self.n_genes} genes.")

    def __repr__(self) -> str:
        return f"VAEModel({self.n_genes} genes, {self.config.describe()})"

    @property
    def networks(self) -> tuple[Any, Any]:
        """The (encoder, decoder) Keras models, built from the weights on first use."""
        if self._networks is None:
            weights = self._weights() if callable(self._weights) else self._weights
            encoder, decoder = build_networks(self.n_genes, self.config)
            encoder.set_weights([weights[k] for k in sorted(weights) if k.startswith("enc_")])
            decoder.set_weights([weights[k] for k in sorted(weights) if k.startswith("dec_")])
            self._networks = (encoder, decoder)
        return self._networks

    @property
    def encoder(self) -> Any:
        return self.networks[0]

    @property
    def decoder(self) -> Any:
        return self.networks[1]

    def prepare(self, adata: AnnData) -> np.ndarray:
        """``adata``'s cells as the training cells were: genes aligned by name, then scaled the same way.

        Raises :class:`~replicate.io.errors.ParameterError` naming missing genes, or saying why the
        cells cannot be scaled (e.g. the model does not know its training scaling).
        """
        if self.genes is None or self.scaling is None:
            raise ParameterError("this model does not know its training genes or their scaling (it was trained on a "
                                 "bare matrix, not through rp.tl.vae); encode a matrix scaled the same way instead: "
                                 "model.encode(X).")
        return scale_like(adata, self.genes, self.scaling)

    def encode(self, data: AnnData | np.ndarray, batch_size: int = 1024, *, check: bool = True) -> Latents:
        """Latent mean and log-variance of every cell.

        ``data``: an AnnData (raw counts, log-normalised values, or the output of
        :func:`replicate.pp.zscore`), scaled here the way the training cells were
        (:meth:`prepare`); or a cells x genes matrix already scaled that way, genes in training order.
        A matrix that cannot be on the training cells' scale (NaN, or no negative value: raw counts or
        log values rather than z-scores, or genes far from centred) is refused, as ``rp.tl.vae`` refuses
        to train on it; ``check=False`` encodes it anyway.
        """
        X = self.prepare(data) if isinstance(data, AnnData) else data
        if hasattr(X, "toarray"):
            X = X.toarray()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_genes:
            raise ParameterError(f"this VAE was trained on {self.n_genes} genes; the cells to encode have shape "
                                 f"{X.shape}. Give the same genes, in the same order, z-scored the same way "
                                 "(or an AnnData, which is aligned and scaled for you).")
        why = None if isinstance(data, AnnData) or not check else not_training_scale(X)
        if why:
            raise ParameterError(f"the cells to encode do not look scaled like the training cells: {why}. Pass an "
                                 "AnnData (aligned and scaled for you), scale the matrix with the training cells' "
                                 "gene means and standard deviations, or pass check=False.")
        from keras import ops

        encoder = self.encoder
        # direct calls rather than predict(): no tf.data pipeline (and none of its log noise)
        parts = [encoder(X[b : b + batch_size], training=False) for b in range(0, X.shape[0], batch_size)]
        mu = np.concatenate([ops.convert_to_numpy(p[0]) for p in parts])  # from any backend and device
        logvar = np.concatenate([ops.convert_to_numpy(p[1]) for p in parts])
        if self.config.logvar_clamp is not None:
            logvar = np.clip(logvar, -self.config.logvar_clamp, self.config.logvar_clamp)
        return Latents(mu, logvar)

    def loss_terms(self, X: Any, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell reconstruction and KL terms for noise ``eps`` (inference mode: batch norm uses its
        averages), through the trainer's own :func:`sample_and_loss`."""
        encoder, decoder = self.networks
        from keras import ops

        rec, kl = sample_and_loss(encoder, decoder, np.asarray(X, dtype=np.float32), np.asarray(eps, np.float32),
                                  self.config, training=False)
        return ops.convert_to_numpy(rec), ops.convert_to_numpy(kl)

    def weights(self) -> Weights:
        """Every weight (trainable or not, e.g. batch-norm averages) as named arrays."""
        if self._networks is None:
            return dict(self._weights() if callable(self._weights) else self._weights)
        encoder, decoder = self._networks
        out = {f"enc_{i:03d}": w for i, w in enumerate(encoder.get_weights())}
        out.update({f"dec_{i:03d}": w for i, w in enumerate(decoder.get_weights())})
        return out

    def with_data(self, *, genes: list[str] | None, scaling: dict[str, Any] | None) -> VAEModel:
        """The same model knowing its training genes and scaling."""
        return VAEModel(self.config, self.n_genes, networks=self._networks, weights=self._weights,
                        genes=genes, scaling=scaling)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``config.json`` (configuration, genes, scaling's settings), ``weights.npz`` and ``scaling.npz``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store.save_npz(folder / "weights.npz", **self.weights())
        settings = None
        if self.scaling is not None:
            settings = {k: v for k, v in self.scaling.items() if k not in ("mean", "std")}
            store.save_npz(folder / "scaling.npz", mean=self.scaling["mean"], std=self.scaling["std"])
        store.write_json(folder / "config.json", {"n_genes": self.n_genes, "config": asdict(self.config),
                                                  "genes": self.genes, "scaling": settings})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> VAEModel:
        """The model :meth:`save` wrote into ``folder``."""
        folder = Path(folder)
        meta = json.loads((folder / "config.json").read_text())
        weights = store.load_npz(folder / "weights.npz")
        if weights is None:
            raise ParameterError(f"{folder.name}/weights.npz is missing or damaged; save the model again.")
        scaling = None
        if meta.get("scaling") is not None:
            arrays = store.load_npz(folder / "scaling.npz") or {}
            scaling = {**meta["scaling"], "mean": arrays.get("mean"), "std": arrays.get("std")}
        return cls(VAEConfig(**meta["config"]), meta["n_genes"], weights=weights, genes=meta.get("genes"),
                   scaling=scaling)
