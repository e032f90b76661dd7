"""Selecting genes of a raw-count matrix, as the benchmark files' 2,000-gene selections were made."""

from __future__ import annotations

from typing import Any

import numpy as np
import scanpy as sc

from ..io.errors import ParameterError

__all__ = ["SELECTIONS", "select_genes"]

#: How genes can be ranked: scanpy's highly variable genes (Seurat flavour), or the mean count.
SELECTIONS = ("hvg", "mean")


def select_genes(adata: Any, n: int, how: str) -> Any:
    """The ``n`` genes of raw counts ``adata`` with the highest mean ('mean') or dispersion ('hvg').

    'hvg' is scanpy's ``highly_variable_genes`` (flavor 'seurat', on log-normalised counts),
    the selection scDeepCluster's and scDCC's 2,000-gene files were made with; 'mean' ranks
    genes by their mean normalised count. Returns a copy with those genes, raw counts kept.
    """
    if how not in SELECTIONS:
        raise ParameterError(f"how = {how!r} is invalid: use one of {', '.join(map(repr, SELECTIONS))}.")
    norm = adata.copy()
    sc.pp.normalize_total(norm, target_sum=float(np.median(np.asarray(adata.X.sum(axis=1)).ravel())))
    if how == "mean":
        order = np.argsort(-np.asarray(norm.X.mean(axis=0)).ravel(), kind="stable")[:n]
        keep = np.sort(order)
    else:
        sc.pp.log1p(norm)
        sc.pp.highly_variable_genes(norm, n_top_genes=n, flavor="seurat")
        keep = np.flatnonzero(norm.var["highly_variable"].to_numpy())
    return adata[:, keep].copy()

