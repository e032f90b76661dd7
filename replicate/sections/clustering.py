"""The clustering section's tables: one method's whole grid on every VAE seed's latent, and its paper's setting
on the first seed, cell by cell (for the page's contingency plot)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import tl
from ..method.vae_config import config_from
from ..paper import latent_grids
from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``clustering_<method>`` (the grid's rows) and ``labels_<method>`` (cell, true label, cluster)."""
    adata, method, seeds = cells(params), params["method"], list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    rows = latent_grids.cluster(adata, seeds, method, grid=params.get("grid", "full"),
                                random_state=params.get("cluster_random_state", 0), n_jobs=params.get("n_jobs", -1),
                                scheduler=params.get("scheduler", ""), cell_time_limit=params.get("cell_time_limit"))
    tl.cluster(adata, method, use_rep=latent_grids.vae_key(seeds[0]), seed=params.get("cluster_random_state", 0))
    labels = pd.DataFrame({"cell": adata.obs_names.astype(str), "label": adata.obs["label"].astype(str).to_numpy(),
                           "cluster": adata.obs[method].astype(str).to_numpy()})
    return {f"clustering_{method}": rows, f"labels_{method}": labels}
