"""The analyses behind two claims: the encoder variants of C8 and the two sources of randomness of C1
("stably high"): VAE seeds against the K-means seed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..method.clustering import kmeans_scores
from ..method.latents import latents
from ..method.vae_config import VAEConfig

__all__ = ["encoder_variants", "variation_sources"]


def encoder_variants(adata: Any, config: VAEConfig, seeds: list[int], variants: list[list[int]], *,
                     random_state: int = 0, verbose: bool = False) -> pd.DataFrame:
    """Claim C8: VAE+K-means with the default encoder and each variant, trained with the same seeds."""
    frames = []
    y = adata.obs["label"].to_numpy()
    for enc in [list(config.encoder_hidden)] + [list(v) for v in variants]:
        cfg = replace(config, encoder_hidden=tuple(enc))
        res = latents(adata.X, cfg, seeds=list(seeds), verbose=verbose)
        rows = kmeans_scores({str(s): r.mu for s, r in zip(seeds, res)}, y, random_state=random_state)
        name = "default" if tuple(enc) == config.encoder_hidden else "enc " + "-".join(map(str, enc))
        frames.append(rows.assign(encoder=name, seed=[int(s) for s in seeds], architecture="-".join(map(str, enc))))
    return pd.concat(frames, ignore_index=True)



def variation_sources(adata: Any, latents: dict[int, np.ndarray], *, n_states: int = 10) -> pd.DataFrame:
    """VAE+K-means under the two sources of randomness, one row per run (fractions).

    ``latents``: VAE seed -> latent means. ``source="VAE seed"``: every seed's latent, K-means
    random_state 0. ``source="K-means random_state"``: the first seed's latent, K-means
    random_state 0..n_states-1.
    """
    y = adata.obs["label"].to_numpy()
    by_vae = kmeans_scores({str(s): mu for s, mu in latents.items()}, y).assign(source="VAE seed")
    first = next(iter(latents.values()))
    by_km = pd.concat([kmeans_scores({str(rs): first}, y, random_state=rs) for rs in range(n_states)],
                      ignore_index=True).assign(source="K-means random_state")
    return pd.concat([by_vae, by_km], ignore_index=True)
