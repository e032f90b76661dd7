"""Training one VAE: the paper's loop (Adam, batches of 16, 30 epochs); on TensorFlow as compiled steps.

Deterministic on a given CPU: the seed fixes the weights, the shuffling and the sampling noise,
and TensorFlow's op determinism is switched on. Each step calls the model's own
:func:`~replicate.method.vae_model.sample_and_loss`. The engine is the one ``KERAS_BACKEND`` names
(:mod:`replicate.method.vae_backends`: JAX and PyTorch beside the default TensorFlow); the loop around it
-- shuffling, noise, loss balance, history, divergence -- is this module's for every engine. The
cached, many-seed entry point is :func:`replicate.method.latents.latents`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io import progress
from ..io.errors import ParameterError, TrainingError
from . import vae_backends
from .vae_config import VAEConfig
from .vae_model import VAEModel, build_networks, sample_and_loss

__all__ = ["VAEResult", "train"]


@dataclass
class VAEResult:
    """What one training returns: latent mean and log-variance per cell, and the loss history."""

    mu: np.ndarray
    logvar: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    model: VAEModel | None = field(default=None, repr=False)  # after training, or lazily from the cache

    @property
    def collapsed(self) -> bool:
        """True when the latent carries no information: KL ~ 0 and every mean ~ 0."""
        kl = self.history.get("kl", [np.nan])[-1]
        return bool(kl < 1e-2 or float(np.abs(self.mu).max()) < 1e-3)


def _optimizer_step(variables: list[Any], cfg: VAEConfig) -> Any:
    """``apply(grads)``: Keras' Adam, or the same update with a bfloat16 first moment."""
    import keras

    if cfg.optimizer_state == "bfloat16":
        return _adam_bf16_first_moment(variables, cfg)
    optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_epsilon,
                                      clipnorm=cfg.grad_clipnorm)
    optimizer.build(variables)
    return lambda grads: optimizer.apply_gradients(zip(grads, variables))


def _compiled_steps(X: np.ndarray, encoder: Any, decoder: Any, cfg: VAEConfig) -> tuple[Any, Any, Any, Any]:
    """(one batch, ``steps_per_call`` batches, the summed (rec, KL) variable, the loss-balance variable)."""
    import tensorflow as tf

    variables = encoder.trainable_variables + decoder.trainable_variables
    apply_gradients = _optimizer_step(variables, cfg)
    weighted = cfg.reconstruction_weight != 1.0 or cfg.kl_warmup_epochs > 0
    data = tf.constant(X)  # on the GPU when there is one; batches are gathered there
    totals = tf.Variable(tf.zeros(2), trainable=False)  # summed (rec, KL), read once per epoch
    # loss weights (reconstruction, KL); only read by the step when a reading changes them
    balance = tf.Variable([float(cfg.reconstruction_weight), 1.0], trainable=False)

    def body(idx: Any, eps: Any) -> None:
        x = tf.gather(data, idx)
        with tf.GradientTape() as tape:
            rec, kl = sample_and_loss(encoder, decoder, x, eps, cfg, training=True)
            loss = tf.reduce_mean(balance[0] * rec + balance[1] * kl) if weighted else tf.reduce_mean(rec + kl)
        grads = tape.gradient(loss, variables)
        apply_gradients(grads)
        totals.assign_add(tf.stack([tf.reduce_sum(rec), tf.reduce_sum(kl)]))

    step = tf.function(body, jit_compile=cfg.xla, reduce_retracing=True)

    @tf.function(jit_compile=cfg.xla, reduce_retracing=True)
    def block(idx: Any, eps: Any) -> None:  # steps_per_call batches in one compiled loop
        for i in tf.range(tf.shape(idx)[0]):
            body(idx[i], eps[i])

    return step, block, totals, balance


def _epoch(order: np.ndarray, eps_all: np.ndarray, cfg: VAEConfig, step: Any, block: Any, totals: Any) -> np.ndarray:
    """One pass over the cells in the order ``order`` with the noise ``eps_all``: the summed (reconstruction, KL)."""
    import tensorflow as tf

    n = len(order)
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
    return totals.numpy().astype(np.float64)


def _tensorflow_epochs(X: np.ndarray, encoder: Any, decoder: Any, cfg: VAEConfig) -> tuple[Any, Any]:
    """The TensorFlow engine, as :mod:`replicate.method.vae_backends`' others: ``(epoch, finish)``."""
    step, block, totals, balance = _compiled_steps(X, encoder, decoder, cfg)

    def epoch(order: np.ndarray, eps: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if cfg.kl_warmup_epochs:
            balance.assign([float(w) for w in weights])
        return _epoch(order, eps, cfg, step, block, totals)

    return epoch, lambda: None


def _diverged(epoch: int, rec: float, kl: float, cfg: VAEConfig, seed: int, history: dict[str, list[float]]) -> TrainingError:
    err = TrainingError(
        f"VAE training diverged at epoch {epoch}/{cfg.epochs} (seed {seed}): loss is {rec + kl} "
        f"(reconstruction {rec}, KL {kl}). Reading: {cfg.describe()}. Try a smaller learning_rate, "
        "logvar_clamp, or clipping the z-scores."
    )
    err.epoch, err.history = epoch, history
    return err


def train(X: np.ndarray, config: VAEConfig | None = None, *, seed: int = 0, verbose: bool = True) -> VAEResult:
    """Train one VAE on the z-scored matrix ``X`` (cells x genes) and return its latents and model.

    On the engine ``KERAS_BACKEND`` names (:mod:`replicate.method.vae_backends`: TensorFlow by default,
    JAX or PyTorch), on a GPU when it sees one. Deterministic on a given CPU: the seed fixes the weights,
    the shuffling and the noise, and TensorFlow's op determinism is switched on. A non-finite loss stops
    training with :class:`~replicate.io.errors.TrainingError` naming the epoch and the reading. With
    ``verbose``, progress goes to :func:`replicate.io.progress.report` (at most every few seconds).
    """
    cfg = config or VAEConfig()
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ParameterError(f"X must be a cells x genes matrix with at least 2 cells, got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ParameterError("X contains NaN or inf; preprocess the data first.")
    backend = vae_backends.requested()
    import keras

    keras.utils.set_random_seed(int(seed))
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    encoder, decoder = build_networks(X.shape[1], cfg)
    run, finish = (_tensorflow_epochs if backend == "tensorflow"
                   else lambda *a: vae_backends.epochs(backend, *a))(X, encoder, decoder, cfg)
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "reconstruction": [], "kl": [], "seconds": []}
    start, say, n = time.perf_counter(), progress.Throttle(5.0), X.shape[0]
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n).astype(np.int32)
        eps = rng.standard_normal((n, cfg.latent_dim)).astype(np.float32)
        warm = min(1.0, epoch / cfg.kl_warmup_epochs) if cfg.kl_warmup_epochs else 1.0
        rec, kl = (float(v) / n for v in run(order, eps, np.array([cfg.reconstruction_weight, warm], np.float32)))
        for name, value in (("reconstruction", rec), ("kl", kl), ("loss", rec + kl), ("seconds", time.perf_counter() - t0)):
            history[name].append(value)  # loss: the unweighted negative ELBO, whatever the balance
        if not np.isfinite(rec + kl):
            raise _diverged(epoch, rec, kl, cfg, seed, history)
        if verbose and say(force=epoch in (1, cfg.epochs)):
            progress.report(f"VAE seed {seed}: epoch {epoch}/{cfg.epochs}, loss {rec + kl:.2f} "
                            f"(reconstruction {rec:.2f}, KL {kl:.2f}), {history['seconds'][-1]:.1f} s/epoch")
    finish()
    return _finish(X, cfg, seed, encoder, decoder, history, time.perf_counter() - start, verbose)


def _finish(X: np.ndarray, cfg: VAEConfig, seed: int, encoder: Any, decoder: Any, history: dict[str, list[float]],
            seconds: float, verbose: bool) -> VAEResult:
    model = VAEModel(cfg, X.shape[1], networks=(encoder, decoder))
    mu, logvar = model.encode(X, check=False)  # the training cells themselves
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise TrainingError(f"VAE (seed {seed}) produced non-finite latents. Reading: {cfg.describe()}.")
    result = VAEResult(mu=mu, logvar=logvar, history=history, seconds=seconds, model=model)
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

