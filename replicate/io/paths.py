"""Where things are: the source checkout, paths shown relative to it, and the committed results.

Every read of a committed folder (``results/why``, ``benchmarks/results``, ...) goes through
:func:`committed`, which also notes the folder in ``$REPLICATE_READS_FILE`` when that is set:
``replicate run`` sets it for each notebook it executes, so which committed results a section
reads is recorded from what its code loads, never typed by hand. In the same way, when
``$REPLICATE_CODE_FILE`` is set, the interpreter appends at exit the package modules it loaded and
the fact files it read (:func:`record_code`): a section's, or a study step's, dependency on code.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

from .errors import ReplicateError

__all__ = ["READS_ENV", "CODE_ENV", "loaded_code", "note_code", "record_code", "project_root", "relative", "study_dir", "committed", "recorded_reads"]

#: Environment variable naming the file each read committed folder is appended to.
READS_ENV = "REPLICATE_READS_FILE"
#: Environment variable naming the file the loaded modules and read fact files are appended to at exit.
CODE_ENV = "REPLICATE_CODE_FILE"


def _module_path(name: str, package: bool) -> str:
    return name.replace(".", "/") + ("/__init__.py" if package else ".py")


def loaded_code() -> list[str]:
    """Repository paths (``replicate/method/latents.py``) of the package's modules loaded in this interpreter."""
    out = set()
    for key, module in list(sys.modules.items()):
        # a module run with ``python -m replicate...`` is in sys.modules as ``__main__``
        spec = getattr(module, "__spec__", None) if key == "__main__" else None
        name = spec.name if spec is not None else key
        if module is not None and (name == "replicate" or name.startswith("replicate.")):
            if getattr(module, "__file__", None) is None:  # a folder imported as a namespace: no code of its own
                continue
            out.add(_module_path(name, hasattr(module, "__path__")))
    return sorted(out)


def _append(target: str, lines: list[str]) -> None:
    with open(target, "a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def note_code(path: str) -> None:
    """Note a read fact file (``replicate/data/grids.toml``) in ``$REPLICATE_CODE_FILE`` when that is set."""
    target = os.environ.get(CODE_ENV)
    if target:
        _append(target, [path])


def record_code() -> None:
    """When ``$REPLICATE_CODE_FILE`` is set, append :func:`loaded_code` to it now, each package module
    as it is imported (an audit hook: nothing is lost when a kernel is killed rather than shut
    down), and :func:`loaded_code` again at exit (which names a module run with ``python -m``)."""
    target = os.environ.get(CODE_ENV)
    if not target:
        return
    _append(target, loaded_code())
    package = Path(__file__).resolve().parents[1]

    def on_import(event: str, args: tuple) -> None:
        if event != "import" or not isinstance(args[0], str) or not args[0].startswith("replicate."):
            return
        where = package.joinpath(*args[0].split(".")[1:])
        if where.is_dir() or where.with_suffix(".py").is_file():
            _append(target, [_module_path(args[0], where.is_dir())])

    sys.addaudithook(on_import)
    atexit.register(lambda: _append(target, loaded_code()))


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
    """The committed folder or file ``folder`` (relative to the repository, e.g. ``results/why``), noting the read."""
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
