"""Every number of a re-computed table against the committed one: identical, within tolerance, differing.

The rule (stated on the reproducibility page and in ``replicate verify --help``):

- **Same CPU family and BLAS kernels** (:func:`replicate.publish.pipeline.run_machine`): every
  number must be identical. The study is deterministic on one machine (measured: seeds 0-1 of the
  paper profile re-made every grid number and loss value bit for bit). The feature flags that name
  a family are not enough: OpenBLAS picks its kernels by CPU model, and two AMD EPYC machines of
  one family re-made the paper run with the same VAEs (every loss identical) but 1 GMM, 12 OPTICS
  and 11 spectral cells of the 1,390 grid cells with other scores (near-ties and near-singular fits).
  Nor are the family and BLAS together: two such machines trained seed 0 to final losses of 894.886 and
  893.608, so ``replicate verify`` also compares the re-made seed 0's final loss with the committed one and
  treats a machine that trains apart as another machine (:mod:`replicate.publish.trains_alike`).
- **Another CPU family or BLAS, or a committed run that does not name them**: TensorFlow chooses
  other kernels, the floating-point sums run in another order and training, which is chaotic,
  ends in another VAE from the same seed (measured: VAE+K-means CA 73.0 and 75.7 on seeds 0 and 1
  where the committed run has 70.9 and 74.0). A number that does not depend on a trained network
  (data, PCA, Leiden) is then within tolerance when its relative difference is at most
  :data:`RELATIVE`, except a silhouette, at most :data:`FLOAT32_RELATIVE`: it averages pairwise
  distances of a float32 embedding, which scikit-learn computes as |x|^2 + |y|^2 - 2 x.y, so a
  difference in the last bit of float32 dot products (another CPU model's kernels) moves it by
  about 1e-7 of its value (measured: 5e-7 for PCA + K-means and both Leidens across two AMD EPYC
  machines of one family); a number that does (a VAE's or scVI's) is within tolerance when it is that close
  or when it lies in the range of the committed values of the same quantity over all committed seeds, widened by one
  standard deviation on each side: the re-computed VAE must be another draw from the same
  distribution of trainings, not the same draw.

- **An ill-posed fit**, on any machine: a spectral clustering whose affinity graph is not fully
  connected (scikit-learn warns :data:`ILL_POSED`) has no unique embedding -- its eigenvectors
  span a degenerate space, and which basis the solver returns depends on the last bits of BLAS
  sums, which OpenBLAS computes with kernels chosen by the CPU *model*, not only by the features
  that name a family (measured: two AMD EPYC machines of one family, 11 of 250 spectral cells of
  the paper run with other cluster counts, CA within 0.3 points, every other number identical).
  Its numbers are within tolerance whatever they are, as long as its status is the same.

Timings, library versions, cache keys and free-text messages are not numbers of the study and are
not compared. A re-computed row the committed table lacks is differing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["RELATIVE", "FLOAT32_RELATIVE", "FLOAT32_COLUMNS", "ILL_POSED", "OUTCOMES", "NOT_COMPARED", "SEED_COLUMNS", "read_table", "value_columns", "compare"]

#: Relative tolerance, across CPU families, for numbers that no trained network shapes (BLAS sums).
RELATIVE = 1e-9
#: Relative tolerance, across CPU families, for a silhouette (float32 pairwise distances; see the module's rule).
FLOAT32_RELATIVE = 1e-5
#: Columns computed from float32 pairwise distances.
FLOAT32_COLUMNS = ("silhouette",)
#: What scikit-learn says of a fit whose result is not unique (see the module's rule).
ILL_POSED = "Graph is not fully connected"
#: The three outcomes of one compared number.
OUTCOMES = ("identical", "within tolerance", "differing")
#: Columns that are not results of the study: timings, versions, cache keys, messages.
NOT_COMPARED = ("seconds", "train_seconds", "vae_seconds", "sklearn", "numpy", "key", "message")
#: Columns that name a seed: a trained quantity's distribution is taken over them.
SEED_COLUMNS = ("seed", "embedding", "latent")
#: Columns holding results; every other column identifies the row.
RESULTS = ("CA", "NMI", "ARI", "silhouette", "clusters_found", "noise_cells", "status", "loss", "reconstruction",
           "kl", "cells", "epochs_run", "first_loss", "final_loss", "final_kl", "active_units", "unexplained",
           "max_abs_mu", "sigma_auc", "kl_spike")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A committed or re-computed CSV, floats parsed exactly (pandas' default parser can miss the last bit)."""
    return pd.read_csv(path, float_precision="round_trip")


def value_columns(table: pd.DataFrame) -> list[str]:
    """The result columns of ``table`` (:data:`RESULTS` that it has)."""
    return [c for c in table.columns if c in RESULTS]


def _keys(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in RESULTS and c not in NOT_COMPARED and not c.endswith("_seconds")]


def _key_text(column: pd.Series) -> pd.Series:
    # 300 and 300.0 are one key: a column with a missing value is read as floats
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float).map(repr)
    return column.astype(str)


def _key_frame(table: pd.DataFrame, keys: list[str]) -> pd.Series:
    if not keys:
        return pd.Series("", index=table.index)
    return pd.concat([_key_text(table[k]) for k in keys], axis=1).agg("|".join, axis=1)


def _band(committed: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """Per seed-free key: the committed range of ``column`` over seeds, widened by one s.d."""
    free = [k for k in keys if k not in SEED_COLUMNS]
    values = pd.to_numeric(committed[column], errors="coerce")
    groups = values.groupby(_key_frame(committed, free).values)
    sd = groups.std(ddof=1).fillna(0.0)
    return pd.DataFrame({"low": groups.min() - sd, "high": groups.max() + sd})


def _ill_posed(table: pd.DataFrame) -> pd.Series:
    """Rows whose fit scikit-learn called ill-posed (their message says :data:`ILL_POSED`)."""
    if "message" not in table.columns:
        return pd.Series(False, index=table.index)
    return table["message"].fillna("").astype(str).str.contains(ILL_POSED, regex=False)


def _same(a: object, b: object) -> bool:
    return bool(pd.isna(a) and pd.isna(b)) or bool(a == b)


def compare(recomputed: pd.DataFrame, committed: pd.DataFrame, *, same_family: bool,
            trained: Callable[[pd.DataFrame], pd.Series] | None = None) -> pd.DataFrame:
    """One row per compared number: ``row`` (its key), ``column``, ``recomputed``, ``committed``, ``outcome``.

    ``trained(table)`` marks the rows that a trained network shapes (default: none); on another CPU
    family they get the distributional tolerance of the module's rule.
    """
    keys = _keys(recomputed)
    missing = [k for k in keys if k not in committed.columns]
    if missing:
        raise ValueError(f"the committed table has no column(s) {missing}: it was written by other code")
    new_key, old_key = _key_frame(recomputed, keys), _key_frame(committed, keys)
    old = committed.assign(_key=old_key.values).drop_duplicates("_key").set_index("_key")
    is_trained = trained(recomputed) if trained else pd.Series(False, index=recomputed.index)
    ill_posed = _ill_posed(recomputed) | new_key.map(_ill_posed(old)).fillna(False).astype(bool)
    free_key = _key_frame(recomputed, [k for k in keys if k not in SEED_COLUMNS])
    rows = []
    for column in value_columns(recomputed):
        band = _band(committed, keys, column) if column in committed.columns else None
        for i, key in new_key.items():
            a = recomputed.at[i, column]
            b = old.at[key, column] if key in old.index and column in old.columns else np.nan
            if key not in old.index:
                outcome = "differing"
            elif _same(a, b):
                outcome = "identical"
            elif ill_posed[i] and column != "status":
                outcome = "within tolerance"
            elif same_family or not all(isinstance(v, (int, float, np.number)) for v in (a, b)):
                outcome = "differing"
            elif abs(a - b) <= (FLOAT32_RELATIVE if column in FLOAT32_COLUMNS else RELATIVE) * max(1.0, abs(b)):
                outcome = "within tolerance"
            elif not is_trained[i]:
                outcome = "differing"
            else:
                lo, hi = band.loc[free_key[i]] if band is not None and free_key[i] in band.index else (np.nan, np.nan)
                outcome = "within tolerance" if lo <= a <= hi else "differing"
            rows.append({"row": key, "column": column, "recomputed": a,
                         "committed": b if key in old.index else "(no such row)", "outcome": outcome})
    return pd.DataFrame(rows, columns=["row", "column", "recomputed", "committed", "outcome"])
