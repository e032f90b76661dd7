"""The cost models behind the clusterers' refusals (replicate.method.budget): measure, fit, check.

Every method at the paper's setting (spectral clustering under both affinities, DBSCAN at the
paper's eps and at a wide one) is fitted single-threaded on a synthetic 32-d float32 latent (8
Gaussian clusters, within-cluster sd 1, centres sd 1.5: the scale of the VAE's latent means) in a
fresh child process, which reports the fit's seconds and its peak resident memory above what it
held before the fit (the kernel's high-water mark, reset first). BIRCH is measured in its two
steps: the CF tree (grows with the cells) and the final Ward step (grows with the subclusters
squared). The model of each quantity is a sum of terms whose form follows the algorithm (cells,
cells squared, DBSCAN's neighbour pairs, BIRCH's subclusters squared), its coefficients fitted by
non-negative least squares on relative error at the fitting sizes; the largest size is held out,
and the ratio predicted / measured there is printed for every method.

Usage: python benchmarks/clustering_cost.py [--json benchmarks/results/clustering_cost.json] [--write]
(--write stores the models in replicate/data/clustering_costs.json, which the package reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replicate.method import budget, clustering  # noqa: E402  (the modules measured, for the study graph)

#: (model key, method, setting overrides, fitting sizes, held-out size)
CASES = [
    ("affinity_propagation", "affinity_propagation", {}, [500, 1000, 2000, 3000], 4000),
    ("agglomerative", "agglomerative", {}, [1000, 2000, 4000, 8000], 16000),
    ("birch", "birch", {}, [1000, 2000, 4000, 8000], 12000),
    ("gmm", "gmm", {}, [2000, 8000, 16000, 32000], 64000),
    ("kmeans", "kmeans", {}, [2000, 8000, 16000, 32000], 64000),
    ("spectral:nearest_neighbors", "spectral", {}, [1000, 2000, 4000, 8000], 16000),
    ("spectral:rbf", "spectral", {"affinity": "rbf"}, [500, 1000, 2000, 3000], 4000),
    ("dbscan", "dbscan", {}, [2000, 8000, 16000, 32000], 64000),
    ("dbscan", "dbscan", {"eps": 10.0}, [1000, 2000, 4000, 8000], 12000),  # wide: within-cluster pairs
    ("optics", "optics", {}, [500, 1000, 2000, 3000], 4000),
]
#: The terms of each quantity's model (replicate.method.budget.terms names them).
FORMS = {
    "affinity_propagation": {"bytes": ["n", "n2"], "seconds": ["iter_n2"]},
    "agglomerative": {"bytes": ["n", "n2"], "seconds": ["n", "n2"]},
    # the CF tree: each cell descends a tree of bounded branching (n log m); the final step: Ward on m points
    "birch": {"bytes": ["n"], "seconds": ["n"], "global_bytes": ["m2"], "global_seconds": ["m2"]},
    "gmm": {"bytes": ["n"]},
    "kmeans": {"bytes": ["n"]},
    # ARPACK's shift-invert factorisation grows faster than n^2 (n^2.5 between 20,000 and 50,000 cells)
    "spectral:nearest_neighbors": {"bytes": ["n", "n2"], "seconds": ["n", "n2", "n3"]},
    "spectral:rbf": {"bytes": ["n", "n2"], "seconds": ["n", "n2", "n3"]},
    # the radius queries cost n^2 distance evaluations in 32 dimensions even when no pair is within eps
    "dbscan": {"bytes": ["n", "pairs"], "seconds": ["n", "n2", "pairs"]},
    "optics": {"bytes": ["n"], "seconds": ["n", "n2"]},
}


def latent(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (8, 32))
    return (centres[rng.integers(0, 8, n)] + rng.normal(0, 1.0, (n, 32))).astype(np.float32)


def _measured(fn, again=None) -> tuple[object, float, int]:
    """The result, seconds and peak bytes of ``fn()``: the larger of the resident high-water mark above
    what was held before (what the out-of-memory killer sees) and the peak of the arrays allocated
    (what an address-space limit sees: numpy's zeros are not resident until written), traced in a second
    run (``again``, a fresh copy of the work) so that tracing does not slow the timed one."""
    import tracemalloc

    from replicate.io.memory import peak_rss_bytes, reset_peak, rss_bytes

    if not reset_peak():
        raise SystemExit("clustering_cost: this benchmark needs Linux's /proc/self/clear_refs to reset the peak")
    before = rss_bytes()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    resident = max(peak_rss_bytes() - before, 0)
    tracemalloc.start()
    (again or fn)()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, max(resident, traced)


def _child(method: str, setting: str, n: int) -> dict:
    import warnings

    from sklearn.cluster import Birch
    from threadpoolctl import threadpool_limits

    from replicate.method import budget
    from replicate.method.budget import terms
    from replicate.method.clustering import fit_labels, paper_setting, sklearn_0241_kwargs

    warnings.simplefilter("ignore")
    # this measures the costs the models are fitted to: it must not be refused by the models it replaces (and
    # their file is absent while the study graph re-makes it)
    budget.check = lambda *args, **kwargs: None
    params = {**paper_setting(method), **json.loads(setting)}
    Z = latent(n)
    with threadpool_limits(1):
        if method == "birch":
            kw = {**sklearn_0241_kwargs("birch"), **params, "compute_labels": False}
            est, s_tree, b_tree = _measured(lambda: Birch(n_clusters=None, **kw).fit(Z))
            m = len(est.subcluster_centers_)
            est.set_params(n_clusters=8)
            _, s_glob, b_glob = _measured(lambda: est.partial_fit(), lambda: est.partial_fit())
            return {"terms": terms(Z, method, params, subclusters=m), "seconds": s_tree, "bytes": b_tree,
                    "global_seconds": s_glob, "global_bytes": b_glob, "subclusters": m}
        _, s, b = _measured(lambda: fit_labels(Z, method, params, n_clusters=8, random_state=0))
    return {"terms": terms(Z, method, params), "seconds": s, "bytes": b}


def measure(method: str, overrides: dict, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--_child", method, json.dumps(overrides), str(n)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"{method} at {n} cells failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: Times below this are start-up and cache effects, not the growth a refusal extrapolates: left out of time fits.
MIN_FIT_SECONDS = 0.3


def fit(rows: list[dict], quantity: str, form: list[str]) -> dict[str, float]:
    """Non-negative coefficients of ``form`` minimising the relative error of ``quantity`` over ``rows``."""
    from scipy.optimize import nnls

    if "seconds" in quantity:
        long = [r for r in rows if r[quantity] >= MIN_FIT_SECONDS]
        rows = long if len(long) >= len(form) else rows[-len(form):]
    A = np.array([[r["terms"][t] for t in form] for r in rows], dtype=float)
    y = np.array([max(r[quantity], 1e-9) for r in rows], dtype=float)
    A_rel = A / y[:, None]
    coef, _ = nnls(A_rel, np.ones(len(y)))
    return {t: float(c) for t, c in zip(form, coef)}


def predict(coef: dict[str, float], terms: dict[str, float]) -> float:
    return sum(c * terms[t] for t, c in coef.items())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", default=None, help="write every measurement and held-out ratio here")
    p.add_argument("--write", action="store_true", help="store the fitted models in replicate/data/clustering_costs.json")
    p.add_argument("--only", nargs="*", default=None, help="model keys to measure (default: all)")
    p.add_argument("--refit", action="store_true",
                   help="fit the models again to the measurements already in --json (after changing FORMS)")
    p.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        method, setting, n = args._child
        print(json.dumps(_child(method, setting, int(n))))
        return 0
    from replicate.publish.pipeline import run_machine

    load = os.getloadavg()[0]
    cases = [c for c in CASES if args.only is None or c[0] in args.only]
    fitting: dict[str, list[dict]] = {}
    held: dict[str, list[dict]] = {}
    meta: dict = {}
    if args.refit:
        stored = json.loads(Path(args.json).read_text())
        fitting, held = stored["fitting"], stored["held_out"]
        meta = {k: stored[k] for k in ("machine", "date", "threads", "load_average_at_start", "latent")}
        cases = []
    for key, method, overrides, sizes, hold in cases:
        for n in [*sizes, hold]:
            r = measure(method, overrides, n) | {"cells": n, "setting": overrides}
            (held if n == hold else fitting).setdefault(key, []).append(r)
            print(f"{key:28s} {json.dumps(overrides):16s} {n:>7,} cells  {r['seconds']:8.2f} s  "
                  f"{r['bytes'] / 2**20:9.1f} MB" + (f"  subclusters {r['subclusters']:,}" if "subclusters" in r else ""),
                  flush=True)
    models: dict[str, dict] = {}
    report = []
    print(f"\n{'model':28s} {'quantity':15s} {'cells':>7s}  predicted / measured")
    for key in fitting:
        form = FORMS[key]
        models[key] = {q: fit(fitting[key], q, terms) for q, terms in form.items()}
        for r in held[key]:
            for q, coef in models[key].items():
                ratio = predict(coef, r["terms"]) / max(r[q], 1e-9)
                report.append({"model": key, "quantity": q, "cells": r["cells"], "setting": r["setting"],
                               "predicted": predict(coef, r["terms"]), "measured": r[q], "ratio": ratio})
                print(f"{key:28s} {q:15s} {r['cells']:>7,}  {ratio:6.2f}")
    meta = meta or {"machine": run_machine(), "date": dt.date.today().isoformat(), "threads": 1,
                    "load_average_at_start": load, "latent": "synthetic 32-d float32, 8 clusters (sd 1, centres sd 1.5)"}
    if args.json:
        Path(args.json).write_text(json.dumps({**meta, "benchmark": "clustering_cost", "fitting": fitting,
                                               "held_out": held, "ratios": report}, indent=1) + "\n")
    if args.write:
        out = ROOT / "replicate" / "data" / "clustering_costs.json"
        Path(out).write_text(json.dumps({**meta, "methods": models}, indent=1, sort_keys=True) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
