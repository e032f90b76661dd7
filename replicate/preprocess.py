"""The paper's preprocessing (Sec. IV): equal totals per cell, log, z-score per gene.

The paper says only "scale each cell to the same total count, log-transform, standardise every
gene". The open choices are named parameters; the defaults follow scDeepCluster's
``normalize`` (the source of the paper's data files): size factors relative to the **median**
total, ``log1p``, and unclipped z-scores.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["zscore", "looks_log_normalised"]

log = logging.getLogger("replicate")


def looks_log_normalised(adata: AnnData, X: np.ndarray) -> tuple[bool, str]:
    """Whether ``X`` already holds log-normalised values, and how that was decided.

    scanpy's own marker ``uns["log1p"]`` (written by ``sc.pp.log1p``) decides first. Without
    it, the values decide: raw counts are non-negative integers; non-integer non-negative values
    are taken to be log-normalised. Negative values mean the data were already scaled, which
    this preprocessing cannot undo.
    """
    if X.size and float(X.min()) < 0:
        raise ParameterError(
            f"the expression matrix has negative values (min {float(X.min()):.3g}): it looks z-scored or "
            "scaled already. Pass raw counts or log-normalised values (e.g. layer='counts', or adata.raw.to_adata())."
        )
    if "log1p" in adata.uns:
        return True, "uns['log1p'] is set (scanpy's marker of log-transformed data)"
    if not np.array_equal(X, np.round(X)):
        return True, "no uns['log1p'] marker, but the values are not integers, so they are taken as log-normalised"
    return False, "the values are non-negative integers (raw counts)"


def zscore(
    adata: AnnData,
    *,
    layer: str | None = None,
    target_sum: float | None = None,
    pseudocount: float = 1,
    clip: float | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Normalise, log-transform and z-score every gene, as the paper does (dense or sparse input).

    Raw counts are scaled to the same total per cell, log-transformed and z-scored per gene.
    Input that is already log-normalised -- marked by scanpy's ``uns["log1p"]``, or with
    non-integer values -- is only z-scored, so nothing is normalised twice. What was done, and
    why, is logged and recorded in ``uns["zscore"]``.

    Parameters
    ----------
    adata
        Cells x genes. ``X`` (or ``layers[layer]``) may be a dense array or a sparse matrix.
    layer
        Read the expression from this layer instead of ``X``.
    target_sum
        Total every cell is scaled to. ``None`` (default): the median total over cells, as
        scDeepCluster's ``normalize`` does; ``1e4`` is scanpy's habit.
    pseudocount
        ``log(x + pseudocount)``. Default 1 (``log1p``), the usual reading of "log-transform".
    clip
        Clip z-scores to ``[-clip, clip]``. Default ``None``: the paper mentions no clipping (a
        gene expressed in a few cells can then reach |z| ~ 45).
    copy
        Return a new AnnData instead of changing ``adata``.

    Returns
    -------
    ``None``, or a new AnnData with ``copy=True``. Fields written:

    - ``X``: the z-scores, dense float32; genes with no counts in any cell are dropped;
    - ``layers["log"]``: the log-normalised values the z-scores come from;
    - ``layers["counts"]``: the raw counts (when the input was counts), for count-based models;
    - ``var["mean"]``, ``var["std"]``: each gene's mean and standard deviation before scaling;
    - ``uns["zscore"]["params"]``: ``layer``, ``target_sum``, ``pseudocount``, ``clip``;
    - ``uns["zscore"]``: also ``steps`` (what was done, in words), ``input_log_normalised``,
      ``target_sum_used``, ``genes_dropped_all_zero`` and ``max_abs_z``.
    """
    import scanpy as sc

    if target_sum is not None and not (isinstance(target_sum, (int, float)) and target_sum > 0):
        raise ParameterError(f"target_sum = {target_sum!r} is invalid: use a positive number or None (median).")
    if not (isinstance(pseudocount, (int, float)) and pseudocount > 0):
        raise ParameterError(f"pseudocount = {pseudocount!r} is invalid: it must be > 0 (1 gives log1p).")
    if clip is not None and not (isinstance(clip, (int, float)) and clip > 0):
        raise ParameterError(f"clip = {clip!r} is invalid: use a positive number or None (no clipping).")
    if layer is not None and layer not in adata.layers:
        raise ParameterError(f"layer = {layer!r} is not a layer of adata; layers: {', '.join(adata.layers) or 'none'}.")
    if adata.n_obs < 2 or adata.n_vars < 1:
        raise ParameterError(f"adata has shape {adata.shape}; z-scores need at least 2 cells and 1 gene.")
    if copy:
        adata = adata.copy()
    source = adata.X if layer is None else adata.layers[layer]
    # dense float32 from here on: identical numbers for sparse and dense input
    adata.X = np.asarray(source.toarray() if hasattr(source, "toarray") else source, dtype=np.float32)
    if not np.isfinite(adata.X).all():
        raise ParameterError("the expression matrix has NaN or inf values; fix or drop those cells first.")
    log_normalised, why = looks_log_normalised(adata, adata.X)
    steps = [f"read {'X' if layer is None else f'layers[{layer!r}]'}: {why}"]

    n_before = adata.n_vars
    sc.pp.filter_genes(adata, min_cells=1)  # all-zero genes (16,653 -> 16,449 in the paper)
    if n_before > adata.n_vars:
        steps.append(f"dropped {n_before - adata.n_vars} gene(s) with no counts in any cell")
    adata.X = np.asarray(adata.X, dtype=np.float32)
    target = None
    if log_normalised:
        steps.append("skipped normalisation and log (the input is log-normalised already)")
    else:
        totals = adata.X.sum(axis=1)
        if (totals == 0).any():
            raise ParameterError(
                f"{int((totals == 0).sum())} cell(s) have no counts at all; drop them before preprocessing "
                "(e.g. sc.pp.filter_cells(adata, min_counts=1))."
            )
        target = float(np.median(totals)) if target_sum is None else float(target_sum)
        adata.layers["counts"] = adata.X.copy()  # for count-based models (scVI)
        sc.pp.normalize_total(adata, target_sum=target)
        if pseudocount == 1:
            sc.pp.log1p(adata)
        else:
            adata.X = np.log(adata.X + np.float32(pseudocount))
        how = "the median total" if target_sum is None else "target_sum"
        steps.append(f"scaled every cell to {target:g} counts ({how}), then log(x + {pseudocount:g})")
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata, zero_center=True, max_value=clip)  # per-gene mean 0, sd 1 (ddof=1)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    steps.append("z-scored every gene (mean 0, standard deviation 1)"
                 + (f", clipped to [-{clip:g}, {clip:g}]" if clip is not None else ", not clipped"))
    adata.uns["zscore"] = {
        "params": {"layer": layer, "target_sum": target_sum, "pseudocount": float(pseudocount), "clip": clip},
        "steps": steps,
        "input_log_normalised": log_normalised,
        "target_sum_used": target,
        "genes_dropped_all_zero": int(n_before - adata.n_vars),
        "max_abs_z": float(np.abs(adata.X).max()),
    }
    for line in steps:
        log.info("zscore: %s", line)
    return adata if copy else None
