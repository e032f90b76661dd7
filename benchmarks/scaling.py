"""How each stage's cost grows with the number of cells (issue: speed and scale, section 4).

For every stage -- preprocessing, one VAE epoch (2,000 genes, the paper's configuration), each
clusterer at the paper's setting, the live baselines -- seconds and peak resident memory in a
fresh child process at 2,100, 4,271 and 8,617 real cells (the benchmark files) and at 20,000 and
50,000 synthetic cells (Poisson counts with 8 cell types, or a 32-d latent with 8 clusters). A
stage whose memory would exceed the limit (affinity propagation keeps several n x n float64
matrices) is skipped and says so. The growth exponent k is fitted to seconds ~ cells^k on the
sizes that ran (1: linear, 2: quadratic).

Usage: python benchmarks/scaling.py [--sizes 2100 4271 8617 20000 50000] [--json benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REAL = {2100: "pbmc2100-top2000", 4271: "pbmc4k-top2000", 8617: "cbmc-top2000"}
STAGES = ["preprocess", "vae_epoch", "kmeans", "affinity_propagation", "agglomerative", "birch", "gmm", "spectral",
          "pca32+kmeans", "leiden"]
#: Bytes a stage holds per cell^2 (the n x n matrices), to skip sizes that cannot fit: affinity
#: propagation keeps similarities, responsibilities, availabilities and a temporary (float64);
#: Ward's agglomerative clustering the condensed distance matrix (n^2 / 2 float64).
QUADRATIC_BYTES = {"affinity_propagation": 4 * 8, "agglomerative": 8 / 2}


def counts(cells: int, genes: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic raw counts with 8 cell types (or a real benchmark file when one has this size)."""
    if cells in REAL:
        from replicate.io import datasets

        ad = datasets.load(REAL[cells])
        return ad.X, ad.obs["label"].to_numpy().astype(str)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 8, cells)
    rates = rng.gamma(0.6, 1.0, (8, genes)).astype(np.float32)
    return rng.poisson(rates[y]).astype(np.float32), y.astype(str)


def _child(stage: str, cells: int, folder: str) -> None:
    from replicate.io.memory import peak_rss_gb

    import anndata
    import pandas as pd

    from replicate.method.clustering import paper_setting
    from replicate.method.cells import run_cell

    X, y = counts(cells)
    ad = anndata.AnnData(X, obs=pd.DataFrame({"label": pd.Categorical(y)}, index=[f"c{i}" for i in range(cells)]))
    if stage == "preprocess":
        from replicate.method.preprocess import zscore

        t0 = time.perf_counter()
        zscore(ad)
        seconds = time.perf_counter() - t0
    elif stage == "vae_epoch":
        from replicate.method.preprocess import zscore
        from replicate.method.vae_config import VAEConfig
        from replicate.method.vae_train import train as train_vae

        zscore(ad)
        res = train_vae(ad.X, VAEConfig(epochs=2), seed=0, verbose=False)
        seconds = float(res.history["seconds"][1])  # the first epoch includes XLA compilation
    else:
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 1.5, (8, 32))
        lab = y.astype(int) if np.char.isnumeric(y).all() else rng.integers(0, 8, cells)
        Z = (centres[lab % 8] + rng.normal(0, 1.0, (cells, 32))).astype(np.float32)
        if stage == "pca32+kmeans":
            from replicate.paper.baselines import pca_kmeans
            from replicate.method.preprocess import zscore

            zscore(ad)
            t0 = time.perf_counter()
            pca_kmeans(ad.X, y)
            seconds = time.perf_counter() - t0
        elif stage == "leiden":
            from replicate.paper.baselines import scanpy_leiden
            from replicate.method.preprocess import zscore

            zscore(ad)
            t0 = time.perf_counter()
            scanpy_leiden(ad, match_count=False)
            seconds = time.perf_counter() - t0
        else:
            row = run_cell(Z, lab % 8, stage, paper_setting(stage), n_clusters=8, time_limit_s=1800)
            seconds = row["seconds"] if row["status"] != "timeout" else float("nan")
    peak = peak_rss_gb()
    Path(folder, "out.json").write_text(json.dumps({"seconds": seconds, "peak_rss_gb": peak}))


def measure(stage: str, cells: int, memory_limit_gb: float, max_quadratic_cells: int) -> dict:
    need = QUADRATIC_BYTES.get(stage, 0) * cells**2 / 2**30
    if need > memory_limit_gb:
        return {"status": f"skipped: needs ~{need:.0f} GB for its n x n matrices (limit {memory_limit_gb:g} GB)"}
    if stage in QUADRATIC_BYTES and cells > max_quadratic_cells:
        return {"status": f"skipped: quadratic in time and memory (~{need:.1f} GB); above {max_quadratic_cells:,} "
                          "cells its cost is read off the fitted exponent"}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, __file__, "--_child", stage, str(cells), tmp], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            return {"status": "failed", "message": proc.stderr.strip().splitlines()[-1][:300] if proc.stderr else ""}
        return {"status": "ok", **json.loads(Path(tmp, "out.json").read_text())}


def exponent(by_cells: dict[int, dict]) -> float | None:
    pts = [(c, m["seconds"]) for c, m in by_cells.items() if m.get("status") == "ok" and m.get("seconds", 0) > 0.01]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[2100, 4271, 8617, 20000, 50000])
    p.add_argument("--stages", nargs="+", default=STAGES)
    p.add_argument("--memory-limit-gb", type=float, default=16.0)
    p.add_argument("--max-quadratic-cells", type=int, default=10000,
                   help="run the n x n stages (affinity propagation, Ward) only up to this many cells (time on 2 cores)")
    p.add_argument("--json", default=None)
    p.add_argument("--merge", action="store_true",
                   help="replace only the measured stages in an existing --json file (re-measuring some on a quiet machine)")
    p.add_argument("--note", default=None, help="a sentence for the performance page (e.g. what ran under load)")
    p.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        _child(args._child[0], int(args._child[1]), args._child[2])
        return 0
    figures: dict = {"benchmark": "scaling", "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
                     "load_average_at_start": os.getloadavg()[0], "stages": {}}
    for stage in args.stages:
        by_cells = {}
        for cells in args.sizes:
            by_cells[cells] = measure(stage, cells, args.memory_limit_gb, args.max_quadratic_cells)
            m = by_cells[cells]
            print(f"{stage:22s} {cells:7d} cells: " + (f"{m['seconds']:8.2f} s, peak {m['peak_rss_gb']:.2f} GB"
                                                       if m["status"] == "ok" else m["status"]), flush=True)
        k = exponent(by_cells)
        figures["stages"][stage] = {"by_cells": {str(c): m for c, m in by_cells.items()}, "exponent": k}
        print(f"{stage:22s} growth exponent {k if k is None else round(k, 2)}", flush=True)
    if args.json:
        path = Path(args.json)
        if args.merge and path.is_file():
            old = json.loads(path.read_text())
            stamp = {"date": figures["date"], "load_average_at_start": figures["load_average_at_start"]}
            old["stages"].update({k: {**v, "measured": stamp} for k, v in figures["stages"].items()})
            figures = {**old, "stages": old["stages"]}
        if args.note is not None:
            figures["note"] = args.note
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
