"""Why our numbers differ from the paper's: each candidate factor measured, then ranked.

Experiments (each resumable; rows go to CSV files under ``results/why/`` and every VAE comes
through the latent cache):

- :func:`readings_study`: more readings of the paper's VAE (``replicate/data/stability.toml``),
  3 seeds each: trains / diverges / collapses, label-free fingerprints
  (:mod:`replicate.fingerprints`), KL spikes, and VAE+K-means / VAE+AP at the paper's settings
  (for information: the labels choose nothing). :func:`matched_reading` picks the reading whose
  fingerprints are closest to what the paper's reports imply -- by fingerprints only.
- :func:`dataset_rows`: the paper's six methods at its settings (and the live baselines) for a
  reading on a dataset -- the gene-set (``pbmc2100-top2000-scdcc``) and cell-set
  (``pbmc4k-top2000``) factors.
- :func:`gene_count_rows`: on the worm neurons, whose files have all genes, the VAE and the
  baselines on all genes and on 2,000 selected genes.
- :func:`factor_effects` / :func:`decomposition`: paired differences by VAE seed with bootstrap
  intervals, one row per factor and score, ranked; and the share of the gap they explain.

``python -m replicate.why`` runs the experiments in order (about 90 minutes on 2 cores).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import progress, store
from .clustering import PAPER_METHODS
from .errors import ReplicateError
from .stability import kl_spikes, reading_by_name
from .vae import VAEConfig, vae_latents

__all__ = ["readings_study", "matched_reading", "kl_spikes", "dataset_rows", "gene_count_rows", "select_genes",
           "paired_effect", "factor_effects", "decomposition", "main"]

#: Scores the decomposition follows: the paper's headline method and its most different one.
HEADLINE = (("kmeans", "CA"), ("kmeans", "ARI"), ("affinity_propagation", "CA"), ("affinity_propagation", "ARI"))


def results_dir() -> Path:
    """The committed folder of this study (``results/why`` of the checkout)."""
    from .provenance import project_root

    return project_root() / "results" / "why"


def _append(out: Path, rows: list[dict[str, Any]]) -> None:
    store.atomic_write(out, lambda p: pd.DataFrame(rows).to_csv(p, index=False))


def _done(out: Path) -> list[dict[str, Any]]:
    return pd.read_csv(out).to_dict("records") if out.is_file() else []


# --------------------------------------------------------------------------- readings


def candidate_readings() -> list[str]:
    """Readings to fingerprint: the new ones, and the earlier ones where every seed trained.

    Readings of the first stability study that diverged, blew up or collapsed for some seed cannot
    be chosen as a reading of the paper, so their latents are not fingerprinted (that would cost
    ~20 minutes of training for nothing that can change the choice).
    """
    from .stability import committed_summary, readings

    try:
        first = committed_summary()
    except ReplicateError:
        first = pd.DataFrame(columns=["trained", "seeds"])
    names = []
    for r in readings():
        if r["name"] not in first.index:
            names.append(r["name"])
        elif first.loc[r["name"], "trained"] == first.loc[r["name"], "seeds"]:
            names.append(r["name"])
    return names


def readings_study(dataset: str, seeds: list[int], out: str | os.PathLike, *, names: list[str] | None = None,
                   verbose: bool = True) -> pd.DataFrame:
    """Train, fingerprint and score every reading in ``names`` with every seed; resumable rows in ``out``."""
    from . import datasets
    from .clustering import kmeans_scores, run_cell
    from .fingerprints import fingerprint
    from .preprocess import zscore
    from .stability import _train_one, reading_config

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
            row = _train_one(X, y, reading, cfg, int(seed), keep_weights=False)
            row = {"dataset": dataset, **row}
            if row["status"] != "diverged":
                (res,) = vae_latents(X, cfg, seeds=[seed], verbose=False)
                row.update(kl_spikes(res.history))
                row.update(fingerprint(res.mu, res.logvar, res.history, n_clusters=k))
                km = kmeans_scores({"m": res.mu}, y).iloc[0]
                ap = run_cell(res.mu, y, "affinity_propagation", {"preference": -350, "damping": 0.9}, n_clusters=k)
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
                        "kl_spikes": g["kl_spike"].agg(lambda s: int(s.fillna(False).astype(bool).sum()))})
    numeric = [c for c in rows.columns if c.startswith(("ap_clusters", "birch_", "gmm_failures", "median_sq",
                                                        "nn_", "dim_", "active_", "sigma_", "kl_per", "penalty_"))]
    for c in numeric + ["distance"] + [f"{p}_{m}" for p in ("kmeans", "ap") for m in ("CA", "NMI", "ARI")]:
        if c in rows:
            out[c] = g[c].mean()
    return out


def matched_reading(dataset: str = "pbmc2100-top2000") -> tuple[str, VAEConfig]:
    """The fingerprint-matched reading from the committed readings study: (name, its configuration).

    Chosen by :func:`replicate.fingerprints.choose_matched` among readings where every seed
    trained; labels play no part.
    """
    from .fingerprints import choose_matched
    from .stability import reading_config

    path = results_dir() / f"{dataset}-readings.csv"
    if not path.is_file():
        raise ReplicateError(f"no readings study at {path.name}; run `python -m replicate.why --dataset {dataset}`.")
    rows = pd.read_csv(path)
    summary = readings_summary(rows)
    name = choose_matched(rows[rows["status"] != "diverged"], trained=summary["trained"] == summary["seeds"])
    return name, reading_config(reading_by_name(name))


def reading_params(config: VAEConfig) -> dict[str, Any]:
    """The notebook parameters that select ``config`` (those differing from the default)."""
    default = VAEConfig()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()
            if getattr(default, k) != v}


# --------------------------------------------------------------------------- datasets and genes


def select_genes(adata: Any, n: int, how: str) -> Any:
    """The ``n`` genes of raw counts ``adata`` with the highest mean ('mean') or dispersion ('hvg').

    'hvg' is scanpy's ``highly_variable_genes`` (flavor 'seurat', on log-normalised counts),
    the selection scDeepCluster's and scDCC's 2,000-gene files were made with; 'mean' ranks
    genes by their mean normalised count. Returns a copy with those genes, raw counts kept.
    """
    import scanpy as sc

    norm = adata.copy()
    sc.pp.normalize_total(norm, target_sum=float(np.median(np.asarray(adata.X.sum(axis=1)).ravel())))
    if how == "mean":
        order = np.argsort(-np.asarray(norm.X.mean(axis=0)).ravel(), kind="stable")[:n]
        keep = np.sort(order)
    elif how == "hvg":
        sc.pp.log1p(norm)
        sc.pp.highly_variable_genes(norm, n_top_genes=n, flavor="seurat")
        keep = np.flatnonzero(norm.var["highly_variable"].to_numpy())
    else:
        raise ReplicateError(f"how = {how!r} is invalid: use 'hvg' or 'mean'.")
    return adata[:, keep].copy()


def _paper_setting_rows(adata: Any, latents: dict[str, np.ndarray], methods: tuple[str, ...]) -> pd.DataFrame:
    from . import execution

    path = store.cache_dir() / "clustering" / f"{store.array_hash(adata.X)[:24]}.csv"
    return execution.run(latents, adata.obs["label"].to_numpy(), path,
                         dataset=adata.uns.get("dataset", {}).get("name", ""), methods=list(methods), thin="paper",
                         progress=False)


def dataset_rows(adata: Any, reading: str, config: VAEConfig, seeds: list[int], *,
                 methods: tuple[str, ...] = PAPER_METHODS, baselines: bool = True, keep_weights: bool = False,
                 label: str = "", n_jobs: int = 1) -> pd.DataFrame:
    """VAE + each method at the paper's setting, one row per (seed, method); plus live baselines.

    ``adata`` is preprocessed (z-scores). Rows: dataset, variant (``label``), reading, seed, method,
    clusters_found, CA, NMI, ARI (fractions), status, vae_seconds.
    """
    res = vae_latents(adata.X, config, seeds=list(seeds), verbose=True, keep_weights=keep_weights, n_jobs=n_jobs,
                      skip_diverged=True)
    trained = {int(s): r for s, r in zip(seeds, res) if r is not None}
    frames = []
    if trained:
        latents = {f"vae_seed={s}": r.mu for s, r in trained.items()}
        cells = _paper_setting_rows(adata, latents, methods)
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


def gene_count_rows(dataset: str, readings: dict[str, VAEConfig], seeds: list[int], *, n_genes: int = 2000,
                    selections: tuple[str, ...] = ("hvg", "mean"), methods: tuple[str, ...] = ("kmeans",),
                    n_jobs: int = 1) -> pd.DataFrame:
    """All genes vs ``n_genes`` selected genes of the same cells: the VAE readings and the baselines."""
    from . import datasets
    from .preprocess import zscore

    raw = datasets.load(dataset)
    variants = {"all genes": raw}
    for how in selections:
        variants[f"{n_genes} genes ({how})"] = select_genes(raw, n_genes, how)
    frames = []
    for label, counts in variants.items():
        ad = zscore(counts, copy=True)
        for name, cfg in readings.items():
            frames.append(dataset_rows(ad, name, cfg, seeds, methods=methods, baselines=False, label=label,
                                       n_jobs=n_jobs))
        frames.append(_baselines_only(ad, label))
    return pd.concat(frames, ignore_index=True)


def _baselines_only(adata: Any, label: str) -> pd.DataFrame:
    from .baselines import cached_baselines

    base = cached_baselines(adata, scvi=False)  # only the PCA and Leiden rows are kept here
    keep = base[base["method"].isin(["pca32+kmeans", "scanpy+leiden(count)"])]
    return keep[["method", "clusters_found", "CA", "NMI", "ARI", "status"]].assign(
        reading="baseline", seed=-1, dataset=adata.uns.get("dataset", {}).get("name", ""), variant=label,
        cells=adata.n_obs, genes=adata.n_vars)


# --------------------------------------------------------------------------- effects


def paired_effect(a: pd.Series, b: pd.Series, *, n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of b - a over the seeds both have (paired), with a 95% bootstrap interval; percent points."""
    from .stats import bootstrap_ci

    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    diff = 100 * (both["b"] - both["a"])
    lo, hi = bootstrap_ci(diff.to_numpy(), n_boot=n_boot, seed=seed)
    return {"effect": float(diff.mean()) if len(diff) else np.nan, "ci_low": lo, "ci_high": hi, "n": int(len(diff))}


def unpaired_effect(a: pd.Series, b: pd.Series, *, n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of b minus mean of a (different cells or seeds: not paired), 95% bootstrap interval; points."""
    rng = np.random.default_rng(seed)
    a, b = 100 * a.dropna().to_numpy(float), 100 * b.dropna().to_numpy(float)
    if len(a) < 2 or len(b) < 2:
        return {"effect": float(b.mean() - a.mean()) if len(a) and len(b) else np.nan, "ci_low": np.nan,
                "ci_high": np.nan, "n": int(min(len(a), len(b)))}
    boot = rng.choice(b, (n_boot, len(b))).mean(1) - rng.choice(a, (n_boot, len(a))).mean(1)
    return {"effect": float(b.mean() - a.mean()), "ci_low": float(np.quantile(boot, 0.025)),
            "ci_high": float(np.quantile(boot, 0.975)), "n": int(min(len(a), len(b)))}


def _by_seed(rows: pd.DataFrame, method: str, metric: str) -> pd.Series:
    part = rows[rows["method"] == method]
    return part.groupby("seed")[metric].mean()


def factor_effects(factors: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (factor, score): the effect (ours after the change minus before), 95% CI, n.

    ``factors``: dicts with ``factor``, ``change`` (words), ``page`` (where the evidence is),
    ``before`` and ``after`` (rows with method, seed, CA/NMI/ARI), ``paired`` (same seeds).
    """
    out = []
    for f in factors:
        for method, metric in HEADLINE:
            a, b = _by_seed(f["before"], method, metric), _by_seed(f["after"], method, metric)
            if f.get("spread"):  # a random perturbation: its range, not the interval of a mean
                d = 100 * (b - a.reindex(b.index)).dropna()
                eff = {"effect": float(d.mean()) if len(d) else np.nan, "n": int(len(d)),
                       "ci_low": float(d.quantile(0.025)) if len(d) else np.nan,
                       "ci_high": float(d.quantile(0.975)) if len(d) else np.nan}
            else:
                eff = paired_effect(a, b) if f.get("paired", True) else unpaired_effect(a, b)
            out.append({"factor": f["factor"], "change": f["change"], "score": f"VAE+{_short(method)} {metric}",
                        "paired": bool(f.get("paired", True)), "counts": bool(f.get("counts", True)),
                        "page": f.get("page", ""), **eff})
    return pd.DataFrame(out)


def _short(method: str) -> str:
    return {"kmeans": "K-means", "affinity_propagation": "AP"}.get(method, method)


def decomposition(effects: pd.DataFrame, gaps: dict[str, float]) -> pd.DataFrame:
    """Rank the factors by the share of the gap to the paper each closes, per score.

    ``gaps``: score -> paper minus ours (points). A factor closes ``effect / gap`` of it (negative:
    it widens the gap). The last row per score, "not explained", is the gap minus the sum of the
    positive effects of the systematic factors (``counts``: a choice the paper may have made
    differently; random perturbations such as a seed or CPU round-off are shown but not counted).
    It assumes the effects add up, which the page says.
    """
    rows = []
    for score, gap in gaps.items():
        part = effects[effects["score"] == score].copy()
        part["gap"] = gap
        part["share_of_gap"] = part["effect"] / gap
        part = part.sort_values("effect", ascending=False, key=lambda s: s.abs())
        rows.append(part)
        counted = part[part["counts"].astype(bool)] if "counts" in part else part
        explained = float(counted["effect"].clip(lower=0).sum())
        rows.append(pd.DataFrame([{"factor": "not explained by the measured factors", "change": "", "score": score,
                                   "effect": gap - explained, "gap": gap, "share_of_gap": (gap - explained) / gap,
                                   "counts": True}]))
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- the factors of a run


def committed(name: str) -> pd.DataFrame | None:
    """A committed table of this study (``results/why/<name>.csv``), or None when it was not run."""
    path = results_dir() / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def readings_as_cells(rows: pd.DataFrame, reading: str) -> pd.DataFrame:
    """The readings study's per-seed K-means and AP scores of one reading, as (method, seed, CA, NMI, ARI) rows."""
    part = rows[(rows["reading"] == reading) & (rows["status"] != "diverged")]
    out = []
    for prefix, method in (("kmeans", "kmeans"), ("ap", "affinity_propagation")):
        out.append(pd.DataFrame({"method": method, "seed": part["seed"].to_numpy(),
                                 **{m: part[f"{prefix}_{m}"].to_numpy() for m in ("CA", "NMI", "ARI")}}))
    return pd.concat(out, ignore_index=True)


def paper_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Grid rows at the paper's setting as (method, seed, CA, NMI, ARI)."""
    from .selection import paper_setting_rows

    chosen = paper_setting_rows(rows)
    return chosen.assign(seed=chosen["embedding"].str.removeprefix("vae_seed=").astype(int))[
        ["method", "seed", "CA", "NMI", "ARI"]]


def seed_spread(latents: dict[int, np.ndarray], labels: Any, *, states: int = 10) -> pd.DataFrame:
    """The clusterers' own seed: K-means and AP with random_state 1..states-1, each minus random_state 0.

    Returned as (method, seed, CA, NMI, ARI) rows of the *differences* (fractions), one per
    (latent, random_state), so their mean and interval show how far the clusterer's seed alone
    moves a score.
    """
    from .clustering import run_cell

    y = np.asarray(labels)
    k = int(len(np.unique(y)))
    out = []
    for seed, mu in latents.items():
        for method, params in (("kmeans", {}), ("affinity_propagation", {"preference": -350, "damping": 0.9})):
            base = run_cell(mu, y, method, params, n_clusters=k, random_state=0)
            for rs in range(1, states if method == "kmeans" else 2):
                row = run_cell(mu, y, method, params, n_clusters=k, random_state=rs)
                out.append({"method": method, "seed": seed * 100 + rs,
                            **{m: row[m] - base[m] for m in ("CA", "NMI", "ARI")}})
    return pd.DataFrame(out)


#: Names of readings in the committed study the factors refer to (replicate/data/stability.toml).
DEFAULT_READING_NAME = "batch normalisation"
GENE_COUNT_READING = "batch normalisation, reconstruction x8.22 (16,449 genes)"


def _cells_of(rows: pd.DataFrame, reading: str) -> pd.DataFrame:
    part = rows[(rows["reading"] == reading)]
    return part[part["seed"] >= 0][["method", "seed", "CA", "NMI", "ARI"]]


def run_factors(dataset: str, default_rows: pd.DataFrame, second_rows: pd.DataFrame | None, second_name: str,
                spread: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The factors measured for a run: this run's second reading, and the committed study's experiments.

    The gene-set and cell-set factors compare with the paper's 2,100 cells and are used only when
    the run is on them (``pbmc2100-top2000``); the worm gene count is shown but, being another
    data set, not counted towards the PBMC gap (``counts=False``).
    """
    base = paper_cells(default_rows)
    factors: list[dict[str, Any]] = []
    if second_rows is not None:
        factors.append({"factor": "VAE reading: fingerprint-matched" if second_name.startswith("fingerprint")
                        else f"VAE reading: {second_name}", "change": second_name, "before": base,
                        "after": paper_cells(second_rows), "paired": True, "page": "05_table1"})
    readings = committed(f"{dataset}-readings")
    if readings is not None and GENE_COUNT_READING in set(readings["reading"]):
        factors.append({"factor": "loss balance: reconstruction x8.22 (16,449 genes)",
                        "change": "the reconstruction term weighted as if the 2,000 genes were 16,449",
                        "before": readings_as_cells(readings, DEFAULT_READING_NAME),
                        "after": readings_as_cells(readings, GENE_COUNT_READING), "paired": True, "page": "08_why"})
    if dataset == "pbmc2100-top2000":
        genes = committed("pbmc2100-top2000-scdcc")
        if genes is not None:
            factors.append({"factor": "gene set: scDCC's 2,000 genes", "change": "195 of the 2,000 genes swapped",
                            "before": base, "after": _cells_of(genes, "default"), "paired": True, "page": "08_why"})
        other = committed("pbmc2100-top2000-other-cpu")
        if other is not None:
            factors.append({"factor": "CPU round-off: the same code and seeds on this run's machine",
                            "change": "instead of the machine of the first study run (XLA/oneDNN kernels differ by CPU)",
                            "before": other[["method", "seed", "CA", "NMI", "ARI"]], "after": base, "paired": True,
                            "counts": False, "page": "08_why"})
        cells = committed("pbmc4k-top2000")
        if cells is not None:
            factors.append({"factor": "cell set: all 4,271 cells", "change": "the full data set instead of the 2,100",
                            "before": base, "after": _cells_of(cells, "default"), "paired": False, "page": "08_why"})
    if spread is not None and len(spread):
        zero = spread.assign(CA=0.0, NMI=0.0, ARI=0.0)
        factors.append({"factor": "clusterer's own seed (random_state)",
                        "change": "random_state 1-9 instead of 0 (interval: 95% of the changes)",
                        "before": zero, "after": spread, "paired": True, "spread": True, "counts": False,
                        "page": "06_claims"})
    worm = committed("worm-2100-gene-count")
    if worm is not None:
        all_genes = _cells_of(worm[worm["variant"] == "all genes"], "default")
        hvg = _cells_of(worm[worm["variant"].str.contains("hvg")], "default")
        factors.append({"factor": "gene count, worm neurons: all 13,488 genes", "change": "instead of 2,000 (hvg)",
                        "before": hvg, "after": all_genes, "paired": True, "page": "08_why", "counts": False})
    return factors


def gaps(table: pd.DataFrame) -> dict[str, float]:
    """Paper minus ours (points) at the paper's setting, default reading, for the headline scores."""
    from .report import DEFAULT_READING, paper_table1
    from .selection import SELECTIONS

    rows = table[(table["selection"] == SELECTIONS["paper"]) & (table["reading"] == DEFAULT_READING)]
    by_method = paper_table1().dropna(subset=["method"]).set_index("row")["method"]
    out = {}
    for method, metric in HEADLINE:
        rec = rows[rows["row"].map(by_method) == method].iloc[0]
        out[f"VAE+{_short(method)} {metric}"] = float(-rec[f"diff_{metric}"])
    return out


def glue_decomposition(ranked: pd.DataFrame, dataset: str) -> None:
    """Glue the page's opening summary (``why_summary``) and its numbers (``why_gap``, ``why_explained``, ...)."""
    from myst_nb import glue

    km = ranked[ranked["score"] == "VAE+K-means CA"]
    rest = km[km["factor"].str.startswith("not explained")].iloc[0]
    factors = km[~km["factor"].str.startswith("not explained") & km["counts"].fillna(True).astype(bool)]
    gap, remainder = float(rest["gap"]), float(rest["effect"])
    top = factors.iloc[0] if len(factors) else None
    glue("why_gap", gap, display=False)
    glue("why_explained", gap - remainder, display=False)
    glue("why_remainder", remainder, display=False)
    if dataset != "pbmc2100-top2000":
        summary = (f"This run is on {dataset}, not the paper's 2,100 cells, so its gap to the paper "
                   f"({gap:.1f} CA points for VAE + K-means) is a difference of data sets; the factors below "
                   "are shown for the method, and the decomposition of the real gap is on the study's site.")
    else:
        summary = (f"Of the {gap:.1f}-point gap between the paper's VAE + K-means CA and ours, the measured factors "
                   f"that raise our score account for {gap - remainder:.1f} points; {remainder:.1f} points "
                   f"({remainder / gap:.0%} of the gap) remain unexplained.")
        if top is not None:
            summary += (f" The largest factor is {top['factor']}: {top['effect']:+.1f} points "
                        f"(95% CI {top['ci_low']:+.1f} to {top['ci_high']:+.1f}).")
    glue("why_summary", summary, display=False)


def findings(effects: pd.DataFrame) -> str:
    """What the factors say, in sentences for the discussion page (numbers from the effects)."""
    def eff(factor_start: str, score: str) -> pd.Series | None:
        part = effects[effects["factor"].str.startswith(factor_start) & (effects["score"] == score)]
        return part.iloc[0] if len(part) else None

    parts = []
    reading_ap, reading_km = eff("VAE reading", "VAE+AP CA"), eff("VAE reading", "VAE+K-means CA")
    if reading_ap is not None and reading_km is not None:
        parts.append(f"The reading whose latent space behaves as the paper reports changes VAE + affinity propagation "
                     f"by {reading_ap['effect']:+.1f} CA points ({reading_ap['ci_low']:+.1f} to "
                     f"{reading_ap['ci_high']:+.1f}) but VAE + K-means by {reading_km['effect']:+.1f} "
                     f"({reading_km['ci_low']:+.1f} to {reading_km['ci_high']:+.1f}): the scale of the latent explains "
                     "why affinity propagation differed, not why K-means does.")
    balance = eff("loss balance", "VAE+K-means CA")
    if balance is not None:
        parts.append(f"Weighting the reconstruction as if the data had the paper's 16,449 genes moves VAE + K-means "
                     f"by {balance['effect']:+.1f} points ({balance['ci_low']:+.1f} to {balance['ci_high']:+.1f}).")
    genes = eff("gene set", "VAE+K-means CA")
    if genes is not None:
        parts.append(f"Another 2,000-gene selection of the same cells moves it by {genes['effect']:+.1f} "
                     f"({genes['ci_low']:+.1f} to {genes['ci_high']:+.1f}).")
    return " ".join(parts)


def ranked_display(ranked: pd.DataFrame, scores: str | list[str]) -> Any:
    """The ranked decomposition for readers.

    One score: factor, change, effect with its 95% CI, seeds, share of the gap, evidence page.
    Several: one column per score, each cell "effect (low to high)".
    """
    scores = [scores] if isinstance(scores, str) else scores
    part = ranked[ranked["score"].isin(scores)].copy()
    ci = [("" if pd.isna(lo) else f"{lo:+.1f} to {hi:+.1f}") for lo, hi in zip(part["ci_low"], part["ci_high"])]
    styles = [{"selector": "td, th", "props": "padding: 2px 5px; font-size: 0.82em"}]
    caption = ("Effect: our score after the change minus before (points); positive moves us towards the paper. "
               "Not counted in the share (grey): random perturbations, whose interval is the range of the changes. "
               "scikit-learn 0.24.1 itself cannot be measured here (it has no build for Python 3.11); its one known "
               "difference, how k-means++ draws, acts like another random_state.")
    if len(scores) > 1:
        part["cell"] = [f"{e:+.1f}" + (f" ({c})" if c else "") for e, c in zip(part["effect"], ci)]
        wide = part.pivot_table(index="factor", columns="score", values="cell", aggfunc="first", sort=False)
        wide = wide.reindex(columns=scores)
        wide.index.name = None
        return wide.style.set_table_styles(styles).set_caption(caption)
    counts = part["counts"].fillna(True).astype(bool)
    shown = pd.DataFrame({
        "factor": part["factor"], "change": part["change"].fillna(""),
        "effect (points)": part["effect"].map(lambda v: f"{v:+.1f}"), "95% CI": ci,
        "seeds": part["n"].map(lambda v: "" if pd.isna(v) else f"{int(v)}"),
        "share of the gap": [f"{v:.0%}" if c else "(not counted)" for v, c in zip(part["share_of_gap"], counts)],
        "evidence": part["page"].fillna(""),
    })
    grey = ["color: #777" if not c else "" for c in counts]
    return (shown.style.hide(axis="index").set_table_styles(styles).set_caption(caption)
            .apply(lambda col: grey, subset=["factor", "effect (points)", "95% CI", "share of the gap"]))


def readings_display() -> Any:
    """The committed readings study: outcomes, fingerprints, distance, and metrics for information."""
    rows = committed("pbmc2100-top2000-readings")
    if rows is None:
        return "The readings study has not been run: python -m replicate.why --steps readings"
    summary = readings_summary(rows)
    name, _ = matched_reading()
    cols = {"trained": "trained", "kl_spikes": "KL spikes", "ap_clusters_350": "AP clusters at −350",
            "birch_singletons": "alone in BIRCH at 0.7", "gmm_failures": "GMM fails",
            "median_sq_distance": "median d²", "distance": "distance", "kmeans_CA": "K-means CA †", "ap_CA": "AP CA †"}
    shown = summary[[c for c in cols if c in summary]].rename(columns=cols)
    shown["trained"] = [f"{t}/{n}" for t, n in zip(summary["trained"], summary["seeds"])]
    for c in ("K-means CA †", "AP CA †"):
        shown[c] = (100 * shown[c]).round(1)
    shown = shown.round({"AP clusters at −350": 1, "alone in BIRCH at 0.7": 2, "GMM fails": 1, "median d²": 1,
                         "distance": 2, "KL spikes": 0})
    shown.index = [f"{i} ◀ matched" if i == name else f"{i} ◀ default" if i == DEFAULT_READING_NAME else i
                   for i in shown.index]
    formats = {"AP clusters at −350": "{:.1f}", "alone in BIRCH at 0.7": "{:.2f}", "GMM fails": "{:.1f}",
               "median d²": "{:.1f}", "distance": "{:.2f}", "K-means CA †": "{:.1f}", "AP CA †": "{:.1f}",
               "KL spikes": "{:.0f}"}
    return (shown.style.format({k: v for k, v in formats.items() if k in shown})
            .background_gradient(subset=["distance"], cmap="Greens_r")
            .set_table_styles([{"selector": "td, th", "props": "padding: 2px 3px; font-size: 0.78em"},
                               {"selector": "th.col_heading", "props": "white-space: normal; vertical-align: bottom"}])
            .set_caption("Means over 3 seeds. Distance: to the fingerprints the paper's reports imply (0 = as "
                         "reported). † for information only: labels chose nothing."))


def rule_on_this_machine() -> str:
    """What the fewest-deviations rule picks from the readings study (trained on this repository's study machine)."""
    from .stability import choose_default

    rows = committed("pbmc2100-top2000-readings")
    if rows is None:
        return ""
    summary = readings_summary(rows)
    pick = choose_default(summary)
    default = summary.loc[DEFAULT_READING_NAME] if DEFAULT_READING_NAME in summary.index else None
    text = (f"In the readings study (3 seeds each, trained on the machine of this run), the default reading "
            f"trained {int(default['trained'])} of {int(default['seeds'])} seeds ({default['outcomes']}); ")
    if pick == DEFAULT_READING_NAME:
        return text + "the fewest-deviations rule still picks it."
    return text + (f"applied to these trainings, the same fewest-deviations rule would pick \"{pick}\" instead. The "
                   "default stays the reading the committed stability study chose, and this fragility is part of the "
                   "answer: at learning rate 0.004 and batch 16 the paper's VAE trains on the edge of stability.")


def spikes_display(results: list[Any], seeds: list[int], rows: pd.DataFrame) -> Any:
    """This run's seeds: KL spike flag and largest KL, beside VAE + K-means CA (for information)."""
    km = paper_cells(rows)
    km = km[km["method"] == "kmeans"].set_index("seed")["CA"]
    table = pd.DataFrame([{"seed": s, **kl_spikes(r.history)} for s, r in zip(seeds, results)]).set_index("seed")
    table["K-means CA (%)"] = 100 * km.reindex(table.index)
    spiky = table[table["kl_spike"]]
    calm = table[~table["kl_spike"]]
    note = (f"{len(spiky)} of {len(table)} seeds spike; their mean K-means CA "
            f"{spiky['K-means CA (%)'].mean():.1f} vs {calm['K-means CA (%)'].mean():.1f} for the others."
            if len(spiky) and len(calm) else f"{len(spiky)} of {len(table)} seeds spike.")
    return table.rename(columns={"kl_spike": "KL spike", "kl_max": "largest KL / cell",
                                 "kl_spike_epochs": "epochs"}).style.format(precision=1).set_caption(note)


def _mean_sd(s: pd.Series) -> str:
    return f"{100 * s.mean():.1f} ± {100 * s.std(ddof=1):.1f}" if len(s) > 1 else f"{100 * s.mean():.1f}"


def gene_count_display() -> Any:
    """Worm neurons, all genes vs 2,000: VAE + K-means per reading, PCA + K-means, Leiden; CA (%)."""
    rows = committed("worm-2100-gene-count")
    if rows is None:
        return "The gene-count study has not been run: python -m replicate.why --steps gene-count"
    out = []
    for variant, part in rows.groupby("variant", sort=False):
        rec = {"genes": variant}
        for reading in [r for r in dict.fromkeys(part["reading"]) if r != "baseline"]:
            rec[f"VAE ({reading}) + K-means"] = _mean_sd(part[(part["reading"] == reading) & (part["method"] == "kmeans")]["CA"])
        pca = part[part["method"] == "pca32+kmeans"]["CA"]
        rec["PCA(32) + K-means"] = _mean_sd(pca)
        rec["Leiden (label count)"] = _mean_sd(part[part["method"] == "scanpy+leiden(count)"]["CA"])
        vae = part[(part["reading"] == "default") & (part["method"] == "kmeans")]["CA"]
        rec["VAE − PCA (default)"] = f"{100 * (vae.mean() - pca.mean()):+.1f}"
        out.append(rec)
    return pd.DataFrame(out).set_index("genes").style.set_caption(
        "CA (%), mean ± s.d. over VAE seeds; worm neurons, 2,100 cells, 10 labels.")


def datasets_display() -> Any:
    """Gene set and cell set: the paper's six methods at its settings, per reading; CA (%) and ARI (%)."""
    frames = [f for f in (committed("pbmc2100-top2000-scdcc"), committed("pbmc4k-top2000")) if f is not None]
    if not frames:
        return "The gene-set and cell-set runs have not been run: python -m replicate.why --steps gene-set cell-set"
    rows = pd.concat(frames, ignore_index=True)
    out = rows.groupby(["dataset", "reading", "method"], sort=False).agg(
        CA=("CA", _mean_sd), ARI=("ARI", _mean_sd), seeds=("seed", "nunique"))
    return out.style.set_caption("Percent, mean ± s.d. over VAE seeds (baselines: one run).")


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m replicate.why", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="pbmc2100-top2000")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the readings study")
    p.add_argument("--steps", nargs="+", default=["readings", "gene-set", "cell-set", "gene-count"],
                   choices=["readings", "gene-set", "cell-set", "gene-count"])
    p.add_argument("--table-seeds", type=int, nargs="+", default=list(range(10)),
                   help="VAE seeds of the gene-set and cell-set runs (the paper's 10)")
    p.add_argument("--worm-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    from . import datasets
    from .preprocess import zscore

    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if "readings" in args.steps:
        readings_study(args.dataset, args.seeds, folder / f"{args.dataset}-readings.csv")
        rows = pd.read_csv(folder / f"{args.dataset}-readings.csv")
        store.atomic_write(folder / f"{args.dataset}-readings-summary.csv",
                           lambda f: readings_summary(rows).to_csv(f))
    name, matched = matched_reading(args.dataset)
    progress.report(f"fingerprint-matched reading: {name} ({matched.describe()})")
    both = {"default": VAEConfig(), "fingerprint-matched": matched}
    # One thread per training, two trainings side by side (identical to one by one with one thread;
    # replicate.vae): used where no pairing with the study run's seeds is needed (other cells, the worm).
    parallel = {name: replace(cfg, threads=1) for name, cfg in both.items()}
    for step, ds, configs, jobs in (("gene-set", "pbmc2100-top2000-scdcc", both, 1),
                                    ("cell-set", "pbmc4k-top2000", parallel, 2)):
        if step not in args.steps or (folder / f"{ds}.csv").is_file():
            continue
        ad = zscore(datasets.load(ds), copy=True)
        frames = [dataset_rows(ad, r, cfg, args.table_seeds, baselines=(r == "default"), n_jobs=jobs)
                  for r, cfg in configs.items()]
        store.atomic_write(folder / f"{ds}.csv", lambda f: pd.concat(frames, ignore_index=True).to_csv(f, index=False))
    if "gene-count" in args.steps and not (folder / "worm-2100-gene-count.csv").is_file():
        rows = gene_count_rows("worm-2100", parallel, args.worm_seeds, n_jobs=2)
        store.atomic_write(folder / "worm-2100-gene-count.csv", lambda f: rows.to_csv(f, index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
