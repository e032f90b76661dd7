"""The steps the section notebooks call, one function each: data -> latents -> clusters -> tables.

Every step computes what it needs through the caches (VAE latents, clustering cells, baselines),
so each notebook runs on its own and a re-run redoes nothing that is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import datasets, store
from .preprocess import zscore
from .provenance import run_info, run_info_markdown
from .vae import VAEConfig, VAEResult, config_from, vae_latents

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["prepare", "page_header", "data_summary", "vae_config", "compare_config", "train_latents", "history_frame", "parse_grid",
           "cluster", "baselines", "save_table"]


def prepare(dataset: str, *, label_key: str | None = None, target_sum: float | None = None,
            clip_zscore: float | None = None) -> AnnData:
    """Load ``dataset`` and apply the paper's preprocessing (:func:`replicate.pp.zscore`)."""
    return zscore(datasets.load(dataset, label_key=label_key), target_sum=target_sum, clip=clip_zscore, copy=True)


def page_header(adata: AnnData, profile: str) -> str:
    """The Markdown line a notebook page opens with: the run it comes from."""
    ds = adata.uns.get("dataset", {})
    return run_info_markdown(run_info(dataset=ds.get("name", "?"), cells=adata.n_obs, genes=adata.n_vars,
                                      profile=profile))


def data_summary(adata: AnnData) -> str:
    """The data page's opening sentences: cells, genes, labels and what the preprocessing did."""
    counts = adata.obs["label"].value_counts()
    steps = "; ".join(adata.uns.get("zscore", {}).get("steps", []))
    return (f"{adata.n_obs:,} cells and {adata.n_vars:,} genes, with {len(counts)} true labels (the largest has "
            f"{counts.max():,} cells, the smallest {counts.min():,}). Preprocessing: {steps}.")


def vae_config(params: dict[str, Any]) -> VAEConfig:
    """The VAE reading selected by notebook parameters (keys that are not VAE fields are ignored)."""
    return config_from(params)


def compare_config(name: str) -> tuple[str, VAEConfig] | None:
    """The second VAE reading a run compares with the default: None for ``""``.

    ``"fingerprint-matched"``: the reading whose latents are closest to what the paper's reports
    imply (the committed readings study, :func:`replicate.why.matched_reading`; chosen without
    labels). Any other name: that reading of ``replicate/data/stability.toml``.
    """
    if not name:
        return None
    from .stability import reading_by_name, reading_config
    from .why import matched_reading

    if name == "fingerprint-matched":
        reading, config = matched_reading()
        return f"fingerprint-matched ({reading})", config
    return name, reading_config(reading_by_name(name))


def train_latents(adata: AnnData, config: VAEConfig, seeds: list[int], *, verbose: bool = True,
                  store: bool = True) -> list[VAEResult]:
    """One VAE per seed on ``adata.X`` through the latent cache; with ``store``, the first seed's
    latents go to ``obsm["X_vae"]``."""
    results = vae_latents(adata.X, config, seeds=list(seeds), verbose=verbose)
    if store:
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

    ``"full"`` -> every cell; ``"paper"`` -> the paper's setting only; an integer n -> every
    n-th cell plus the paper's setting.
    """
    if grid == "full":
        return None
    if grid == "paper" or (isinstance(grid, int) and not isinstance(grid, bool) and grid >= 1):
        return grid
    from .errors import ParameterError

    raise ParameterError(f"parameter grid = {grid!r} is invalid: expected 'full', 'paper' or an integer >= 1.")


def _clustering_store(adata: AnnData) -> Path:
    """One resumable results file per preprocessed matrix, shared by every notebook and run."""
    return store.cache_dir() / "clustering" / f"{store.array_hash(adata.X)[:24]}.csv"


def cluster(adata: AnnData, results: list[VAEResult], seeds: list[int], methods: list[str] | str, *,
            grid: Any = "full", random_state: int = 0, n_jobs: int = -1, scheduler: str = "",
            progress: bool = True, cell_time_limit: float | None = None) -> pd.DataFrame:
    """Run ``methods``' grids on every seed's latent mean (embedding ``vae_seed=<s>``).

    Cells already computed for the same latents, settings and seed (by any notebook) come from
    the clustering cache; new ones are added to it as they finish. A cell running longer than
    ``cell_time_limit`` seconds is stopped and recorded with status ``timeout``.
    """
    from . import execution

    if isinstance(methods, str):
        methods = [methods]
    embeddings = {f"vae_seed={s}": r.mu for s, r in zip(seeds, results, strict=True)}
    return execution.run(embeddings, adata.obs["label"].to_numpy(), _clustering_store(adata),
                         dataset=adata.uns.get("dataset", {}).get("name", ""), methods=list(methods),
                         thin=parse_grid(grid), random_state=random_state, n_jobs=n_jobs,
                         scheduler=scheduler or None, progress=progress, time_limit_s=cell_time_limit)


def baselines(adata: AnnData, *, random_state: int = 0) -> pd.DataFrame:
    """The live baselines on the same cells (:func:`replicate.baselines.run_baselines`, cached)."""
    from .baselines import cached_baselines

    return cached_baselines(adata, random_state=random_state)


def save_table(df: pd.DataFrame, output_dir: str, name: str) -> Path | None:
    """Write ``df`` as ``<output_dir>/<name>.csv`` atomically; nothing when ``output_dir`` is ''."""
    if not output_dir:
        return None
    return store.atomic_write(Path(output_dir) / f"{name}.csv", lambda p: df.to_csv(p, index=False))
