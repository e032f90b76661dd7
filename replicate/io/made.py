"""What made a result: the identity of the files and the data it was made from, and the machine it ran on.

A section's key (``replicate run``) and a section's tables (:mod:`replicate.sections`) are both keyed by
these, so one rule says whether a result is still what the code, the data and the committed results it
read would make now.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_info

from . import numerics, store
from .facts import registry
from .paths import project_root
from .provenance import machine

__all__ = ["TABLES_RECORD", "files_identity", "data_identity", "run_machine"]

#: The record written beside a section's tables (``replicate.sections``): what made them, and their key.
TABLES_RECORD = "tables.json"


def files_identity(paths: list[str]) -> str:
    """Hash of repository paths, names and bytes: a committed folder (``results/why``: each of its files) or a
    package file (``replicate/method/latents.py``)."""
    h = hashlib.sha256()
    for name in sorted(paths):
        target = project_root() / name
        h.update(name.encode())
        files = sorted(f for f in target.glob("*") if f.is_file()) if target.is_dir() else [target]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes() if f.is_file() else b"(missing)")
    return h.hexdigest()


def data_identity(dataset: str) -> str:
    """The data set's identity: its registry entry (URL and hash) when registered, else the file's SHA-256, else a
    folder's file names, sizes and times; '' for none."""
    if not dataset:
        return ""
    if dataset in registry():
        return store.content_key(dataset, registry()[dataset])
    path = Path(dataset).expanduser()
    if path.is_file():
        return store.file_sha256(path)
    return store.content_key(sorted((p.name, p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*")))


def run_machine() -> dict[str, Any]:
    """:func:`replicate.io.provenance.machine` and the BLAS kernels this process uses (OpenBLAS picks them by
    CPU model, which the family's feature flags do not name; an ill-conditioned fit can depend on them), and the
    caps on the kernels' instruction set (:mod:`replicate.io.numerics`)."""
    blas = sorted({f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                   if i.get("user_api") == "blas"})
    return {**machine(), "blas": ", ".join(blas), "caps": numerics.effective()}
