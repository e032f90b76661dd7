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
from .preprocess import preprocess
from .vae import VAEConfig, VAEResult, config_from, vae_latents

__all__ = ["prepare", "vae_config", "train_latents", "history_frame", "cluster",
           "baselines", "parse_grid", "save_table", "run_info", "versions"]

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


def parse_grid(grid: Any) -> int | str | None:
    """The ``grid`` notebook parameter as :func:`replicate.clustering.expand_grid`'s ``thin``.

    ``"full"`` -> every cell; ``"paper"`` -> the paper's chosen setting only; an integer n ->
    every n-th cell plus the paper's choice.
    """
    if grid == "full":
        return None
    if grid == "paper" or (isinstance(grid, int) and not isinstance(grid, bool) and grid >= 1):
        return grid
    from .errors import ParameterError

    raise ParameterError(f"parameter grid = {grid!r} is invalid: expected 'full', 'paper' or an integer >= 1.")


def _clustering_store(adata: Any) -> Path:
    """One resumable results file per preprocessed matrix, shared by every notebook and run."""
    return store.cache_dir() / "clustering" / f"{store.array_hash(adata.X)[:24]}.csv"


def cluster(adata: Any, results: list[VAEResult], seeds: list[int], methods: list[str] | str, *,
            grid: Any = "full", random_state: int = 0, n_jobs: int = -1, scheduler: str = "",
            progress: bool = True) -> pd.DataFrame:
    """Run ``methods``' grids on every seed's latent mean (embedding ``vae_seed=<s>``).

    Cells already computed for the same latents, settings and seed (by any notebook) come from
    the clustering cache; new ones are added to it as they finish.
    """
    from . import execution

    if isinstance(methods, str):
        methods = [methods]
    embeddings = {f"vae_seed={s}": r.mu for s, r in zip(seeds, results, strict=True)}
    return execution.run(embeddings, adata.obs["label"].to_numpy(), _clustering_store(adata),
                         dataset=adata.uns.get("dataset", {}).get("name", ""), methods=list(methods),
                         thin=parse_grid(grid), random_state=random_state, n_jobs=n_jobs,
                         scheduler=scheduler or None, progress=progress)


def paper_setting_labels(adata: Any, Z: np.ndarray, method: str, *, random_state: int = 0) -> np.ndarray:
    """Cluster labels of ``method`` at the paper's chosen setting on one latent ``Z``."""
    from .clustering import fit_labels, paper_setting

    return fit_labels(Z, method, paper_setting(method), n_clusters=int(adata.obs["label"].nunique()),
                      random_state=random_state)


def grid_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per setting: CA / NMI / ARI (percent, mean ± s.d. over VAE seeds), clusters found, statuses."""
    g = rows.groupby("parameters", sort=False)
    out = pd.DataFrame({"clusters found": g["clusters_found"].agg(lambda s: f"{s.min()}–{s.max()}" if s.min() != s.max() else f"{s.min()}"),
                        "status": g["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))})
    for m in ("CA", "NMI", "ARI"):
        mean, sd = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        out[f"{m} (%)"] = [("—" if pd.isna(a) else f"{a:.1f}" + ("" if pd.isna(b) else f" ± {b:.1f}")) for a, b in zip(mean, sd)]
    return out


def kmeans_at_paper(adata: Any, latents: dict[str, np.ndarray], *, random_state: int = 0) -> pd.DataFrame:
    """VAE+K-means (0.24.1 settings, label count) on named latents: one row per latent, fractions."""
    from .clustering import kmeans
    from .metrics import evaluate

    y = adata.obs["label"].to_numpy()
    k = int(adata.obs["label"].nunique())
    return pd.DataFrame([{"latent": name, **evaluate(y, kmeans(Z, k, random_state=random_state))}
                         for name, Z in latents.items()])


def encoder_variants(adata: Any, config: VAEConfig, seeds: list[int], variants: list[list[int]], *,
                     random_state: int = 0, verbose: bool = False) -> pd.DataFrame:
    """Claim C8: VAE+K-means with the default encoder and each variant, trained with the same seeds."""
    from dataclasses import replace

    frames = []
    for enc in [list(config.encoder_hidden)] + [list(v) for v in variants]:
        cfg = replace(config, encoder_hidden=tuple(enc))
        res = vae_latents(adata.X, cfg, seeds=list(seeds), verbose=verbose)
        rows = kmeans_at_paper(adata, {str(s): r.mu for s, r in zip(seeds, res)}, random_state=random_state)
        name = "default" if tuple(enc) == config.encoder_hidden else "enc " + "-".join(map(str, enc))
        frames.append(rows.assign(encoder=name, seed=[int(s) for s in seeds], architecture="-".join(map(str, enc))))
    return pd.concat(frames, ignore_index=True)


def variation_sources(adata: Any, results: list[VAEResult], seeds: list[int], *, n_states: int = 10) -> pd.DataFrame:
    """VAE+K-means under the two sources of randomness, one row per run (fractions).

    ``source="VAE seed"``: every VAE seed's latent, K-means random_state 0. ``source="K-means
    random_state"``: the first seed's latent, K-means random_state 0..n_states-1.
    """
    by_vae = kmeans_at_paper(adata, {str(s): r.mu for s, r in zip(seeds, results)}).assign(source="VAE seed")
    first = results[0].mu
    by_km = pd.concat([kmeans_at_paper(adata, {str(rs): first}, random_state=rs) for rs in range(n_states)],
                      ignore_index=True).assign(source="K-means random_state")
    return pd.concat([by_vae, by_km], ignore_index=True)


def preprocessing_sensitivity(dataset: str, config: VAEConfig, seeds: list[int], readings: dict[str, dict[str, Any]],
                              *, label_key: str | None = None, verbose: bool = False) -> pd.DataFrame:
    """VAE+K-means under alternative preprocessing readings (SPEC 8.5), same VAE seeds; fractions."""
    frames = []
    for name, kw in readings.items():
        ad = prepare(dataset, label_key=label_key, **kw)
        res = vae_latents(ad.X, config, seeds=list(seeds), verbose=verbose)
        rows = kmeans_at_paper(ad, {str(s): r.mu for s, r in zip(seeds, res)})
        frames.append(rows.assign(reading=name, seed=[int(s) for s in seeds],
                                  final_loss=[r.history["loss"][-1] for r in res]))
    return pd.concat(frames, ignore_index=True)


def baselines(adata: Any, *, random_state: int = 0) -> pd.DataFrame:
    """The live baselines (PCA+K-means, K-means on genes, scanpy Leiden x2), cached by data."""
    from . import baselines as bl

    path = store.cache_dir() / "baselines" / f"{store.array_hash(adata.X)[:24]}-rs{random_state}.csv"
    if path.is_file():
        return pd.read_csv(path)
    rows = bl.run_baselines(adata, dataset=adata.uns.get("dataset", {}).get("name", ""),
                            random_state=random_state)
    store.atomic_write(path, lambda p: rows.to_csv(p, index=False))
    return rows


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
