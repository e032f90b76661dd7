"""Why our numbers differ from the paper's: the experiments, each resumable, rows under ``results/why/``.

- :func:`readings_study`: more readings of the paper's VAE (``replicate/data/stability.toml``),
  3 seeds each: trains / diverges / collapses, label-free fingerprints
  (:mod:`replicate.studies.fingerprints`), KL spikes, and VAE+K-means / VAE+AP at the paper's
  settings (for information: the labels choose nothing). :func:`matched_reading` picks the
  reading whose fingerprints are closest to what the paper's reports imply -- by fingerprints only.
- :func:`dataset_rows`: the paper's six methods at its settings (and the live baselines) for a
  reading on a dataset -- the gene-set (:data:`GENE_SET`) and cell-set (:data:`CELL_SET`) factors.
- :func:`gene_count_rows`: on the worm neurons (:data:`WORM`), whose files have all genes, the VAE
  and the baselines on all genes and on selected genes.

Every VAE comes through the latent store. The factors measured from these rows, their effects
and the decomposition of the gap are :mod:`replicate.studies.why_factors`.
``python -m replicate.studies.why`` runs the experiments in order (about 90 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..grid import execute
from ..io import datasets, paths, progress, store
from ..io.errors import ReplicateError
from ..io.facts import PAPER_DATASET, registry
from ..method.cells import run_cell
from ..method.clustering import PAPER_METHODS, kmeans_scores, paper_setting
from ..method.genes import SELECTIONS, select_genes
from ..method.latents import latents
from ..method.preprocess import zscore
from ..method.vae_config import VAEConfig
from ..paper.baselines import LEIDEN_COUNT, PCA_KMEANS, cached_baselines
from ..paper.table1 import DEFAULT_READING
from .fingerprints import choose_matched, fingerprint
from .readings import (
    MATCHED,
    kl_spikes,
    reading_by_name,
    reading_config,
    readings,
    train_one,
)
from .stability import committed_summary

__all__ = ["STUDY", "STEPS", "GENE_SET", "CELL_SET", "WORM", "READINGS", "SELECTED_GENES", "committed", "candidate_readings",
           "readings_study", "readings_summary", "matched_reading", "dataset_rows", "gene_count_rows", "main"]

#: The study's folder under ``results/``.
STUDY = "why"
#: The data sets of the experiments: the paper's cells with another gene selection, all the paper's
#: cells, and the worm neurons (all genes).
GENE_SET, CELL_SET, WORM = "pbmc2100-top2000-scdcc", "pbmc4k-top2000", "worm-2100"
#: The committed readings study's table (``results/why/<READINGS>.csv``), on the paper's cells.
READINGS = f"{PAPER_DATASET}-readings"
#: The size of the benchmark files' gene selections (the paper's cells' file has that many genes).
SELECTED_GENES: int = registry()[PAPER_DATASET]["genes"]


def committed(name: str) -> pd.DataFrame | None:
    """A committed table of this study (``results/why/<name>.csv``), or None when it was not run.

    The read is noted file by file, so a section records the one table it read, not the whole folder."""
    path = paths.committed(f"results/{STUDY}/{name}.csv")
    return pd.read_csv(path) if path.is_file() else None


def _append(out: Path, rows: list[dict[str, Any]]) -> None:
    store.atomic_write(out, lambda p: pd.DataFrame(rows).to_csv(p, index=False))


def _done(out: Path) -> list[dict[str, Any]]:
    return pd.read_csv(out).to_dict("records") if out.is_file() else []


def candidate_readings() -> list[str]:
    """Readings to fingerprint: those that keep batch normalisation, and the others where every seed trained.

    The readings that keep batch normalisation (the default's one deviation) are this study's own: each
    changes one more thing around the default (the loss balance, the learning rate, ...), so each is
    fingerprinted even where the stability study saw a seed fail. Other readings that diverged, blew
    up or collapsed for some seed in the stability study cannot be chosen as a reading of the paper,
    so their latents are not fingerprinted (that would cost training for nothing that can change the
    choice).
    """
    try:
        first = committed_summary()
    except ReplicateError:
        first = pd.DataFrame(columns=["trained", "seeds"])
    names = []
    for r in readings():
        if r["params"].get("batch_norm") or r["name"] not in first.index:
            names.append(r["name"])
        elif first.loc[r["name"], "trained"] == first.loc[r["name"], "seeds"]:
            names.append(r["name"])
    return names



def readings_study(dataset: str, seeds: list[int], out: str | os.PathLike, *, names: list[str] | None = None,
                   verbose: bool = True) -> pd.DataFrame:
    """Train, fingerprint and score every reading in ``names`` with every seed; resumable rows in ``out``."""
    out = Path(out)
    rows = _done(out)
    finished = {(r["reading"], int(r["seed"])) for r in rows}
    raw = datasets.load(dataset)
    y = raw.obs["label"].to_numpy()
    k = int(len(np.unique(y)))
    prepared: dict[Any, np.ndarray] = {}
    names = names or candidate_readings()
    start = time.perf_counter()
    for i, name in enumerate(names):
        reading = reading_by_name(name)
        clip = reading["params"].get("clip_zscore")
        if clip not in prepared:
            prepared[clip] = zscore(raw, clip=clip, copy=True).X
        X = prepared[clip]
        cfg = reading_config(reading)
        for seed in seeds:
            if (name, int(seed)) in finished:
                continue
            row = train_one(X, y, reading, cfg, int(seed), keep_weights=False)
            row = {"dataset": dataset, **row}
            if row["status"] != "diverged":
                (res,) = latents(X, cfg, seeds=[seed], verbose=False)
                row.update(kl_spikes(res.history))
                row.update(fingerprint(res.mu, res.logvar, res.history, n_clusters=k))
                km = kmeans_scores({"m": res.mu}, y).iloc[0]
                ap = run_cell(res.mu, y, "affinity_propagation", paper_setting("affinity_propagation"), n_clusters=k)
                row.update({f"kmeans_{m}": float(km[m]) for m in ("CA", "NMI", "ARI")})
                row.update({f"ap_{m}": float(ap[m]) for m in ("CA", "NMI", "ARI")})
            rows.append(row)
            _append(out, rows)
            if verbose:
                progress.report(f"[readings {i + 1}/{len(names)}] {name}, seed {seed}: {row['status']}, "
                                f"fingerprint distance {row.get('distance', float('nan')):.2f} "
                                f"(elapsed {time.perf_counter() - start:.0f}s)")
    return pd.DataFrame(rows)



def readings_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per reading: seeds trained, KL spikes, mean fingerprints and distance, metrics (for information)."""
    g = rows.groupby("reading", sort=False)
    out = pd.DataFrame({"deviations": g["deviations"].first(), "seeds": g.size(),
                        "trained": g["status"].agg(lambda s: int((s == "trained").sum())),
                        "outcomes": g["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items())),
                        "kl_spikes": g["kl_spike"].agg(lambda s: int((s == True).sum()))})  # noqa: E712 (NaN: none)
    numeric = [c for c in rows.columns if c.startswith(("ap_clusters", "birch_", "gmm_failures", "median_sq",
                                                        "nn_", "dim_", "active_", "sigma_", "kl_per", "penalty_"))]
    for c in numeric + ["distance"] + [f"{p}_{m}" for p in ("kmeans", "ap") for m in ("CA", "NMI", "ARI")]:
        if c in rows:
            out[c] = g[c].mean()
    return out



def matched_reading(dataset: str = PAPER_DATASET) -> tuple[str, VAEConfig]:
    """The fingerprint-matched reading from the committed readings study: (name, its configuration).

    Chosen by :func:`replicate.fingerprints.choose_matched` among readings where every seed
    trained; labels play no part.
    """
    rows = committed(f"{dataset}-readings")
    if rows is None:
        raise ReplicateError(f"no readings study at results/{STUDY}/{dataset}-readings.csv; run "
                             f"`python -m replicate.studies.why --dataset {dataset}`.")
    summary = readings_summary(rows)
    name = choose_matched(rows[rows["status"] != "diverged"], trained=summary["trained"] == summary["seeds"])
    return name, reading_config(reading_by_name(name))



def _paper_setting_rows(adata: Any, embeddings: dict[str, np.ndarray], methods: tuple[str, ...]) -> pd.DataFrame:
    return execute.run(embeddings, adata.obs["label"].to_numpy(), execute.store_path(adata.X),
                         dataset=adata.uns.get("dataset", {}).get("name", ""), methods=list(methods), thin="paper",
                         progress=False)



def dataset_rows(adata: Any, reading: str, config: VAEConfig, seeds: list[int], *,
                 methods: tuple[str, ...] = PAPER_METHODS, baselines: bool = True, keep_weights: bool = False,
                 label: str = "", n_jobs: int = 1) -> pd.DataFrame:
    """VAE + each method at the paper's setting, one row per (seed, method); plus live baselines.

    ``adata`` is preprocessed (z-scores). Rows: dataset, variant (``label``), reading, seed, method,
    clusters_found, CA, NMI, ARI (fractions), status, vae_seconds.
    """
    res = latents(adata.X, config, seeds=list(seeds), verbose=True, keep_weights=keep_weights, n_jobs=n_jobs,
                  skip_diverged=True)
    trained = {int(s): r for s, r in zip(seeds, res) if r is not None}
    frames = []
    if trained:
        embeddings = {f"vae_seed={s}": r.mu for s, r in trained.items()}
        cells = _paper_setting_rows(adata, embeddings, methods)
        cells = cells.assign(seed=cells["embedding"].str.removeprefix("vae_seed=").astype(int))
        seconds = {s: float(np.sum(r.history["seconds"])) for s, r in trained.items()}
        spikes = {s: kl_spikes(r.history)["kl_spike"] for s, r in trained.items()}
        frames.append(cells[["method", "seed", "clusters_found", "CA", "NMI", "ARI", "status"]].assign(
            vae_seconds=cells["seed"].map(seconds), kl_spike=cells["seed"].map(spikes)))
    # a seed whose VAE diverged is a row per method saying so, never a silent drop
    frames += [pd.DataFrame({"method": list(methods), "seed": int(s), "status": "vae diverged"})
               for s, r in zip(seeds, res) if r is None]
    out = pd.concat(frames, ignore_index=True).assign(reading=reading)
    name = adata.uns.get("dataset", {}).get("name", "")
    out = out.assign(dataset=name, variant=label or name, cells=adata.n_obs, genes=adata.n_vars)
    if baselines:
        out = pd.concat([out, _baselines_only(adata, label or name)], ignore_index=True)
    return out



def gene_count_rows(dataset: str, configs: dict[str, VAEConfig], seeds: list[int], *, n_genes: int = SELECTED_GENES,
                    selections: tuple[str, ...] = SELECTIONS, methods: tuple[str, ...] = ("kmeans",),
                    n_jobs: int = 1) -> pd.DataFrame:
    """All genes vs ``n_genes`` selected genes of the same cells: the VAE readings and the baselines."""
    raw = datasets.load(dataset)
    variants = {"all genes": raw}
    for how in selections:
        variants[f"{n_genes} genes ({how})"] = select_genes(raw, n_genes, how)
    frames = []
    for label, counts in variants.items():
        ad = zscore(counts, copy=True)
        for name, cfg in configs.items():
            frames.append(dataset_rows(ad, name, cfg, seeds, methods=methods, baselines=False, label=label,
                                       n_jobs=n_jobs))
        frames.append(_baselines_only(ad, label))
    return pd.concat(frames, ignore_index=True)



def _baselines_only(adata: Any, label: str) -> pd.DataFrame:
    base = cached_baselines(adata, scvi=False)  # only the PCA and Leiden rows are kept here
    keep = base[base["method"].isin([PCA_KMEANS, LEIDEN_COUNT])]
    return keep[["method", "clusters_found", "CA", "NMI", "ARI", "status"]].assign(
        reading="baseline", seed=-1, dataset=adata.uns.get("dataset", {}).get("name", ""), variant=label,
        cells=adata.n_obs, genes=adata.n_vars)



#: The experiments :func:`main` runs, in order.
STEPS = ("readings", "gene-set", "cell-set", "gene-count")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m replicate.studies.why", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=PAPER_DATASET)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the readings study")
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    p.add_argument("--table-seeds", type=int, nargs="+", default=list(range(10)),
                   help="VAE seeds of the gene-set and cell-set runs (the paper's 10)")
    p.add_argument("--worm-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    folder = paths.study_dir(STUDY)
    folder.mkdir(parents=True, exist_ok=True)
    if "readings" in args.steps:
        readings_study(args.dataset, args.seeds, folder / f"{args.dataset}-readings.csv")
        rows = pd.read_csv(folder / f"{args.dataset}-readings.csv")
        store.atomic_write(folder / f"{args.dataset}-readings-summary.csv",
                           lambda f: readings_summary(rows).to_csv(f))
    name, matched = matched_reading(args.dataset)
    progress.report(f"fingerprint-matched reading: {name} ({matched.describe()})")
    both = {DEFAULT_READING: VAEConfig(), MATCHED: matched}
    # One thread per training, two trainings side by side (identical to one by one with one thread;
    # replicate.method.latents): where no pairing with the study run's seeds is needed (other cells, the worm).
    parallel = {name: replace(cfg, threads=1) for name, cfg in both.items()}
    for step, ds, configs, jobs in (("gene-set", GENE_SET, both, 1), ("cell-set", CELL_SET, parallel, 2)):
        if step not in args.steps or (folder / f"{ds}.csv").is_file():
            continue
        ad = zscore(datasets.load(ds), copy=True)
        frames = [dataset_rows(ad, r, cfg, args.table_seeds, baselines=(r == DEFAULT_READING), n_jobs=jobs)
                  for r, cfg in configs.items()]
        store.atomic_write(folder / f"{ds}.csv", lambda f: pd.concat(frames, ignore_index=True).to_csv(f, index=False))
    out = folder / f"{WORM}-gene-count.csv"
    if "gene-count" in args.steps and not out.is_file():
        rows = gene_count_rows(WORM, parallel, args.worm_seeds, n_jobs=2)
        store.atomic_write(out, lambda f: rows.to_csv(f, index=False))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
