"""How each stage's cost grows with the number of cells: what a user's own file will cost.

For every stage -- z-scoring, one VAE epoch (2,000 genes, the paper's configuration), each
clusterer at the paper's setting, the live baselines -- seconds and peak resident memory in a
fresh child process at 2,100 real cells (the paper's file) and at 10,000, 50,000 and 100,000
synthetic cells x 2,000 genes (Poisson counts with 8 cell types; the clusterers on a 32-d latent
with 8 clusters). Before a clusterer runs, the package's own estimate
(:func:`replicate.method.budget.check`, the cost models measured by ``clustering_cost.py``) decides:
a stage that would not fit the memory limit, or would take longer than ``--max-seconds``, is not run
and its row says what it would need -- the refusal a user's ``rp.tl.cluster`` gives. The growth
exponent k is fitted to seconds ~ cells^k on the sizes that ran (1: linear, 2: quadratic).

Usage: python benchmarks/scaling.py [--sizes 2100 10000 50000 100000] [--json benchmarks/results/scaling.json]
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
CLUSTERERS = ["kmeans", "affinity_propagation", "agglomerative", "birch", "gmm", "spectral", "dbscan", "optics"]
STAGES = ["preprocess", "vae_epoch", *CLUSTERERS, "pca32+kmeans", "leiden"]


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


def _child(stage: str, cells: int, folder: str, max_seconds: float) -> None:
    if stage in CLUSTERERS and os.environ.get("REPLICATE_MEMORY_GB"):
        # a safety net under the estimate: an allocation past the limit raises MemoryError here
        # instead of waking the kernel's out-of-memory killer (not for TensorFlow, which reserves more)
        import resource

        cap = int((float(os.environ["REPLICATE_MEMORY_GB"]) + 4) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
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
            from replicate.method import budget
            from replicate.method.clustering import sklearn_0241_kwargs

            params = paper_setting(stage)
            kw = {**sklearn_0241_kwargs(stage), **params}
            try:  # what rp.tl.cluster checks before it fits
                budget.check(Z, stage, kw, max_seconds=max_seconds)
                if stage == "birch":  # its final Ward step, on the subclusters its tree holds
                    from sklearn.cluster import Birch

                    tree = Birch(n_clusters=None, **{**kw, "compute_labels": False}).fit(Z)
                    budget.check_global_step(cells, len(tree.subcluster_centers_), max_seconds=max_seconds)
            except budget.ResourceError as err:
                need = err.need
                Path(folder, "out.json").write_text(json.dumps({
                    "status": f"skipped: {err}",
                    "need_gb": None if need is None else need.bytes / 2**30,
                    "need_seconds": None if need is None else need.seconds}))
                return
            row = run_cell(Z, lab % 8, stage, params, n_clusters=8, time_limit_s=max_seconds)
            if row["status"] in ("timeout", "failed", "skipped"):
                Path(folder, "out.json").write_text(json.dumps({"status": f"{row['status']}: {row['message'][:300]}"}))
                return
            seconds = row["seconds"]
    peak = peak_rss_gb()
    Path(folder, "out.json").write_text(json.dumps({"status": "ok", "seconds": seconds, "peak_rss_gb": peak}))


def measure(stage: str, cells: int, memory_limit_gb: float, max_seconds: float) -> dict:
    """One stage at one size in a fresh child process (its own peak memory); the package's estimate
    refuses, in the child, what would not fit ``memory_limit_gb`` or would take over ``max_seconds``."""
    env = {**os.environ, "REPLICATE_MEMORY_GB": f"{memory_limit_gb:g}"}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, __file__, "--_child", stage, str(cells), tmp, f"{max_seconds:g}"],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return {"status": "failed", "message": proc.stderr.strip().splitlines()[-1][:300] if proc.stderr else ""}
        return json.loads(Path(tmp, "out.json").read_text())


def exponent(by_cells: dict[int, dict]) -> float | None:
    pts = [(c, m["seconds"]) for c, m in by_cells.items() if m.get("status") == "ok" and m.get("seconds", 0) > 0.01]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[2100, 10000, 50000, 100000])
    p.add_argument("--stages", nargs="+", default=STAGES)
    p.add_argument("--memory-limit-gb", type=float, default=16.0,
                   help="memory a clusterer may use (REPLICATE_MEMORY_GB in the child; default 16)")
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="a clusterer estimated past this is not run, one that runs past it stops (default 300)")
    p.add_argument("--json", default=None)
    p.add_argument("--merge", action="store_true",
                   help="replace only the measured stages in an existing --json file (re-measuring some on a quiet machine)")
    p.add_argument("--note", default=None, help="a sentence for the performance page (e.g. what ran under load)")
    p.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        _child(args._child[0], int(args._child[1]), args._child[2], float(args._child[3]))
        return 0
    figures: dict = {"benchmark": "scaling", "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
                     "load_average_at_start": os.getloadavg()[0], "memory_limit_gb": args.memory_limit_gb,
                     "max_seconds": args.max_seconds, "genes": 2000, "stages": {}}
    from replicate.io.provenance import machine

    figures.update(machine())  # cpu, cores, family
    for stage in args.stages:
        by_cells = {}
        for cells in args.sizes:
            by_cells[cells] = measure(stage, cells, args.memory_limit_gb, args.max_seconds)
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
