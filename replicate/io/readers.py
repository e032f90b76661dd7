"""Readers of expression files into AnnData, and the checks every loaded matrix passes.

Every reader returns an :class:`~anndata.AnnData` with ``X`` dense float32 (cells x genes) and,
for labelled data, ``obs["label"]`` as a categorical. Bad input raises
:class:`~replicate.io.errors.DatasetError` naming the file, the problem and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scanpy as sc

from .errors import DatasetError

__all__ = ["LABEL", "read_scanpy_builtin", "read_scdeepcluster_h5", "read_user_path", "validate", "dense32"]

#: The ``obs`` column every loader writes the true labels to.
LABEL = "label"


def read_scanpy_builtin(info: dict[str, Any]) -> Any:
    raw = sc.datasets.pbmc68k_reduced()
    adata = ad.AnnData(
        X=dense32(raw.raw.X),
        obs=pd.DataFrame(index=raw.obs_names.copy()),
        var=pd.DataFrame(index=raw.raw.var_names.copy()),
    )
    adata.obs[LABEL] = pd.Categorical(raw.obs[info["label_key"]].astype(str))
    adata.uns["log1p"] = {"base": None}  # scanpy's marker: .raw holds log1p of normalised counts
    return adata

def read_scdeepcluster_h5(path: str | os.PathLike) -> Any:
    """Read an scDeepCluster-style HDF5 file: ``X`` (cells x genes), ``Y`` (labels)."""
    path = Path(path)
    with OpenH5(path) as f:
        missing = [k for k in ("X", "Y") if k not in f]
        if missing:
            raise DatasetError(
                f"{path} has no dataset {' or '.join(missing)} (found: {', '.join(f.keys()) or 'nothing'}). "
                "An scDeepCluster-style file needs X (cells x genes) and Y (one label per cell)."
            )
        try:
            X = np.asarray(f["X"][()], dtype=np.float32)
            Y = np.asarray(f["Y"][()]).ravel()
        except (OSError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path} is damaged: reading X/Y failed ({exc}). Re-download it.") from None
    if X.ndim != 2:
        raise DatasetError(f"{path}: X must be a 2-d cells x genes matrix, got shape {X.shape}.")
    if X.shape[0] != Y.shape[0]:
        raise DatasetError(
            f"{path}: X has {X.shape[0]} cells (rows) but Y has {Y.shape[0]} labels; they must match. "
            "If X is genes x cells, transpose it."
        )
    if Y.dtype.kind == "f":
        if not np.all(np.isfinite(Y)):
            raise DatasetError(f"{path}: Y contains NaN or inf labels; every cell needs a label.")
        if np.all(Y == np.round(Y)):
            Y = Y.astype(np.int64)
    elif Y.dtype.kind in "SO":
        Y = np.array([y.decode() if isinstance(y, bytes) else str(y) for y in Y])
    adata = ad.AnnData(
        X=X,
        obs=pd.DataFrame(index=[f"cell{i}" for i in range(X.shape[0])]),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(X.shape[1])]),
    )
    adata.obs[LABEL] = pd.Categorical(Y)
    return adata

class OpenH5:
    """Open an HDF5 file or raise DatasetError saying it is missing, not HDF5 or truncated."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        if not self.path.is_file():
            raise DatasetError(f"{self.path} does not exist.")
        try:
            self.f = h5py.File(self.path, "r")
        except OSError as exc:
            why = "truncated (an interrupted download?)" if "truncat" in str(exc).lower() else "not an HDF5 file"
            raise DatasetError(
                f"{self.path} is {why}: h5py says {str(exc).splitlines()[0]!r}. "
                "Delete it and download or export it again."
            ) from None
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()

def read_user_path(path: Path, label_key: str | None) -> tuple[Any, str, bool]:
    if path.is_dir():
        if not any((path / n).exists() for n in ("matrix.mtx", "matrix.mtx.gz")):
            raise DatasetError(f"{path} is a folder without matrix.mtx(.gz); expected a 10x matrix folder.")
        try:
            adata = sc.read_10x_mtx(path)
        except Exception as exc:  # scanpy raises many kinds for malformed folders
            raise DatasetError(f"{path}: cannot read the 10x matrix folder ({exc}).") from None
        adata.X = dense32(adata.X)
        return adata, "10x-mtx", False
    suffix = path.suffix.lower()
    if suffix == ".h5ad":
        try:
            adata = ad.read_h5ad(path)
        except OSError as exc:
            raise DatasetError(f"{path} is not a readable .h5ad file ({str(exc).splitlines()[0]}).") from None
        if label_key is not None:
            if label_key not in adata.obs:
                raise DatasetError(
                    f"{path}: label_key {label_key!r} is not a column of .obs "
                    f"(columns: {', '.join(adata.obs.columns) or 'none'})."
                )
            adata.obs[LABEL] = pd.Categorical(adata.obs[label_key].astype(str))
        adata.X = dense32(adata.X)
        log_norm = bool(adata.uns.get("log1p") is not None)
        return adata, "h5ad", log_norm
    if suffix in (".h5", ".hdf5"):
        with OpenH5(path) as f:
            keys = set(f.keys())
        if {"X", "Y"} <= keys:
            return read_scdeepcluster_h5(path), "scdeepcluster-h5", False
        if "matrix" in keys:
            adata = sc.read_10x_h5(path)
            adata.var_names_make_unique()
            adata.X = dense32(adata.X)
            return adata, "10x-h5", False
        raise DatasetError(
            f"{path}: unknown HDF5 layout (top-level keys: {', '.join(sorted(keys)) or 'none'}). "
            "Expected X and Y (scDeepCluster) or matrix (10x)."
        )
    raise DatasetError(
        f"{path}: unsupported file type {suffix!r}. Use .h5 (scDeepCluster or 10x), .h5ad, or a 10x matrix folder."
    )

def dense32(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(X, dtype=np.float32)

def validate(adata: Any, where: Any, *, counts: bool) -> None:
    """Refuse data the pipeline cannot use, naming the problem."""
    X = adata.X
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DatasetError(f"{where}: the expression matrix is empty ({X.shape[0]} cells x {X.shape[1]} genes).")
    finite = np.isfinite(X)
    if not finite.all():
        bad = int((~finite).sum())
        raise DatasetError(f"{where}: the expression matrix has {bad} NaN or inf values; fix or drop those cells.")
    if (X < 0).any():
        raise DatasetError(
            f"{where}: the expression matrix has negative values (min {X.min():.3g}); expected "
            + ("raw counts." if counts else "log-normalised expression (>= 0). Was it already z-scored?")
        )
    if counts and not np.all(X == np.round(X)):
        raise DatasetError(
            f"{where}: expected raw integer counts, found non-integer values. If the data are already "
            "log-normalised, load them from an .h5ad whose .uns has 'log1p' (as scanpy writes it)."
        )
    if LABEL in adata.obs:
        n = adata.obs[LABEL].nunique()
        if n < 2:
            raise DatasetError(
                f"{where}: found {n} distinct label(s); clustering metrics need at least two true cell types."
            )
