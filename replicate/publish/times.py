"""The measured step times (``results/rebuild/times.csv``): one row per step ``replicate rebuild`` made, newest last.

A row says how warm the caches were when the step started (VAE entries in the cache folder: 0 means none) and
the machine's load, so a reader can tell a cold measurement on idle cores from one on a busy machine; a row of a
cold rebuild (:mod:`replicate.publish.cold`) names it, so its steps' times add up to what a rebuild from empty
caches costs.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pandas as pd

from ..io import store
from ..io.paths import project_root

__all__ = ["TIMES", "COLUMNS", "record", "timed_row", "latest", "cold_rows", "vae_entries"]

#: The committed table of measured step times (one row per step made, newest last).
TIMES = "results/rebuild/times.csv"
#: ``cold_rebuild``: the cold rebuild a row belongs to (empty for a rebuild that began with warm caches).
COLUMNS = ["step", "seconds", "date", "commit", "cpu", "cores", "vae_cache_entries", "load_average", "family",
           "cold_rebuild"]


def vae_entries() -> int:
    """How many trained VAEs the cache folder holds."""
    folder = store.cache_dir() / "vae"
    return sum(1 for p in folder.glob("*.npz") if not p.name.endswith(".weights.npz")) if folder.is_dir() else 0


def _head() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=project_root(), check=False)
    return done.stdout.strip()


def record(row: dict, times: str | os.PathLike | None = None) -> Path:
    """Append one row to the times table, atomically."""
    path = Path(times) if times else project_root() / TIMES
    new = pd.DataFrame([row], columns=COLUMNS)
    if path.is_file():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    new = new.astype({"vae_cache_entries": "Int64"})  # a count, also where an early row has none
    return store.atomic_write(path, lambda p: new.to_csv(p, index=False))


def timed_row(step: str, seconds: float, entries: int, load: float, info: dict, path: Path, cold: str = "") -> None:
    """Record one made step: its seconds, the checkout, the machine (``info``: :func:`~replicate.io.provenance.machine`),
    the VAE entries and load average when it started, and the cold rebuild it belongs to."""
    record({"step": step, "seconds": round(seconds, 1), "date": dt.date.today().isoformat(), "commit": _head(),
            "cpu": info["cpu"], "cores": info["cores"], "vae_cache_entries": entries,
            "load_average": round(load, 2), "family": info["family"], "cold_rebuild": cold}, path)


def _rows(times: str | os.PathLike | None) -> pd.DataFrame:
    path = Path(times) if times else project_root() / TIMES
    rows = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)
    for column in COLUMNS:
        if column not in rows.columns:
            rows[column] = pd.NA  # a table written before the column existed
    return rows


def latest(times: str | os.PathLike | None = None) -> pd.DataFrame:
    """The newest measured row of each step, in the order the steps were first made (empty when none was)."""
    rows = _rows(times)
    newest = rows.drop_duplicates("step", keep="last").set_index("step")
    return newest.loc[rows["step"].unique()].reset_index()


def cold_rows(times: str | os.PathLike | None = None, cold: str | None = None) -> pd.DataFrame:
    """The rows of cold rebuild ``cold`` (default: the newest one), one per step (its newest); empty when none."""
    rows = _rows(times)
    named = rows[rows["cold_rebuild"].notna() & (rows["cold_rebuild"].astype(str) != "")]
    if named.empty:
        return named.reset_index(drop=True)
    which = named["cold_rebuild"].iloc[-1] if cold is None else cold
    return named[named["cold_rebuild"] == which].drop_duplicates("step", keep="last").reset_index(drop=True)
