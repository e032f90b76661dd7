"""The uncertainty section's tables: clustering with the VAE's posterior variances against the means alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import tl
from ..method.vae_config import config_from
from ..paper import latent_grids
from ..studies import uncertainty
from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``uncertainty`` (each seed's comparison, :func:`replicate.studies.uncertainty.compare_cached`) and
    ``uncertainty_effects`` (their paired effects)."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    y = adata.obs["label"].to_numpy()
    rows = pd.concat([uncertainty.compare_cached(np.asarray(adata.obsm[latent_grids.vae_key(s)]),
                                                 np.asarray(adata.obsm[f"{latent_grids.vae_key(s)}_logvar"]), y,
                                                 seed=int(s), samples=params.get("samples", 20)) for s in seeds],
                     ignore_index=True)
    return {"uncertainty": rows, "uncertainty_effects": uncertainty.effects(rows)}
