"""The latent store: one VAE per (data, configuration, seed), trained once and cached.

:func:`latents` is the one cached entry point: every study, section and ``rp.tl.vae`` gets its
VAEs here. An entry is keyed by the z-scored matrix's hash, the configuration's fields, the
seed, the source of the training code (:data:`TRAINING_CODE`: an edit there trains every VAE
again, an edit anywhere else reuses them), the CPU family and the kernels in effect (an AVX-512 machine
trains other VAEs than an AVX2 one, so a cache folder shared between machines never hands one family's
training to the other) and, for any engine but TensorFlow on the CPU, the engine and device
(:func:`replicate.method.vae_backends.engine`: they train other networks from one seed), and written
atomically once its training has finished -- the weights first, then the latents -- so an interrupted run
never leaves an entry a later run would trust. Every result
carries a model; from the cache, its networks are built from the stored weights only when it
first encodes (an entry stored without weights is trained again then: deterministic, the same
latents).

Inside a step of the study graph (``REPLICATE_STEP`` set by ``replicate rebuild``), each VAE asked for is noted
in the cache folder's :data:`LEDGER` -- trained, or served from an earlier training -- so a rebuild can count
the trainings the store saved, step by step (:func:`ledger`).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from ..io import numerics, progress, provenance, store
from ..io.errors import ParameterError, TrainingError
from . import vae_backends
from .vae_config import VAEConfig
from .vae_model import VAEModel
from .vae_train import VAEResult, train

__all__ = ["latents", "divergence", "entry_paths", "ledger", "LEDGER", "STEP_VARIABLE", "TRAINING_CODE",
           "training_code_hash"]

#: The format of a cache entry's key (its fields: :meth:`VAEConfig.cache_fields`).
KEY_VERSION = "vae-v1"
#: The modules whose source makes a training: a cache entry is keyed by their bytes.
TRAINING_CODE = ("vae_config.py", "vae_model.py", "vae_train.py", "vae_backends.py")
#: The engine whose trainings are keyed without naming it (the committed study's).
DEFAULT_ENGINE = {"backend": "tensorflow", "device": "cpu"}
#: The file in the cache folder noting each VAE a study step asked for: step, outcome, entry, seconds.
LEDGER = "vae-ledger.tsv"
#: The variable naming the study step a process works for (set by ``replicate rebuild``; unset: nothing noted).
STEP_VARIABLE = "REPLICATE_STEP"
#: The ledger's columns; ``outcome`` is "trained" (or "diverged") or "cached" (served from an earlier training).
LEDGER_COLUMNS = ("step", "outcome", "entry", "seconds")


@functools.cache
def _family() -> str:
    return provenance.machine()["family"]


def training_code_hash() -> str:
    """SHA-256 of the :data:`TRAINING_CODE` files' bytes, in that order."""
    h = hashlib.sha256()
    for name in TRAINING_CODE:
        h.update(Path(__file__).with_name(name).read_bytes())
    return h.hexdigest()


def entry_paths(X: np.ndarray, cfg: VAEConfig, seed: int) -> tuple[Path, Path]:
    """(latents file, weights file) of the cache entry of one training on the z-scored matrix ``X``."""
    return _entry(store.array_hash(np.ascontiguousarray(X, dtype=np.float32)), cfg, seed)


def _entry(data_key: str, cfg: VAEConfig, seed: int) -> tuple[Path, Path]:
    parts: list[Any] = [KEY_VERSION, training_code_hash(), numerics.effective(), _family(), data_key,
                       cfg.cache_fields(), int(seed)]
    where = vae_backends.engine()
    if where != DEFAULT_ENGINE:  # another engine or device trains another network from the same seed
        parts.append(where)
    key = store.content_key(*parts)
    folder = store.cache_dir() / "vae"
    return folder / f"{key}.npz", folder / f"{key}.weights.npz"


def _note(outcome: str, path: Path, seconds: float = float("nan")) -> None:
    """One line of the :data:`LEDGER` for the step this process works for (none outside a step)."""
    step = os.environ.get(STEP_VARIABLE, "")
    if not step:
        return
    folder = store.cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # one short line per write, opened for appending: lines of processes writing at once do not interleave
    with open(folder / LEDGER, "a", encoding="utf-8") as f:
        f.write(f"{step}\t{outcome}\t{path.name.split('.')[0]}\t{seconds:.1f}\n")


def ledger(since: int = 0, step: str | None = None) -> list[dict[str, str]]:
    """The :data:`LEDGER`'s lines from byte ``since`` on (of ``step`` only, when given), as dicts of
    :data:`LEDGER_COLUMNS`; empty when there is none."""
    path = store.cache_dir() / LEDGER
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        f.seek(since)
        rows = [dict(zip(LEDGER_COLUMNS, line)) for line in csv.reader(f, delimiter="\t") if len(line) == 4]
    return [r for r in rows if step is None or r["step"] == step]


def _worker_init(threads: int) -> None:
    """A training process: exactly ``threads`` threads of its engine (set before the framework starts)."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    backend = vae_backends.requested()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)


def _train_in_worker(X: np.ndarray, cfg: VAEConfig, seed: int, verbose: bool) -> dict[str, Any]:
    res = train(X, cfg, seed=seed, verbose=verbose)
    return {"mu": res.mu, "logvar": res.logvar, "history": res.history, "seconds": res.seconds,
            "weights": res.model.weights()}


def _weights_loader(X: np.ndarray, cfg: VAEConfig, seed: int, weights_path: Path) -> Any:
    """The weights of a cache entry, loaded when first needed; trained again (and stored) if missing."""
    def load() -> dict[str, np.ndarray]:
        weights = store.load_npz(weights_path)
        if weights is None:
            res = train(X, cfg, seed=int(seed), verbose=False)
            weights = res.model.weights()
            store.save_npz(weights_path, **weights)
            _note("trained", weights_path, res.seconds)
        return weights

    return load


def _diverged_error(hit: dict[str, np.ndarray], seed: int) -> TrainingError:
    err = TrainingError(str(hit["message"]))
    err.epoch = int(hit["diverged_epoch"])
    err.history = {k[5:]: hit[k].tolist() for k in hit if k.startswith("hist_")}
    return err


def _from_cache(X: np.ndarray, cfg: VAEConfig, seed: int, data_key: str) -> VAEResult | TrainingError | None:
    """The cached training: its result, the :class:`TrainingError` of a training that diverged, or None."""
    path, weights_path = _entry(data_key, cfg, seed)
    hit = store.load_npz(path)
    if hit is None:
        return None
    if "diverged_epoch" in hit:  # diverged before: not trained again to diverge again
        return _diverged_error(hit, seed)
    hist = {k[5:]: hit[k].tolist() for k in hit if k.startswith("hist_")}
    model = VAEModel(cfg, X.shape[1], weights=_weights_loader(X, cfg, seed, weights_path))
    return VAEResult(hit["mu"], hit["logvar"], hist, float(hit["seconds"]), cached=True, model=model)


def _train_here(X: np.ndarray, cfg: VAEConfig, seeds: list[int], verbose: bool) -> Any:
    """(seed, result or the TrainingError) of each training, one after another in this process."""
    for seed in seeds:
        try:
            yield seed, train(X, cfg, seed=seed, verbose=verbose)
        except TrainingError as exc:
            yield seed, exc


def _train_in_workers(X: np.ndarray, cfg: VAEConfig, seeds: list[int], verbose: bool, n_jobs: int) -> Any:
    """As :func:`_train_here`, in ``n_jobs`` fresh processes with ``cfg.threads`` TensorFlow threads each."""
    ctx = multiprocessing.get_context("spawn")  # a fresh TensorFlow per worker, started with its thread count
    with ProcessPoolExecutor(max_workers=max(1, n_jobs), mp_context=ctx, initializer=_worker_init,
                             initargs=(cfg.threads,)) as pool:
        futures = {pool.submit(_train_in_worker, X, cfg, seed, verbose): seed for seed in seeds}
        for future in as_completed(futures):
            try:
                out = future.result()
            except TrainingError as exc:
                yield futures[future], exc
                continue
            model = VAEModel(cfg, X.shape[1], weights=out["weights"])
            yield futures[future], VAEResult(out["mu"], out["logvar"], out["history"], out["seconds"], model=model)


def _diverged(err: TrainingError, seed: int, data_key: str, cfg: VAEConfig, *, cache: bool, from_cache: bool) -> None:
    """Say where a training diverged (one line, always), and keep it in the cache so that a re-run does not train
    the seed again only to see it diverge."""
    history = getattr(err, "history", {}) or {}
    loss = history.get("loss", [float("nan")])[-1] if history.get("loss") else float("nan")
    progress.report(f"VAE seed {seed}: DIVERGED at epoch {getattr(err, 'epoch', '?')}/{cfg.epochs} (loss {loss:.4g})"
                    + (", as cached from an earlier run" if from_cache else "") + "; its latents are not used")
    if cache:
        path, _ = _entry(data_key, cfg, seed)
        store.save_npz(path, diverged_epoch=np.array(int(getattr(err, "epoch", 0))), message=np.array(str(err)),
                       **{f"hist_{k}": np.asarray(v) for k, v in history.items()})


def divergence(X: np.ndarray, config: VAEConfig, seed: int) -> dict[str, Any] | None:
    """Where the cached training of ``seed`` diverged -- ``{"epoch", "loss", "message"}`` -- or None when it did
    not (or was never trained)."""
    hit = store.load_npz(entry_paths(X, config, seed)[0])
    if hit is None or "diverged_epoch" not in hit:
        return None
    loss = hit["hist_loss"][-1] if "hist_loss" in hit and hit["hist_loss"].size else np.nan
    return {"epoch": int(hit["diverged_epoch"]), "loss": float(loss), "message": str(hit["message"])}


def latents(
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
    """One VAE per seed on the z-scored matrix ``X``, each trained once: from the cache when it holds it.

    With ``config.threads`` set, trainings run in worker processes with exactly that many
    TensorFlow threads, ``n_jobs`` of them at once (on 2 cores: ``threads=1, n_jobs=2``); the
    results are identical to training the seeds one by one with the same ``threads``.
    ``keep_weights=False`` stores only the latents (the studies that never encode again save the
    disk). A seed whose training diverges is said on the terminal (the epoch and the loss) and kept in the
    cache as diverged (a re-run does not train it again); it raises :class:`~replicate.io.errors.TrainingError`,
    or, with ``skip_diverged``, gives ``None`` in its place (the other seeds go on; :func:`divergence` says
    where it diverged).
    """
    cfg = config or VAEConfig()
    X = np.ascontiguousarray(X, dtype=np.float32)
    data_key = store.array_hash(X)
    results: dict[int, VAEResult | None] = {}
    known: list[tuple[int, TrainingError]] = []
    for seed in seeds:
        hit = _from_cache(X, cfg, seed, data_key) if cache else None
        if isinstance(hit, TrainingError):
            known.append((int(seed), hit))
            _note("cached", _entry(data_key, cfg, seed)[0])
        elif hit is not None:
            results[int(seed)] = hit
            _note("cached", _entry(data_key, cfg, seed)[0])
            if verbose:
                progress.report(f"VAE seed {seed}: latents from the cache")
    missing = [int(s) for s in seeds if int(s) not in results and int(s) not in dict(known)]
    if missing and cfg.threads is None and n_jobs != 1:
        raise ParameterError("n_jobs > 1 needs config.threads (the threads per training), e.g. threads=1.")
    trained = (_train_here(X, cfg, missing, verbose) if cfg.threads is None
               else _train_in_workers(X, cfg, missing, verbose, n_jobs)) if missing else ()
    # chained lazily: each seed is cached as soon as it has trained, so a killed run keeps it
    for seed, res, before in itertools.chain(((s, e, True) for s, e in known),
                                             ((s, r, False) for s, r in trained)):
        if isinstance(res, TrainingError):
            _diverged(res, seed, data_key, cfg, cache=cache and not before, from_cache=before)
            if cache and not before:
                _note("diverged", _entry(data_key, cfg, seed)[0])
            if not skip_diverged:
                raise res
            results[seed] = None
            continue
        if cache:
            path, weights_path = _entry(data_key, cfg, seed)
            if keep_weights:
                store.save_npz(weights_path, **res.model.weights())
            store.save_npz(path, mu=res.mu, logvar=res.logvar, seconds=np.array(res.seconds),
                           **{f"hist_{k}": np.asarray(v) for k, v in res.history.items()})
            _note("trained", path, res.seconds)
        results[seed] = res
    return [results[int(s)] for s in seeds]
