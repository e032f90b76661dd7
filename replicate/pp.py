"""Preprocessing, scanpy style: ``rp.pp.zscore(adata)``."""

from __future__ import annotations

from .preprocess import zscore

__all__ = ["zscore"]
