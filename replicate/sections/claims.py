"""The claims section's tables: the paper's nine claims checked on each VAE reading, and the analyses behind them
(the encoder variants of C8, the spread over seeds, the sources of randomness)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from anndata import AnnData

from .. import tl
from ..method.clustering import methods
from ..method.vae_config import VAEConfig, config_from
from ..paper import analyses, claims, latent_grids, table1
from ..paper.baselines import cached_baselines
from . import cells
from .readings import second_reading

__all__ = ["tables", "claims_by_reading"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``claims`` (every reading's checks), ``encoder_variants``, ``seed_statistics`` (the first reading's grids) and
    ``variation_sources`` (VAE seed against K-means seed)."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    readings = {table1.DEFAULT_READING: (config, latent_grids.DEFAULT)}
    second = second_reading(params.get("compare_reading", ""))
    if second is not None:  # the second reading's VAEs, beside the default's
        readings[second[0]] = (second[1], latent_grids.SECOND)
        for seed in seeds:
            tl.vae(adata, config=second[1], seed=seed, key_added=latent_grids.vae_key(seed, latent_grids.SECOND))
    random_state = params.get("cluster_random_state", 0)
    base = cached_baselines(adata, random_state=random_state)
    checks, rows, variants = claims_by_reading(
        adata, readings, seeds, base, variant_seeds=params["variant_seeds"], encoder_variants=params["encoder_variants"],
        grid=params.get("grid", "full"), random_state=random_state, n_jobs=params.get("n_jobs", -1),
        scheduler=params.get("scheduler", ""), cell_time_limit=params.get("cell_time_limit"))
    spread = analyses.variation_sources(adata, latent_grids.latent_means(adata, seeds))
    return {"claims": checks, "encoder_variants": variants, "seed_statistics": claims.seed_statistics(rows),
            "variation_sources": spread}


def claims_by_reading(adata: AnnData, readings: dict[str, tuple[VAEConfig, str]], seeds: list[int],
                      base: pd.DataFrame, *, variant_seeds: list[int], encoder_variants: list[list[int]],
                      random_state: int = 0, **grid: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The nine claims checked for each VAE reading (name -> (configuration, ``obsm`` prefix)).

    Every method's grid (``grid``: :func:`replicate.paper.latent_grids.cluster`'s options) runs on the reading's
    latents; the encoder variants of C8 train with ``variant_seeds``. Returns (the checks of every reading, with a
    ``reading`` column; the first reading's grid rows; every reading's encoder-variant rows).
    """
    checks, variants, first = [], [], None
    for name, (cfg, prefix) in readings.items():
        rows = latent_grids.cluster(adata, seeds, methods(), prefix=prefix, random_state=random_state, **grid)
        var = analyses.encoder_variants(adata, cfg, variant_seeds, encoder_variants, random_state=random_state)
        checks.append(claims.check_all(rows, base, var).assign(reading=name))
        variants.append(var.assign(reading=name))
        first = rows if first is None else first
    return pd.concat(checks, ignore_index=True), first, pd.concat(variants, ignore_index=True)
