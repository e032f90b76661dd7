"""Readings of the paper's VAE (``replicate/data/stability.toml``): each a name, the changes from the
paper's literal configuration, and how many departures from its text they make; and a reading's
training health (trained, diverged, blew up, collapsed), judged without labels.

The names the studies refer to are derived here from the configurations, never typed:
:func:`default_reading` is the reading whose configuration is :class:`VAEConfig`'s default, and
:func:`gene_count_reading` the default with the reconstruction weighted as if a file had the
paper's gene count.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..io.errors import ReplicateError, TrainingError
from ..io.facts import load_toml, paper
from ..method.clustering import kmeans
from ..method.latents import latents
from ..method.metrics import evaluate
from ..method.vae_config import VAEConfig
from .fingerprints import targets

__all__ = ["MATCHED", "PREPROCESS_KEYS", "MIN_ACTIVE_UNITS", "readings", "reading_by_name", "reading_config",
           "reading_params", "default_reading", "gene_count_reading", "active_units", "trivial_reconstruction",
           "train_one", "kl_spikes"]

#: The label of the reading chosen by fingerprints (:func:`replicate.studies.why.matched_reading`).
MATCHED = "fingerprint-matched"
#: Reading keys that change the preprocessing rather than the VAE.
PREPROCESS_KEYS = ("clip_zscore",)


def readings() -> list[dict[str, Any]]:
    """The readings of the study, in the file's order."""
    return load_toml("stability")["reading"]



def reading_by_name(name: str) -> dict[str, Any]:
    """The reading called ``name`` in ``replicate/data/stability.toml``."""
    for r in readings():
        if r["name"] == name:
            return r
    raise ReplicateError(f"no reading named {name!r} in replicate/data/stability.toml; readings: "
                         + ", ".join(r["name"] for r in readings()))



def reading_config(reading: dict[str, Any], epochs: int | None = None) -> VAEConfig:
    """The :class:`VAEConfig` of a reading: the paper's literal one with the reading's changes."""
    vae_params = {k: v for k, v in reading["params"].items() if k not in PREPROCESS_KEYS}
    cfg = replace(VAEConfig.paper_reading(), **vae_params)
    return replace(cfg, epochs=epochs) if epochs else cfg



def reading_params(config: VAEConfig) -> dict[str, Any]:
    """The notebook parameters that select ``config`` (those differing from the default)."""
    default = VAEConfig()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()
            if getattr(default, k) != v}



def _named(config: VAEConfig) -> str:
    for r in readings():
        if not set(r["params"]) & set(PREPROCESS_KEYS) and reading_config(r) == config:
            return r["name"]
    raise ReplicateError(f"no reading in replicate/data/stability.toml has the configuration {config.describe()}.")


def default_reading() -> str:
    """The name of the reading whose configuration is the default (the stability study's choice)."""
    return _named(VAEConfig())


def gene_count_reading(n_genes: int) -> str | None:
    """The default reading with the reconstruction weighted as if ``n_genes`` genes were the paper's
    (the "loss balance" factor); None when the file has no such reading."""
    weight = paper()["data"]["n_genes"] / n_genes
    for r in readings():
        w = r["params"].get("reconstruction_weight")
        if w is not None and math.isclose(w, weight, rel_tol=1e-9) and \
                reading_config(r) == replace(VAEConfig(), reconstruction_weight=w):
            return r["name"]
    return None


#: A latent with fewer active units than this counts as collapsed (label-free).
MIN_ACTIVE_UNITS = 2



def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose mean varies across cells (variance > ``threshold``; Burda et al. 2015)."""
    return int((np.var(mu, axis=0) > threshold).sum())



def trivial_reconstruction(X: np.ndarray, reduction: str) -> float:
    """Reconstruction loss per cell of predicting all zeros (the gene means, after z-scoring)."""
    sq = np.square(np.asarray(X, dtype=np.float64))
    return float(0.5 * sq.sum(axis=1).mean() if reduction == "sum" else sq.mean())



def train_one(X: np.ndarray, labels: np.ndarray, reading: dict[str, Any], cfg: VAEConfig, seed: int, *,
              keep_weights: bool = True) -> dict[str, Any]:
    """Train one reading with one seed (through the latent store) and judge it: one row with its status
    (trained / diverged / blew up / collapsed), losses, active units, unexplained variance and VAE +
    K-means CA / NMI / ARI (the metrics are for information: the labels choose nothing)."""
    row: dict[str, Any] = {"reading": reading["name"], "deviations": reading["deviations"], "seed": seed,
                           "params": json.dumps(reading["params"], sort_keys=True)}
    t0 = time.perf_counter()
    try:
        (res,) = latents(X, cfg, seeds=[seed], verbose=False, keep_weights=keep_weights)
    except TrainingError as exc:
        hist = getattr(exc, "history", {}) or {}
        first = hist.get("loss", [np.nan])[0] if hist.get("loss") else np.nan
        row.update(status="diverged", epochs_run=getattr(exc, "epoch", np.nan), first_loss=first,
                   final_loss=np.nan, final_kl=np.nan, active_units=np.nan, unexplained=np.nan,
                   max_abs_mu=np.nan, CA=np.nan, NMI=np.nan, ARI=np.nan)
    else:
        loss = res.history["loss"]
        active = active_units(res.mu)
        unexplained = res.history["reconstruction"][-1] / trivial_reconstruction(X, cfg.reconstruction)
        if res.collapsed or active < MIN_ACTIVE_UNITS:
            status = "collapsed"
        elif loss[-1] > loss[0] or unexplained >= 1.0:
            status = "blew up"
        else:
            status = "trained"
        scores = evaluate(labels, kmeans(res.mu, len(np.unique(labels)), random_state=0))
        row.update(status=status, epochs_run=len(loss), first_loss=loss[0], final_loss=loss[-1],
                   final_kl=res.history["kl"][-1], active_units=active, unexplained=unexplained,
                   max_abs_mu=float(np.abs(res.mu).max()), **scores)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row



def kl_spikes(history: dict[str, list[float]], *, factor: float | None = None) -> dict[str, Any]:
    """Label-free: did the epoch's mean KL jump above ``factor`` x its median over training?"""
    factor = factor if factor is not None else float(targets()["training_health"]["kl_spike_factor"])
    kl = np.asarray(history.get("kl", []), dtype=float)
    if kl.size < 2:
        return {"kl_spike": False, "kl_max": float(kl.max()) if kl.size else np.nan, "kl_spike_epochs": ""}
    median = float(np.median(kl))
    spikes = [i + 1 for i, v in enumerate(kl) if v > factor * median]
    return {"kl_spike": bool(spikes), "kl_max": float(kl.max()), "kl_spike_epochs": " ".join(map(str, spikes))}

