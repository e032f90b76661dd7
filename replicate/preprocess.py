"""The paper's preprocessing (Sec. IV): equal totals per cell, log, z-score per gene.

The paper says only "scale each cell to the same total count, log-transform, standardise every
gene". The open choices (SPEC 8.5) are named parameters; defaults follow scDeepCluster's
``normalize`` (the source of the paper's data files and, by its own account, of its setup):
size factors relative to the **median** total, ``log1p``, and unclipped z-scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["preprocess"]


def preprocess(
    adata: Any,
    *,
    target_sum: float | None = None,
    pseudocount: float = 1.0,
    clip: float | None = None,
    copy: bool = True,
) -> Any:
    """Normalise, log-transform and z-score ``adata`` as in the paper.

    Parameters
    ----------
    adata
        Output of :func:`replicate.datasets.load`: raw counts, or log-normalised values when
        ``adata.uns["dataset"]["log_normalised"]`` is true (then only the z-score is applied,
        so nothing is normalised twice).
    target_sum
        Total every cell is scaled to. ``None`` (default): the median total over cells, as
        scDeepCluster's ``normalize`` does with ``size_factors``; ``1e4`` is scanpy's habit.
    pseudocount
        ``log(x + pseudocount)``. Default 1 (``log1p``), the universal reading of "log-transform".
    clip
        Clip z-scores to ``[-clip, clip]``. Default ``None``: the paper mentions no clipping
        (a rare gene can then reach |z| ~ 45; see SPEC 9 and the VAE stability study).
    copy
        Return a new AnnData (default) instead of modifying ``adata``.

    Returns
    -------
    AnnData with ``X`` z-scored (float32), all-zero genes dropped, ``layers["log"]`` holding the
    log-normalised values, ``var["mean"]``/``var["std"]`` (set by ``sc.pp.scale``) and
    ``uns["preprocess"]`` the parameters used.
    """
    import scanpy as sc

    if target_sum is not None and not target_sum > 0:
        raise ParameterError(f"target_sum = {target_sum!r} is invalid: use a positive number or None (median).")
    if not pseudocount > 0:
        raise ParameterError(f"pseudocount = {pseudocount!r} is invalid: it must be > 0 (1 gives log1p).")
    if clip is not None and not clip > 0:
        raise ParameterError(f"clip = {clip!r} is invalid: use a positive number or None (no clipping).")
    if copy:
        adata = adata.copy()
    info = adata.uns.get("dataset", {})
    log_normalised = bool(info.get("log_normalised", False))

    n_before = adata.n_vars
    sc.pp.filter_genes(adata, min_cells=1)  # all-zero genes (16,653 -> 16,449 in the paper)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    target = None
    if not log_normalised:
        totals = adata.X.sum(axis=1)
        if (totals == 0).any():
            raise ParameterError(
                f"{int((totals == 0).sum())} cell(s) have no counts at all; drop them before preprocessing."
            )
        target = float(np.median(totals)) if target_sum is None else float(target_sum)
        sc.pp.normalize_total(adata, target_sum=target)
        if pseudocount == 1.0:
            sc.pp.log1p(adata)
        else:
            adata.X = np.log(adata.X + np.float32(pseudocount))
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata, zero_center=True, max_value=clip)  # per-gene mean 0, sd 1 (ddof=1)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    adata.uns["preprocess"] = {
        "target_sum": "median" if target_sum is None else float(target_sum),
        "target_sum_used": -1.0 if target is None else target,
        "pseudocount": float(pseudocount),
        "clip": "none" if clip is None else float(clip),
        "skipped_normalise_log": log_normalised,
        "genes_dropped_all_zero": int(n_before - adata.n_vars),
        "max_abs_z": float(np.abs(adata.X).max()),
    }
    return adata
