"""The open points section's tables: how far the paper's unstated preprocessing and the way a clustering setting
is chosen move the scores."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import tl
from ..method.clustering import PAPER_METHODS
from ..method.vae_config import config_from
from ..paper import latent_grids, table1
from ..studies import stability
from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``preprocessing_sensitivity`` (VAE + K-means under the default preprocessing and two alternatives, the same
    VAE seeds) and ``selection_effect`` (each VAE row's mean ARI by best-in-grid, label-free and paper's setting)."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    target_sum, clip = params.get("target_sum"), params.get("clip_zscore")
    readings = {"median total, no clip (default)": {"target_sum": target_sum, "clip_zscore": clip},
                "total 10,000": {"target_sum": 1e4, "clip_zscore": clip},
                "z-scores clipped at 10": {"target_sum": target_sum, "clip_zscore": 10.0}}
    sensitivity = stability.preprocessing_sensitivity(params["dataset"], config, params["sensitivity_seeds"], readings,
                                                      label_key=params.get("label_key"))
    rows = latent_grids.cluster(adata, seeds, PAPER_METHODS, grid=params.get("grid", "full"),
                                random_state=params.get("cluster_random_state", 0), n_jobs=params.get("n_jobs", -1),
                                scheduler=params.get("scheduler", ""), cell_time_limit=params.get("cell_time_limit"))
    choice = table1.selection_effect(table1.table1(rows))
    return {"preprocessing_sensitivity": sensitivity, "selection_effect": choice.reset_index()}
