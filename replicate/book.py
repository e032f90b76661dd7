"""`replicate book`: build the Jupyter Book (1.x, offline) from a run folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import ReplicateError
from .pipeline import SECTIONS, project_root

__all__ = ["build"]


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return str(exe)
    found = shutil.which("jupyter-book")
    if not found:
        raise ReplicateError("jupyter-book is not installed; run `pip install -e .` in this environment.")
    return found


def build(run: str | Path, *, strict: bool = True) -> Path:
    """Stage ``book/`` with the run's executed notebooks and build it; return the HTML folder.

    The book is built in a scratch folder and moved to ``<run>/book`` only when the build
    succeeds, so a failed build never replaces a good one. ``strict`` turns every Sphinx warning
    (a missing glued number, a broken link) into a failure.
    """
    run = Path(run)
    manifest = run / "manifest.json"
    if not manifest.is_file():
        raise ReplicateError(f"{run} is not a run folder (no manifest.json). Create one with `replicate run`.")
    info = json.loads(manifest.read_text())
    missing = [s for s in SECTIONS if info.get("sections", {}).get(s, {}).get("status") != "done"]
    if missing:
        raise ReplicateError(f"run {run} has unfinished sections: {', '.join(missing)}. Re-run `replicate run`.")
    stage = run / ".book.building"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(project_root() / "book", stage, ignore=shutil.ignore_patterns("_build"))
    for section in SECTIONS:
        shutil.copyfile(run / section / f"{section}.ipynb", stage / f"{section}.ipynb")
    cmd = [_jupyter_book(), "build", "--all", str(stage)]
    if strict:
        cmd[3:3] = ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        log = (proc.stdout + proc.stderr)[-4000:]
        raise ReplicateError(f"jupyter-book build failed (the previous book, if any, is kept):\n{log}")
    final = run / "book"
    shutil.rmtree(final, ignore_errors=True)
    stage.replace(final)
    return final / "_build" / "html"
