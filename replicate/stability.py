"""Readings of the paper: which VAE configurations train (the stability study), and how much a
preprocessing reading moves VAE+K-means.

Each reading (``replicate/data/stability.toml``) is trained with several seeds on one dataset;
every training becomes one row: whether it trained, diverged (non-finite loss), blew up (finite
but ending above its first-epoch loss, or reconstructing no better than predicting zeros) or
collapsed (KL ~ 0, or fewer than two active latent units), its final loss and KL per cell, the
active units and the unexplained variance (both label-free), and VAE+K-means CA/NMI/ARI. Rows are written as they finish, atomically, so an interrupted
study resumes where it stopped.

The default reading is chosen **without labels**: the reading with the fewest deviations from
the paper's text among those where every seed trained (ties: the order of the file).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import store
from ._resources import load_toml
from .errors import TrainingError
from .vae import VAEConfig, vae_latents

__all__ = ["readings", "reading_by_name", "run_study", "summarize", "choose_default", "committed_summary", "readable",
           "preprocessing_sensitivity", "kl_spikes", "page_summary"]

PREPROCESS_KEYS = ("clip_zscore",)


def readings() -> list[dict[str, Any]]:
    """The readings of the study, in the file's order."""
    return load_toml("stability")["reading"]


def reading_by_name(name: str) -> dict[str, Any]:
    """The reading called ``name`` in ``replicate/data/stability.toml``."""
    from .errors import ReplicateError

    for r in readings():
        if r["name"] == name:
            return r
    raise ReplicateError(f"no reading named {name!r} in replicate/data/stability.toml; readings: "
                         + ", ".join(r["name"] for r in readings()))


def reading_config(reading: dict[str, Any], epochs: int | None = None) -> VAEConfig:
    """The :class:`VAEConfig` of a reading: the paper's literal one with the reading's changes."""
    vae_params = {k: v for k, v in reading["params"].items() if k not in PREPROCESS_KEYS}
    cfg = replace(VAEConfig.paper_reading(), **vae_params)
    return replace(cfg, epochs=epochs) if epochs else cfg


#: A latent with fewer active units than this counts as collapsed (label-free).
MIN_ACTIVE_UNITS = 2


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose mean varies across cells (variance > ``threshold``; Burda et al. 2015)."""
    return int((np.var(mu, axis=0) > threshold).sum())


def trivial_reconstruction(X: np.ndarray, reduction: str) -> float:
    """Reconstruction loss per cell of predicting all zeros (the gene means, after z-scoring)."""
    sq = np.square(np.asarray(X, dtype=np.float64))
    return float(0.5 * sq.sum(axis=1).mean() if reduction == "sum" else sq.mean())


def _train_one(X: np.ndarray, labels: np.ndarray, reading: dict[str, Any], cfg: VAEConfig, seed: int, *,
               keep_weights: bool = True) -> dict:
    from .clustering import kmeans
    from .metrics import evaluate

    row: dict[str, Any] = {"reading": reading["name"], "deviations": reading["deviations"], "seed": seed,
                           "params": json.dumps(reading["params"], sort_keys=True)}
    t0 = time.perf_counter()
    try:
        (res,) = vae_latents(X, cfg, seeds=[seed], verbose=False, keep_weights=keep_weights)
    except TrainingError as exc:
        hist = getattr(exc, "history", {}) or {}
        first = hist.get("loss", [np.nan])[0] if hist.get("loss") else np.nan
        row.update(status="diverged", epochs_run=getattr(exc, "epoch", np.nan), first_loss=first,
                   final_loss=np.nan, final_kl=np.nan, active_units=np.nan, unexplained=np.nan,
                   max_abs_mu=np.nan, CA=np.nan, NMI=np.nan, ARI=np.nan)
    else:
        loss = res.history["loss"]
        active = active_units(res.mu)
        unexplained = res.history["reconstruction"][-1] / trivial_reconstruction(X, cfg.reconstruction)
        if res.collapsed or active < MIN_ACTIVE_UNITS:
            status = "collapsed"
        elif loss[-1] > loss[0] or unexplained >= 1.0:
            status = "blew up"
        else:
            status = "trained"
        scores = evaluate(labels, kmeans(res.mu, len(np.unique(labels)), random_state=0))
        row.update(status=status, epochs_run=len(loss), first_loss=loss[0], final_loss=loss[-1],
                   final_kl=res.history["kl"][-1], active_units=active, unexplained=unexplained,
                   max_abs_mu=float(np.abs(res.mu).max()), **scores)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def run_study(dataset: str, seeds: list[int], out: str | os.PathLike, *, epochs: int | None = None,
              names: list[str] | None = None, verbose: bool = True) -> pd.DataFrame:
    """Train every reading (or those in ``names``) with every seed; rows go to ``out`` (CSV).

    Finished (reading, seed) pairs already in ``out`` are not recomputed.
    """
    from . import datasets
    from .preprocess import zscore

    out = Path(out)
    original = out.read_text(encoding="utf-8") if out.is_file() else ""
    done = pd.read_csv(out) if original else pd.DataFrame()
    rows = done.to_dict("records")
    columns = list(done.columns)
    new_rows: list[dict[str, Any]] = []
    finished = {(r["reading"], int(r["seed"])) for r in rows}
    raw = datasets.load(dataset)
    labels = raw.obs["label"].to_numpy()
    prepared: dict[Any, np.ndarray] = {}
    todo = [r for r in readings() if names is None or r["name"] in names]
    total = len(todo) * len(seeds)
    start = time.perf_counter()

    def write(p: Path) -> None:
        # rows already in the file keep their bytes; new rows are appended below them
        frame = pd.DataFrame(new_rows)
        if original:
            text = frame.reindex(columns=columns).to_csv(index=False, header=False) if len(frame) else ""
            p.write_text(original + text, encoding="utf-8")
        else:
            frame.to_csv(p, index=False)

    for i, reading in enumerate(todo):
        clip = reading["params"].get("clip_zscore")
        if clip not in prepared:
            prepared[clip] = zscore(raw, clip=clip, copy=True).X
        cfg = reading_config(reading, epochs)
        for j, seed in enumerate(seeds):
            if (reading["name"], seed) in finished:
                continue
            row = _train_one(prepared[clip], labels, reading, cfg, seed)
            row["dataset"] = dataset
            rows.append(row)
            new_rows.append(row)
            store.atomic_write(out, write)
            if verbose:
                k = i * len(seeds) + j + 1
                print(f"[{k}/{total}] {reading['name']} seed {seed}: {row['status']}, CA {row['CA']:.3f} "
                      f"({row['seconds']}s, elapsed {time.perf_counter() - start:.0f}s)", flush=True)
    return pd.DataFrame(rows)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per reading: seeds trained of total, loss, KL and metrics as mean ± s.d."""
    order = {r["name"]: i for i, r in enumerate(readings())}
    g = rows.groupby("reading", sort=False)
    out = pd.DataFrame({
        "deviations": g["deviations"].first(),
        "seeds": g.size(),
        "trained": g["status"].apply(lambda s: int((s == "trained").sum())),
        "outcomes": g["status"].apply(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items())),
        "final_loss": g["final_loss"].mean(),
        "final_kl": g["final_kl"].mean(),
        "active_units": g["active_units"].mean(),
        "unexplained": g["unexplained"].mean(),
    })
    for m in ("CA", "NMI", "ARI"):
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_sd"] = g[m].std(ddof=1)
    out["order"] = [order.get(name, len(order)) for name in out.index]
    return out.sort_values("order").drop(columns="order")


def choose_default(summary: pd.DataFrame) -> str:
    """The most faithful reading that trains: fewest deviations among readings where every seed
    trained; ties go to the earlier reading in the file. Labels play no part."""
    ok = summary[summary["trained"] == summary["seeds"]]
    if ok.empty:
        raise TrainingError("no reading trained with every seed.")
    return str(ok.sort_values("deviations", kind="stable").index[0])


def committed_summary(dataset: str = "pbmc2100-top2000") -> pd.DataFrame:
    """The committed study summary (``results/stability/<dataset>-summary.csv``) of this checkout."""
    from .errors import ReplicateError
    from .provenance import project_root

    path = project_root() / "results" / "stability" / f"{dataset}-summary.csv"
    if not path.is_file():
        raise ReplicateError(f"no stability study for {dataset!r} at {path}; run "
                             f"`python -m replicate.stability --dataset {dataset}` to make one.")
    return pd.read_csv(path, index_col="reading")


def readable(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary for readers: outcomes, final KL per cell, active units, VAE + K-means (mean ± s.d., %)."""
    def pm(m: str) -> pd.Series:
        mean, sd = 100 * summary[f"{m}_mean"], 100 * summary[f"{m}_sd"]
        return pd.Series([("—" if np.isnan(a) else f"{a:.1f}" + ("" if np.isnan(b) else f"±{b:.1f}"))
                          for a, b in zip(mean, sd)], index=summary.index)

    out = pd.DataFrame({
        "deviations": summary["deviations"],
        "trained": [f"{t}/{s}" for t, s in zip(summary["trained"], summary["seeds"])],
        "outcomes": summary["outcomes"],
        "final KL / cell": summary["final_kl"].round(1).astype(object).where(summary["final_kl"].notna(), "—"),
        "active units": summary["active_units"].round(1).astype(object).where(summary["active_units"].notna(), "—"),
        "K-means CA (%)": pm("CA"), "K-means ARI (%)": pm("ARI"),
    })
    out.index.name = None
    return out


def kl_spikes(history: dict[str, list[float]], *, factor: float | None = None) -> dict[str, Any]:
    """Label-free: did the epoch's mean KL jump above ``factor`` x its median over training?"""
    from .fingerprints import targets

    factor = factor if factor is not None else float(targets()["training_health"]["kl_spike_factor"])
    kl = np.asarray(history.get("kl", []), dtype=float)
    if kl.size < 2:
        return {"kl_spike": False, "kl_max": float(kl.max()) if kl.size else np.nan, "kl_spike_epochs": ""}
    median = float(np.median(kl))
    spikes = [i + 1 for i, v in enumerate(kl) if v > factor * median]
    return {"kl_spike": bool(spikes), "kl_max": float(kl.max()), "kl_spike_epochs": " ".join(map(str, spikes))}


def page_summary(summary: pd.DataFrame, results: list[Any], seeds: list[int]) -> str:
    """The VAE page's opening sentences: which readings train, and how this run's seeds trained."""
    literal = summary.iloc[0]
    default = choose_default(summary)
    trained = summary.loc[default]
    spiky = [s for s, r in zip(seeds, results) if kl_spikes(r.history)["kl_spike"]]
    final = [r.history["loss"][-1] for r in results]
    text = (f"Taken literally, the paper's VAE does not train ({literal['outcomes']} in the stability study); of its "
            f"{len(summary)} readings, the one with the fewest departures from the text that trained every seed "
            f"adds batch normalisation ({default}: {trained['trained']}/{trained['seeds']} seeds trained there). "
            f"In this run, {len(results)} VAE seed(s) trained to a final loss of {np.mean(final):.1f} per cell")
    text += (f"; {len(spiky)} of them (seed {', '.join(map(str, spiky))}) show a KL spike, an epoch whose mean KL "
             "jumps above ten times its usual level." if spiky else ", none with a KL spike.")
    return text


def preprocessing_sensitivity(dataset: str, config: VAEConfig, seeds: list[int], readings: dict[str, dict[str, Any]],
                              *, label_key: str | None = None, verbose: bool = False) -> pd.DataFrame:
    """VAE+K-means under alternative preprocessing readings, same VAE seeds; fractions.

    ``readings``: name -> keyword arguments of :func:`replicate.study.prepare` (``target_sum``,
    ``clip_zscore``).
    """
    from .clustering import kmeans_scores
    from .study import prepare

    frames = []
    for name, kw in readings.items():
        ad = prepare(dataset, label_key=label_key, **kw)
        res = vae_latents(ad.X, config, seeds=list(seeds), verbose=verbose)
        rows = kmeans_scores({str(s): r.mu for s, r in zip(seeds, res)}, ad.obs["label"].to_numpy())
        frames.append(rows.assign(reading=name, seed=[int(s) for s in seeds],
                                  final_loss=[r.history["loss"][-1] for r in res]))
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m replicate.stability", description=__doc__)
    p.add_argument("--dataset", default="pbmc2100-top2000")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="default: the paper's 30")
    p.add_argument("--out", default=None, help="CSV of rows (default results/stability/<dataset>.csv)")
    args = p.parse_args(argv)
    out = Path(args.out or f"results/stability/{args.dataset}.csv")
    run_study(args.dataset, args.seeds, out, epochs=args.epochs)
    summary = summarize(pd.read_csv(out))  # from the file as stored, so the summary can always be recomputed
    store.atomic_write(out.with_name(out.stem + "-summary.csv"), lambda p: summary.to_csv(p))
    print(summary.to_string())
    print(f"default by the rule (fewest deviations among readings where every seed trained): "
          f"{choose_default(summary)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
