"""Beyond the paper: does "VAE latent + a classical clusterer" hold on other labelled data sets?

The paper's recipe is fixed in advance -- the default VAE reading (and the fingerprint-matched
one), 30 epochs, the six clusterers at the paper's settings, the number of clusters taken from
the label count as the paper does -- and run on further benchmark files with no re-tuning; the
live baselines (PCA + K-means, Leiden at the label count, scVI) run on the same cells.
Affinity propagation's preference is a squared distance, tied to the latent's scale; it is run
at the paper's setting and, as a second row, rescaled to each data set's latent scale (the median
squared distance relative to the paper's cells), which uses no labels. The claims' verdicts are
the claims' own checks (:mod:`replicate.paper.claims`).

Every method's seconds and peak memory are measured on the largest file in a child process; a
method that does not fit the machine is a row saying so. Results go to ``results/generalisation/``
(``python -m replicate.studies.generalisation``), resumable per data set through the caches.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from ..grid.selection import SELECTIONS
from ..io import paths, progress, store
from ..io.errors import ParameterError
from ..io.facts import PAPER_DATASET
from ..io.memory import peak_rss_bytes
from ..method.cells import run_cell
from ..method.clustering import PAPER_METHODS, paper_setting
from ..method.latents import divergence, latents
from ..method.preprocess import prepare
from ..method.vae_config import VAEConfig
from ..paper.baselines import PCA_KMEANS, cached_baselines
from ..paper.claims import c9_gap, check_c1, check_c3, check_c9
from ..paper.scvi import SCVI_KMEANS, SCVI_LEIDEN_COUNT, VARIANTS
from ..paper.table1 import DEFAULT_READING, LIVE
from .readings import MATCHED
from .uncertainty import compare_cached
from .why import SELECTED_GENES, matched_reading

__all__ = ["STUDY", "STEPS", "DATASETS", "PAPER_VARIANT", "UNCERTAINTY_MAX_CELLS", "COSTS_DATASET", "ap_scale",
           "reading_config", "dataset_rows", "baseline_rows", "refresh_baselines", "cost_child", "method_costs", "verdicts",
           "committed_rows", "training_frame", "main"]

#: The study's folder under ``results/``.
STUDY = "generalisation"
#: The data sets of the study: name -> genes kept (None: the file's own gene selection).
DATASETS = {PAPER_DATASET: None, "pbmc4k-top2000": None, "worm-2100": SELECTED_GENES, "worm-4186": SELECTED_GENES,
            "kidney-top2000": None, "cbmc-top2000": None}
#: The ``variant`` of the rows at the paper's setting (as the selection of Table 1 names it).
PAPER_VARIANT = SELECTIONS["paper"]
#: The uncertainty comparison keeps n x n distance matrices of three representations per seed: above
#: this many cells it is not run (time on 2 cores), and the chapter says so.
UNCERTAINTY_MAX_CELLS = 5000
#: The largest data set: where every method's seconds and peak memory are measured.
COSTS_DATASET = "cbmc-top2000"


def ap_scale(mu: np.ndarray, reference_sq: float) -> float:
    """The factor that carries the paper's AP preference to this latent's scale (1 on the paper's cells)."""
    return float(np.median(pdist(np.asarray(mu, dtype=np.float64), "sqeuclidean"))) / reference_sq



def dataset_rows(name: str, adata: Any, readings: dict[str, VAEConfig], seeds: list[int], *,
                 reference_sq: float, scvi: bool = True) -> pd.DataFrame:
    """The six methods at the paper's settings (AP also rescaled) on every reading and seed; the live baselines."""
    y = adata.obs["label"].to_numpy()
    k = int(len(np.unique(y)))
    frames = []
    for reading, cfg in readings.items():
        res = latents(adata.X, cfg, seeds=list(seeds), verbose=True, keep_weights=False,
                      n_jobs=2 if cfg.threads == 1 else 1, skip_diverged=True)
        for seed, r in zip(seeds, res):
            if r is None:  # a VAE that diverged is a row saying where, never a silent drop
                where = divergence(adata.X, cfg, seed) or {}
                frames.append(pd.DataFrame({"method": list(PAPER_METHODS), "status": "vae diverged",
                                            "variant": PAPER_VARIANT, "message": where.get("message", ""),
                                            "diverged_epoch": where.get("epoch"), "diverged_loss": where.get("loss")}
                                           ).assign(reading=reading, seed=seed))
                continue
            rows = []
            for method in PAPER_METHODS:
                params = paper_setting(method)
                rows.append({**run_cell(r.mu, y, method, params, n_clusters=k, time_limit_s=1800), "variant": PAPER_VARIANT})
            scale = ap_scale(r.mu, reference_sq)
            scaled = {**paper_setting("affinity_propagation"),
                      "preference": round(paper_setting("affinity_propagation")["preference"] * scale, 3)}
            rows.append({**run_cell(r.mu, y, "affinity_propagation", scaled, n_clusters=k, time_limit_s=1800),
                         "variant": f"preference x{scale:.3g} (latent scale)"})
            frames.append(pd.DataFrame(rows).assign(reading=reading, seed=seed,
                                                    vae_seconds=float(np.sum(r.history["seconds"]))))
            progress.report(f"[generalisation] {name}, {reading}, seed {seed}: done")
    if scvi:
        frames.append(baseline_rows(adata))
    out = pd.concat(frames, ignore_index=True)
    return out.assign(dataset=name, cells=adata.n_obs, genes=adata.n_vars, labels=k)



def baseline_rows(adata: Any, *, refresh: bool = False) -> pd.DataFrame:
    """The live baselines (PCA(32) + K-means, Leiden at the label count, scVI's default model)."""
    base = cached_baselines(adata, scvi=VARIANTS[:1], refresh=refresh)
    return base.assign(reading="baseline", seed=-1, variant=LIVE)



def refresh_baselines(name: str, folder: Path) -> pd.DataFrame:
    """Recompute only the live-baseline rows of a committed data set's table (e.g. after a fix in a
    baseline); its VAE rows are kept as they are."""
    out = folder / f"{name}.csv"
    if not out.is_file():
        raise ParameterError(f"--refresh-baselines {name}: {out.name} is not in {folder}; run the data set first "
                             f"(python -m replicate.studies.generalisation --datasets {name}).")
    old = pd.read_csv(out)
    adata = prepare(name, n_genes=DATASETS.get(name))
    base = baseline_rows(adata, refresh=True).assign(dataset=name, cells=adata.n_obs, genes=adata.n_vars,
                                                     labels=int(old["labels"].iloc[0]))
    rows = pd.concat([old[old["reading"] != "baseline"], base], ignore_index=True)
    store.atomic_write(out, lambda f: rows.to_csv(f, index=False))
    return rows



def cost_child(folder: str, method: str) -> None:
    """In a fresh process: fit ``method`` at the paper's setting on the latent in ``folder``; print its costs as JSON."""
    Z, y = np.load(Path(folder) / "Z.npy"), np.load(Path(folder) / "y.npy")
    k = int(len(np.unique(y)))
    run_cell(Z[:50], y[:50], "kmeans", {}, n_clusters=2)  # imports before measuring
    row = run_cell(Z, y, method, paper_setting(method), n_clusters=k, time_limit_s=1800)
    print(json.dumps({"method": method, "seconds": row["seconds"], "status": row["status"],
                      "peak_rss_mb": peak_rss_bytes() / 2**20}))



def method_costs(Z: np.ndarray, y: np.ndarray, *, memory_limit_gb: float = 16.0) -> pd.DataFrame:
    """Seconds and peak resident memory of each method at the paper's setting, one fresh process each.

    A method that the machine cannot hold (killed, or over ``memory_limit_gb``) is a row saying so.
    """
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "Z.npy", Z)
        np.save(Path(tmp) / "y.npy", y)
        for method in PAPER_METHODS:
            code = f"from replicate.studies.generalisation import cost_child; cost_child({tmp!r}, {method!r})"
            limit = int(memory_limit_gb * 2**30)
            pre = (lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=pre)
            if proc.returncode == 0:
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                rows.append({"method": method, "status": "does not fit",
                             "message": f"killed or out of memory under a {memory_limit_gb:g} GB limit: "
                                        + proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else ""})
    return pd.DataFrame(rows).assign(cells=len(Z))



def verdicts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per data set and reading, the paper's comparative claims by the claims' own checks: C9 (VAE +
    K-means beats PCA + K-means by at least the claims.toml margin, with the difference in points),
    C1 (K-means has the best NMI and ARI of the six) and C3 (every count-taking method is within the
    margin of the best ARI)."""
    out = []
    for (ds, reading), part in rows[rows["reading"] != "baseline"].groupby(["dataset", "reading"], sort=False):
        at_paper = part[part["variant"] == PAPER_VARIANT]
        claim_rows = at_paper.assign(embedding=at_paper["seed"].map(lambda s: f"vae_seed={s}"),
                                     **{m: 100 * at_paper[m].astype(float) for m in ("CA", "NMI", "ARI")})
        base = rows[(rows["dataset"] == ds) & (rows["method"] == PCA_KMEANS)]
        gap = c9_gap(claim_rows, base)[0] if len(base) else np.nan
        out.append({"dataset": ds, "reading": reading,
                    "C9: VAE+K-means CA − PCA+K-means CA": round(gap, 2),
                    "C9": check_c9(claim_rows, base)["verdict"] if len(base) else "not supported",
                    "C1": check_c1(claim_rows)["verdict"], "C3": check_c3(claim_rows)["verdict"]})
    return pd.DataFrame(out)


def committed_rows() -> pd.DataFrame | None:
    """Every data set's rows of the committed study (None when it has not been run)."""
    folder = paths.committed(f"results/{STUDY}")
    files = [folder / f"{ds}.csv" for ds in DATASETS if (folder / f"{ds}.csv").is_file()]
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True) if files else None



def training_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Per data set: our VAE's training seconds per seed (default reading) beside scVI's, and their
    clusterings' CA (%): VAE + K-means (mean over seeds), scVI + K-means, scVI + Leiden at the label count."""
    out = []
    for ds, part in rows.groupby("dataset", sort=False):
        vae = part[(part["reading"] == DEFAULT_READING) & (part["variant"] == PAPER_VARIANT)]
        per_seed = vae.drop_duplicates("seed")["vae_seconds"] if "vae_seconds" in vae else pd.Series(dtype=float)
        km = vae[vae["method"] == "kmeans"]["CA"]
        scvi = part[part["method"].astype(str).str.startswith("scvi")]
        pick = lambda m: 100 * float(scvi.loc[scvi["method"] == m, "CA"].iloc[0]) if (scvi["method"] == m).any() else np.nan  # noqa: E731
        out.append({"dataset": ds, "cells": int(part["cells"].iloc[0]),
                    "VAE s/seed": float(per_seed.mean()) if len(per_seed) else np.nan,
                    "scVI s": float(scvi["train_seconds"].dropna().iloc[0]) if "train_seconds" in scvi and
                    scvi["train_seconds"].notna().any() else np.nan,
                    "VAE+K-means CA": 100 * float(km.mean()) if len(km) else np.nan,
                    "scVI+K-means CA": pick(SCVI_KMEANS), "scVI+Leiden(count) CA": pick(SCVI_LEIDEN_COUNT)})
    return pd.DataFrame(out).set_index("dataset")



def _reference_sq() -> float:
    """The median squared distance of the default reading's latent means on the paper's cells (3 seeds):
    the scale at which the paper's AP preference is read."""
    reference = prepare(PAPER_DATASET)
    ref_latents = latents(reference.X, VAEConfig(), seeds=[0, 1, 2], verbose=False)
    return float(np.mean([ap_scale(r.mu, 1.0) for r in ref_latents]))


def reading_config(dataset: str, reading: str = DEFAULT_READING) -> VAEConfig:
    """The one VAE configuration of ``reading`` (the default or the fingerprint-matched one) on ``dataset``, for
    every study that trains it: the generalisation rows, their negative controls and the recipe.

    On the paper's cells it is the paper run's own (so the latents are the ones Table 1 clusters); on any other
    data set one TensorFlow thread per training, so two seeds train side by side (identical to one by one,
    :mod:`replicate.method.latents`). The threads are part of the configuration: another count trains another
    network from the same seed.
    """
    base = VAEConfig() if reading == DEFAULT_READING else matched_reading()[1]
    return base if dataset == PAPER_DATASET else replace(base, threads=1)


def _run_dataset(ds: str, seeds: list[int], matched_seeds: list[int], reference_sq: float) -> pd.DataFrame:
    adata = prepare(ds, n_genes=DATASETS.get(ds))
    frames = [dataset_rows(ds, adata, {DEFAULT_READING: reading_config(ds)}, seeds, reference_sq=reference_sq)]
    if matched_seeds:
        frames.append(dataset_rows(ds, adata, {MATCHED: reading_config(ds, MATCHED)}, matched_seeds,
                                   reference_sq=reference_sq, scvi=False))
    return pd.concat(frames, ignore_index=True)


def _uncertainty(names: list[str], seeds: list[int]) -> pd.DataFrame | None:
    """The uncertainty comparison (:mod:`replicate.studies.uncertainty`) on the other data sets that fit."""
    frames = []
    for ds in [d for d in names if d != PAPER_DATASET]:
        adata = prepare(ds, n_genes=DATASETS.get(ds))
        if adata.n_obs > UNCERTAINTY_MAX_CELLS:
            continue
        res = latents(adata.X, reading_config(ds), seeds=seeds, verbose=False, keep_weights=False, n_jobs=2,
                      skip_diverged=True)
        y = adata.obs["label"].to_numpy()
        frames += [compare_cached(r.mu, r.logvar, y, seed=s).assign(dataset=ds) for s, r in zip(seeds, res)
                   if r is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


#: What :func:`main` makes, each a step of the study graph (``dvc.yaml``).
STEPS = ("rows", "uncertainty", "costs", "reading")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m replicate.studies.generalisation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--matched-seeds", type=int, nargs="*", default=[0, 1],
                   help="seeds of the fingerprint-matched reading (fewer: time on 2 cores)")
    p.add_argument("--no-costs", action="store_true")
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS),
                   help="rows: <dataset>.csv per data set; uncertainty: uncertainty.csv over the data sets "
                        "(those up to %d cells); costs: method-costs.csv; reading: reading.json" % UNCERTAINTY_MAX_CELLS)
    p.add_argument("--refresh-baselines", nargs="+", default=[], metavar="DATASET",
                   help="only recompute the live-baseline rows of these committed data sets, then stop")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    folder = paths.study_dir(STUDY)
    if args.refresh_baselines:
        for ds in args.refresh_baselines:
            refresh_baselines(ds, folder)
            progress.report(f"[generalisation] {ds}: live baselines recomputed")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    name = matched_reading()[0]
    reference_sq = _reference_sq()
    for ds in args.datasets if "rows" in args.steps else ():
        out = folder / f"{ds}.csv"
        if out.is_file():
            continue
        t0 = time.perf_counter()
        rows = _run_dataset(ds, args.seeds, args.matched_seeds, reference_sq)
        store.atomic_write(out, lambda f: rows.to_csv(f, index=False))
        progress.report(f"[generalisation] {ds}: {time.perf_counter() - t0:.0f}s")
    unc = folder / "uncertainty.csv"
    if "uncertainty" in args.steps and not unc.is_file() and (rows := _uncertainty(args.datasets, args.seeds[:3])) is not None:
        store.atomic_write(unc, lambda f: rows.to_csv(f, index=False))
    if "costs" in args.steps and not args.no_costs and not (folder / "method-costs.csv").is_file():
        adata = prepare(COSTS_DATASET)
        (res,) = latents(adata.X, reading_config(COSTS_DATASET), seeds=[0], verbose=False, keep_weights=False)
        costs = method_costs(res.mu, adata.obs["label"].to_numpy())
        store.atomic_write(folder / "method-costs.csv", lambda f: costs.to_csv(f, index=False))
    if "reading" in args.steps:
        store.write_json(folder / "reading.json", {"fingerprint_matched": name,
                                                   "reference_median_sq_distance": reference_sq})
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
