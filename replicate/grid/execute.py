"""Run many clustering cells (embedding x method x setting), locally or on a Dask cluster, resumably.

A run is one tidy table (CSV): one row per cell, with the columns of
:func:`replicate.method.cells.run_cell` plus ``dataset``, ``embedding``, ``grid`` and ``key``.
Rows are written as cells finish, atomically (temp file + rename), so an interrupted run leaves a
file of whole rows, and rerunning computes only the cells whose key is missing (the keys are
:mod:`replicate.grid.plan`'s).

Every cell runs with BLAS/OpenMP limited to one thread (:func:`replicate.method.runtime.single_threaded`):
the cells themselves are the parallel work (joblib over all cores, or Dask workers), and one
thread makes the numbers bit-identical whatever the executor. Choosing a setting from the rows is
:mod:`replicate.grid.selection`'s job.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from dask.distributed import Client
from joblib import Parallel, delayed, parallel_config

from ..io import progress as progress_lines
from ..io import store
from ..method.cells import run_cell
from ..method.clustering import PAPER_METHODS
from .plan import Cell, plan

__all__ = ["COLUMNS", "SCHEDULER_ENV", "store_path", "execute", "run", "load_results", "describe_run"]


#: Environment variable naming a Dask scheduler (``tcp://host:8786``) to run cells on.
SCHEDULER_ENV = "REPLICATE_DASK_SCHEDULER"


#: Leading columns of a results table, in order; ``param_<name>`` columns follow.
COLUMNS = ["dataset", "embedding", "method", "parameters", "grid", "n_clusters", "clusters_found",
           "noise_cells", "CA", "NMI", "ARI", "silhouette", "seconds", "status", "message",
           "random_state", "key", "sklearn", "numpy"]



def store_path(X: np.ndarray) -> Path:
    """The resumable results table of every cell run on embeddings of the matrix ``X`` (one per
    preprocessed matrix, shared by every notebook, study and run, in the cache folder)."""
    return store.cache_dir() / "clustering" / f"{store.array_hash(np.asarray(X))[:24]}.csv"


def _run_task(cell: Cell, Z: np.ndarray, labels: np.ndarray, time_limit_s: float | None = None) -> dict[str, Any]:
    """One cell in a worker (run_cell is single-threaded, so its numbers do not depend on the executor)."""
    row = run_cell(Z, labels, cell.method, cell.params, n_clusters=cell.n_clusters,
                   random_state=cell.random_state, time_limit_s=time_limit_s)
    row["key"] = cell.key
    row["time_limit_s"] = time_limit_s if time_limit_s else float("nan")
    return row



def execute(cells: Sequence[Cell], embeddings: Mapping[str, Any], labels: Any, *, n_jobs: int = -1,
            scheduler: Any = None, time_limit_s: float | None = None) -> Iterator[dict[str, Any]]:
    """Yield the row of every cell as it finishes (any order): joblib locally, or on Dask.

    ``scheduler`` (or ``$REPLICATE_DASK_SCHEDULER``): a Dask scheduler address or a
    ``distributed.Client``; then ``n_jobs`` is ignored and every worker is used. Workers need
    this package and scikit-learn installed; each row records the versions of the worker that
    computed it.
    """
    labels = np.asarray(labels)
    arrays = {name: np.asarray(Z) for name, Z in embeddings.items()}
    tasks = (delayed(_run_task)(cell, arrays[cell.embedding], labels, time_limit_s) for cell in cells)
    scheduler = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV) or None
    if scheduler is None:
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        return
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        with parallel_config(backend="dask"):
            yield from Parallel(n_jobs=-1, return_as="generator_unordered")(tasks)
    finally:
        if client is not scheduler:
            client.close()



def _read_rows(out: Path) -> list[dict[str, Any]]:
    if not out.is_file():
        return []
    try:
        frame = pd.read_csv(out, keep_default_na=True, float_precision="round_trip")  # exactly the written floats
        if "key" not in frame.columns:
            raise ValueError("no key column")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        aside = out.with_name(out.name + ".corrupt")
        out.replace(aside)
        print(f"{out} is not a results table ({exc}); moved it to {aside} and starting afresh.", file=sys.stderr)
        return []
    for text in ("dataset", "embedding", "grid", "message"):  # CSV reads "" back as NaN
        if text in frame.columns:
            frame[text] = frame[text].fillna("").astype(str)
    return frame.to_dict("records")



#: Columns holding counts: integers, also where the store (shared with other methods) read them as floats.
COUNTS = ("n_clusters", "clusters_found", "noise_cells", "random_state")


def _frame(rows: Iterable[dict[str, Any]], params: set[str] | None = None) -> pd.DataFrame:
    """The rows as a table: leading :data:`COLUMNS`, then the rest sorted; with ``params``, only those
    ``param_<name>`` columns (the store holds every method's); counts as integers."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    if params is not None:
        frame = frame[[c for c in frame.columns if not c.startswith("param_") or c in params]]
    for column in COUNTS:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.dropna().eq(values.dropna().round()).all():
                frame[column] = values.astype("Int64")
    lead = [c for c in COLUMNS if c in frame.columns]
    rest = sorted(c for c in frame.columns if c not in lead)
    return frame[lead + rest]



def load_results(out: str | os.PathLike) -> pd.DataFrame:
    """A results table written by :func:`run` (empty if the file does not exist)."""
    return _frame(_read_rows(Path(out)))



def run(embeddings: Mapping[str, Any], labels: Any, out: str | os.PathLike, *, dataset: str = "",
        methods: Sequence[str] = PAPER_METHODS, thin: int | str | Mapping[str, Any] | None = None,
        n_clusters: int | None = None, random_state: int = 0,
        settings: Mapping[str, Sequence[dict[str, Any]]] | None = None, n_jobs: int = -1,
        scheduler: Any = None, retry_failed: bool = False, progress: bool = True,
        flush_every_s: float = 1.0, time_limit_s: float | None = None) -> pd.DataFrame:
    """Run every cell of :func:`plan` into the CSV ``out``; return this run's rows in plan order.

    Cells already in ``out`` (same key) are not recomputed; failed ones are retried only with
    ``retry_failed``, and a cell that timed out is retried when ``time_limit_s`` is larger than
    the limit it ran under; a cell refused before it started (status ``skipped``: estimated past the memory
    available or twice ``time_limit_s``, :mod:`replicate.method.budget`) is estimated again. Each cell stops
    after ``time_limit_s`` seconds (status ``timeout``). Finished rows are written atomically at most every ``flush_every_s`` seconds
    and whenever the run stops, including on an exception or Ctrl-C, so the file always holds
    whole rows. Other rows already in ``out`` (other cells) are kept.
    """
    cells = plan(embeddings, labels, dataset=dataset, methods=methods, thin=thin, n_clusters=n_clusters,
                 random_state=random_state, settings=settings)
    out = Path(out)
    stored = {r["key"]: r for r in _read_rows(out)}
    if retry_failed:
        stored = {k: r for k, r in stored.items() if r.get("status") != "failed"}

    def stale(r: dict[str, Any]) -> bool:  # timed out under a shorter limit than this run's, or refused
        ran = r.get("time_limit_s")
        if r.get("status") == "skipped":  # the refusal depends on the limit and the memory free: it costs an estimate
            return True
        return r.get("status") == "timeout" and (not time_limit_s or (ran == ran and ran < time_limit_s))

    stored = {k: r for k, r in stored.items() if not stale(r)}
    identity = {c.key: c for c in cells}
    todo = list({c.key: c for c in cells if c.key not in stored}.values())
    old = {str(r.get("sklearn")) for k, r in stored.items() if k in identity} - {sklearn.__version__}
    if old and progress:
        progress_lines.report(f"[clustering] reusing rows computed with scikit-learn {', '.join(sorted(old))} "
                        f"(now {sklearn.__version__}); see the sklearn column.")

    def with_identity(row: dict[str, Any], cell: Cell) -> dict[str, Any]:
        return {**row, "dataset": cell.dataset, "embedding": cell.embedding, "grid": cell.grid}

    def flush() -> None:  # merged with what another run wrote meanwhile (the store is shared)
        with store.locked(out):
            theirs = {r["key"]: r for r in _read_rows(out)}
            frame = _frame({**theirs, **stored}.values())
            store.atomic_write(out, lambda p: frame.to_csv(p, index=False))

    bar = progress_lines.Counter(len(identity), len(identity) - len(todo), enabled=progress)
    last = time.perf_counter()
    dirty = False
    try:
        for row in execute(todo, embeddings, labels, n_jobs=n_jobs, scheduler=scheduler, time_limit_s=time_limit_s):
            stored[row["key"]] = with_identity(row, identity[row["key"]])
            dirty = True
            bar.update()
            if time.perf_counter() - last >= flush_every_s:
                flush()
                last, dirty = time.perf_counter(), False
    finally:
        bar.close()
        if dirty or not out.is_file():
            flush()
    return _frame((with_identity(stored[c.key], c) for c in cells), {f"param_{k}" for c in cells for k in c.params})



def describe_run(results: pd.DataFrame) -> str:
    """One line: cells, statuses, grids and versions of a results table (for logs and pages)."""
    counts = results["status"].value_counts().to_dict() if len(results) else {}
    grids = ", ".join(sorted(map(str, results["grid"].unique()))) if len(results) else "-"
    pairs = zip(results.get("sklearn", []), results.get("numpy", []))
    versions = ", ".join(sorted({f"sklearn {a} / numpy {b}" for a, b in pairs}))
    return (f"{len(results)} cells ({', '.join(f'{k} {v}' for k, v in counts.items())}); grids: {grids}; "
            f"{versions or 'no versions'}")

