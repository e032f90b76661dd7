"""Speed and memory of the paper's clustering grids (issue: the clustering layer).

Prints, all measured in this one process so the ratios are fair:
- wall time of the full paper grid (6 methods, 118 cells) on a 2,100-cell and a 4,271-cell 32-d
  latent, run by replicate.grid.execute (joblib over all cores), with a per-method breakdown (sum of
  the cells' own fit seconds, and their statuses);
- the speed-up of that parallel run over a plain serial loop of run_cell on the same cells;
- with ``--dask``, the same grid on a Dask LocalCluster of 2 single-threaded workers: its wall
  time, speed-up over the serial loop, and whether every score equals the joblib run's;
- the peak memory of Affinity Propagation (O(n^2)) at 4,271 cells, in a child process
  (the process's own high-water mark, replicate.io.memory, and tracemalloc's peak of the allocations made by the fit);
- the projected wall time of the full grid x 10 latents of 2,100 cells (target: < 30 min on 2 cores).

The latents are synthetic by default: a Gaussian mixture of 8 clusters in 32-d with unequal
weights (centres ~ N(0, 1.5^2), unit noise, so O(1) coordinates like a VAE's latent mean). To
time a real latent, save it with ``np.save`` and pass ``--latent mu.npy --labels y.npy``.

Usage: python benchmarks/clustering_speed.py [--cells 2100 4271] [--methods kmeans birch ...]
       [--thin N] [--serial-cells 2100 | --no-serial] [--no-memory] [--dask] [--latent F --labels F]
Default: about 5-10 minutes on 2 idle cores.
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

from replicate.method.clustering import PAPER_METHODS
from replicate.method.cells import run_cell
from replicate.grid.plan import plan
from replicate.grid.execute import run


def mixture(n: int, dim: int = 32, k: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic latent: ``n`` cells from ``k`` Gaussian clusters with unequal weights."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.5, (k, dim))
    weights = rng.dirichlet(np.full(k, 3.0))
    y = rng.choice(k, size=n, p=weights)
    Z = centres[y] + rng.normal(0.0, 1.0, (n, dim))
    return Z.astype(np.float32), y


def fmt(seconds: float) -> str:
    return f"{seconds:7.1f} s" if seconds < 120 else f"{seconds:7.1f} s ({seconds / 60:.1f} min)"


def parallel_run(name: str, Z: np.ndarray, y: np.ndarray, methods: list[str], thin: int | None,
                 scheduler: str | None = None) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = run({name: Z}, y, Path(tmp) / "cells.csv", dataset="benchmark", methods=methods, thin=thin,
                    n_jobs=-1, scheduler=scheduler, progress=False)
        return time.perf_counter() - t0, table


def serial_loop(name: str, Z: np.ndarray, y: np.ndarray, methods: list[str], thin: int | None) -> float:
    cells = plan({name: Z}, y, methods=methods, thin=thin)
    t0 = time.perf_counter()
    for cell in cells:
        run_cell(Z, y, cell.method, cell.params, n_clusters=cell.n_clusters, random_state=cell.random_state)
    return time.perf_counter() - t0


def identical_numbers(a, b) -> bool:
    """Whether two runs of the same cells gave bit-identical scores (cells matched by key)."""
    cols = ["CA", "NMI", "ARI", "clusters_found", "noise_cells", "status"]
    x, z = a.set_index("key")[cols].sort_index(), b.set_index("key")[cols].sort_index()
    return bool(x.index.equals(z.index) and x.equals(z))


def breakdown(table) -> None:
    g = table.groupby("method", sort=False)
    print(f"    {'method':22s} {'cells':>5s} {'sum of fits':>12s} {'slowest':>8s}  statuses")
    for method, part in g:
        statuses = ", ".join(f"{k} {v}" for k, v in part["status"].value_counts().items())
        print(f"    {method:22s} {len(part):5d} {part['seconds'].sum():10.1f} s {part['seconds'].max():6.2f} s  {statuses}")
    print(f"    {'all':22s} {len(table):5d} {table['seconds'].sum():10.1f} s")


def ap_memory_child(Z: np.ndarray, y: np.ndarray) -> dict:
    """Peak memory of the paper's Affinity Propagation setting on ``Z``, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "Z.npy", Z)
        np.save(Path(tmp) / "y.npy", y)
        out = subprocess.run([sys.executable, __file__, "--_ap-child", tmp], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])


def _ap_child(folder: str) -> None:
    from replicate.io.memory import peak_rss_bytes
    import tracemalloc

    from replicate.method.clustering import paper_setting

    Z, y = np.load(Path(folder) / "Z.npy"), np.load(Path(folder) / "y.npy")
    run_cell(Z[:50], y[:50], "kmeans", {}, n_clusters=2)  # import everything before measuring
    before = peak_rss_bytes() / 2**20
    tracemalloc.start()
    row = run_cell(Z, y, "affinity_propagation", paper_setting("affinity_propagation"), n_clusters=8)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = peak_rss_bytes() / 2**20
    print(json.dumps({"rss_before_mb": before, "rss_peak_mb": peak, "traced_peak_mb": traced,
                      "seconds": row["seconds"], "status": row["status"], "clusters": row["clusters_found"]}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, nargs="+", default=[2100, 4271], help="synthetic latent sizes")
    p.add_argument("--methods", nargs="+", default=list(PAPER_METHODS), help="default: the 6 paper methods")
    p.add_argument("--thin", type=int, default=None, help="keep every n-th cell of each grid (default: full)")
    p.add_argument("--serial-cells", type=int, nargs="*", default=[2100],
                   help="sizes on which to also time a serial loop (default 2100)")
    p.add_argument("--no-serial", action="store_true", help="skip the serial loop")
    p.add_argument("--no-memory", action="store_true", help="skip the Affinity Propagation memory child")
    p.add_argument("--memory-cells", type=int, default=4271)
    p.add_argument("--dask", action="store_true", help="also time the grid on a 2-worker LocalCluster")
    p.add_argument("--latent", help="a real latent (.npy, cells x dims) instead of the synthetic ones")
    p.add_argument("--labels", help="its labels (.npy), required with --latent")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file (the book's performance page)")
    p.add_argument("--_ap-child", dest="ap_child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ap_child:
        _ap_child(args.ap_child)
        return 0

    import joblib
    import sklearn

    if args.latent:
        if not args.labels:
            p.error("--latent needs --labels")
        latents = {f"latent {Path(args.latent).name}": (np.load(args.latent), np.load(args.labels))}
    else:
        latents = {f"synthetic {n} x 32": mixture(n) for n in args.cells}
    n_cells = sum(len(plan({"x": Z}, y, methods=args.methods, thin=args.thin)) for Z, y in latents.values())
    print(f"clustering speed: scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"{joblib.cpu_count()} cores (joblib), methods {', '.join(args.methods)}, "
          f"grid {'full' if not args.thin else f'every {args.thin}'}; {n_cells} cells in all")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at start: {load} (other jobs on the machine slow every figure)")

    walls: dict[str, float] = {}
    figures: dict = {"benchmark": "clustering_speed", "date": time.strftime("%Y-%m-%d"), "cores": joblib.cpu_count(),
                     "sklearn": sklearn.__version__, "numpy": np.__version__, "load_average_at_start": os.getloadavg()[0],
                     "grid": "full" if not args.thin else f"every {args.thin}", "latents": {}}
    for name, (Z, y) in latents.items():
        print(f"\n== {name} ({Z.shape[0]} cells, {len(np.unique(y))} labels)")
        wall, table = parallel_run(name, Z, y, args.methods, args.thin)
        walls[name] = wall
        print(f"  parallel run (joblib, n_jobs=-1): {fmt(wall)} wall for {len(table)} cells")
        breakdown(table)
        entry = {"cells": int(Z.shape[0]), "grid_cells": int(len(table)), "parallel_wall_s": wall,
                 "per_method": {m: {"cells": int(len(part)), "fit_seconds": float(part["seconds"].sum()),
                                    "slowest_s": float(part["seconds"].max())}
                                for m, part in table.groupby("method", sort=False)}}
        figures["latents"][name] = entry
        wants_serial = bool(args.latent) or Z.shape[0] in (args.serial_cells or [])
        if wants_serial and not args.no_serial:
            serial = serial_loop(name, Z, y, args.methods, args.thin)
            print(f"  serial loop of run_cell:          {fmt(serial)} wall -> speed-up {serial / wall:.2f}x "
                  f"on {joblib.cpu_count()} cores")
            entry.update(serial_wall_s=serial, speed_up=serial / wall)
        if args.dask:
            from dask.distributed import LocalCluster

            t0 = time.perf_counter()
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                started = time.perf_counter() - t0
                dwall, dtable = parallel_run(name, Z, y, args.methods, args.thin, scheduler=cluster.scheduler_address)
            same = identical_numbers(table, dtable)
            line = f"  Dask LocalCluster(2 workers):     {fmt(dwall)} wall (+{started:.1f} s cluster start)"
            if "serial_wall_s" in entry:
                line += f" -> speed-up {entry['serial_wall_s'] / dwall:.2f}x over the serial loop"
            print(line + f"; every number identical to joblib's: {same}")
            entry.update(dask_workers=2, dask_wall_s=dwall, dask_start_s=started, dask_identical=same)
            if "serial_wall_s" in entry:
                entry["dask_speed_up"] = entry["serial_wall_s"] / dwall

    if not args.no_memory:
        Z, y = latents[next(iter(latents))] if args.latent else mixture(args.memory_cells)
        info = ap_memory_child(Z, y)
        gb = info["rss_peak_mb"] / 1024
        print(f"\n== Affinity Propagation memory at {Z.shape[0]} cells (paper's setting, child process)")
        print(f"  peak RSS {info['rss_peak_mb']:.0f} MB (after imports {info['rss_before_mb']:.0f} MB; "
              f"tracemalloc peak of the fit {info['traced_peak_mb']:.0f} MB; one n x n float64 matrix is "
              f"{Z.shape[0] ** 2 * 8 / 2**20:.0f} MB); {'under' if gb < 2 else 'OVER'} 2 GB; "
              f"fit {info['seconds']:.1f} s, {info['status']}, {info['clusters']} clusters")
        figures["ap_memory"] = {"cells": int(Z.shape[0]), **info}

    small = [w for name, w in walls.items() if latents[name][0].shape[0] == 2100]
    if small:
        projected = 10 * small[0]
        print(f"\nprojected: grid x 10 latents of 2,100 cells = 10 x {small[0]:.1f} s = {fmt(projected)} "
              f"({'within' if projected < 1800 else 'OVER'} the 30-minute target)")
        figures["projected_10_latents_2100_s"] = projected
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
