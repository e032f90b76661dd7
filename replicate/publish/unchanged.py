"""Evidence that a stale step's inputs are unchanged in all that matters, found without re-computing it.

``replicate restamp`` (:mod:`replicate.publish.restamp`) tries these first; each compares an input now with
the version ``dvc.lock`` recorded when the step was made (found in git by its md5):

- **same program**: code that parses to the same program, comments and docstrings aside;
- **same inputs**: a fact file now tracked by entry whose bytes are unchanged; files inside an upstream
  folder the step depended on whole (a section now depends on earlier sections' tables, not their folders)
  while that folder is what ``dvc.lock`` recorded;
- **same parameters**: a tables step's (``replicate compute``) notebook, which it reads for its parameters'
  defaults only, edited elsewhere than in its parameters cell.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
from collections.abc import Sequence

import nbformat
import pathspec
import yaml

from ..io.paths import project_root
from .graph import KEYED
from .status import last_commit

__all__ = ["same_program", "same_inputs", "same_parameters", "folder_md5", "parameters_only", "narrowed"]


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(project_root()), *args], capture_output=True, check=False)


def _locked(step: str) -> dict[str, str]:
    """The md5 of each input ``dvc.lock`` recorded for ``step``."""
    lock = yaml.safe_load((project_root() / "dvc.lock").read_text()).get("stages", {})
    return {d["path"]: d.get("md5", "") for d in lock.get(step, {}).get("deps", [])}


def _text_with_md5(path: str, md5: str, depth: int = 300) -> str | None:
    """The committed version of ``path`` whose md5 is ``md5`` (newest first), or None."""
    commits = _git("log", f"-{depth}", "--format=%H", "--", path).stdout.decode().split()
    for commit in commits:
        blob = _git("show", f"{commit}:{path}")
        if blob.returncode == 0 and hashlib.md5(blob.stdout).hexdigest() == md5:
            return blob.stdout.decode("utf-8")
    return None


def _program(text: str) -> str:
    """The program ``text`` parses to, without its docstrings (comments are not in the tree)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def _text_when_made(step: str, path: str) -> str | None:
    """``path`` as committed with ``step``'s outputs (the commit that last changed them) and just before: a code
    file the step loaded but did not declare then has the version it was made with, where the two agree."""
    stage = yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"].get(step, {})
    outs = [o if isinstance(o, str) else next(iter(o)) for o in stage.get("outs", [])]
    made = last_commit(outs, fmt="%H") if outs else ""
    texts = {_git("show", f"{commit}:{path}").stdout for commit in (made, f"{made}~1")} if made else set()
    return texts.pop().decode("utf-8") if len(texts) == 1 and b"" not in texts else None


def same_program(step: str, files: Sequence[str]) -> bool:
    """Whether each changed code file of ``step`` is, comments and docstrings aside, the program it was made from
    (for a file it loaded but did not declare then, :func:`_text_when_made`)."""
    locked = _locked(step)
    for path in files:
        old = _text_with_md5(path, locked[path]) if path in locked else _text_when_made(step, path)
        if old is None or _program(old) != _program((project_root() / path).read_text(encoding="utf-8")):
            return False
    return True


def same_inputs(step: str, files: Sequence[str]) -> bool:
    """Whether each changed input of ``step`` is code that is the same program (:func:`same_program`) or a fact
    file tracked by entry whose bytes are those ``dvc.lock`` recorded when the step was made whole from it."""
    locked = _locked(step)
    code = [f for f in files if f.endswith(".py")]
    keyed = [f for f in files if f in KEYED]
    if len(code) + len(keyed) != len(files) or not same_program(step, code):
        return False
    return all(f in locked and hashlib.md5((project_root() / f).read_bytes()).hexdigest() == locked[f] for f in keyed)


def _parameters(text: str) -> list[str]:
    """The parameters cell of a notebook's text (``.ipynb``)."""
    nb = nbformat.reads(text, as_version=4)
    return [c.source for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def same_parameters(step: str, path: str) -> bool:
    """Whether the notebook ``path`` declares the parameters, defaults included, of the version ``step`` was made
    from (a tables step reads its section's notebook for nothing else)."""
    locked = _locked(step)
    old = _text_with_md5(path, locked[path]) if path in locked else None
    return old is not None and _parameters(old) == _parameters((project_root() / path).read_text(encoding="utf-8"))


def parameters_only(step: str, changed: list[str], graph: dict) -> tuple[list[str], list[str]]:
    """(the changes left, the notebooks set aside): a tables step's (``replicate compute``) changed notebooks whose
    parameters are the same need no re-computation; any other step's notebook is its page (see
    :func:`code_changes`)."""
    if not graph.get(step, {}).get("cmd", "").startswith("replicate compute "):
        return changed, []
    notebooks = [e.rpartition(" (")[0] for e in changed if e.startswith("notebooks/") and e.endswith(" (modified)")]
    if not notebooks or not all(same_parameters(step, n) for n in notebooks):
        return changed, []
    return [e for e in changed if e.rpartition(" (")[0] not in notebooks], notebooks


def _dvc_ignored() -> pathspec.PathSpec:
    """The files DVC leaves out of a folder's hash (``.dvcignore``: a run's own logs)."""
    path = project_root() / ".dvcignore"
    return pathspec.PathSpec.from_lines("gitwildmatch", path.read_text().splitlines() if path.is_file() else [])


def folder_md5(path: str) -> str:
    """DVC's hash of a folder (``<md5>.dir``): the md5 of its files' sorted list of (md5, relative path), the files
    ``.dvcignore`` names left out."""
    folder, ignored = project_root() / path, _dvc_ignored()
    entries = sorted(({"md5": hashlib.md5(f.read_bytes()).hexdigest(), "relpath": f.relative_to(folder).as_posix()}
                      for f in folder.rglob("*") if f.is_file()
                      and not ignored.match_file(f.relative_to(project_root()).as_posix())), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def narrowed(step: str, changed: list[str]) -> tuple[list[str], list[str]]:
    """(the changes left, the inputs set aside): files inside an upstream folder the step depended on whole (a
    section now depends on earlier sections' tables, not their folders), while that folder is still, byte for
    byte, what ``dvc.lock`` recorded when the step was made: the step's inputs are the same."""
    locked = _locked(step)
    folders = [d for d, md5 in locked.items() if md5.endswith(".dir")]
    inside = [p for p in (e.rpartition(" (")[0] for e in changed) if p not in locked
              and any(p.startswith(f"{d}/") and (project_root() / d).is_dir() and folder_md5(d) == locked[d]
                      for d in folders)]
    return [e for e in changed if e.rpartition(" (")[0] not in inside], inside
