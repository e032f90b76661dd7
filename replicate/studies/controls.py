"""Chance on the same cells: the negative controls of :mod:`replicate.method.controls` for Table 1,
the generalisation study and the recipe.

For every setting a table reports (a method at a setting, on a VAE reading), two fits on the latent
of that reading's VAE seed 0 (the configuration the rows train,
:func:`replicate.studies.generalisation.reading_config`, so the control's latent is the rows' own): the same method and
setting on a random embedding of the latent's shape and scale, and the method's labelling of the
real latent scored against permuted labels.
Results go to ``results/controls/`` (``python -m replicate.studies.controls``): ``table1.csv`` (every
VAE setting of the committed Table 1) and ``<dataset>.csv`` per data set of the generalisation study
(the settings of its committed rows), each written whole; the book shows them beside the scores.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ..io import paths, progress, store
from ..io.errors import ReplicateError
from ..io.facts import PAPER_DATASET
from ..method.cells import run_cell
from ..method.controls import CONTROLS, permuted_labels, random_embedding
from ..method.latents import latents
from ..method.preprocess import prepare
from ..method.vae_config import VAEConfig
from ..paper.table1 import DEFAULT_READING, paper_table1
from . import recipe_watch
from .generalisation import DATASETS, reading_config

__all__ = ["STUDY", "TABLE1", "TIME_LIMIT_S", "control_rows", "table1_settings", "table1_controls",
           "dataset_controls", "main"]

#: The study's folder under ``results/``.
STUDY = "controls"
#: The committed Table 1 whose settings are controlled.
TABLE1 = f"results/{PAPER_DATASET}/paper/05_table1"
#: Seconds one control fit may take before it is a ``timeout`` row.
TIME_LIMIT_S = 1800


def _control_pair(Z: np.ndarray, y: np.ndarray, noise: np.ndarray, shuffled: np.ndarray, method: str,
                  parameters: str, variant: str, time_limit_s: float) -> list[dict[str, Any]]:
    k, params = int(len(np.unique(y))), json.loads(parameters)
    on_noise = run_cell(noise, y, method, params, n_clusters=k, time_limit_s=time_limit_s)
    with recipe_watch.peak_memory() as peak:
        permuted = run_cell(Z, shuffled, method, params, n_clusters=k, time_limit_s=time_limit_s)
    progress.report(f"[controls] {method} ({variant}) done")
    return [{**on_noise, "control": CONTROLS[0], "variant": variant},
            {**permuted, "control": CONTROLS[1], "variant": variant, **peak}]


def control_rows(Z: np.ndarray, y: np.ndarray, settings: pd.DataFrame, *, seed: int = 0,
                 time_limit_s: float = TIME_LIMIT_S, n_jobs: int = 1) -> pd.DataFrame:
    """Both controls for every setting of ``settings`` (columns method, parameters, variant), ``n_jobs``
    settings at a time (the rows are the same for any ``n_jobs``).

    The permuted-labels fit is also where a method's cost is measured: its seconds, and the peak
    resident memory of the process that fits it (``peak_rss_mb``) beside what it held before
    (``rss_before_mb``).
    """
    noise, shuffled = random_embedding(Z, seed=seed), permuted_labels(y, seed=seed)
    pairs = Parallel(n_jobs=n_jobs)(delayed(_control_pair)(Z, y, noise, shuffled, s.method, s.parameters, s.variant,
                                                           time_limit_s) for s in settings.itertuples(index=False))
    return pd.DataFrame([row for pair in pairs for row in pair]).assign(seed=seed)


def table1_settings(table: pd.DataFrame) -> pd.DataFrame:
    """Every distinct (reading, method, setting) of Table 1's VAE rows: columns reading, method,
    parameters (canonical JSON) and variant (the selections that chose it, joined)."""
    method_of = paper_table1().set_index("row")["method"]
    vae = table[table["reading"].notna() & table["setting"].notna()].copy()
    vae["method"] = vae["row"].map(method_of)
    vae["parameters"] = vae["setting"].map(lambda s: json.dumps(json.loads(s), sort_keys=True))
    grouped = vae.groupby(["reading", "method", "parameters"], sort=False)["selection"].agg("; ".join)
    return grouped.rename("variant").reset_index()


def _latent(adata: Any, cfg: VAEConfig) -> np.ndarray:
    (res,) = latents(adata.X, cfg, seeds=[0], verbose=True, keep_weights=False, n_jobs=1)
    return res.mu


def table1_controls(*, n_jobs: int = 2) -> pd.DataFrame:
    """The controls of every VAE setting of the committed Table 1, on the paper's cells."""
    table = pd.read_csv(paths.committed(TABLE1) / "table1.csv")
    adata = prepare(PAPER_DATASET)
    y = adata.obs["label"].to_numpy()
    frames = []
    for reading, settings in table1_settings(table).groupby("reading", sort=False):
        mu = _latent(adata, reading_config(PAPER_DATASET, reading))
        frames.append(control_rows(mu, y, settings, n_jobs=n_jobs).assign(reading=reading))
    return pd.concat(frames, ignore_index=True).assign(dataset=PAPER_DATASET)


def dataset_controls(name: str, *, n_jobs: int = 2) -> pd.DataFrame:
    """The controls of the default reading's settings in the committed generalisation rows of ``name``."""
    rows = pd.read_csv(paths.committed("results/generalisation") / f"{name}.csv")
    vae = rows[(rows["reading"] == DEFAULT_READING) & rows["parameters"].notna()]
    settings = vae[vae["seed"] == vae["seed"].min()].drop_duplicates(["method", "parameters", "variant"])
    if settings.empty:
        raise ReplicateError(f"results/generalisation/{name}.csv has no {DEFAULT_READING!r} rows to control; "
                             f"run `replicate study generalisation --datasets {name}` first.")
    adata = prepare(name, n_genes=DATASETS[name])
    mu = _latent(adata, reading_config(name))
    return control_rows(mu, adata.obs["label"].to_numpy(), settings, n_jobs=n_jobs).assign(
        reading=DEFAULT_READING, dataset=name)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m replicate.studies.controls", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table1", action="store_true", help="the controls of the committed Table 1 (table1.csv)")
    p.add_argument("--datasets", nargs="*", default=[], choices=list(DATASETS),
                   help="the controls of these data sets of the generalisation study (<dataset>.csv)")
    p.add_argument("--jobs", type=int, default=2, help="fits side by side (default 2)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    folder = paths.study_dir(STUDY)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = ([("table1", lambda: table1_controls(n_jobs=args.jobs))] if args.table1 else []) + \
        [(ds, lambda ds=ds: dataset_controls(ds, n_jobs=args.jobs)) for ds in args.datasets]
    for name, make in jobs:
        with recipe_watch.heartbeat(f"[controls] {name}"):
            table = make()
        store.atomic_write(folder / f"{name}.csv", lambda f, table=table: table.to_csv(f, index=False))
        progress.report(f"[controls] {name}: {len(table)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
