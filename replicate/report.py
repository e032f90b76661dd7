"""Table 1: the paper's published numbers beside ours, computed from results."""

from __future__ import annotations

import pandas as pd

from ._resources import paper

__all__ = ["paper_table1", "compare_to_paper", "readable"]

METRICS = ("CA", "NMI", "ARI")


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (percent) with ``source``: "copied" (baselines) or "paper" (VAE rows)."""
    return pd.DataFrame(paper()["table1"])


def compare_to_paper(scores: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per metric: paper, ours (mean and s.d. over VAE seeds, percent), difference.

    ``scores`` has one row per VAE seed with fractions in columns CA, NMI, ARI (as returned by
    :func:`replicate.study.kmeans_scores`).
    """
    published = paper_table1()
    row = published[published["method"] == method]
    if row.empty:
        raise KeyError(f"the paper has no Table 1 row for method {method!r}")
    row = row.iloc[0]
    out = []
    for m in METRICS:
        vals = 100.0 * scores[m].astype(float)
        mean = float(vals.mean())
        sd = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
        out.append({"row": row["row"], "metric": m, "paper": float(row[m]), "ours_mean": mean,
                    "ours_sd": sd, "n_seeds": int(len(vals)), "difference": mean - float(row[m])})
    return pd.DataFrame(out)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_to_paper`'s table with column names for readers."""
    return table.rename(columns={"row": "Table 1 row", "paper": "paper (%)", "ours_mean": "ours, mean (%)",
                                 "ours_sd": "ours, s.d.", "n_seeds": "VAE seeds", "difference": "ours − paper"})
