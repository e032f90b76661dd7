"""The stability study: which readings of the paper's VAE train, and how much a preprocessing
reading moves VAE + K-means.

Each reading (:mod:`replicate.studies.readings`) is trained with several seeds on one dataset;
every training becomes one row (:func:`replicate.studies.readings.train_one`). Rows are written
as they finish, atomically, so an interrupted study resumes where it stopped. The default reading
is chosen **without labels**: the reading with the fewest deviations from the paper's text among
those where every seed trained (ties: the order of the file).

``python -m replicate.studies.stability`` runs it into ``results/stability/``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import datasets, paths, store
from ..io.errors import ReplicateError, TrainingError
from ..io.facts import PAPER_DATASET
from ..method.clustering import kmeans_scores
from ..method.latents import latents
from ..method.preprocess import prepare, zscore
from ..method.vae_config import VAEConfig
from .readings import reading_config, readings, train_one

__all__ = ["STUDY", "run_study", "summarize", "choose_default", "committed_summary", "preprocessing_sensitivity",
           "main"]

#: The study's folder under ``results/``.
STUDY = "stability"


def run_study(dataset: str, seeds: list[int], out: str | os.PathLike, *, epochs: int | None = None,
              names: list[str] | None = None, verbose: bool = True) -> pd.DataFrame:
    """Train every reading (or those in ``names``) with every seed; rows go to ``out`` (CSV).

    Finished (reading, seed) pairs already in ``out`` are not recomputed.
    """
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
            row = train_one(prepared[clip], labels, reading, cfg, seed)
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



def committed_summary(dataset: str = PAPER_DATASET) -> pd.DataFrame:
    """The committed study summary (``results/stability/<dataset>-summary.csv``) of this checkout."""
    path = paths.committed(f"results/{STUDY}") / f"{dataset}-summary.csv"
    if not path.is_file():
        raise ReplicateError(f"no stability study for {dataset!r} at results/{STUDY}/{path.name}; run "
                             f"`python -m replicate.studies.stability --dataset {dataset}` to make one.")
    return pd.read_csv(path, index_col="reading")



def preprocessing_sensitivity(dataset: str, config: VAEConfig, seeds: list[int], readings: dict[str, dict[str, Any]],
                              *, label_key: str | None = None, verbose: bool = False) -> pd.DataFrame:
    """VAE+K-means under alternative preprocessing readings, same VAE seeds; fractions.

    ``readings``: name -> keyword arguments of :func:`replicate.method.preprocess.prepare`
    (``target_sum``, ``clip_zscore``).
    """
    frames = []
    for name, kw in readings.items():
        ad = prepare(dataset, label_key=label_key, **kw)
        res = latents(ad.X, config, seeds=list(seeds), verbose=verbose)
        rows = kmeans_scores({str(s): r.mu for s, r in zip(seeds, res)}, ad.obs["label"].to_numpy())
        frames.append(rows.assign(reading=name, seed=[int(s) for s in seeds],
                                  final_loss=[r.history["loss"][-1] for r in res]))
    return pd.concat(frames, ignore_index=True)



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m replicate.studies.stability", description=__doc__)
    p.add_argument("--dataset", default=PAPER_DATASET)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="default: the paper's 30")
    p.add_argument("--out", default=None, help="CSV of rows (default results/stability/<dataset>.csv)")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else paths.study_dir(STUDY) / f"{args.dataset}.csv"
    run_study(args.dataset, args.seeds, out, epochs=args.epochs)
    summary = summarize(pd.read_csv(out))  # from the file as stored, so the summary can always be recomputed
    store.atomic_write(out.with_name(out.stem + "-summary.csv"), lambda p: summary.to_csv(p))
    print(summary.to_string())
    print(f"default by the rule (fewest deviations among readings where every seed trained): "
          f"{choose_default(summary)}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
