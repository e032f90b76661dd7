"""The steps the notebooks call, one function each: data -> latents -> clusters -> tables.

Every step computes what it needs through the caches, so each notebook runs on its own.
"""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import datasets, store
from .clustering import score_kmeans
from .preprocess import preprocess
from .vae import VAEConfig, VAEResult, config_from, vae_latents

__all__ = ["prepare", "vae_config", "train_latents", "history_frame", "kmeans_scores", "save_table",
           "run_info", "versions"]

_VERSIONED = ("replicate-vae-scrna", "numpy", "scipy", "scikit-learn", "scanpy", "anndata", "tensorflow-cpu",
              "tensorflow", "keras", "papermill", "jupyter-book")


def prepare(dataset: str, *, label_key: str | None = None, target_sum: float | None = None,
            clip_zscore: float | None = None) -> Any:
    """Load ``dataset`` and apply the paper's preprocessing (see :func:`replicate.preprocess.preprocess`)."""
    return preprocess(datasets.load(dataset, label_key=label_key), target_sum=target_sum, clip=clip_zscore)


def vae_config(**params: Any) -> VAEConfig:
    """The VAE reading selected by notebook parameters (unknown keys are ignored)."""
    return config_from(params)


def train_latents(adata: Any, config: VAEConfig, seeds: list[int], *, verbose: bool = True) -> list[VAEResult]:
    """One VAE per seed on ``adata.X`` through the latent cache; latents of the first seed go to ``obsm``."""
    results = vae_latents(adata.X, config, seeds=list(seeds), verbose=verbose)
    adata.obsm["X_vae"] = results[0].mu
    adata.obsm["X_vae_logvar"] = results[0].logvar
    return results


def history_frame(results: list[VAEResult], seeds: list[int]) -> pd.DataFrame:
    """Per-epoch losses of every seed, long format: seed, epoch, loss, reconstruction, kl, seconds."""
    frames = []
    for seed, res in zip(seeds, results, strict=True):
        df = pd.DataFrame(res.history)
        df.insert(0, "epoch", np.arange(1, len(df) + 1))
        df.insert(0, "seed", seed)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def kmeans_scores(adata: Any, results: list[VAEResult], seeds: list[int], *, random_state: int = 0) -> pd.DataFrame:
    """K-means (8 clusters for PBMC: the label count) on each seed's latent mean, with CA/NMI/ARI."""
    if "label" not in adata.obs:
        raise ValueError("this dataset has no labels, so clustering cannot be scored.")
    return score_kmeans([r.mu for r in results], adata.obs["label"].to_numpy(), seeds=list(seeds),
                        random_state=random_state)


def save_table(df: pd.DataFrame, output_dir: str, name: str) -> Path | None:
    """Write ``df`` as ``<output_dir>/<name>.csv`` atomically; nothing when ``output_dir`` is ''."""
    if not output_dir:
        return None
    return store.atomic_write(Path(output_dir) / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the numbers."""
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_info(adata: Any, profile: str) -> dict[str, Any]:
    """What a page shows about the run it comes from: dataset, shape, profile, date, versions."""
    ds = adata.uns.get("dataset", {})
    return {
        "dataset": ds.get("name", "?"),
        "cells": int(adata.n_obs),
        "genes": int(adata.n_vars),
        "profile": profile,
        "date": _dt.date.today().isoformat(),
        "versions": versions(),
    }


def run_info_markdown(info: dict[str, Any]) -> str:
    """:func:`run_info` as one Markdown paragraph."""
    v = info["versions"]
    libs = ", ".join(f"{k} {val}" for k, val in v.items())
    return (f"**Run:** dataset `{info['dataset']}` ({info['cells']} cells x {info['genes']} genes), "
            f"profile `{info['profile']}`, {info['date']}. **Versions:** {libs}.")
