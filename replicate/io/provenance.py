"""What a run was made with (library versions, date, data) and publishing without machine paths.

Every page, table and manifest that names its run uses :func:`run_info` and
:func:`run_info_markdown`; paths are shown relative to the repository or the run folder, never
as the absolute path of the machine that ran them (:func:`replicate.io.paths.relative`).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import sys
from importlib import metadata
from typing import Any

import nbformat

from .paths import project_root

__all__ = ["versions", "machine", "run_info", "run_info_markdown", "scrub_paths", "scrub_notebook"]

#: Distributions whose versions shape the numbers (shown on every page).
VERSIONED = ("replicate-vae-scrna", "numpy", "scipy", "scikit-learn", "scanpy", "anndata", "tensorflow-cpu",
             "tensorflow", "keras", "papermill", "jupyter-book")


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the numbers."""
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


#: CPU features that choose TensorFlow's (oneDNN's, XLA's) kernels: machines that differ in them
#: train different VAEs from the same seed (measured: the floating-point sums run in another order).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def machine() -> dict[str, Any]:
    """The machine's CPU: model, cores, and its *family* (vendor, architecture and the kernel-choosing
    features of :data:`KERNEL_FLAGS`). Two runs can only be compared bit for bit within one family."""
    vendor, model, flags = "", platform.processor(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value
                elif key == "model name" and value:
                    model = value
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: the family is what Python can tell
        pass
    features = [f for f in KERNEL_FLAGS if f in flags]
    family = " ".join([vendor or platform.system(), platform.machine(), *features])
    return {"cpu": model or platform.machine(), "cores": os.cpu_count(), "family": family}


def run_info(*, dataset: str, cells: int | None = None, genes: int | None = None, profile: str = "",
             date: str | None = None, methods: list[str] | None = None,
             version_map: dict[str, str] | None = None) -> dict[str, Any]:
    """What a page shows about the run it comes from: dataset, shape, profile, date, versions."""
    return {"dataset": dataset, "cells": cells, "genes": genes, "profile": profile,
            "date": date or _dt.date.today().isoformat(), "methods": list(methods or []),
            "versions": dict(version_map) if version_map is not None else versions()}


def run_info_markdown(info: dict[str, Any]) -> str:
    """:func:`run_info` as one Markdown paragraph (the one text every page and the book use)."""
    shape = f" ({info['cells']:,} cells × {info['genes']:,} genes)" if info.get("cells") else ""
    methods = f"; clustering methods: {', '.join(info['methods'])}" if info.get("methods") else ""
    libs = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    return (f"**Run:** dataset `{info['dataset']}`{shape}, profile `{info.get('profile') or '-'}`"
            f"{methods}, {info['date']}. **Versions:** {libs}.")


#: An absolute path up to an installed package: ``/any/where/lib/python3.11/site-packages/``.
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s:\"'<>]+)+[/\\](?:site|dist)-packages[/\\]")


def scrub_paths(text: str) -> str:
    """``text`` without this machine's folders: installed packages as ``site-packages/…``, files of
    the project relative to its root, the home folder as ``~``.

    Warnings printed by libraries (a TqdmWarning, a FutureWarning) name the file they come from;
    an executed notebook or a built page must not publish where the run happened.
    """
    text = _SITE_PACKAGES.sub("site-packages/", text)
    root = project_root(required=False)
    for prefix, short in ((str(root) + os.sep if root else None, ""), (sys.prefix + os.sep, ""),
                          (os.path.expanduser("~") + os.sep, "~/")):
        if prefix and len(prefix) > 2:
            text = text.replace(prefix, short)
    return text


def scrub_notebook(path: str | os.PathLike) -> bool:
    """Apply :func:`scrub_paths` to a notebook's stream and error outputs; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                new = scrub_paths(out["text"])
                changed |= new != out["text"]
                out["text"] = new
            elif out.get("output_type") == "error":
                new = [scrub_paths(line) for line in out.get("traceback", [])]
                changed |= new != out.get("traceback", [])
                out["traceback"] = new
    if changed:
        nbformat.write(nb, path)
    return changed
