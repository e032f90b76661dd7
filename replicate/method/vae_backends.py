"""The VAE's training on Keras 3's other backends -- JAX and PyTorch -- and which engine and device train.

``KERAS_BACKEND`` (read when Keras is first imported) selects the engine:

- ``tensorflow`` (the default): :mod:`replicate.method.vae_train`'s compiled TensorFlow steps, whose
  numbers the committed study holds;
- ``jax``: an epoch is one jitted ``lax.scan`` over its batches, through Keras' stateless calls of the
  networks and its stateless Adam (:func:`jax_epochs`);
- ``torch``: eager steps, autograd and Keras' Adam (:func:`torch_epochs`).

Each uses a GPU when its framework sees one. Every engine runs the same networks
(:func:`~replicate.method.vae_model.build_networks`), the same loss
(:func:`~replicate.method.vae_model.elbo_terms`, written with ``keras.ops``), the same order of cells and
the same sampling noise (one NumPy generator, drawn by the trainer); the weights' initial values come
from each backend's own random generator, so one seed trains another network on another engine, as on
another CPU family: engines agree within the spread of seeds, not bit for bit. The latent store keys a
training by its engine and device (:func:`engine`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from importlib import metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..io.errors import ParameterError
from .vae_config import VAEConfig
from .vae_model import elbo_terms, sample_and_loss

__all__ = ["BACKENDS", "requested", "engine", "epochs", "jax_epochs", "torch_epochs"]

#: The Keras backends that train the VAE, and the package each needs.
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
_INSTALL = {"tensorflow": "pip install tensorflow-cpu (or tensorflow[and-cuda] for an NVIDIA GPU)",
            "jax": "pip install jax (CPU), or jax[cuda12] for an NVIDIA GPU",
            "torch": "pip install torch (the CPU build: --index-url https://download.pytorch.org/whl/cpu)"}

#: ``(params, order, eps, balance) -> (reconstruction sum, KL sum)`` over one epoch's batches.
Epoch = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def requested() -> str:
    """The backend Keras will use: ``$KERAS_BACKEND``, else ``~/.keras/keras.json``, else TensorFlow; a
    :class:`~replicate.io.errors.ParameterError` naming the install command when it is unknown or missing."""
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
        try:
            name = json.loads(config.read_text()).get("backend")
        except (OSError, ValueError):
            name = None
    name = name or "tensorflow"
    if name not in BACKENDS:
        raise ParameterError(f"KERAS_BACKEND = {name!r} cannot train the VAE: use one of {', '.join(BACKENDS)}.")
    if importlib.util.find_spec(BACKENDS[name]) is None:
        raise ParameterError(f"KERAS_BACKEND = {name!r} but {BACKENDS[name]} is not installed in this environment: "
                             f"{_INSTALL[name]}; or unset KERAS_BACKEND for TensorFlow.")
    return name


def _cpu_only_tensorflow() -> bool:
    """True when the TensorFlow installed is the CPU build (``tensorflow-cpu``): no GPU to look for."""
    try:
        metadata.version("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        return False
    return True


def engine() -> dict[str, str]:
    """``{"backend": ..., "device": "cpu" | "gpu"}``: what trains a VAE in this process (TensorFlow's CPU build
    is recognised without importing it, so a cache lookup stays fast)."""
    name = requested()
    if name == "tensorflow":
        if _cpu_only_tensorflow():
            return {"backend": name, "device": "cpu"}
        import tensorflow as tf

        gpu = bool(tf.config.list_physical_devices("GPU"))
    elif name == "jax":
        import jax

        gpu = jax.default_backend() == "gpu"
    else:
        import torch

        gpu = torch.cuda.is_available()
    return {"backend": name, "device": "gpu" if gpu else "cpu"}


def epochs(backend: str, X: np.ndarray, encoder: Any, decoder: Any, cfg: VAEConfig) -> tuple[Epoch, Callable[[], None]]:
    """``(epoch, finish)`` for the JAX or PyTorch engine: ``epoch(order, eps, balance)`` trains one pass and
    returns the summed (reconstruction, KL); ``finish()`` leaves the trained values in the Keras networks."""
    if cfg.optimizer_state != "float32" or cfg.steps_per_call != 1:  # ``xla``: JAX always compiles, torch never
        raise ParameterError(f"optimizer_state = {cfg.optimizer_state!r} and steps_per_call = {cfg.steps_per_call} "
                             f"are options of the TensorFlow engine; on {backend} leave them at 'float32' and 1.")
    return (jax_epochs if backend == "jax" else torch_epochs)(X, encoder, decoder, cfg)


def _adam(cfg: VAEConfig, variables: list[Any]) -> Any:
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_epsilon,
                                      clipnorm=cfg.grad_clipnorm)
    optimizer.build(variables)
    return optimizer


def jax_epochs(X: np.ndarray, encoder: Any, decoder: Any, cfg: VAEConfig) -> tuple[Epoch, Callable[[], None]]:
    """The JAX engine: each epoch one jitted scan over its full batches (and one step for the rest)."""
    import jax
    import jax.numpy as jnp

    nets = (encoder, decoder)
    optimizer = _adam(cfg, encoder.trainable_variables + decoder.trainable_variables)
    split = len(encoder.trainable_variables)
    state = [[v.value for v in net.trainable_variables] for net in nets] + \
            [[v.value for v in net.non_trainable_variables] for net in nets] + [[v.value for v in optimizer.variables]]
    data = jnp.asarray(X)

    def loss(trainable: tuple, frozen: tuple, x: Any, eps: Any, balance: Any) -> tuple[Any, tuple]:
        (mu, logvar), enc_frozen = encoder.stateless_call(trainable[0], frozen[0], x, training=True)
        if cfg.logvar_clamp is not None:
            logvar = jnp.clip(logvar, -cfg.logvar_clamp, cfg.logvar_clamp)
        x_hat, dec_frozen = decoder.stateless_call(trainable[1], frozen[1], mu + jnp.exp(0.5 * logvar) * eps,
                                                   training=True)
        rec, kl = elbo_terms(x, x_hat, mu, logvar, reconstruction=cfg.reconstruction)
        return jnp.mean(balance[0] * rec + balance[1] * kl), ((enc_frozen, dec_frozen), jnp.stack([rec.sum(), kl.sum()]))

    grad = jax.value_and_grad(loss, has_aux=True)

    @jax.jit
    def scan(trainable: tuple, frozen: tuple, opt_state: list, cells: Any, idx: Any, eps: Any, balance: Any) -> tuple:
        def step(carry: tuple, batch: tuple) -> tuple[tuple, None]:
            trainable, frozen, opt_state, sums = carry
            (_, (frozen, terms)), grads = grad(trainable, frozen, cells[batch[0]], batch[1], balance)
            flat, opt_state = optimizer.stateless_apply(opt_state, [*grads[0], *grads[1]],
                                                        [*trainable[0], *trainable[1]])
            return ((flat[:split], flat[split:]), frozen, opt_state, sums + terms), None

        carry, _ = jax.lax.scan(step, (trainable, frozen, opt_state, jnp.zeros(2)), (idx, eps))
        return carry  # the data are an argument, not a constant folded into the compiled program

    def epoch(order: np.ndarray, eps: np.ndarray, balance: np.ndarray) -> np.ndarray:
        nonlocal state
        with jax.default_matmul_precision("float32"):  # full float32 products on a GPU too (no TF32), as on a CPU
            return _scanned(order, eps, balance)

    def _scanned(order: np.ndarray, eps: np.ndarray, balance: np.ndarray) -> np.ndarray:
        nonlocal state
        trainable, frozen, opt_state = (state[0], state[1]), (state[2], state[3]), state[4]
        full, bs, total = len(order) - len(order) % cfg.batch_size, cfg.batch_size, np.zeros(2)
        for lo, hi in ((0, full), (full, len(order))):
            if hi > lo:
                k = (hi - lo) // bs if hi == full else 1
                trainable, frozen, opt_state, sums = scan(
                    trainable, frozen, opt_state, data, jnp.asarray(order[lo:hi].reshape(k, -1)),
                    jnp.asarray(eps[lo:hi].reshape(k, hi - lo if k == 1 else bs, -1)), jnp.asarray(balance))
                total += np.asarray(sums)
        state = [list(trainable[0]), list(trainable[1]), list(frozen[0]), list(frozen[1]), list(opt_state)]
        return total

    def finish() -> None:
        for net, values, frozen in zip(nets, state[:2], state[2:4]):
            for v, value in zip(net.trainable_variables, values):
                v.assign(value)
            for v, value in zip(net.non_trainable_variables, frozen):
                v.assign(value)

    return epoch, finish


def torch_epochs(X: np.ndarray, encoder: Any, decoder: Any, cfg: VAEConfig) -> tuple[Epoch, Callable[[], None]]:
    """The PyTorch engine: eager steps on Keras' device, gradients by autograd, Keras' Adam."""
    import torch
    from keras import ops

    variables = encoder.trainable_variables + decoder.trainable_variables
    optimizer = _adam(cfg, variables)
    data = ops.convert_to_tensor(X)
    device = data.device

    def epoch(order: np.ndarray, eps: np.ndarray, balance: np.ndarray) -> np.ndarray:
        sums = torch.zeros(2, device=device)
        weights = torch.as_tensor(balance, device=device)
        for lo in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[lo:lo + cfg.batch_size], device=device, dtype=torch.long)
            noise = torch.as_tensor(eps[lo:lo + cfg.batch_size], device=device)
            rec, kl = sample_and_loss(encoder, decoder, data[idx], noise, cfg, training=True)
            for v in variables:
                v.value.grad = None
            torch.mean(weights[0] * rec + weights[1] * kl).backward()
            with torch.no_grad():
                optimizer.apply([v.value.grad for v in variables], variables)
                sums += torch.stack([rec.sum(), kl.sum()])
        return sums.cpu().numpy().astype(np.float64)

    return epoch, lambda: None
