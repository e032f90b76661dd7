"""Datasets: the registry, hash-checked downloads (pooch) and readers that return AnnData.

Every loader returns an :class:`~anndata.AnnData` with

- ``X``: dense float32, cells x genes; raw counts, or log-normalised values, which then carry
  scanpy's marker ``uns["log1p"]`` (so preprocessing skips normalise + log);
- ``obs["label"]``: the true cell type as a categorical (absent for unlabelled data);
- ``uns["dataset"]``: provenance (name, path, format, sha256, origin, licence, ...).

Bad input raises :class:`~replicate.errors.DatasetError` naming the file, the problem and the fix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._resources import registry
from .errors import DatasetError

__all__ = [
    "data_dir",
    "dataset_names",
    "fetch",
    "file_sha256",
    "git_blob_sha1",
    "load",
    "read_scdeepcluster_h5",
]

_LABEL = "label"


def data_dir() -> Path:
    """Where datasets are looked for and downloaded to.

    ``$REPLICATE_DATA_DIR`` if set, else ``data/`` of the source checkout this package runs
    from, else ``./data``.
    """
    env = os.environ.get("REPLICATE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path.cwd() / "data"


def dataset_names() -> list[str]:
    """Names of the registered datasets."""
    return list(registry())


def entry(name: str) -> dict[str, Any]:
    """The registry entry of ``name``; a clear error for an unknown name."""
    reg = registry()
    if name not in reg:
        raise DatasetError(
            f"Unknown dataset {name!r}. Registered datasets: {', '.join(reg)}; "
            "or pass the path of a .h5 (scDeepCluster X/Y or 10x), .h5ad or 10x matrix.mtx folder."
        )
    return reg[name]


# --------------------------------------------------------------------------- hashes


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: str | os.PathLike) -> str:
    """What ``git hash-object FILE`` prints: sha1 of ``b"blob <size>\\0" + content``."""
    size = os.path.getsize(path)
    h = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hash_problem(path: Path, info: dict[str, Any]) -> str | None:
    """None if ``path`` matches the registry's hash, else a description of the mismatch."""
    if "sha256" in info:
        got = file_sha256(path)
        return None if got == info["sha256"] else f"sha256 {got}, expected {info['sha256']}"
    if "git_blob_sha1" in info:
        got = git_blob_sha1(path)
        want = info["git_blob_sha1"]
        return None if got == want else f"git blob sha1 {got}, expected {want}"
    return None


# --------------------------------------------------------------------------- download


class _BlobCheckingDownloader:
    """pooch downloader that checks a git blob SHA-1 on the temporary file.

    pooch hashes raw content only, so a git blob hash cannot be its ``known_hash``. Raising
    here, before pooch moves the temporary file into place, means a bad download is never
    stored where it could later pass as valid.
    """

    def __init__(self, name: str, blob_sha1: str | None, progressbar: bool) -> None:
        import pooch

        self.name = name
        self.blob_sha1 = blob_sha1
        self.http = pooch.HTTPDownloader(progressbar=progressbar, timeout=60)

    def __call__(self, url: str, output_file: Any, pooch_obj: Any, check_only: bool = False) -> Any:
        result = self.http(url, output_file, pooch_obj, check_only=check_only)
        if not check_only and self.blob_sha1 is not None:
            got = git_blob_sha1(output_file)
            if got != self.blob_sha1:
                raise DatasetError(
                    f"Download of {self.name!r} from {url} has git blob sha1 {got}, expected "
                    f"{self.blob_sha1}. The file was discarded. The server may have changed it; "
                    "check the URL in replicate/data/datasets.toml."
                )
        return result


def fetch(name: str, *, directory: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Path of registered dataset ``name``, downloading and verifying it if needed.

    A local copy with the wrong hash is renamed to ``<file>.corrupt`` (kept for inspection,
    never trusted) and downloaded again.
    """
    info = entry(name)
    if "url" not in info:
        raise DatasetError(f"Dataset {name!r} is not a downloadable file ({info['format']}).")
    folder = Path(directory) if directory is not None else data_dir()
    target = folder / info["filename"]
    if target.is_file():
        problem = _hash_problem(target, info)
        if problem is None:
            return target
        aside = target.with_name(target.name + ".corrupt")
        target.replace(aside)
        print(f"{target} has {problem}; moved it to {aside} and downloading again.")
    return _download(name, info, folder, progress)


def _download(name: str, info: dict[str, Any], folder: Path, progress: bool) -> Path:
    import pooch
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    known = f"sha256:{info['sha256']}" if "sha256" in info else None
    downloader = _BlobCheckingDownloader(name, info.get("git_blob_sha1"), progress)
    url = info["url"]
    target = folder / info["filename"]
    try:
        path = pooch.retrieve(
            url, known_hash=known, fname=info["filename"], path=folder, downloader=downloader,
            progressbar=progress,
        )
    except DatasetError:
        raise
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise DatasetError(
            f"Cannot download dataset {name!r}: {url} is unreachable ({type(exc).__name__}). "
            f"If this machine is offline, download the file elsewhere and put it at {target} "
            "(or point REPLICATE_DATA_DIR at the folder that holds it)."
        ) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise DatasetError(
            f"Download of {name!r} from {url} was interrupted ({type(exc).__name__}); "
            "nothing was kept. Run the command again."
        ) from None
    except requests.exceptions.HTTPError as exc:
        raise DatasetError(f"Download of {name!r} from {url} failed: {exc}.") from None
    except ValueError as exc:  # pooch's hash mismatch
        if "hash" not in str(exc):
            raise
        raise DatasetError(
            f"Download of {name!r} from {url} does not match its sha256 in "
            f"replicate/data/datasets.toml; the file was discarded. ({exc})"
        ) from None
    return Path(path)


# --------------------------------------------------------------------------- readers


def load(
    dataset: str | os.PathLike,
    *,
    label_key: str | None = None,
    directory: str | os.PathLike | None = None,
    download: bool = True,
) -> Any:
    """Load a registered dataset by name, or a user file by path, as AnnData.

    Parameters
    ----------
    dataset
        A name from ``replicate/data/datasets.toml`` or a path: scDeepCluster-style ``.h5``
        (``X``, ``Y``), 10x ``.h5``, ``.h5ad`` (give ``label_key``) or a 10x ``matrix.mtx`` folder.
    label_key
        Column of ``.obs`` with the true labels, for ``.h5ad`` files.
    directory
        Data directory (default :func:`data_dir`).
    download
        Download a missing registered file (else raise with where to put it).
    """
    name = str(dataset)
    reg = registry()
    if name in reg:
        info = reg[name]
        if info["format"] == "scanpy-builtin":
            adata = _read_scanpy_builtin(info)
            path = None
        else:
            folder = Path(directory) if directory is not None else data_dir()
            local = folder / info["filename"]
            if not download and not local.is_file():
                raise DatasetError(
                    f"Dataset {name!r} is not at {local}. Download it from {info['url']} and put "
                    "it there, or allow downloading."
                )
            path = fetch(name, directory=folder)
            adata = read_scdeepcluster_h5(path)
        _validate(adata, path or info["origin"], counts=not info.get("log_normalised", False))
        adata.uns["dataset"] = _provenance(name, path, info)
        return adata
    path = Path(dataset).expanduser()
    if not path.exists():
        raise DatasetError(
            f"Dataset {name!r} is neither a registered name ({', '.join(reg)}) nor an existing "
            f"file or folder (looked for {path.resolve()})."
        )
    adata, fmt, log_norm = _read_user_path(path, label_key)
    _validate(adata, path, counts=not log_norm)
    adata.uns["dataset"] = _provenance(
        path.name, path, {"format": fmt, "origin": f"user file {path.name}", "log_normalised": log_norm}
    )
    return adata


def _provenance(name: str, path: Path | None, info: dict[str, Any]) -> dict[str, Any]:
    prov = {
        "name": name,
        "format": info["format"],
        "origin": info.get("origin", ""),
        "licence": info.get("licence", ""),
        "log_normalised": bool(info.get("log_normalised", False)),
    }
    if path is not None:
        prov["path"] = str(path)
        prov["sha256"] = file_sha256(path) if path.is_file() else ""
    return prov


def _read_scanpy_builtin(info: dict[str, Any]) -> Any:
    import anndata as ad
    import scanpy as sc

    raw = sc.datasets.pbmc68k_reduced()
    adata = ad.AnnData(
        X=_dense32(raw.raw.X),
        obs=pd.DataFrame(index=raw.obs_names.copy()),
        var=pd.DataFrame(index=raw.raw.var_names.copy()),
    )
    adata.obs[_LABEL] = pd.Categorical(raw.obs[info["label_key"]].astype(str))
    adata.uns["log1p"] = {"base": None}  # scanpy's marker: .raw holds log1p of normalised counts
    return adata


def read_scdeepcluster_h5(path: str | os.PathLike) -> Any:
    """Read an scDeepCluster-style HDF5 file: ``X`` (cells x genes), ``Y`` (labels)."""
    import anndata as ad

    path = Path(path)
    with _open_h5(path) as f:
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
    adata.obs[_LABEL] = pd.Categorical(Y)
    return adata


class _open_h5:
    """Open an HDF5 file or raise DatasetError saying it is missing, not HDF5 or truncated."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        import h5py

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


def _read_user_path(path: Path, label_key: str | None) -> tuple[Any, str, bool]:
    import anndata as ad
    import scanpy as sc

    if path.is_dir():
        if not any((path / n).exists() for n in ("matrix.mtx", "matrix.mtx.gz")):
            raise DatasetError(f"{path} is a folder without matrix.mtx(.gz); expected a 10x matrix folder.")
        try:
            adata = sc.read_10x_mtx(path)
        except Exception as exc:  # scanpy raises many kinds for malformed folders
            raise DatasetError(f"{path}: cannot read the 10x matrix folder ({exc}).") from None
        adata.X = _dense32(adata.X)
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
            adata.obs[_LABEL] = pd.Categorical(adata.obs[label_key].astype(str))
        adata.X = _dense32(adata.X)
        log_norm = bool(adata.uns.get("log1p") is not None)
        return adata, "h5ad", log_norm
    if suffix in (".h5", ".hdf5"):
        with _open_h5(path) as f:
            keys = set(f.keys())
        if {"X", "Y"} <= keys:
            return read_scdeepcluster_h5(path), "scdeepcluster-h5", False
        if "matrix" in keys:
            adata = sc.read_10x_h5(path)
            adata.var_names_make_unique()
            adata.X = _dense32(adata.X)
            return adata, "10x-h5", False
        raise DatasetError(
            f"{path}: unknown HDF5 layout (top-level keys: {', '.join(sorted(keys)) or 'none'}). "
            "Expected X and Y (scDeepCluster) or matrix (10x)."
        )
    raise DatasetError(
        f"{path}: unsupported file type {suffix!r}. Use .h5 (scDeepCluster or 10x), .h5ad, or a 10x matrix folder."
    )


def _dense32(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(X, dtype=np.float32)


def _validate(adata: Any, where: Any, *, counts: bool) -> None:
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
    if _LABEL in adata.obs:
        n = adata.obs[_LABEL].nunique()
        if n < 2:
            raise DatasetError(
                f"{where}: found {n} distinct label(s); clustering metrics need at least two true cell types."
            )


def copy_into(src: str | os.PathLike, name: str, *, directory: str | os.PathLike | None = None) -> Path:
    """Place a file you obtained yourself into the data directory as registered ``name``."""
    info = entry(name)
    folder = Path(directory) if directory is not None else data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    problem = _hash_problem(Path(src), info)
    if problem is not None:
        raise DatasetError(f"{src} is not {name!r}: it has {problem}.")
    target = folder / info["filename"]
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(src, tmp)
    tmp.replace(target)
    return target
