"""Where things are: the source checkout, paths shown relative to it, and the committed results.

Every read of a committed folder (``results/why``, ``benchmarks/results``, ...) goes through
:func:`committed`, which also notes the folder in ``$REPLICATE_READS_FILE`` when that is set:
``replicate run`` sets it for each notebook it executes, so which committed results a section
reads is recorded from what its code loads, never typed by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ReplicateError

__all__ = ["READS_ENV", "project_root", "relative", "study_dir", "committed", "recorded_reads"]

#: Environment variable naming the file each read committed folder is appended to.
READS_ENV = "REPLICATE_READS_FILE"


def project_root(*, required: bool = True) -> Path | None:
    """The source checkout this package runs from (it holds ``notebooks/`` and ``book/``).

    ``required=False`` returns None for an installed wheel (no checkout); otherwise a
    :class:`~replicate.io.errors.ReplicateError` says how to get one.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file():
        return root
    if not required:
        return None
    raise ReplicateError(
        "this command needs the repository's notebooks/ and book/ folders, which a plain "
        "`pip install` does not carry. Clone the repository and run `pip install -e .` in it."
    )


def relative(path: str | os.PathLike, *, to: str | os.PathLike | None = None) -> str:
    """``path`` relative to ``to`` (default: the repository, else the working folder), POSIX style.

    A path outside both is reduced to its name, so no absolute machine path is ever shown.
    """
    p = Path(path).resolve()
    bases = [Path(to).resolve()] if to is not None else []
    root = project_root(required=False)
    bases += [root] if root is not None else []
    bases.append(Path.cwd().resolve())
    for base in bases:
        try:
            return p.relative_to(base).as_posix() or "."
        except ValueError:
            continue
    return p.name


def study_dir(study: str) -> Path:
    """``results/<study>`` of the checkout, where a study writes its committed tables."""
    return project_root() / "results" / study


def committed(folder: str) -> Path:
    """The committed folder ``folder`` (relative to the repository, e.g. ``results/why``), noting the read."""
    target = os.environ.get(READS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(folder.rstrip("/") + "\n")
    return project_root() / folder


def recorded_reads(path: str | os.PathLike) -> list[str]:
    """The folders noted in a reads file, sorted, each once (empty when there is no file)."""
    path = Path(path)
    if not path.is_file():
        return []
    return sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()})
