"""The VAE section's tables: each seed's training, epoch by epoch, and whether it trained or collapsed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import tl
from ..method.vae_config import config_from
from ..paper import latent_grids
from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``vae_history`` (seed, epoch, loss, reconstruction, KL, seconds) and ``training_flags`` (seed, collapsed,
    cached)."""
    adata, seeds = cells(params), list(params["seeds"])
    config = config_from(params)
    for seed in seeds:
        tl.vae(adata, config=config, seed=seed, key_added=latent_grids.vae_key(seed))
    return {"vae_history": latent_grids.history_frame(adata, seeds),
            "training_flags": latent_grids.training_flags(adata, seeds)}
