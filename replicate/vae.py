"""The paper's VAE (Sec. II, IV) in Keras 3 on TensorFlow, its trainer and latent extraction.

Model (SPEC 3): encoder genes -> 2048 -> (mu, log sigma^2) in 32-d; one reparameterised sample
z = mu + sigma * eps; decoder 32 -> 128 -> genes; p(x|z) = N(x_hat, I), so the reconstruction
term is 0.5 * sum (x - x_hat)^2 (eq. 4); analytic KL to N(0, I) (eq. 5); loss = -ELBO; Adam.
Only mu is clustered; log sigma^2 is returned too (the paper's future-work idea).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from . import store
from ._resources import paper
from .errors import ParameterError, TrainingError
from .params import ACTIVATIONS

__all__ = ["VAEConfig", "VAEModel", "VAEResult", "train_vae", "vae_latents", "vae"]

_M = paper()["model"]


@dataclass(frozen=True)
class VAEConfig:
    """Everything that defines one VAE training except the seed.

    Sizes, batch and epochs are the paper's (``replicate/data/paper.toml`` ``[model]``; open
    points in SPEC 8). ``activation`` is not stated in the paper: ReLU is the common Keras
    choice. ``reconstruction="sum"`` is eq. 4 literally (0.5 * sum over genes); ``"mean"`` is
    Keras' ``mse`` (mean over genes), a frequent implementation habit. Stabilisers, each off
    with ``None``: ``logvar_clamp`` bounds log sigma^2 to ``[-c, c]`` before ``exp``;
    ``grad_clipnorm`` rescales each gradient to at most this L2 norm (Keras' ``clipnorm``).

    **One default deviates from the paper: ``batch_norm=True``.** The literal reading
    (:meth:`paper_reading`: no stabiliser) diverges to a non-finite loss within one or two
    epochs on the paper's 2,100 cells, as SPEC 9 warns. The stability study
    (:mod:`replicate.stability`, results in ``results/stability/``) trained 18 readings with 3
    seeds each and chose, without looking at labels, the reading with the fewest departures
    from the paper's text among those where every seed trained: batch normalisation after each
    hidden layer, a common Keras VAE habit, which keeps the stated learning rate, batch size and
    epochs. Every other single change tried (log-variance clamp, z-score clipping, gradient
    clipping, Adam epsilon, a smaller learning rate, tanh, elu, mean reconstruction) diverged or
    blew up for at least one seed.
    """

    encoder_hidden: tuple[int, ...] = tuple(_M["encoder_hidden"])
    decoder_hidden: tuple[int, ...] = tuple(_M["decoder_hidden"])
    latent_dim: int = _M["latent_dim"]
    activation: str = "relu"
    reconstruction: Literal["sum", "mean"] = "sum"
    learning_rate: float = _M["learning_rate"]
    batch_size: int = _M["batch_size"]
    epochs: int = _M["epochs"]
    logvar_clamp: float | None = None
    grad_clipnorm: float | None = None
    adam_epsilon: float = 1e-7  # Keras' default, as in TensorFlow 2.4.1
    batch_norm: bool = True  # BatchNormalization after each hidden layer: the study's choice (above)
    xla: bool = True  # compile the training step with XLA (faster; changes round-off, so part of the key)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_hidden", tuple(int(h) for h in self.encoder_hidden))
        object.__setattr__(self, "decoder_hidden", tuple(int(h) for h in self.decoder_hidden))
        checks = [
            ("latent_dim", self.latent_dim, isinstance(self.latent_dim, int) and self.latent_dim >= 1, "an integer >= 1"),
            ("epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, "an integer >= 1"),
            ("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate, isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0, "a number > 0"),
            ("reconstruction", self.reconstruction, self.reconstruction in ("sum", "mean"), "'sum' or 'mean'"),
            ("encoder_hidden", self.encoder_hidden, all(h >= 1 for h in self.encoder_hidden), "a list of positive layer sizes"),
            ("decoder_hidden", self.decoder_hidden, all(h >= 1 for h in self.decoder_hidden), "a list of positive layer sizes"),
            ("logvar_clamp", self.logvar_clamp, self.logvar_clamp is None or self.logvar_clamp > 0, "None or a number > 0"),
            ("grad_clipnorm", self.grad_clipnorm, self.grad_clipnorm is None or self.grad_clipnorm > 0, "None or a number > 0"),
            ("adam_epsilon", self.adam_epsilon, isinstance(self.adam_epsilon, (int, float)) and self.adam_epsilon > 0, "a number > 0"),
            ("activation", self.activation, self.activation in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
        ]
        for name, value, ok, want in checks:
            if not ok:
                raise ParameterError(f"VAE parameter {name} = {value!r} is invalid: expected {want}.")

    @classmethod
    def paper_reading(cls) -> VAEConfig:
        """The paper's configuration taken literally: no stabiliser of any kind."""
        return cls(logvar_clamp=None, grad_clipnorm=None, adam_epsilon=1e-7, batch_norm=False)

    def describe(self) -> str:
        """One line naming this reading, for errors and tables."""
        enc = "-".join(map(str, self.encoder_hidden))
        dec = "-".join(map(str, self.decoder_hidden))
        clamp = f", logvar clamp {self.logvar_clamp:g}" if self.logvar_clamp else ""
        clamp += f", clipnorm {self.grad_clipnorm:g}" if self.grad_clipnorm else ""
        clamp += f", Adam eps {self.adam_epsilon:g}" if self.adam_epsilon != 1e-7 else ""
        clamp += ", batch norm" if self.batch_norm else ""
        return (f"enc {enc}, z {self.latent_dim}, dec {dec}, {self.activation}, {self.reconstruction} "
                f"reconstruction, lr {self.learning_rate:g}, batch {self.batch_size}, {self.epochs} epochs{clamp}")



@dataclass
class VAEModel:
    """A trained encoder/decoder pair; saves and loads its weights in Keras' native format."""

    config: VAEConfig
    n_genes: int
    encoder: Any = field(repr=False)
    decoder: Any = field(repr=False)

    def encode(self, X: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and (clamped, if configured) log-variance of every row of ``X``."""
        X = np.asarray(X, dtype=np.float32)
        # direct calls rather than predict(): no tf.data pipeline (and none of its log noise)
        parts = [self.encoder(X[b : b + batch_size], training=False) for b in range(0, X.shape[0], batch_size)]
        mu = np.concatenate([np.asarray(p[0]) for p in parts])
        logvar = np.concatenate([np.asarray(p[1]) for p in parts])
        if self.config.logvar_clamp is not None:
            logvar = np.clip(logvar, -self.config.logvar_clamp, self.config.logvar_clamp)
        return mu, logvar

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``config.json``, ``encoder.weights.h5`` and ``decoder.weights.h5`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_weights(folder / "encoder.weights.h5")
        self.decoder.save_weights(folder / "decoder.weights.h5")
        store.write_json(folder / "config.json", {"n_genes": self.n_genes, "config": asdict(self.config)})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> VAEModel:
        """Rebuild the networks from ``config.json`` and load the saved weights."""
        import json

        folder = Path(folder)
        meta = json.loads((folder / "config.json").read_text())
        cfg = VAEConfig(**meta["config"])
        encoder, decoder = _build(meta["n_genes"], cfg)
        encoder.load_weights(folder / "encoder.weights.h5")
        decoder.load_weights(folder / "decoder.weights.h5")
        return cls(cfg, meta["n_genes"], encoder, decoder)


@dataclass
class VAEResult:
    """What one training returns: latent mean and log-variance per cell, and the loss history."""

    mu: np.ndarray
    logvar: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    model: VAEModel | None = field(default=None, repr=False)  # only after training, not from cache

    @property
    def collapsed(self) -> bool:
        """True when the latent carries no information: KL ~ 0 and every mean ~ 0."""
        kl = self.history.get("kl", [np.nan])[-1]
        return bool(kl < 1e-2 or float(np.abs(self.mu).max()) < 1e-3)


def _hidden(h: Any, width: int, cfg: VAEConfig, name: str) -> Any:
    from keras import layers

    if not cfg.batch_norm:
        return layers.Dense(width, activation=cfg.activation, name=name)(h)
    h = layers.Dense(width, name=name)(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    return layers.Activation(cfg.activation, name=f"{name}_act")(h)


def _build(n_genes: int, cfg: VAEConfig) -> tuple[Any, Any]:
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


def train_vae(X: np.ndarray, config: VAEConfig | None = None, *, seed: int = 0, verbose: bool = True) -> VAEResult:
    """Train one VAE on the z-scored matrix ``X`` (cells x genes) and return its latents.

    Deterministic on a given CPU: the seed fixes the weights, the shuffling and the noise, and
    TensorFlow's op determinism is switched on. A non-finite loss stops training with
    :class:`~replicate.errors.TrainingError` naming the epoch and the reading.
    """
    import keras
    import tensorflow as tf

    cfg = config or VAEConfig()
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ParameterError(f"X must be a cells x genes matrix with at least 2 cells, got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ParameterError("X contains NaN or inf; preprocess the data first.")
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    encoder, decoder = _build(X.shape[1], cfg)
    optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_epsilon,
                                      clipnorm=cfg.grad_clipnorm)
    variables = encoder.trainable_variables + decoder.trainable_variables
    optimizer.build(variables)
    clamp = cfg.logvar_clamp
    use_sum = cfg.reconstruction == "sum"
    data = tf.constant(X)  # on the GPU when there is one; batches are gathered there
    totals = tf.Variable(tf.zeros(2), trainable=False)  # summed (rec, KL), read once per epoch

    @tf.function(jit_compile=cfg.xla, reduce_retracing=True)
    def step(idx: Any, eps: Any) -> None:
        x = tf.gather(data, idx)
        with tf.GradientTape() as tape:
            mu, logvar = encoder(x, training=True)
            if clamp is not None:
                logvar = tf.clip_by_value(logvar, -clamp, clamp)
            z = mu + tf.exp(0.5 * logvar) * eps
            x_hat = decoder(z, training=True)
            sq = tf.square(x - x_hat)
            rec = 0.5 * tf.reduce_sum(sq, axis=1) if use_sum else tf.reduce_mean(sq, axis=1)
            kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
            loss = tf.reduce_mean(rec + kl)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        totals.assign_add(tf.stack([tf.reduce_sum(rec), tf.reduce_sum(kl)]))

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    history: dict[str, list[float]] = {"loss": [], "reconstruction": [], "kl": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n).astype(np.int32)
        eps_all = rng.standard_normal((n, cfg.latent_dim)).astype(np.float32)
        totals.assign(tf.zeros(2))
        for b in range(0, n, cfg.batch_size):
            step(tf.constant(order[b : b + cfg.batch_size]), tf.constant(eps_all[b : b + cfg.batch_size]))
        rec, kl = (float(v) / n for v in totals.numpy())
        history["reconstruction"].append(rec)
        history["kl"].append(kl)
        history["loss"].append(rec + kl)
        history["seconds"].append(time.perf_counter() - t0)
        if not np.isfinite(rec + kl):
            err = TrainingError(
                f"VAE training diverged at epoch {epoch}/{cfg.epochs} (seed {seed}): loss is {rec + kl} "
                f"(reconstruction {rec}, KL {kl}). Reading: {cfg.describe()}. Try a smaller learning_rate, "
                "logvar_clamp, or clipping the z-scores."
            )
            err.epoch, err.history = epoch, history
            raise err
        if verbose:
            print(f"seed {seed} epoch {epoch:3d}/{cfg.epochs}: loss {rec + kl:10.2f} "
                  f"(rec {rec:10.2f}, KL {kl:7.2f}) {history['seconds'][-1]:5.1f}s", flush=True)
    model = VAEModel(cfg, X.shape[1], encoder, decoder)
    mu, logvar = model.encode(X)
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise TrainingError(f"VAE (seed {seed}) produced non-finite latents. Reading: {cfg.describe()}.")
    result = VAEResult(mu=mu, logvar=logvar, history=history, seconds=time.perf_counter() - start, model=model)
    if result.collapsed and verbose:
        print(f"seed {seed}: the latent space COLLAPSED (final KL {history['kl'][-1]:.3g} per cell, "
              f"max |mu| {np.abs(result.mu).max():.3g}); its clustering is meaningless.")
    return result


def vae_latents(
    X: np.ndarray,
    config: VAEConfig | None = None,
    *,
    seeds: list[int] | tuple[int, ...] = (0,),
    cache: bool = True,
    verbose: bool = True,
) -> list[VAEResult]:
    """Train one VAE per seed, reusing cached latents keyed by (data hash, config, seed).

    A cache entry is written atomically once its training has finished, so an interrupted run
    never leaves an entry a later run would trust.
    """
    cfg = config or VAEConfig()
    data_key = store.array_hash(np.ascontiguousarray(X, dtype=np.float32))
    results = []
    for seed in seeds:
        key = store.content_key("vae-v1", data_key, asdict(cfg), int(seed))
        path = store.cache_dir() / "vae" / f"{key}.npz"
        hit = store.load_npz(path) if cache else None
        if hit is not None:
            hist = {k[5:]: hit[k].tolist() for k in hit if k.startswith("hist_")}
            res = VAEResult(hit["mu"], hit["logvar"], hist, float(hit["seconds"]), cached=True)
            if verbose:
                print(f"seed {seed}: latents from cache ({path.name})")
        else:
            res = train_vae(X, cfg, seed=int(seed), verbose=verbose)
            if cache:
                store.save_npz(path, mu=res.mu, logvar=res.logvar, seconds=np.array(res.seconds),
                               **{f"hist_{k}": np.asarray(v) for k, v in res.history.items()})
        results.append(res)
    return results


def vae(adata: Any, config: VAEConfig | None = None, *, seed: int = 0, key_added: str = "X_vae",
        cache: bool = True, verbose: bool = True) -> None:
    """Scanpy-style: train (or fetch from cache) a VAE on ``adata.X`` and store its latents.

    Writes ``adata.obsm[key_added]`` (mu), ``adata.obsm[key_added + "_logvar"]`` and
    ``adata.uns[key_added]`` (``params``, ``history``).
    """
    cfg = config or VAEConfig()
    (res,) = vae_latents(adata.X, cfg, seeds=[seed], cache=cache, verbose=verbose)
    adata.obsm[key_added] = res.mu
    adata.obsm[f"{key_added}_logvar"] = res.logvar
    adata.uns[key_added] = {"params": {**asdict(cfg), "seed": seed}, "history": res.history}


def config_from(params: dict[str, Any]) -> VAEConfig:
    """A :class:`VAEConfig` from a parameter dict, ignoring keys it does not know."""
    known = VAEConfig.__dataclass_fields__
    return replace(VAEConfig(), **{k: v for k, v in params.items() if k in known})
