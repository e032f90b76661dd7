"""Table 1: the paper's published numbers beside ours, computed from results.

The paper's numbers are read from ``replicate/data/paper.toml``, the only place they live, and
are only ever shown as "paper". The displays of the table are :mod:`replicate.publish.pages.table1`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..grid.selection import (
    SELECTIONS,
    best_in_grid,
    label_free_choice,
    paper_setting_rows,
)
from ..io.facts import paper
from .baselines import GENES_KMEANS, LATENT_DIM, LEIDEN, LEIDEN_COUNT, PCA_KMEANS
from .scvi import CLUSTERERS, VARIANTS, method_name
from .stats import bootstrap_ci

__all__ = ["METRICS", "DEFAULT_READING", "COPIED", "LIVE", "PAPER_PCA_ROW", "LIVE_BASELINES", "paper_table1",
           "table1", "second_reading", "selection_effect", "headline_frame"]

METRICS = ("CA", "NMI", "ARI")
#: The name of the default VAE reading in tables (batch normalisation, chosen by the stability study).
DEFAULT_READING = "default"
#: The ``selection`` of the rows the paper copied from earlier studies, and of our live baselines.
COPIED, LIVE = "copied by the paper", "live baseline"
#: The paper's (copied) row of the baseline we also run live.
PAPER_PCA_ROW = "PCA+k-means"


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (percent) with ``source``: "copied" (baselines) or "paper" (VAE rows)."""
    return pd.DataFrame(paper()["table1"])


def _scvi_names() -> dict[str, str]:
    """scVI's rows: ``scVI`` for its default model, ``scVI(<n>)`` for the others, each clustered two ways."""
    out = {}
    for i, (variant, n_latent) in enumerate(VARIANTS):
        model = f"scVI({n_latent})" if i else "scVI"
        out[method_name(variant, CLUSTERERS[0])] = f"{model}+k-means (live)"
        out[method_name(variant, CLUSTERERS[1])] = f"{model}+Leiden, label count (live)"
    return out


#: Our live baselines, shown under these names (the ``method`` column of the baselines' rows).
LIVE_BASELINES = {
    PCA_KMEANS: f"PCA({LATENT_DIM})+k-means (live)",
    GENES_KMEANS: "k-means on genes (live)",
    LEIDEN: "Leiden, resolution 1 (live)",
    LEIDEN_COUNT: "Leiden, label count (live)",
    **_scvi_names(),
}


def _summary_row(row: str, selection: str, published: pd.Series | None, ours: pd.DataFrame | None,
                 reading: str = "") -> dict:
    out: dict = {"row": row, "reading": reading, "selection": selection}
    if ours is not None and len(ours):
        out["setting"] = ours["parameters"].iloc[0] if "parameters" in ours else ""
        out["n"] = int(len(ours))
    else:
        out["setting"], out["n"] = "", 0
    for m in METRICS:
        paper_value = float(published[m]) if published is not None else float("nan")
        vals = 100.0 * ours[m].astype(float) if ours is not None and len(ours) else pd.Series(dtype=float)
        mean = float(vals.mean()) if len(vals) else float("nan")
        lo, hi = bootstrap_ci(vals.to_numpy()) if len(vals) > 1 else (float("nan"), float("nan"))
        out[f"paper_{m}"] = paper_value
        out[f"ours_{m}"] = mean
        out[f"sd_{m}"] = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
        out[f"diff_{m}"] = mean - paper_value
        out[f"ci_low_{m}"], out[f"ci_high_{m}"] = lo, hi
    return out



def table1(clustering: pd.DataFrame | Mapping[str, pd.DataFrame], baseline_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 1, paper beside ours: one row per (Table 1 row, VAE reading, selection); percent.

    ``clustering``: the grid rows of one VAE reading, or ``{reading name: rows}`` for several
    (the default reading first). VAE rows: our mean, s.d. and 95% bootstrap interval over VAE
    seeds at the paper's setting, at the best setting in the grid (optimistic: chosen with the
    true labels) and at a label-free choice. Copied baselines keep the paper's numbers; where we
    can run the same method (PCA+k-means) our live value stands beside it, and our other live
    baselines follow.
    """
    by_reading = {DEFAULT_READING: clustering} if isinstance(clustering, pd.DataFrame) else dict(clustering)
    chosen = {name: {SELECTIONS["paper"]: paper_setting_rows(rows), SELECTIONS["best"]: best_in_grid(rows, "ARI"),
                     SELECTIONS["label_free"]: label_free_choice(rows)} for name, rows in by_reading.items()}
    out = []
    for _, pub in paper_table1().iterrows():
        if pub["source"] != "paper":
            out.append(_summary_row(pub["row"], COPIED, pub, None))
            continue
        for reading, selections in chosen.items():
            for name, frame in selections.items():
                out.append(_summary_row(pub["row"], name, pub, frame[frame["method"] == pub["method"]], reading))
    if baseline_rows is not None:
        for method, label in LIVE_BASELINES.items():
            part = baseline_rows[(baseline_rows["method"] == method) & baseline_rows["CA"].notna()]
            if len(part):
                pub = paper_table1().set_index("row").loc[PAPER_PCA_ROW] if method == PCA_KMEANS else None
                out.append(_summary_row(label, LIVE, pub, part))
    return pd.DataFrame(out)



def selection_effect(table: pd.DataFrame, metric: str = "ARI", reading: str = DEFAULT_READING) -> pd.DataFrame:
    """Our mean ``metric`` per VAE row under each way of choosing a setting (rows x selections)."""
    chosen = table[table["selection"].isin(SELECTIONS.values()) & (table["reading"] == reading)]
    return chosen.pivot(index="row", columns="selection", values=f"ours_{metric}")



def second_reading(table: pd.DataFrame) -> str:
    """The name of the second VAE reading in a Table 1, or '' when it has only the default."""
    others = [r for r in dict.fromkeys(table["reading"]) if r and r != DEFAULT_READING]
    return others[0] if others else ""



def headline_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Per VAE method and reading at the paper's setting: paper, ours, 95% CI (long, for the headline figure)."""
    part = table[table["selection"] == SELECTIONS["paper"]]
    rows = []
    for _, r in part.iterrows():
        for m in METRICS:
            rows.append({"method": r["row"].removeprefix("VAE+"), "reading": r["reading"], "metric": m,
                         "paper": r[f"paper_{m}"], "ours": r[f"ours_{m}"], "lo": r[f"ci_low_{m}"],
                         "hi": r[f"ci_high_{m}"]})
    return pd.DataFrame(rows)

