"""Executing section notebooks for ``replicate run``: one at a time or side by side, atomically, talking.

Each section notebook runs in its folder with papermill; its progress lines (VAE epochs, grid cells) reach
the terminal prefixed by its name as they are written, with a heartbeat every 15 s of silence, and a line
says when the section starts. A line a run has already shown (the z-scoring of the same data, latents from
the cache) is shown once per run. Every file a run writes while a section executes -- the scratch
notebook, the progress, reads and code logs -- carries the run's process id, so two runs into one folder
never share or delete each other's files, and each terminal shows its own run's lines.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from ..io import paths, progress, store
from ..io.provenance import scrub_notebook

__all__ = ["SectionFailed", "relative_notebook_paths", "sweep", "execute", "execute_graph"]

#: One section to execute: its name, notebook, folder and parameters.
Task = tuple[str, str, Path, dict]


@contextlib.contextmanager
def _kernel_output_to(log: Path) -> Iterator[None]:
    """Send this process's standard error, which the kernel inherits, to ``log`` for the duration.

    The kernel's own start-up lines (ipykernel's transport warning, TensorFlow's absl and oneDNN
    notices) then land in the log, not on the terminal; the executed notebook keeps its outputs.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def relative_notebook_paths(path: Path, section: str, output_name: str) -> None:
    """Papermill records the absolute input and output paths in the notebook's metadata; keep
    them relative (to the repository and to the section folder), and strip the machine's folders
    from printed warnings (:func:`replicate.io.provenance.scrub_paths`), so no machine path is published."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["input_path"] = f"notebooks/{section}.ipynb"
        meta["output_path"] = output_name
        nbformat.write(nb, path)
    scrub_notebook(path)


#: A file a run writes while it works, named with its process id (see :func:`execute`).
_OWN_FILE = re.compile(r"^\.(?:.+\.(?P<a>\d+)\.running\.ipynb|(?:progress|reads|code|shown)\.(?P<b>\d+)\.log)$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep(folder: Path) -> list[str]:
    """Remove what a killed run left in ``folder`` (its scratch notebook and logs: named with a process id that is
    no longer running); a running run's files stay. Returns the names removed."""
    gone = []
    for path in folder.glob(".*") if folder.is_dir() else ():
        found = _OWN_FILE.match(path.name)
        if found and not _alive(int(found["a"] or found["b"])):
            path.unlink(missing_ok=True)
            gone.append(path.name)
    return gone


class SectionFailed(Exception):
    """A failing cell: plain fields, so that it crosses from a worker process intact."""

    def __init__(self, exec_count: Any, ename: str, evalue: str, notebook: Path) -> None:
        super().__init__(exec_count, ename, evalue, notebook)
        self.exec_count, self.ename, self.evalue, self.notebook = exec_count, ename, evalue, notebook


#: Seconds of terminal silence before a heartbeat line: under 15 with the follower's half-second poll.
HEARTBEAT_S = 14.0
#: How a heartbeat line starts: never left out as "shown already" (every section's first one reads the same).
HEARTBEAT = "still running"


class _Follow(progress.follow):
    """:class:`replicate.io.progress.follow` whose quiet time counts from the last line the terminal showed: a line
    left out (shown once per run already) does not put the heartbeat off."""

    def __init__(self, path: Path, emit: Callable[[str], bool], **options: Any) -> None:
        def counted(line: str) -> None:
            self._printed = emit(line) or self._printed

        super().__init__(path, counted, **options)
        self._printed = False

    def _drain(self) -> bool:
        self._printed = False
        super()._drain()
        return self._printed


def _printer(name: str, seen: Path | None) -> Callable[[str], bool]:
    """Print a section's progress line once per run: a line already in ``seen`` (the run's shown lines, shared
    by the sections side by side under a lock) is left out, a heartbeat never. Returns whether it printed."""
    def emit(line: str) -> bool:
        if seen is not None and not line.startswith(HEARTBEAT):
            with store.locked(seen):
                shown = set(seen.read_text(encoding="utf-8").splitlines()) if seen.is_file() else set()
                if line in shown:
                    return False
                with open(seen, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
        print(f"    {name}: {line}", flush=True)
        return True

    return emit


def execute(section: str, name: str, sec_dir: Path, params: dict[str, Any], log_output: bool, *,
            notebooks: Path, label: str = "", seen: Path | None = None) -> tuple[list[str], list[str]]:
    """Execute one section notebook into ``sec_dir`` (atomically: a scratch file renamed at the end);
    return the committed folders it read and the package files it loaded. ``label`` (``[3/17]``) starts the
    line that says it started. A failing cell raises :class:`SectionFailed` naming it."""
    t0, me = time.perf_counter(), f"{os.getpid()}"
    sweep(sec_dir)
    print(f"{label} {name} started".strip(), flush=True)
    scratch = sec_dir / f".{name}.{me}.running.ipynb"
    progress_file, reads_file, code_file = (sec_dir / f".{kind}.{me}.log" for kind in ("progress", "reads", "code"))
    heartbeat = lambda: f"{HEARTBEAT}, {time.perf_counter() - t0:.0f}s"  # noqa: E731 (prefixed like every line)
    env = {progress.ENV: progress_file, paths.READS_ENV: reads_file, paths.CODE_ENV: code_file}
    os.environ.update({k: str(v.resolve()) for k, v in env.items()})
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_Follow(progress_file, _printer(name, seen), heartbeat=heartbeat,
                                        heartbeat_s=HEARTBEAT_S))
            if not log_output:
                stack.enter_context(_kernel_output_to(sec_dir / ".kernel.log"))
            pm.execute_notebook(str(notebooks / f"{section}.ipynb"), str(scratch), parameters=params,
                                cwd=str(sec_dir), kernel_name="python3", progress_bar=False, log_output=log_output)
        target = sec_dir / f"{name}.ipynb"
        relative_notebook_paths(scratch, section, target.name)
        scratch.replace(target)
        return paths.recorded_reads(reads_file), paths.recorded_reads(code_file)
    except pm.PapermillExecutionError as exc:
        failed = sec_dir / f"{name}.failed.ipynb"
        relative_notebook_paths(scratch, section, failed.name)
        scratch.replace(failed)
        raise SectionFailed(exc.exec_count, exc.ename, exc.evalue, failed) from None
    finally:
        scratch.unlink(missing_ok=True)
        for key, path in env.items():
            os.environ.pop(key, None)
            path.unlink(missing_ok=True)


def _timed(*args: Any, **options: Any) -> tuple[tuple[list[str], list[str]], float]:
    """:func:`execute` in a worker process, and its own seconds (not counting the wait for a free worker)."""
    t0 = time.perf_counter()
    return execute(*args, **options), time.perf_counter() - t0


def execute_graph(todo: list[Task], needs: dict[str, set[str]], jobs: int, log_output: bool, done: Any, *,
                  notebooks: Path, labels: dict[str, str], seen: Path | None = None) -> None:
    """Execute ``todo`` (name, section, folder, parameters; in an order where each comes after what it needs),
    ``jobs`` at a time in worker processes (each with its own environment and standard error: a kernel inherits
    both), calling ``done`` as each ends. A section starts once every section of ``todo`` it ``needs`` is done
    (one not in ``todo`` is done already); among the ready ones, the earliest in ``todo`` first. On a failure
    the sections running finish, none starts, and the first failure is raised."""
    opts = {"notebooks": notebooks, "seen": seen}
    if jobs <= 1 or len(todo) <= 1:
        for name, section, sec_dir, params in todo:
            t0 = time.perf_counter()
            done(name, params, execute(section, name, sec_dir, params, log_output, label=labels[name], **opts),
                 time.perf_counter() - t0)
        return
    names = {task[0] for task in todo}
    waiting = {name: set(needs.get(name, ())) & names for name in names}
    queue, running = list(todo), {}
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"))
    try:
        while queue or running:
            # only as many in flight as workers: a section that becomes ready later is not queued behind others
            for task in [t for t in queue if not waiting[t[0]]][:max(0, jobs - len(running))]:
                name, section, sec_dir, params = task
                queue.remove(task)
                running[pool.submit(_timed, section, name, sec_dir, params, log_output, label=labels[name],
                                    **opts)] = (name, params)
            if not running:  # nothing can start: the order or the needs are wrong, not the notebooks
                raise RuntimeError(f"sections {[t[0] for t in queue]} wait for sections that never run")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name, params = running.pop(future)
                done(name, params, *future.result())
                for other in waiting.values():
                    other.discard(name)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
