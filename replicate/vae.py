"""The paper's VAE (Sec. II, IV) in Keras 3 on TensorFlow: configuration, trainer, model, cache.

Model: encoder genes -> 2048 -> (mu, log sigma^2) in 32-d; one reparameterised sample
z = mu + sigma * eps; decoder 32 -> 128 -> genes; p(x|z) = N(x_hat, I), so the reconstruction
term is 0.5 * sum (x - x_hat)^2 (eq. 4); analytic KL to N(0, I) (eq. 5); loss = -ELBO; Adam.
Only mu is clustered; log sigma^2 is returned too (the paper's future-work idea).

TensorFlow is imported only when a model is built or trained.
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

from . import progress, store
from ._resources import paper
from .errors import ParameterError, TrainingError

__all__ = ["ACTIVATIONS", "VAEConfig", "VAEModel", "VAEResult", "elbo_terms", "train_vae", "vae_latents",
           "fit", "config_from"]

_M = paper()["model"]

#: Activations a hidden layer may use (the paper does not state one; ReLU is the default).
ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "selu", "gelu", "softplus", "leaky_relu")


@dataclass(frozen=True)
class VAEConfig:
    """Everything that defines one VAE training except the seed.

    Sizes, batch and epochs are the paper's (``replicate/data/paper.toml`` ``[model]``; the
    open points are listed on the book's methods page). ``activation`` is not stated in the
    paper: ReLU is the common Keras choice. ``reconstruction="sum"`` is eq. 4 literally (0.5 *
    sum over genes); ``"mean"`` is Keras' ``mse`` (mean over genes), a frequent implementation
    habit. Stabilisers, each off with ``None``: ``logvar_clamp`` bounds log sigma^2 to
    ``[-c, c]`` before ``exp``; ``grad_clipnorm`` rescales each gradient to at most this L2
    norm (Keras' ``clipnorm``).

    Two knobs of the loss's balance are not in the paper and are off by default:
    ``reconstruction_weight`` multiplies the reconstruction term (the summed squared error grows
    with the number of genes while the KL term does not, so a weight of 16,449 / 2,000 emulates
    the paper's gene count on a 2,000-gene file), and ``kl_warmup_epochs`` raises the KL
    term's weight linearly from 1/k to 1 over the first k epochs (a common Keras VAE habit).

    **One default deviates from the paper: ``batch_norm=True``.** The literal reading
    (:meth:`paper_reading`: no stabiliser) diverges to a non-finite loss within one or two
    epochs on the paper's 2,100 cells. The stability study (:mod:`replicate.stability`, results
    in ``results/stability/``) trained every reading in ``replicate/data/stability.toml`` with
    3 seeds each and chose, without looking at labels, the reading with the fewest departures
    from the paper's text among those where every seed trained: batch normalisation after each
    hidden layer, a common Keras VAE habit, which keeps the stated learning rate, batch size and
    epochs.
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
    reconstruction_weight: float = 1.0
    kl_warmup_epochs: int = 0
    # TensorFlow's threads per training; None: all cores (results then depend on the core count,
    # since the round-off follows how work is split). A number trains in a worker process with
    # exactly that many threads: identical results on any machine with the same CPU, and seeds
    # can train side by side (vae_latents' n_jobs).
    threads: int | None = None
    # Training steps per call into the compiled function: 1 (default) returns to Python after every
    # batch; more runs that many batches inside one XLA while loop (fewer host round trips; the
    # round-off may differ, so it is part of the cache key).
    steps_per_call: int = 1
    # Adam's first moment in bfloat16 ("bfloat16"): 24 instead of 28 bytes of optimizer traffic per
    # parameter and step, weights and the second moment stay float32 (its 0.999 decay is below
    # bfloat16's resolution: round-to-nearest would freeze it). Experimental: measured by
    # benchmarks/vae_speed.py on 2 CPU cores it was slower (the casts cost more than the bytes
    # saved) and one of three seeds' loss curves spiked; not the default, not recommended.
    optimizer_state: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_hidden", tuple(int(h) for h in self.encoder_hidden))
        object.__setattr__(self, "decoder_hidden", tuple(int(h) for h in self.decoder_hidden))
        is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        is_pos = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0  # noqa: E731
        checks = [
            ("latent_dim", self.latent_dim, is_int(self.latent_dim) and self.latent_dim >= 1, "an integer >= 1"),
            ("epochs", self.epochs, is_int(self.epochs) and self.epochs >= 1, "an integer >= 1"),
            ("batch_size", self.batch_size, is_int(self.batch_size) and self.batch_size >= 1, "an integer >= 1"),
            ("learning_rate", self.learning_rate, is_pos(self.learning_rate), "a number > 0"),
            ("reconstruction", self.reconstruction, self.reconstruction in ("sum", "mean"), "'sum' or 'mean'"),
            ("encoder_hidden", self.encoder_hidden, all(h >= 1 for h in self.encoder_hidden), "a list of positive layer sizes"),
            ("decoder_hidden", self.decoder_hidden, all(h >= 1 for h in self.decoder_hidden), "a list of positive layer sizes"),
            ("logvar_clamp", self.logvar_clamp, self.logvar_clamp is None or is_pos(self.logvar_clamp), "None or a number > 0"),
            ("grad_clipnorm", self.grad_clipnorm, self.grad_clipnorm is None or is_pos(self.grad_clipnorm), "None or a number > 0"),
            ("adam_epsilon", self.adam_epsilon, is_pos(self.adam_epsilon), "a number > 0"),
            ("activation", self.activation, self.activation in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
            ("reconstruction_weight", self.reconstruction_weight, is_pos(self.reconstruction_weight), "a number > 0"),
            ("kl_warmup_epochs", self.kl_warmup_epochs, is_int(self.kl_warmup_epochs) and self.kl_warmup_epochs >= 0,
             "an integer >= 0 (0: no warm-up)"),
            ("threads", self.threads, self.threads is None or (is_int(self.threads) and self.threads >= 1),
             "None (all cores) or an integer >= 1"),
            ("steps_per_call", self.steps_per_call, is_int(self.steps_per_call) and self.steps_per_call >= 1,
             "an integer >= 1"),
            ("optimizer_state", self.optimizer_state, self.optimizer_state in ("float32", "bfloat16"),
             "'float32' or 'bfloat16'"),
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
        extra = f", logvar clamp {self.logvar_clamp:g}" if self.logvar_clamp else ""
        extra += f", clipnorm {self.grad_clipnorm:g}" if self.grad_clipnorm else ""
        extra += f", Adam eps {self.adam_epsilon:g}" if self.adam_epsilon != 1e-7 else ""
        extra += ", batch norm" if self.batch_norm else ""
        extra += f", reconstruction x {self.reconstruction_weight:g}" if self.reconstruction_weight != 1.0 else ""
        extra += f", KL warm-up {self.kl_warmup_epochs} epochs" if self.kl_warmup_epochs else ""
        extra += f", {self.threads} thread(s)" if self.threads else ""
        extra += ", bfloat16 Adam first moment" if self.optimizer_state == "bfloat16" else ""
        return (f"enc {enc}, z {self.latent_dim}, dec {dec}, {self.activation}, {self.reconstruction} "
                f"reconstruction, lr {self.learning_rate:g}, batch {self.batch_size}, {self.epochs} epochs{extra}")

    def cache_fields(self) -> dict[str, Any]:
        """The fields that identify a training in the cache.

        Fields added after the first cache format are left out while they hold their neutral
        value, so entries trained before they existed stay valid (same training, same key).
        """
        fields = asdict(self)
        for name, neutral in _ADDED_LATER.items():
            if fields[name] == neutral:
                del fields[name]
        return fields


#: Fields added to VAEConfig after the cache format "vae-v1", with the value that means "off".
_ADDED_LATER = {"reconstruction_weight": 1.0, "kl_warmup_epochs": 0, "threads": None, "steps_per_call": 1,
                "optimizer_state": "float32"}


def config_from(params: dict[str, Any]) -> VAEConfig:
    """A :class:`VAEConfig` from a parameter dict, ignoring keys it does not know."""
    known = VAEConfig.__dataclass_fields__
    return replace(VAEConfig(), **{k: v for k, v in params.items() if k in known})


# --------------------------------------------------------------------------- the model


def elbo_terms(x: Any, x_hat: Any, mu: Any, logvar: Any, *, reconstruction: str = "sum") -> tuple[Any, Any]:
    """Per-cell reconstruction (eq. 4) and KL (eq. 5) terms of the negative ELBO (TensorFlow tensors).

    reconstruction ``"sum"``: 0.5 * sum over genes of (x - x_hat)^2; ``"mean"``: the mean over
    genes (Keras' mse). KL: -0.5 * sum over latent dimensions of (1 + log sigma^2 - mu^2 - sigma^2).
    """
    import tensorflow as tf

    sq = tf.square(x - x_hat)
    rec = 0.5 * tf.reduce_sum(sq, axis=1) if reconstruction == "sum" else tf.reduce_mean(sq, axis=1)
    kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
    return rec, kl


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


@dataclass
class VAEModel:
    """A trained encoder/decoder pair: encodes new cells, saves and loads its weights."""

    config: VAEConfig
    n_genes: int
    encoder: Any = field(repr=False)
    decoder: Any = field(repr=False)

    def encode(self, data: Any, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and (clamped, if configured) log-variance of every cell.

        ``data``: a cells x genes matrix, or an AnnData whose ``X`` is z-scored the way the
        training data were (:func:`replicate.pp.zscore`), with the same genes in the same order.
        """
        X = getattr(data, "X", data)
        if hasattr(X, "toarray"):
            X = X.toarray()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_genes:
            raise ParameterError(f"this VAE was trained on {self.n_genes} genes; the cells to encode have shape "
                                 f"{X.shape}. Give the same genes, in the same order, z-scored the same way.")
        # direct calls rather than predict(): no tf.data pipeline (and none of its log noise)
        parts = [self.encoder(X[b : b + batch_size], training=False) for b in range(0, X.shape[0], batch_size)]
        mu = np.concatenate([np.asarray(p[0]) for p in parts])
        logvar = np.concatenate([np.asarray(p[1]) for p in parts])
        if self.config.logvar_clamp is not None:
            logvar = np.clip(logvar, -self.config.logvar_clamp, self.config.logvar_clamp)
        return mu, logvar

    def loss_terms(self, X: Any, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell reconstruction and KL terms for noise ``eps`` (inference mode: batch norm uses its averages)."""
        X = np.asarray(X, dtype=np.float32)
        mu, logvar = self.encode(X)
        x_hat = self.decoder(mu + np.exp(0.5 * logvar) * np.asarray(eps, np.float32), training=False)
        rec, kl = elbo_terms(X, x_hat, mu, logvar, reconstruction=self.config.reconstruction)
        return np.asarray(rec), np.asarray(kl)

    def weights(self) -> dict[str, np.ndarray]:
        """Every weight (trainable or not, e.g. batch-norm averages) as named arrays."""
        out = {f"enc_{i:03d}": w for i, w in enumerate(self.encoder.get_weights())}
        out.update({f"dec_{i:03d}": w for i, w in enumerate(self.decoder.get_weights())})
        return out

    @classmethod
    def from_weights(cls, config: VAEConfig, n_genes: int, weights: dict[str, np.ndarray]) -> VAEModel:
        """Rebuild the networks and set the arrays written by :meth:`weights`."""
        encoder, decoder = _build(n_genes, config)
        encoder.set_weights([weights[k] for k in sorted(weights) if k.startswith("enc_")])
        decoder.set_weights([weights[k] for k in sorted(weights) if k.startswith("dec_")])
        return cls(config, n_genes, encoder, decoder)

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
    model: VAEModel | None = field(default=None, repr=False)  # after training, or from a cache entry's weights

    @property
    def collapsed(self) -> bool:
        """True when the latent carries no information: KL ~ 0 and every mean ~ 0."""
        kl = self.history.get("kl", [np.nan])[-1]
        return bool(kl < 1e-2 or float(np.abs(self.mu).max()) < 1e-3)


# --------------------------------------------------------------------------- training


def train_vae(X: np.ndarray, config: VAEConfig | None = None, *, seed: int = 0, verbose: bool = True) -> VAEResult:
    """Train one VAE on the z-scored matrix ``X`` (cells x genes) and return its latents.

    Deterministic on a given CPU: the seed fixes the weights, the shuffling and the noise, and
    TensorFlow's op determinism is switched on. A non-finite loss stops training with
    :class:`~replicate.errors.TrainingError` naming the epoch and the reading. With ``verbose``,
    progress goes to :func:`replicate.progress.report` (at most every few seconds).
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
    variables = encoder.trainable_variables + decoder.trainable_variables
    if cfg.optimizer_state == "float32":
        optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_epsilon,
                                          clipnorm=cfg.grad_clipnorm)
        optimizer.build(variables)
        apply_gradients = lambda grads: optimizer.apply_gradients(zip(grads, variables))  # noqa: E731
    else:
        apply_gradients = _adam_bf16_first_moment(variables, cfg)
    clamp = cfg.logvar_clamp
    weighted = cfg.reconstruction_weight != 1.0 or cfg.kl_warmup_epochs > 0
    data = tf.constant(X)  # on the GPU when there is one; batches are gathered there
    totals = tf.Variable(tf.zeros(2), trainable=False)  # summed (rec, KL), read once per epoch
    # loss weights (reconstruction, KL); only read by the step when a reading changes them
    balance = tf.Variable([float(cfg.reconstruction_weight), 1.0], trainable=False)

    def body(idx: Any, eps: Any) -> None:
        x = tf.gather(data, idx)
        with tf.GradientTape() as tape:
            mu, logvar = encoder(x, training=True)
            if clamp is not None:
                logvar = tf.clip_by_value(logvar, -clamp, clamp)
            z = mu + tf.exp(0.5 * logvar) * eps
            x_hat = decoder(z, training=True)
            rec, kl = elbo_terms(x, x_hat, mu, logvar, reconstruction=cfg.reconstruction)
            loss = tf.reduce_mean(balance[0] * rec + balance[1] * kl) if weighted else tf.reduce_mean(rec + kl)
        grads = tape.gradient(loss, variables)
        apply_gradients(grads)
        totals.assign_add(tf.stack([tf.reduce_sum(rec), tf.reduce_sum(kl)]))

    step = tf.function(body, jit_compile=cfg.xla, reduce_retracing=True)

    @tf.function(jit_compile=cfg.xla, reduce_retracing=True)
    def block(idx: Any, eps: Any) -> None:  # steps_per_call batches in one compiled loop
        for i in tf.range(tf.shape(idx)[0]):
            body(idx[i], eps[i])

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    history: dict[str, list[float]] = {"loss": [], "reconstruction": [], "kl": [], "seconds": []}
    start = time.perf_counter()
    say = progress.Throttle(5.0)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        if cfg.kl_warmup_epochs:
            balance.assign([float(cfg.reconstruction_weight), min(1.0, epoch / cfg.kl_warmup_epochs)])
        order = rng.permutation(n).astype(np.int32)
        eps_all = rng.standard_normal((n, cfg.latent_dim)).astype(np.float32)
        totals.assign(tf.zeros(2))
        b = 0
        if cfg.steps_per_call > 1:
            per = cfg.batch_size * cfg.steps_per_call
            for b in range(0, n - n % per, per):
                block(tf.constant(order[b : b + per].reshape(cfg.steps_per_call, cfg.batch_size)),
                      tf.constant(eps_all[b : b + per].reshape(cfg.steps_per_call, cfg.batch_size, -1)))
            b = n - n % per
        for b in range(b, n, cfg.batch_size):
            step(tf.constant(order[b : b + cfg.batch_size]), tf.constant(eps_all[b : b + cfg.batch_size]))
        rec, kl = (float(v) / n for v in totals.numpy())
        history["reconstruction"].append(rec)
        history["kl"].append(kl)
        history["loss"].append(rec + kl)  # the unweighted negative ELBO, whatever the balance
        history["seconds"].append(time.perf_counter() - t0)
        if not np.isfinite(rec + kl):
            err = TrainingError(
                f"VAE training diverged at epoch {epoch}/{cfg.epochs} (seed {seed}): loss is {rec + kl} "
                f"(reconstruction {rec}, KL {kl}). Reading: {cfg.describe()}. Try a smaller learning_rate, "
                "logvar_clamp, or clipping the z-scores."
            )
            err.epoch, err.history = epoch, history
            raise err
        if verbose and say(force=epoch in (1, cfg.epochs)):
            progress.report(f"VAE seed {seed}: epoch {epoch}/{cfg.epochs}, loss {rec + kl:.2f} "
                            f"(reconstruction {rec:.2f}, KL {kl:.2f}), {history['seconds'][-1]:.1f} s/epoch")
    model = VAEModel(cfg, X.shape[1], encoder, decoder)
    mu, logvar = model.encode(X)
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise TrainingError(f"VAE (seed {seed}) produced non-finite latents. Reading: {cfg.describe()}.")
    result = VAEResult(mu=mu, logvar=logvar, history=history, seconds=time.perf_counter() - start, model=model)
    if result.collapsed and verbose:
        progress.report(f"VAE seed {seed}: the latent space COLLAPSED (final KL {history['kl'][-1]:.3g} per cell, "
                        f"max |mu| {np.abs(result.mu).max():.3g}); its clustering is meaningless.")
    return result


def _adam_bf16_first_moment(variables: list[Any], cfg: VAEConfig) -> Any:
    """Keras 3's Adam update (same formula, clipnorm per variable) with the first moment stored in
    bfloat16; returns ``apply(grads)`` for use inside the compiled step."""
    import tensorflow as tf

    b1, b2 = 0.9, 0.999  # Keras' defaults, as the float32 path uses
    m = [tf.Variable(tf.zeros(v.shape, tf.bfloat16), trainable=False) for v in variables]
    s = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in variables]
    step = tf.Variable(0.0, trainable=False)

    def apply(grads: list[Any]) -> None:
        step.assign_add(1.0)
        alpha = cfg.learning_rate * tf.sqrt(1.0 - tf.pow(b2, step)) / (1.0 - tf.pow(b1, step))
        for var, g, m_, s_ in zip(variables, grads, m, s):
            if cfg.grad_clipnorm:
                g = tf.clip_by_norm(g, cfg.grad_clipnorm)
            m32 = tf.cast(m_, tf.float32)
            m32 = m32 + (g - m32) * (1.0 - b1)
            s32 = s_ + (tf.square(g) - s_) * (1.0 - b2)
            m_.assign(tf.cast(m32, tf.bfloat16))
            s_.assign(s32)
            var.assign_sub(m32 * alpha / (tf.sqrt(s32) + cfg.adam_epsilon))

    return apply


# --------------------------------------------------------------------------- the cache


def _entry(data_key: str, cfg: VAEConfig, seed: int) -> tuple[Path, Path]:
    """(latents file, weights file) of the cache entry of one training."""
    key = store.content_key("vae-v1", data_key, cfg.cache_fields(), int(seed))
    folder = store.cache_dir() / "vae"
    return folder / f"{key}.npz", folder / f"{key}.weights.npz"


def _worker_init(threads: int) -> None:
    """A training process: exactly ``threads`` TensorFlow threads (set before TensorFlow starts)."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _train_in_worker(X: np.ndarray, cfg: VAEConfig, seed: int, verbose: bool, keep_weights: bool) -> dict[str, Any]:
    res = train_vae(X, cfg, seed=seed, verbose=verbose)
    return {"mu": res.mu, "logvar": res.logvar, "history": res.history, "seconds": res.seconds,
            "weights": res.model.weights() if keep_weights else None}


def vae_latents(
    X: np.ndarray,
    config: VAEConfig | None = None,
    *,
    seeds: list[int] | tuple[int, ...] = (0,),
    cache: bool = True,
    verbose: bool = True,
    keep_weights: bool = True,
    n_jobs: int = 1,
    skip_diverged: bool = False,
) -> list[VAEResult | None]:
    """Train one VAE per seed, reusing cached latents keyed by (data hash, config, seed).

    A cache entry is written atomically once its training has finished -- the weights first
    (with ``keep_weights``), then the latents -- so an interrupted run never leaves an entry a
    later run would trust. Results from the cache have ``cached=True`` and no ``model``; use
    :func:`fit` for a model.

    With ``config.threads`` set, trainings run in worker processes with exactly that many
    TensorFlow threads, ``n_jobs`` of them at once (on 2 cores: ``threads=1, n_jobs=2``); the
    results are identical to training the seeds one by one with the same ``threads``.

    A seed whose training diverges raises :class:`~replicate.errors.TrainingError`, or, with
    ``skip_diverged``, gives ``None`` in its place (the other seeds go on; studies record it).
    """
    cfg = config or VAEConfig()
    X = np.ascontiguousarray(X, dtype=np.float32)
    data_key = store.array_hash(X)
    results: dict[int, VAEResult] = {}
    missing = []
    for seed in seeds:
        path, _ = _entry(data_key, cfg, seed)
        hit = store.load_npz(path) if cache else None
        if hit is not None:
            hist = {k[5:]: hit[k].tolist() for k in hit if k.startswith("hist_")}
            results[seed] = VAEResult(hit["mu"], hit["logvar"], hist, float(hit["seconds"]), cached=True)
            if verbose:
                progress.report(f"VAE seed {seed}: latents from the cache")
        else:
            missing.append(int(seed))

    def keep(seed: int, res: VAEResult, weights: dict[str, np.ndarray] | None) -> None:
        path, weights_path = _entry(data_key, cfg, seed)
        if cache:
            if keep_weights and weights is not None:
                store.save_npz(weights_path, **weights)
            store.save_npz(path, mu=res.mu, logvar=res.logvar, seconds=np.array(res.seconds),
                           **{f"hist_{k}": np.asarray(v) for k, v in res.history.items()})
        results[seed] = res

    if missing and cfg.threads is None:
        if n_jobs != 1:
            raise ParameterError("n_jobs > 1 needs config.threads (the threads per training), e.g. threads=1.")
        for seed in missing:
            try:
                res = train_vae(X, cfg, seed=seed, verbose=verbose)
            except TrainingError:
                if not skip_diverged:
                    raise
                results[seed] = None
                continue
            keep(seed, res, res.model.weights() if keep_weights else None)
    elif missing:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")  # a fresh TensorFlow per worker, started with its thread count
        with ProcessPoolExecutor(max_workers=max(1, n_jobs), mp_context=ctx, initializer=_worker_init,
                                 initargs=(cfg.threads,)) as pool:
            futures = {pool.submit(_train_in_worker, X, cfg, seed, verbose, keep_weights): seed for seed in missing}
            for future in as_completed(futures):
                try:
                    out = future.result()
                except TrainingError:
                    if not skip_diverged:
                        raise
                    results[futures[future]] = None
                    continue
                res = VAEResult(out["mu"], out["logvar"], out["history"], out["seconds"])
                keep(futures[future], res, out["weights"])
    return [results[int(s)] for s in seeds]


def fit(X: np.ndarray, config: VAEConfig | None = None, *, seed: int = 0, use_cache: bool = True,
        verbose: bool = True) -> VAEResult:
    """One training, through the cache, **with** its model (rebuilt from the cached weights).

    A cache entry written before weights were stored is trained again (deterministic: the same
    latents) and its weights are added.
    """
    cfg = config or VAEConfig()
    (res,) = vae_latents(X, cfg, seeds=[seed], cache=use_cache, verbose=verbose)
    if res.model is not None:
        return res
    _, weights_path = _entry(store.array_hash(np.ascontiguousarray(X, dtype=np.float32)), cfg, seed)
    weights = store.load_npz(weights_path)
    if weights is not None:
        res.model = VAEModel.from_weights(cfg, int(np.shape(X)[1]), weights)
        return res
    trained = train_vae(X, cfg, seed=int(seed), verbose=verbose)
    store.save_npz(weights_path, **trained.model.weights())
    res.model = trained.model
    return res
