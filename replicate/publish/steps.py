"""What every section page opens with: its data, prepared as the run's parameters say, and the run it comes from.

A section's numbers are made apart from its page (:mod:`replicate.sections`: one module per section, read back by
the page); the page prepares the same cells only to say what it shows, and the VAE page draws the first seed's
latents, which ``rp.tl.vae`` reads back from the cache (:func:`vae_config`, :func:`vae_key`).
"""

from __future__ import annotations

from typing import Any

from anndata import AnnData

from ..io.provenance import run_info, run_info_markdown
from ..method import preprocess
from ..method.vae_config import VAEConfig, config_from
from ..paper.latent_grids import DEFAULT, SECOND, vae_key
from . import frames

__all__ = ["DEFAULT", "SECOND", "prepare", "page_header", "data_summary", "vae_config", "vae_key"]


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
