"""Preprocessing, scanpy style: ``rp.pp.zscore(adata)``, ``rp.pp.select_genes(adata, 2000, "hvg")``."""

from __future__ import annotations

from .method.genes import select_genes
from .method.preprocess import zscore

__all__ = ["zscore", "select_genes"]
