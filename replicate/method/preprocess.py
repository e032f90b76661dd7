"""The paper's preprocessing (Sec. IV): equal totals per cell, log, z-score per gene -- and the
same scaling applied to new cells.

The paper says only "scale each cell to the same total count, log-transform, standardise every
gene". The open choices are named parameters; the defaults follow scDeepCluster's
``normalize`` (the source of the paper's data files): size factors relative to the **median**
total, ``log1p``, and unclipped z-scores. :func:`scaling_of` records how a matrix was scaled
and :func:`scale_like` scales other cells the same way (what a trained VAE needs to encode them).
"""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from ..io import datasets
from ..io.errors import ParameterError
from .genes import select_genes

__all__ = ["zscore", "prepare", "looks_log_normalised", "looks_zscored", "scaling_of", "scale_like"]

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


def _check_arguments(adata: AnnData, layer: str | None, target_sum: Any, pseudocount: Any, clip: Any) -> None:
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


def _normalise_and_log(adata: AnnData, target_sum: float | None, pseudocount: float) -> tuple[float, str]:
    """Scale every cell of raw counts to the same total, then log: (the total used, what was done)."""
    totals = adata.X.sum(axis=1)
    if (totals == 0).any():
        raise ParameterError(
            f"{int((totals == 0).sum())} cell(s) have no counts at all; drop them before preprocessing "
            "(e.g. sc.pp.filter_cells(adata, min_counts=1))."
        )
    target = float(np.median(totals)) if target_sum is None else float(target_sum)
    adata.layers["counts"] = adata.X.copy()  # for count-based models (scVI)
    sc.pp.normalize_total(adata, target_sum=target)
    _log(adata, pseudocount)
    how = "the median total" if target_sum is None else "target_sum"
    return target, f"scaled every cell to {target:g} counts ({how}), then log(x + {pseudocount:g})"


def _log(adata: AnnData, pseudocount: float) -> None:
    if pseudocount == 1:
        sc.pp.log1p(adata)
    else:
        adata.X = np.log(adata.X + np.float32(pseudocount))


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
    _check_arguments(adata, layer, target_sum, pseudocount, clip)
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
        target, done = _normalise_and_log(adata, target_sum, pseudocount)
        steps.append(done)
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata, zero_center=True, max_value=clip)  # per-gene mean 0, sd 1 (ddof=1)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    steps.append("z-scored every gene (mean 0, standard deviation 1)"
                 + (f", clipped to [-{clip:g}, {clip:g}]" if clip is not None else ", not clipped"))
    adata.uns["zscore"] = {
        "params": {"layer": layer, "target_sum": target_sum, "pseudocount": float(pseudocount), "clip": clip},
        "steps": steps, "input_log_normalised": log_normalised, "target_sum_used": target,
        "genes_dropped_all_zero": int(n_before - adata.n_vars), "max_abs_z": float(np.abs(adata.X).max()),
    }
    for line in steps:
        log.info("zscore: %s", line)
    return adata if copy else None


def prepare(dataset: str, *, label_key: str | None = None, target_sum: float | None = None,
            clip_zscore: float | None = None, n_genes: int | None = None) -> AnnData:
    """Load ``dataset`` (a registered name or a path) and apply the paper's preprocessing (:func:`zscore`).

    ``n_genes``: a file with more genes keeps its ``n_genes`` most variable ones first (scanpy's
    highly variable genes on the counts, as the benchmark files' 2,000-gene selections were made).
    """
    raw = datasets.load(dataset, label_key=label_key)
    if n_genes is not None and raw.n_vars > n_genes:
        raw = select_genes(raw, n_genes, "hvg")
    return zscore(raw, target_sum=target_sum, clip=clip_zscore, copy=True)


def looks_zscored(X: np.ndarray, *, tolerance: float = 1e-2) -> tuple[bool, str]:
    """Whether every gene (column) of ``X`` has mean ~0 and standard deviation ~1 (or is constant 0), and the figures."""
    X = np.asarray(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():  # named as what it is, not as "gene means up to nan"
        genes = np.flatnonzero(bad.any(axis=0))
        return False, (f"it holds {int(np.isnan(X).sum()):,} NaN and {int(np.isinf(X).sum()):,} infinite values, in "
                       f"{len(genes):,} genes (columns {', '.join(map(str, genes[:5]))}"
                       f"{', ...' if len(genes) > 5 else ''}): fill or drop them first")
    mean, sd = X.mean(axis=0), X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    ok = bool(np.abs(mean).max() <= tolerance and ((np.abs(sd - 1) <= tolerance) | (sd == 0)).all())
    return ok, (f"gene means up to {np.abs(mean).max():.3g}, standard deviations {sd.min():.3g} to {sd.max():.3g}")


def scaling_of(adata: AnnData) -> dict[str, Any] | None:
    """How :func:`zscore` scaled ``adata`` (None when it did not): per-gene ``mean`` and ``std``, the
    ``target_sum`` every cell was scaled to (None: the input was log-normalised), ``pseudocount``,
    ``clip`` and ``log_normalised``."""
    info = adata.uns.get("zscore")
    if info is None or "mean" not in adata.var or "std" not in adata.var:
        return None
    params = info["params"]
    return {"mean": np.asarray(adata.var["mean"], dtype=np.float64), "std": np.asarray(adata.var["std"], dtype=np.float64),
            "target_sum": info["target_sum_used"], "pseudocount": float(params["pseudocount"]),
            "clip": params["clip"], "log_normalised": bool(info["input_log_normalised"])}


def _aligned(adata: AnnData, genes: list[str], source: Any) -> np.ndarray:
    """The columns of ``source`` (cells x ``adata``'s genes) in the order of ``genes``, by name."""
    index = pd.Index(adata.var_names.astype(str))
    where = index.get_indexer(genes)
    missing = [g for g, i in zip(genes, where) if i < 0]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise ParameterError(f"{len(missing)} of the model's {len(genes)} training genes are not in adata.var_names: "
                             f"{shown}. Encode cells measured on the same genes (names as in training).")
    X = source[:, where]
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)


def _log_values(adata: AnnData, genes: list[str], scaling: dict[str, Any]) -> np.ndarray:
    """Log-normalised values of the model's genes, made from the best source ``adata`` holds."""
    if "counts" in adata.layers:  # raw counts kept by zscore: normalise them with the training total
        counts = _aligned(adata, genes, adata.layers["counts"])
    elif "zscore" in adata.uns:  # zscore read log-normalised input: its log values as given
        return _aligned(adata, genes, adata.layers["log"])
    else:
        counts = _aligned(adata, genes, adata.X)
        log_normalised, _ = looks_log_normalised(adata, counts)
        if log_normalised:
            return counts
    if scaling["log_normalised"] or scaling["target_sum"] is None:
        raise ParameterError("the model was trained on log-normalised values, but these cells are raw counts: "
                             "normalise and log them as the training cells were (e.g. sc.pp.normalize_total and "
                             "sc.pp.log1p), then encode.")
    tmp = ad.AnnData(counts)
    sc.pp.normalize_total(tmp, target_sum=float(scaling["target_sum"]))
    _log(tmp, scaling["pseudocount"])
    return np.asarray(tmp.X, dtype=np.float32)


def scale_like(adata: AnnData, genes: list[str], scaling: dict[str, Any]) -> np.ndarray:
    """``adata``'s cells scaled as the training cells were: the model's ``genes`` by name, then
    (raw counts) normalised to the training total and logged, then z-scored with the training
    genes' mean and standard deviation (the same float32 arithmetic as :func:`zscore`).

    ``adata`` may hold raw counts, log-normalised values, or be the output of :func:`zscore` on
    its own (its kept counts, or log values, are re-scaled with the training statistics).
    """
    Z = _log_values(adata, genes, scaling).copy()
    Z -= scaling["mean"]
    np.true_divide(Z, scaling["std"], out=Z)
    if scaling["clip"] is not None:
        np.clip(Z, -scaling["clip"], scaling["clip"], out=Z)
    return Z
