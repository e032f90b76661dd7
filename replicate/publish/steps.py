"""The steps the section notebooks call, one function each: data -> latents -> clusters -> tables.

The notebooks train, encode and cluster single settings through ``rp.tl`` (the one writer of
``obsm`` / ``uns``); the steps here read what ``rp.tl.vae`` wrote (:func:`vae_key` names where)
and run what a page needs on top: grids, baselines, tables. Every step computes what it needs
through the caches (VAE latents, clustering cells, baselines), so each notebook runs on its own
and a re-run redoes nothing that is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from ..grid import execute
from ..grid.plan import parse_grid
from ..io import store
from ..io.provenance import run_info, run_info_markdown
from ..method import preprocess
from ..method.clustering import methods
from ..method.vae_config import VAEConfig, config_from
from ..paper.analyses import encoder_variants as encoder_variants_rows
from ..paper.baselines import cached_baselines
from ..paper.claims import check_all
from ..studies.readings import MATCHED, reading_by_name, reading_config
from ..studies.why import matched_reading
from . import frames

__all__ = ["DEFAULT", "SECOND", "prepare", "page_header", "data_summary", "vae_config", "compare_config", "vae_key",
           "latent_means", "posteriors", "histories", "history_frame", "training_flags", "cluster", "baselines", "claims_by_reading",
           "save_table"]

#: The ``obsm`` prefixes of the default reading's VAEs and of a second reading's (:func:`vae_key`).
DEFAULT, SECOND = "X_vae", "X_vae_second"


def prepare(dataset: str, *, label_key: str | None = None, target_sum: float | None = None,
            clip_zscore: float | None = None) -> AnnData:
    """Load ``dataset`` and apply the paper's preprocessing (:func:`replicate.pp.zscore`)."""
    return preprocess.prepare(dataset, label_key=label_key, target_sum=target_sum, clip_zscore=clip_zscore)


def page_header(adata: AnnData, profile: str) -> str:
    """The Markdown line a notebook page opens with: the run it comes from. It also installs the rule for the
    plain tables the page shows (:func:`replicate.publish.frames.register`): words, not the code's names."""
    frames.register()
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
    imply (the committed readings study, :func:`replicate.studies.why.matched_reading`; chosen
    without labels). Any other name: that reading of ``replicate/data/stability.toml``.
    """
    if not name:
        return None
    if name == MATCHED:
        reading, config = matched_reading()
        return f"{MATCHED} ({reading})", config
    return name, reading_config(reading_by_name(name))


def vae_key(seed: int, prefix: str = DEFAULT) -> str:
    """The ``obsm`` key a notebook gives ``rp.tl.vae`` for one seed (``X_vae_seed0``, ...)."""
    return f"{prefix}_seed{int(seed)}"


def latent_means(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> dict[int, np.ndarray]:
    """seed -> the latent means ``rp.tl.vae`` wrote for it."""
    return {int(s): np.asarray(adata.obsm[vae_key(s, prefix)]) for s in seeds}


def posteriors(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """seed -> (latent means, log-variances) ``rp.tl.vae`` wrote for it."""
    return {int(s): (np.asarray(adata.obsm[vae_key(s, prefix)]), np.asarray(adata.obsm[f"{vae_key(s, prefix)}_logvar"]))
            for s in seeds}


def histories(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> dict[int, dict[str, list[float]]]:
    """seed -> the per-epoch losses ``rp.tl.vae`` recorded for it."""
    return {int(s): {k: np.asarray(v).tolist() for k, v in adata.uns[vae_key(s, prefix)]["history"].items()}
            for s in seeds}


def history_frame(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> pd.DataFrame:
    """Per-epoch losses of every seed, long format: seed, epoch, loss, reconstruction, kl, seconds."""
    frames = []
    for seed, history in histories(adata, seeds, prefix).items():
        df = pd.DataFrame(history)
        df.insert(0, "epoch", np.arange(1, len(df) + 1))
        df.insert(0, "seed", seed)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def training_flags(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> dict[str, list[bool]]:
    """Per seed: whether its latent space collapsed (KL ~ 0 or every mean ~ 0) and whether it came from the cache."""
    collapsed, cached = [], []
    for seed in seeds:
        info = adata.uns[vae_key(seed, prefix)]
        kl = np.asarray(info["history"]["kl"])
        mu = np.asarray(adata.obsm[vae_key(seed, prefix)])
        collapsed.append(bool(kl[-1] < 1e-2 or float(np.abs(mu).max()) < 1e-3))
        cached.append(bool(info.get("cached", False)))
    return {"collapsed": collapsed, "cached": cached}


def cluster(adata: AnnData, seeds: list[int], methods: list[str] | str, *, prefix: str = DEFAULT,
            grid: Any = "full", random_state: int = 0, n_jobs: int = -1, scheduler: str = "",
            progress: bool = True, cell_time_limit: float | None = None) -> pd.DataFrame:
    """Run ``methods``' grids on every seed's latent mean (embedding ``vae_seed=<s>``).

    Cells already computed for the same latents, settings and seed (by any notebook) come from
    the clustering cache; new ones are added to it as they finish. A cell running longer than
    ``cell_time_limit`` seconds is stopped and recorded with status ``timeout``.
    """
    if isinstance(methods, str):
        methods = [methods]
    embeddings = {f"vae_seed={s}": mu for s, mu in latent_means(adata, seeds, prefix).items()}
    return execute.run(embeddings, adata.obs["label"].to_numpy(), execute.store_path(adata.X),
                       dataset=adata.uns.get("dataset", {}).get("name", ""), methods=list(methods),
                       thin=parse_grid(grid), random_state=random_state, n_jobs=n_jobs,
                       scheduler=scheduler or None, progress=progress, time_limit_s=cell_time_limit)


def baselines(adata: AnnData, *, random_state: int = 0) -> pd.DataFrame:
    """The live baselines on the same cells (:func:`replicate.paper.baselines.run_baselines`, cached)."""
    return cached_baselines(adata, random_state=random_state)


def claims_by_reading(adata: AnnData, readings: dict[str, tuple[VAEConfig, str]], seeds: list[int],
                      base: pd.DataFrame, *, variant_seeds: list[int], encoder_variants: list[list[int]],
                      random_state: int = 0, **grid: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The nine claims checked for each VAE reading (name -> (configuration, ``obsm`` prefix)).

    Every method's grid (``grid``: :func:`cluster`'s options) runs on the reading's latents; the
    encoder variants of C8 train with ``variant_seeds``. Returns (the checks of every reading, with
    a ``reading`` column; the first reading's grid rows; every reading's encoder-variant rows).
    """
    checks, variants, first = [], [], None
    for name, (cfg, prefix) in readings.items():
        rows = cluster(adata, seeds, methods(), prefix=prefix, random_state=random_state, **grid)
        var = encoder_variants_rows(adata, cfg, variant_seeds, encoder_variants, random_state=random_state)
        checks.append(check_all(rows, base, var).assign(reading=name))
        variants.append(var.assign(reading=name))
        first = rows if first is None else first
    return pd.concat(checks, ignore_index=True), first, pd.concat(variants, ignore_index=True)


def save_table(df: pd.DataFrame, output_dir: str, name: str) -> Path | None:
    """Write ``df`` as ``<output_dir>/<name>.csv`` atomically; nothing when ``output_dir`` is ''."""
    if not output_dir:
        return None
    return store.atomic_write(Path(output_dir) / f"{name}.csv", lambda p: df.to_csv(p, index=False))
