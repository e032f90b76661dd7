"""The why section's tables: the measured factors behind the gap to the paper, and what its page draws beside
them (the default reading's grids at the paper's settings, each seed's training history)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import tl
from ..method.clustering import PAPER_METHODS
from ..method.vae_config import config_from
from ..paper import latent_grids, table1
from ..studies import why_factors
from . import cells
from .readings import second_reading

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``factor_effects`` and ``decomposition`` (:mod:`replicate.studies.why_factors`), ``paper_settings`` (the
    six methods at the paper's settings on every seed) and ``histories`` (seed, epoch and each loss)."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    options = dict(grid="paper", random_state=params.get("cluster_random_state", 0), n_jobs=params.get("n_jobs", -1),
                   scheduler=params.get("scheduler", ""), cell_time_limit=params.get("cell_time_limit"))
    default_rows = latent_grids.cluster(adata, seeds, PAPER_METHODS, **options)
    second = second_reading(params.get("compare_reading", ""))
    second_rows = None
    if second is not None:  # the second reading's VAEs, beside the default's
        for seed in seeds:
            tl.vae(adata, config=second[1], seed=seed, key_added=latent_grids.vae_key(seed, latent_grids.SECOND))
        second_rows = latent_grids.cluster(adata, seeds, PAPER_METHODS, prefix=latent_grids.SECOND, **options)
    spread = why_factors.seed_spread(latent_grids.latent_means(adata, seeds), adata.obs["label"].to_numpy())
    factors = why_factors.run_factors(params["dataset"], default_rows, second_rows, second[0] if second else "", spread)
    effects = why_factors.factor_effects(factors)
    ranked = why_factors.decomposition(effects, why_factors.gaps(table1.table1(default_rows)))
    return {"factor_effects": effects, "decomposition": ranked, "paper_settings": default_rows,
            "histories": latent_grids.history_frame(adata, seeds)}
