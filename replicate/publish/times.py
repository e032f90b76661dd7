"""The measured step times (``results/rebuild/times.csv``): one row per step ``replicate rebuild`` made, newest last.

A row says how warm the caches were when the step started (VAE entries in the cache folder: 0 means none) and
the machine's load, so a reader can tell a cold measurement on idle cores from one on a busy machine; a row of a
cold rebuild (:mod:`replicate.publish.cold`) names it, so its steps' times add up to what a rebuild from empty
caches costs. A row also counts the VAEs the step asked the latent store for: trained, or served from an earlier
training (:func:`replicate.method.latents.ledger`); a cold rebuild's trainings are listed entry by entry in
:data:`COLD_TRAININGS`, so a reader can check that each was trained once in a part, and count those a later part
trained again because its cache folder began empty.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pandas as pd

from ..io import store
from ..io.paths import project_root
from ..method.latents import LEDGER, ledger

__all__ = ["TIMES", "COLD_TRAININGS", "COLUMNS", "record", "timed_row", "latest", "cold_rows", "cold_trainings",
           "counts", "snapshot", "vae_entries", "written"]

#: The committed table of measured step times (one row per step made, newest last).
TIMES = "results/rebuild/times.csv"
#: A cold rebuild's VAE trainings, one row per entry the latent store trained or served (beside :data:`TIMES`).
COLD_TRAININGS = "cold-trainings.csv"
#: ``cold_rebuild``: the cold rebuild a row belongs to (empty for a rebuild that began with warm caches);
#: ``cold_part``: which of its parts (each a sitting that began with an empty cache folder);
#: ``vae_trained`` / ``vae_from_cache``: the VAEs the step trained / got from an earlier training.
COLUMNS = ["step", "seconds", "date", "commit", "cpu", "cores", "vae_cache_entries", "load_average", "family",
           "cold_rebuild", "cold_part", "vae_trained", "vae_from_cache"]
_COUNTS = {"vae_cache_entries": "Int64", "cold_part": "Int64", "vae_trained": "Int64", "vae_from_cache": "Int64"}


def vae_entries() -> int:
    """How many trained VAEs the cache folder holds."""
    folder = store.cache_dir() / "vae"
    return sum(1 for p in folder.glob("*.npz") if not p.name.endswith(".weights.npz")) if folder.is_dir() else 0


def snapshot() -> tuple[int, int]:
    """What a step's row counts from: the VAE entries in the cache folder, and the latent store's ledger's length."""
    path = store.cache_dir() / LEDGER
    return vae_entries(), path.stat().st_size if path.is_file() else 0


def written(times: str | os.PathLike | None = None) -> list[Path]:
    """The files a made step's record writes (:data:`TIMES`, and :data:`COLD_TRAININGS` once a cold rebuild has)."""
    path = Path(times) if times else project_root() / TIMES
    return [path] + [p for p in (path.with_name(COLD_TRAININGS),) if p.is_file()]


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
    new = new.reindex(columns=COLUMNS).astype(_COUNTS)  # counts, also where an early row has none
    return store.atomic_write(path, lambda p: new.to_csv(p, index=False))


def timed_row(step: str, seconds: float, snap: tuple[int, int], load: float, info: dict, path: Path,
              cold: tuple[str, int] | str = "") -> None:
    """Record one made step: its seconds, the checkout, the machine (``info``: :func:`~replicate.io.provenance.machine`),
    the VAE entries and load average when it started (``snap``: :func:`snapshot`), the VAEs it trained and got
    from the cache, and the cold rebuild and part it belongs to (``cold``: (name, part))."""
    name, part = (cold, 1) if isinstance(cold, str) else cold
    uses = ledger(since=snap[1], step=step)
    trained, from_cache = counts(pd.DataFrame(uses, columns=["outcome", "entry"]))
    record({"step": step, "seconds": round(seconds, 1), "date": dt.date.today().isoformat(), "commit": _head(),
            "cpu": info["cpu"], "cores": info["cores"], "vae_cache_entries": snap[0],
            "load_average": round(load, 2), "family": info["family"], "cold_rebuild": name,
            "cold_part": part if name else pd.NA, "vae_trained": trained, "vae_from_cache": from_cache}, path)
    if name and uses:
        rows = pd.DataFrame([{"cold_rebuild": name, "cold_part": part, **u} for u in uses])
        listed = path.with_name(COLD_TRAININGS)
        if listed.is_file():
            rows = pd.concat([pd.read_csv(listed), rows], ignore_index=True)
        store.atomic_write(listed, lambda p: rows.to_csv(p, index=False))


def counts(uses: pd.DataFrame) -> tuple[int, int]:
    """(VAEs trained, VAEs got from an earlier step's training) of one step's ``uses`` (ledger rows): distinct
    entries, since a step may ask for one VAE twice, and the second time it is its own training it gets back."""
    trained = set(uses.loc[uses["outcome"] != "cached", "entry"])
    return len(trained), len(set(uses.loc[uses["outcome"] == "cached", "entry"]) - trained)


def cold_trainings(times: str | os.PathLike | None = None, cold: str | None = None) -> pd.DataFrame:
    """The VAE trainings and cache hits of cold rebuild ``cold`` (default: the newest), one row per use."""
    listed = (Path(times) if times else project_root() / TIMES).with_name(COLD_TRAININGS)
    rows = pd.read_csv(listed) if listed.is_file() else pd.DataFrame(columns=["cold_rebuild", "cold_part", "step",
                                                                               "outcome", "entry", "seconds"])
    which = (rows["cold_rebuild"].iloc[-1] if len(rows) else "") if cold is None else cold
    return rows[rows["cold_rebuild"] == which].reset_index(drop=True)


def _rows(times: str | os.PathLike | None) -> pd.DataFrame:
    path = Path(times) if times else project_root() / TIMES
    rows = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)
    for column in COLUMNS:
        if column not in rows.columns:
            rows[column] = pd.NA  # a table written before the column existed
    return rows


def latest(times: str | os.PathLike | None = None, *, longest: bool = False) -> pd.DataFrame:
    """The newest measured row of each step, in the order the steps were first made (empty when none was);
    ``longest``: each step's longest row instead (the coldest seen: what a cold rebuild's budget reads)."""
    rows = _rows(times)
    chosen = rows.sort_values("seconds", kind="stable") if longest else rows
    newest = chosen.drop_duplicates("step", keep="last").set_index("step")
    return newest.loc[rows["step"].unique()].reset_index()


def cold_rows(times: str | os.PathLike | None = None, cold: str | None = None) -> pd.DataFrame:
    """The rows of cold rebuild ``cold`` (default: the newest one), one per step (its newest); empty when none."""
    rows = _rows(times)
    named = rows[rows["cold_rebuild"].notna() & (rows["cold_rebuild"].astype(str) != "")]
    if named.empty:
        return named.reset_index(drop=True)
    which = named["cold_rebuild"].iloc[-1] if cold is None else cold
    return named[named["cold_rebuild"] == which].drop_duplicates("step", keep="last").reset_index(drop=True)
