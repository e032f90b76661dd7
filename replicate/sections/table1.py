"""Table 1's tables: the paper's six methods at each way of choosing a setting, on the default reading's VAEs (and
a second reading's), beside the live baselines and the paper's numbers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import tl
from ..method.clustering import PAPER_METHODS
from ..method.vae_config import config_from
from ..paper import latent_grids, table1
from ..paper.baselines import cached_baselines
from . import cells
from .readings import second_reading

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``table1`` (:func:`replicate.paper.table1.table1`): every row, reading and selection, ours beside the paper's."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    readings = {table1.DEFAULT_READING: latent_grids.DEFAULT}
    second = second_reading(params.get("compare_reading", ""))
    if second is not None:  # the second reading's VAEs, beside the default's
        readings[second[0]] = latent_grids.SECOND
        for seed in seeds:
            tl.vae(adata, config=second[1], seed=seed, key_added=latent_grids.vae_key(seed, latent_grids.SECOND))
    options = dict(grid=params.get("grid", "full"), random_state=params.get("cluster_random_state", 0),
                   n_jobs=params.get("n_jobs", -1), scheduler=params.get("scheduler", ""),
                   cell_time_limit=params.get("cell_time_limit"))
    rows = {name: latent_grids.cluster(adata, seeds, PAPER_METHODS, prefix=prefix, **options)
            for name, prefix in readings.items()}
    base = cached_baselines(adata, random_state=params.get("cluster_random_state", 0))
    return {"table1": table1.table1(rows, base)}
