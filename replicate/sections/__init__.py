"""The paper run's sections as tables, apart from their pages: what a section computes, read back by its page.

Each section whose tables are a step of their own has a module here (``data``, ``clustering``, ``why``,
``uncertainty``; :data:`replicate.paper.run_tables.COMPUTE`) with ``tables(params) -> {name: DataFrame}``. A
module imports only what its section computes with, so the study graph gives each tables step the code it uses
(an edit of the why study leaves the label counts current) and no plot or page code at all.

A section listed in :data:`SPLIT` is two steps of the study graph (``dvc.yaml``): its **tables**, made here
(``replicate compute``), and its **page**, the section notebook executed with papermill, which reads those
tables and draws them. The tables' code loads no plot, page or notebook machinery (a test checks it), so a
plotting change re-renders pages in minutes and leaves every training and grid current.

A section's tables are written with a record, ``tables.json``: its parameters, the package files its
computation loads (measured in a fresh interpreter: the list ``dvc.yaml`` gives the step), the data and the
committed folders it read, the machine and the time. :func:`tables` reads them back while the record's key
still matches -- the same parameters, code, data and reads -- and computes them otherwise: a notebook run on
its own computes its tables, a page executed after ``replicate compute`` reads them. Either way the page
draws what was read back from the files, so it shows the same whichever way it ran.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from anndata import AnnData

from ..io import progress, store
from ..io.made import TABLES_RECORD, data_identity, files_identity, run_machine
from ..io.paths import READS_ENV, project_root, recorded_reads
from ..method.preprocess import prepare
from ..paper.run_tables import COMPUTE, SPLIT, entry, table_names

__all__ = ["SPLIT", "COMPUTE", "RECORD", "EXECUTION", "table_names", "entry", "cells", "computation", "code", "key",
           "read", "tables", "labels_into"]

#: The record written beside a section's tables.
RECORD = TABLES_RECORD
#: Parameters that decide how the work runs or is labelled, never what it makes: not part of the key.
EXECUTION = frozenset({"output_dir", "profile", "n_jobs", "scheduler"})


def _known(section: str) -> str:
    if section not in COMPUTE:
        raise KeyError(f"section {section!r} has no tables of its own; those that do: {', '.join(COMPUTE)}")
    return COMPUTE[section]


def computation(section: str) -> Callable[[dict[str, Any]], dict[str, pd.DataFrame]]:
    """The function that makes ``section``'s tables from its parameters (its module's ``tables``)."""
    return importlib.import_module(_known(section)).tables


@cache
def code(section: str) -> tuple[str, ...]:
    """The package files (and fact files read at import) that making ``section``'s tables loads, in a fresh
    interpreter: what its tables depend on, the same list the study graph gives their step. Measured once per
    state of the package (its files' bytes, this Python) and kept in the cache folder, so each kernel does not
    start another."""
    package = Path(__file__).resolve().parents[1]
    files = sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".toml", ".json"))
    state = store.content_key(sys.executable, sys.version, [(p.relative_to(package).as_posix(), store.file_sha256(p))
                                                            for p in files])
    kept = store.cache_dir() / "code" / f"sections-{section}-{state}.json"
    if kept.is_file():
        return tuple(json.loads(kept.read_text(encoding="utf-8")))
    script = f"import json, {entry(section)}\nfrom replicate.io.paths import loaded_code\nprint(json.dumps(loaded_code()))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project_root(), check=False)
    if done.returncode:
        raise RuntimeError(f"loading {entry(section)} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    kept.parent.mkdir(parents=True, exist_ok=True)
    store.atomic_write(kept, lambda p: p.write_text(json.dumps(found), encoding="utf-8"))
    return tuple(found)


def key(section: str, params: Mapping[str, Any], reads: list[str]) -> str:
    """What a section's tables depend on: the section, its parameters, the code, the data and what it read."""
    visible = {k: v for k, v in params.items() if k not in EXECUTION}
    return store.content_key(section, visible, files_identity(list(code(section))),
                             data_identity(str(params.get("dataset", ""))), files_identity(reads))


def read(folder: str | os.PathLike, section: str, params: Mapping[str, Any]) -> dict[str, pd.DataFrame] | None:
    """The tables in ``folder`` when its record's key matches ``params`` and the code, data and reads of now."""
    folder = Path(folder)
    record = folder / RECORD
    names = table_names(section, params)
    if not record.is_file() or not all((folder / f"{n}.csv").is_file() for n in names):
        return None
    made = json.loads(record.read_text(encoding="utf-8"))
    if made.get("key") != key(section, params, made.get("reads", [])):
        return None
    return {n: pd.read_csv(folder / f"{n}.csv") for n in names}


@contextlib.contextmanager
def _reads() -> Iterator[Path]:
    """Note the committed folders read meanwhile in a file of our own, passing them on to a recording run's."""
    outer = os.environ.get(READS_ENV)
    with tempfile.TemporaryDirectory(prefix="replicate-reads-") as tmp:
        mine = Path(tmp) / "reads"
        os.environ[READS_ENV] = str(mine)
        try:
            yield mine
        finally:
            if outer is None:
                os.environ.pop(READS_ENV, None)
            else:
                os.environ[READS_ENV] = outer
                if mine.is_file():
                    with open(outer, "a", encoding="utf-8") as f:
                        f.write(mine.read_text(encoding="utf-8"))


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as a page reads it back from its file."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def tables(section: str, params: Mapping[str, Any], output_dir: str | os.PathLike = "", *,
           force: bool = False) -> dict[str, pd.DataFrame]:
    """``section``'s tables for ``params``: read from ``output_dir`` while its record matches (:func:`read`),
    else computed (and written there with the record, atomically, when ``output_dir`` is given)."""
    make = computation(section)
    folder = Path(output_dir) if output_dir else None
    found = read(folder, section, params) if folder is not None and not force else None
    if found is not None:
        progress.report(f"{section}: tables read back, made {json.loads((folder / RECORD).read_text())['date']}")
        return found
    t0 = time.perf_counter()
    with _reads() as noted:
        made = make(dict(params))
        reads = recorded_reads(noted)
    if folder is None:
        return {n: _csv(df) for n, df in made.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in made.items():
        store.atomic_write(folder / f"{name}.csv", lambda p, df=df: df.to_csv(p, index=False))
    visible = {k: v for k, v in params.items() if k not in EXECUTION}
    store.write_json(folder / RECORD, {"section": section, "key": key(section, params, reads), "tables": list(made),
                                       "parameters": visible,
                                       "reads": reads, "machine": run_machine(), "date": dt.date.today().isoformat(),
                                       "seconds": round(time.perf_counter() - t0, 1)})
    return {n: pd.read_csv(folder / f"{n}.csv") for n in made}


def labels_into(adata: AnnData, labels: pd.DataFrame, key_added: str) -> None:
    """Put a labels table's clusters (``cell``, ``cluster``) into ``adata.obs[key_added]``, cell by cell."""
    by_cell = labels.assign(cell=labels["cell"].astype(str)).set_index("cell")["cluster"].astype(str)
    missing = set(adata.obs_names.astype(str)) - set(by_cell.index)
    if missing:
        raise ValueError(f"the labels table lacks {len(missing)} of the data's cells (e.g. {sorted(missing)[0]!r}): "
                         "it was made from other data; re-make the section's tables.")
    adata.obs[key_added] = pd.Categorical(by_cell.loc[adata.obs_names.astype(str)].to_numpy())


def cells(params: Mapping[str, Any]) -> AnnData:
    """A section's data set, preprocessed as its parameters say (what each section's module starts from)."""
    return prepare(params["dataset"], label_key=params.get("label_key"), target_sum=params.get("target_sum"),
                   clip_zscore=params.get("clip_zscore"))
