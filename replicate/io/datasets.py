"""Datasets: the registry, hash-checked downloads (pooch), and loading by name or path as AnnData.

Every loader returns an :class:`~anndata.AnnData` with

- ``X``: dense float32, cells x genes; raw counts, or log-normalised values, which then carry
  scanpy's marker ``uns["log1p"]`` (so preprocessing skips normalise + log);
- ``obs["label"]``: the true cell type as a categorical (absent for unlabelled data);
- ``uns["dataset"]``: provenance (name, path, format, sha256, origin, licence, ...).

The readers are in :mod:`replicate.io.readers`. Bad input raises
:class:`~replicate.io.errors.DatasetError` naming the file, the problem and the fix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pooch
import requests
from anndata import AnnData

from .errors import DatasetError
from .facts import registry
from .readers import (
    read_scanpy_builtin,
    read_scdeepcluster_h5,
    read_user_path,
    validate,
)
from .store import file_sha256, git_blob_sha1

__all__ = ["data_dir", "dataset_names", "entry", "fetch", "load", "copy_into"]


def data_dir() -> Path:
    """Where datasets are looked for and downloaded to.

    ``$REPLICATE_DATA_DIR`` if set, else ``data/`` of the source checkout this package runs
    from, else ``./data``.
    """
    env = os.environ.get("REPLICATE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
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


# --------------------------------------------------------------------------- loading


def load(
    dataset: str | os.PathLike,
    *,
    label_key: str | None = None,
    directory: str | os.PathLike | None = None,
    download: bool = True,
) -> AnnData:
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
            adata = read_scanpy_builtin(info)
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
        validate(adata, path or info["origin"], counts=not info.get("log_normalised", False))
        adata.uns["dataset"] = _provenance(name, path, info)
        return adata
    path = Path(dataset).expanduser()
    if not path.exists():
        raise DatasetError(
            f"Dataset {name!r} is neither a registered name ({', '.join(reg)}) nor an existing "
            f"file or folder (looked for {path.resolve()})."
        )
    adata, fmt, log_norm = read_user_path(path, label_key)
    validate(adata, path, counts=not log_norm)
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
