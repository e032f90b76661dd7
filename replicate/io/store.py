"""Content hashes and cache keys, the cache folder, atomic writes (temp file + rename, never half a file;
the mode follows the user's umask) and a lock for files that two processes merge into."""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pooch

try:
    import fcntl
except ImportError:  # not POSIX: no lock to take
    fcntl = None

__all__ = ["cache_dir", "content_key", "code_hash", "array_hash", "file_sha256", "git_blob_sha1", "atomic_write", "locked", "write_json", "save_npz", "load_npz"]


def cache_dir() -> Path:
    """``$REPLICATE_CACHE_DIR``, else ``~/.cache/replicate`` (the OS's user cache folder)."""
    env = os.environ.get("REPLICATE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(pooch.os_cache("replicate"))


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def content_key(*parts: Any) -> str:
    """A stable hex key for JSON-able parts (dict order does not matter)."""
    text = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_PACKAGE = Path(__file__).resolve().parents[1]  # replicate/


def _module_file(parts: list[str]) -> Path | None:
    """The source file of the package module ``replicate.<parts>`` (a module or a package), if any."""
    base = _PACKAGE.joinpath(*parts)
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports(f: Path) -> list[Path]:
    """The package modules ``f`` imports (relative or ``replicate.``), read from its source, not run."""
    parts = list(f.relative_to(_PACKAGE).with_suffix("").parts)
    package = parts[:-1]  # a module's package; an __init__'s is its own folder, the same parts
    found = []
    for node in ast.walk(ast.parse(f.read_bytes())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
            elif (node.module or "").split(".")[0] == "replicate":
                base = []
            else:
                continue
            mod = [p for p in (node.module or "").split(".") if p]
            mod = mod[1:] if not node.level else mod
            found += [_module_file(base + mod)] + [_module_file(base + mod + [a.name]) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [_module_file(a.name.split(".")[1:]) for a in node.names if a.name.startswith("replicate.")]
    return [x for x in found if x is not None and x != f]


@functools.cache
def code_hash(*modules: str) -> str:
    """SHA-256 of the source of the package ``modules`` (``"method.cells"``) and of every package module they
    import, directly or not: the code that computes a cached result. A cache keyed by it never returns a row
    that the code as it is now would not make (the files are read once per process)."""
    todo = [f for f in (_module_file(m.split(".")) for m in modules) if f is not None]
    if len(todo) != len(modules):
        raise ValueError(f"not a module of the package: {modules}")
    seen: set[Path] = set()
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo += _imports(f)
    h = hashlib.sha256()
    for f in sorted(seen):
        h.update(f.relative_to(_PACKAGE).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def array_hash(X: np.ndarray) -> str:
    """SHA-256 of an array's shape, dtype and bytes."""
    X = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{X.shape}{X.dtype}".encode())
    h.update(X.tobytes())
    return h.hexdigest()


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



def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    If ``write`` raises (or the process dies), ``path`` is untouched and the temporary is removed
    (or, after a kill, left with a ``.tmp`` suffix that nothing reads).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600: follow the user's umask, as open() does
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the folder of ``path`` (POSIX ``flock`` on the folder itself, so no lock file
    is left behind; no lock where there is none) while processes might read, merge and write ``path``."""
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(_canonical(obj), indent=2, sort_keys=True)
    return atomic_write(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``np.savez_compressed`` atomically."""

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    return atomic_write(path, write)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz``, or None when it is missing or unreadable (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        return None
