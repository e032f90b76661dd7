"""The paper's recipe on your own labelled cells: ``replicate recipe FILE --label-key KEY``.

"Does VAE latent + a classical clusterer beat PCA + K-means on my cells?" The recipe is fixed in
advance and nothing in it looks at the labels except the cluster count (as the paper does) and
the scores: the default VAE reading (and the fingerprint-matched one with ``matched=True``), 30
epochs, 3 seeds, the six clusterers at the paper's settings, Affinity Propagation also with its
preference rescaled to the latent's scale (no labels), the live baselines (PCA(32) + K-means,
Leiden at the label count, scVI when installed), the negative controls of
:mod:`replicate.method.controls`, and the paper's claims C1, C3 and C9 judged by their own rules.
It is the generalisation study's own code (:func:`replicate.studies.generalisation.dataset_rows`
and :func:`~replicate.studies.generalisation.verdicts`) run on one file.

A file with more genes keeps its ``n_genes`` most variable ones (2,000, as the benchmark files were
made). Everything goes to one folder (``recipe-<file>`` by default): the tables, ``recipe.json``
(what ran, how long each stage took), ``recipe.log`` (the libraries' own lines: Lightning's accelerators
and tips, warnings; the terminal keeps the progress lines) and, from :mod:`replicate.publish.recipe_book`,
a book whose first page is the verdict. Each table is written whole or not at all; run the same
command again after an interruption and finished stages are kept (the trainings are cached).
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anndata
import pandas as pd
from joblib import Parallel, delayed

from ..io import numerics, paths, progress, store
from ..io.errors import ParameterError
from ..io.facts import registry
from ..io.provenance import machine
from ..method.latents import latents
from ..method.preprocess import prepare
from ..method.vae_config import VAEConfig
from ..paper.baselines import cached_baselines
from ..paper.scvi import available
from ..paper.table1 import DEFAULT_READING, LIVE
from . import recipe_watch
from .controls import control_rows
from .generalisation import PAPER_VARIANT, baseline_rows, dataset_rows, reading_config, verdicts
from .readings import MATCHED
from .recipe_tables import diverged, summary

__all__ = ["N_GENES", "SEEDS", "TIME_LIMIT_S", "LOG", "TABLES", "default_folder", "reference_scale", "readings", "check_input",
           "run"]

#: Genes kept from a file with more (its most variable ones).
N_GENES = 2000
#: VAE seeds of the recipe.
SEEDS = (0, 1, 2)
#: Seconds one clustering cell may take before it is a ``timeout`` row.
TIME_LIMIT_S = 1800
#: Where the libraries' own lines (Lightning's accelerators and tips, warnings) go, in the recipe's folder.
LOG = "recipe.log"
#: The tables the recipe writes into its folder, by stage.
TABLES = {"rows": "rows.csv", "controls": "controls.csv"}


def default_folder(dataset: str | Path) -> Path:
    """``recipe-<name>`` in the working directory (the file's name without its suffix)."""
    return Path(f"recipe-{Path(str(dataset)).name.split('.')[0]}")


def reference_scale() -> float:
    """The median squared distance of the default reading's latent on the paper's cells, as the
    committed generalisation study measured it: the scale at which the paper's AP preference is read."""
    path = paths.committed("results/generalisation") / "reading.json"
    if not path.is_file():
        raise ParameterError(f"the recipe reads the paper's latent scale from {path.name} of the generalisation "
                             "study, which is missing: run `replicate study generalisation --steps reading`.")
    return float(json.loads(path.read_text())["reference_median_sq_distance"])


def readings(dataset: str = "", *, matched: bool = False, epochs: int | None = None) -> dict[str, VAEConfig]:
    """The recipe's VAE readings on ``dataset`` (a registered name or a file): the default one, and the
    fingerprint-matched one when asked, each as the generalisation study trains it on that data set
    (:func:`~replicate.studies.generalisation.reading_config`: one TensorFlow thread each on any data set but the
    paper's cells, so two seeds train side by side, identical to one by one)."""
    out = {DEFAULT_READING: reading_config(dataset)}
    if matched:
        out[MATCHED] = reading_config(dataset, MATCHED)
    if epochs is not None:
        out = {name: replace(cfg, epochs=int(epochs)) for name, cfg in out.items()}
    return out


def _obs_columns(path: Path) -> list[str]:
    """The ``.obs`` columns of an ``.h5ad`` file, read without its matrix."""
    try:
        backed = anndata.read_h5ad(path, backed="r")
    except OSError as exc:
        raise ParameterError(f"{path.name} is not a readable .h5ad file ({str(exc).splitlines()[0]}).") from None
    try:
        return [str(c) for c in backed.obs.columns]
    finally:
        backed.file.close()


def check_input(dataset: str | Path, label_key: str | None) -> None:
    """Refuse a file that is not there, or an ``.h5ad`` without a usable ``--label-key`` (listing its ``.obs``
    columns), before anything is read whole, z-scored or created."""
    name = str(dataset)
    if name in registry():
        return
    path = Path(name).expanduser()
    if not path.exists():
        raise ParameterError(f"{name}: no such file or folder, and not a registered data set "
                             f"({', '.join(registry())}).")
    if path.suffix.lower() != ".h5ad":
        return
    columns = _obs_columns(path)
    listed = ", ".join(columns) or "none"
    if label_key is None:
        raise ParameterError(f"{path.name} is an .h5ad file: name the .obs column that holds the cell types with "
                             f"--label-key (its .obs columns: {listed}).")
    if label_key not in columns:
        raise ParameterError(f"{path.name}: --label-key {label_key!r} is not a column of .obs (its columns: {listed}).")


def _prepare(dataset: str | Path, label_key: str | None, n_genes: int | None) -> Any:
    adata = prepare(str(dataset), label_key=label_key, n_genes=n_genes)
    if "label" not in adata.obs:
        raise ParameterError(f"{Path(str(dataset)).name}: no labels to score against; name the column of .obs "
                             "that holds the cell types with --label-key (e.g. --label-key cell_type).")
    return adata


def _seed_rows(name: str, adata: Any, reading: str, cfg: VAEConfig, seed: int, reference_sq: float) -> pd.DataFrame:
    if multiprocessing.get_start_method(allow_none=True) == "loky":
        # in a joblib worker, the training's own spawned process would inherit the start method
        # "loky", which the standard library cannot find; "spawn" is what the training asks for anyway
        multiprocessing.set_start_method("spawn", force=True)
    return dataset_rows(name, adata, {reading: cfg}, [seed], reference_sq=reference_sq, scvi=False)


def _baseline_rows(name: str, adata: Any, scvi: bool, threads: int | None, log: Path | None = None) -> pd.DataFrame:
    """The live baselines, reporting scVI's epochs (in whichever process runs them); scVI's PyTorch on
    ``threads`` threads (one beside a training: OpenMP threads that share a core with a busy one
    spin-wait; an epoch then takes many times as long); Lightning's own lines go to ``log``."""
    with recipe_watch.scvi_epochs(threads=threads, log=log), recipe_watch.heartbeat("[recipe] baselines"):
        base = baseline_rows(adata) if scvi else cached_baselines(adata, scvi=False).assign(
            reading="baseline", seed=-1, variant=LIVE)
    progress.report("[recipe] baselines: done")
    return base.assign(dataset=name, cells=adata.n_obs, genes=adata.n_vars, labels=int(adata.obs["label"].nunique()))


def _rows(adata: Any, name: str, configs: dict[str, VAEConfig], seeds: list[int], scvi: bool,
          n_jobs: int, log: Path | None = None) -> pd.DataFrame:
    """The generalisation study's rows (:func:`~replicate.studies.generalisation.dataset_rows`), one task
    per reading and seed plus one for the baselines, ``n_jobs`` at a time: each task is deterministic
    (single-threaded cells, cached trainings), so the rows equal those of one task after another."""
    reference_sq = reference_scale()
    tasks = [delayed(_baseline_rows)(name, adata, scvi, 1 if n_jobs > 1 else None, log)]
    tasks += [delayed(_seed_rows)(name, adata, reading, cfg, seed, reference_sq)
              for reading, cfg in configs.items() for seed in seeds]
    base, *per_seed = Parallel(n_jobs=n_jobs)(tasks)
    return pd.concat([*per_seed, base], ignore_index=True)


def _stage(folder: Path, stage: str, make: Any, times: dict[str, float], force: bool) -> pd.DataFrame:
    """A table of the folder: read when already made, else made, written whole and timed."""
    path = folder / TABLES[stage]
    if path.is_file() and not force:
        progress.report(f"[recipe] {stage}: kept from an earlier run ({path.name})")
        return pd.read_csv(path)
    t0 = time.perf_counter()
    with recipe_watch.heartbeat(f"[recipe] {stage}"):
        table = make()
    store.atomic_write(path, lambda f: table.to_csv(f, index=False))
    times[stage] = round(time.perf_counter() - t0, 1)
    return table


def run(dataset: str | Path, *, label_key: str | None = None, n_genes: int | None = N_GENES,
        seeds: tuple[int, ...] | list[int] = SEEDS, matched: bool = False, scvi: bool = True,
        epochs: int | None = None, out: str | Path | None = None, force: bool = False,
        n_jobs: int = 2) -> dict[str, Any]:
    """Run the recipe on ``dataset`` (a path, or a registered name) into ``out``; return what it made.

    Returns a dict with ``folder``, ``rows`` (every clustering and baseline row, ``rows.csv``),
    ``controls`` (``controls.csv``), ``verdicts`` (C9's gap in points, C9, C1, C3 per reading,
    ``verdicts.csv``), ``summary`` (:func:`~replicate.studies.recipe_tables.summary`, ``summary.csv``)
    and ``info`` (``recipe.json``).
    ``epochs`` other than the paper's 30 is for a quick look (the book says so). ``n_jobs``: tasks
    (a seed, the baselines, a control) side by side, each on one core; the tables are the same for any value.
    """
    folder = Path(out) if out is not None else default_folder(dataset)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ParameterError("seeds: give at least one VAE seed (the recipe's default is 0 1 2).")
    check_input(dataset, label_key)  # before anything is read whole, computed or created
    t0, times = time.perf_counter(), {}
    adata = _prepare(dataset, label_key, n_genes)
    folder.mkdir(parents=True, exist_ok=True)
    name = str(adata.uns.get("dataset", {}).get("name", Path(str(dataset)).name))
    configs = readings(str(dataset), matched=matched, epochs=epochs)
    inputs = {"sha256": adata.uns.get("dataset", {}).get("sha256", ""), "label_key": label_key, "n_genes": n_genes,
              "seeds": seeds, "readings": list(configs), "epochs": epochs, "scvi": bool(scvi),
              # the code that makes the tables and the CPU caps: an edit of either makes them again
              "code": store.code_hash("studies.recipe")[:16], "caps": numerics.effective()}
    force = force or _changed_inputs(folder, inputs)
    rows = _stage(folder, "rows", lambda: _rows(adata, name, configs, seeds, scvi, n_jobs, (folder / LOG).resolve()),
                  times, force)
    first = rows[(rows["reading"] == DEFAULT_READING) & (rows["seed"] == seeds[0])]
    mu = latents(adata.X, configs[DEFAULT_READING], seeds=[seeds[0]], verbose=False, keep_weights=False)[0].mu
    settings = first[first["status"] != "vae diverged"].drop_duplicates(["method", "parameters", "variant"])
    y = adata.obs["label"].to_numpy()
    controls = _stage(folder, "controls", lambda: control_rows(mu, y, settings, n_jobs=n_jobs,
                                                                  time_limit_s=TIME_LIMIT_S), times, force)
    info = _info(adata, name, dataset, label_key, n_genes, seeds, configs, epochs, scvi, times,
                 time.perf_counter() - t0, folder, rows, inputs)
    judged = verdicts(rows)
    table = summary(rows, controls)
    for file, frame in (("verdicts.csv", judged), ("summary.csv", table)):
        store.atomic_write(folder / file, lambda f, frame=frame: frame.to_csv(f, index=False))
    return {"folder": folder, "rows": rows, "controls": controls, "verdicts": judged, "summary": table, "info": info}


def _changed_inputs(folder: Path, inputs: dict[str, Any]) -> bool:
    """Whether the tables in ``folder`` were made from another file, other settings, other code or other CPU caps
    (then they are made again, and it is said which)."""
    path = folder / "recipe.json"
    old = json.loads(path.read_text()).get("inputs") if path.is_file() else None
    if old is None or old == inputs:
        return False
    what = [k for k in inputs if old.get(k) != inputs[k]]
    said = ("the input file changed since its tables were made (sha256 "
            f"{str(old.get('sha256'))[:12]}… then, {str(inputs['sha256'])[:12]}… now)" if "sha256" in what else
            "its tables were made with other settings (" + ", ".join(f"{k} {old.get(k)!r} then, {inputs[k]!r} now"
                                                           for k in what) + ")")
    progress.report(f"[recipe] {folder.name}: {said}: making every table again")
    return True


def _info(adata: Any, name: str, dataset: Any, label_key: str | None, n_genes: int | None, seeds: list[int],
          configs: dict[str, VAEConfig], epochs: int | None, scvi: bool, times: dict[str, float], total: float,
          folder: Path, rows: pd.DataFrame, inputs: dict[str, Any]) -> dict[str, Any]:
    old = json.loads((folder / "recipe.json").read_text()) if (folder / "recipe.json").is_file() else {}
    info = {"dataset": name, "file": Path(str(dataset)).name, "label_key": label_key, "cells": int(adata.n_obs),
            "genes_kept": int(adata.n_vars), "n_genes": n_genes, "labels": int(adata.obs["label"].nunique()),
            "seeds": seeds, "readings": list(configs), "epochs": int(next(iter(configs.values())).epochs),
            "epochs_changed": epochs is not None, "scvi": bool(scvi and available()),
            "paper_variant": PAPER_VARIANT, "reference_median_sq_distance": reference_scale(),
            "stage_seconds": {**old.get("stage_seconds", {}), **times}, "last_run_seconds": round(total, 1),
            "date": time.strftime("%Y-%m-%d"), "machine": machine(), "inputs": inputs, "sha256": inputs["sha256"],
            "diverged": diverged(rows)}
    store.write_json(folder / "recipe.json", info)
    return info
