"""`replicate rebuild` (what `make reproduce` runs): re-make every step of the study graph that is not
current, in the graph's order, one ``dvc repro --single-item`` at a time, and time each one.

``dvc repro`` alone would do the same work but says nothing of how long each step took; the
reproducibility page needs that (the cost of a cold rebuild, step by step). Each finished step adds
a row to ``results/rebuild/times.csv`` (written atomically, so a kill loses at most the step that
was running, and ``dvc.lock`` already holds every step that finished: run the command again and it
goes on). A row says how warm the caches were when the step started (VAE entries in the cache
folder: 0 means a cold start) and the machine's load, so a reader can tell a cold measurement on
idle cores from one on a busy machine.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from ..io import store
from ..io.errors import ReplicateError
from ..io.paths import project_root
from ..io.provenance import machine
from .status import status

__all__ = ["TIMES", "COLUMNS", "pending", "rebuild", "record", "latest", "markdown"]

#: The committed table of measured step times (one row per step made, newest last).
TIMES = "results/rebuild/times.csv"
COLUMNS = ["step", "seconds", "date", "commit", "cpu", "cores", "vae_cache_entries", "load_average"]


def pending(steps: Sequence[str] = (), *, machine_specific: bool = False) -> list[str]:
    """The steps to re-make, in the graph's order: ``steps`` when named (each must exist), else every
    step that is not current; machine-specific steps (benchmarks) only when named or asked for."""
    table = status()
    unknown = sorted(set(steps) - set(table["step"]))
    if unknown:
        raise ReplicateError(f"no step {', '.join(unknown)} in dvc.yaml; `replicate status` lists them.")
    if steps:
        return [s for s in table["step"] if s in steps]
    todo = table[(table["state"] != "current") & (machine_specific | ~table["machine_specific"])]
    return list(todo["step"])


def _vae_entries() -> int:
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


def rebuild(steps: Sequence[str] = (), *, machine_specific: bool = False, times: str | os.PathLike | None = None,
            dry_run: bool = False) -> list[str]:
    """Re-make the :func:`pending` steps in order with DVC, recording each one's wall time; return them.

    Stops at the first step that fails (its error is DVC's; the steps before it are recorded).
    """
    todo = pending(steps, machine_specific=machine_specific)
    info = machine()
    # DVC runs each step's command through the shell: this environment's `python` and `replicate` first
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for i, step in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {step}", flush=True)
        if dry_run:
            continue
        entries, load = _vae_entries(), os.getloadavg()[0]
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--single-item", step], cwd=project_root(),
                              env=env, check=False)
        seconds = time.perf_counter() - t0
        if done.returncode:
            raise ReplicateError(f"`dvc repro --single-item {step}` failed (exit {done.returncode}); the steps "
                                 "before it are made and recorded: fix it and run the same command again.")
        record({"step": step, "seconds": round(seconds, 1), "date": dt.date.today().isoformat(), "commit": _head(),
                "cpu": info["cpu"], "cores": info["cores"], "vae_cache_entries": entries,
                "load_average": round(load, 2)}, times)
        print(f"    {step}: {seconds:.0f} s", flush=True)
    return todo


def latest(times: str | os.PathLike | None = None) -> pd.DataFrame:
    """The newest measured row of each step, in the order the steps were first made (empty when none was)."""
    path = Path(times) if times else project_root() / TIMES
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    rows = pd.read_csv(path)
    newest = rows.drop_duplicates("step", keep="last").set_index("step")
    return newest.loc[rows["step"].unique()].reset_index()


def markdown(times: str | os.PathLike | None = None) -> str:
    """The measured time of each re-made step (the reproducibility page), with their sum."""
    table = latest(times)
    if table.empty:
        return "*No step of the study graph has been timed yet: `replicate rebuild` records each step it makes.*"
    lines = ["| step | minutes | VAE cache entries at start | load average at start |", "|---|---:|---:|---:|"]
    for row in table.itertuples():
        entries = "–" if pd.isna(row.vae_cache_entries) else f"{int(row.vae_cache_entries)}"
        load = "–" if pd.isna(row.load_average) else f"{row.load_average:.1f}"
        lines.append(f"| {row.step} | {row.seconds / 60:.1f} | {entries} | {load} |")
    machines = ", ".join(sorted({f"{r.cpu}, {r.cores} cores" for r in table.itertuples()}))
    dates, commits = sorted(set(table["date"])), list(dict.fromkeys(table["commit"]))
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    made = commits[0] if len(commits) == 1 else f"{commits[0]} to {commits[-1]}"
    graph = project_root() / "dvc.yaml"
    names = list(yaml.safe_load(graph.read_text())["stages"]) if graph.is_file() else list(table["step"])
    untimed = [n for n in names if n not in set(table["step"])]
    head = (f"**{len(table)}** of the {len(names)} steps timed, **{table['seconds'].sum() / 3600:.2f} h** in all, on "
            f"{machines}, {when} (checkouts {made}; wall time of `dvc repro --single-item <step>`, kernel start-ups "
            "included).")
    if untimed:
        many = len(untimed) > 1
        head += (f" The sum leaves out the {len(untimed)} step{'s' if many else ''} never timed "
                 f"({', '.join(f'`{n}`' for n in untimed)}), so a whole rebuild takes longer.")
    return head + "\n\n" + "\n".join(lines)
