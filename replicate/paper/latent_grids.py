"""Each VAE seed's latents in an AnnData (where ``rp.tl.vae`` is told to write them) and the grids run on them.

The section notebooks and the sections' tables (:mod:`replicate.sections`) both train through ``rp.tl.vae``
with the keys named here and cluster every seed's latent through :func:`cluster`, so they share the VAE
cache and the clustering cache cell for cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from ..grid import execute
from ..grid.plan import parse_grid

__all__ = ["DEFAULT", "SECOND", "vae_key", "latent_means", "history_frame", "training_flags", "cluster"]

#: The ``obsm`` prefixes of the default reading's VAEs and of a second reading's (:func:`vae_key`).
DEFAULT, SECOND = "X_vae", "X_vae_second"


def vae_key(seed: int, prefix: str = DEFAULT) -> str:
    """The ``obsm`` key a notebook gives ``rp.tl.vae`` for one seed (``X_vae_seed0``, ...)."""
    return f"{prefix}_seed{int(seed)}"


def latent_means(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> dict[int, np.ndarray]:
    """seed -> the latent means ``rp.tl.vae`` wrote for it."""
    return {int(s): np.asarray(adata.obsm[vae_key(s, prefix)]) for s in seeds}


def history_frame(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> pd.DataFrame:
    """Each seed's per-epoch losses, long: seed, epoch, then what ``rp.tl.vae`` recorded (loss, reconstruction,
    kl, seconds)."""
    frames = []
    for seed in seeds:
        history = pd.DataFrame({k: np.asarray(v) for k, v in adata.uns[vae_key(seed, prefix)]["history"].items()})
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
        history.insert(0, "seed", int(seed))
        frames.append(history)
    return pd.concat(frames, ignore_index=True)


def training_flags(adata: AnnData, seeds: list[int], prefix: str = DEFAULT) -> pd.DataFrame:
    """Per seed: whether its latent space collapsed (KL ~ 0 or every mean ~ 0) and whether it came from the cache."""
    out = []
    for seed in seeds:
        info = adata.uns[vae_key(seed, prefix)]
        kl, mu = np.asarray(info["history"]["kl"]), np.asarray(adata.obsm[vae_key(seed, prefix)])
        out.append({"seed": int(seed), "collapsed": bool(kl[-1] < 1e-2 or float(np.abs(mu).max()) < 1e-3),
                    "cached": bool(info.get("cached", False))})
    return pd.DataFrame(out)


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
