"""Table 1: the paper's published numbers beside ours, computed from results."""

from __future__ import annotations

import pandas as pd

from ._resources import paper
from .selection import SELECTIONS, best_in_grid, label_free_choice, paper_setting_rows

__all__ = ["grid_summary", "paper_table1", "table1", "table1_display", "selection_effect", "glue_table1", "glue_name"]

METRICS = ("CA", "NMI", "ARI")


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (percent) with ``source``: "copied" (baselines) or "paper" (VAE rows)."""
    return pd.DataFrame(paper()["table1"])


#: Our live baselines, shown under these names (method column of replicate.baselines' rows).
LIVE_BASELINES = {
    "pca32+kmeans": "PCA(32)+k-means (live)",
    "genes+kmeans": "k-means on genes (live)",
    "scanpy+leiden": "Leiden, resolution 1 (live)",
    "scanpy+leiden(count)": "Leiden, label count (live)",
}


def _summary_row(row: str, selection: str, published: pd.Series | None, ours: pd.DataFrame | None) -> dict:
    out: dict = {"row": row, "selection": selection}
    if ours is not None and len(ours):
        out["setting"] = ours["parameters"].iloc[0] if "parameters" in ours else ""
        out["n"] = int(len(ours))
    else:
        out["setting"], out["n"] = "", 0
    for m in METRICS:
        paper_value = float(published[m]) if published is not None else float("nan")
        vals = 100.0 * ours[m].astype(float) if ours is not None and len(ours) else pd.Series(dtype=float)
        mean = float(vals.mean()) if len(vals) else float("nan")
        out[f"paper_{m}"] = paper_value
        out[f"ours_{m}"] = mean
        out[f"sd_{m}"] = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
        out[f"diff_{m}"] = mean - paper_value
    return out


def table1(clustering: pd.DataFrame, baseline_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 1, paper beside ours: one row per (Table 1 row, selection), metrics in percent.

    VAE rows: our mean and s.d. over VAE seeds at the paper's setting, at the best setting in the
    grid (optimistic: it is chosen with the true labels) and at a label-free choice. Copied
    baselines keep the paper's numbers; where we can run the same method (PCA+k-means) our live
    value stands beside it, and our other live baselines follow.
    """
    chosen = {SELECTIONS["paper"]: paper_setting_rows(clustering),
              SELECTIONS["best"]: best_in_grid(clustering, "ARI"),
              SELECTIONS["label_free"]: label_free_choice(clustering)}
    rows = []
    for _, pub in paper_table1().iterrows():
        if pub["source"] == "paper":
            for name, frame in chosen.items():
                rows.append(_summary_row(pub["row"], name, pub, frame[frame["method"] == pub["method"]]))
        else:
            rows.append(_summary_row(pub["row"], "copied by the paper", pub, None))
    if baseline_rows is not None:
        for method, label in LIVE_BASELINES.items():
            part = baseline_rows[baseline_rows["method"] == method]
            if len(part):
                pub = paper_table1().set_index("row").loc["PCA+k-means"] if method == "pca32+kmeans" else None
                rows.append(_summary_row(label, "live baseline", pub, part))
    return pd.DataFrame(rows)


def selection_effect(table: pd.DataFrame, metric: str = "ARI") -> pd.DataFrame:
    """Our mean ``metric`` per VAE row under each way of choosing a setting (rows x selections)."""
    chosen = table[table["selection"].isin(SELECTIONS.values())]
    return chosen.pivot(index="row", columns="selection", values=f"ours_{metric}")


SHORT_SELECTION = {SELECTIONS["paper"]: "paper's setting", SELECTIONS["best"]: "best in grid †",
                   SELECTIONS["label_free"]: "label-free ‡", "copied by the paper": "copied",
                   "live baseline": "live (ours)"}


def table1_display(table: pd.DataFrame) -> "pd.io.formats.style.Styler":
    """Table 1 for readers: 'mean ± s.d.' cells, the best of ours per column in bold."""
    shown = pd.DataFrame({"Table 1 row": table["row"], "setting": table["selection"].map(SHORT_SELECTION)})
    for m in METRICS:
        shown[f"{m} paper"] = table[f"paper_{m}"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        shown[f"{m} ours"] = [("" if pd.isna(a) else f"{a:.2f}" + ("" if pd.isna(b) else f" ± {b:.1f}"))
                              for a, b in zip(table[f"ours_{m}"], table[f"sd_{m}"])]
        shown[f"{m} Δ"] = table[f"diff_{m}"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}")
    best = {m: table[f"ours_{m}"].idxmax() for m in METRICS if table[f"ours_{m}"].notna().any()}

    def bold(col: pd.Series) -> list[str]:
        metric, kind = (col.name.split() + [""])[:2]
        if kind != "ours" or metric not in best:
            return [""] * len(col)
        return ["font-weight: bold" if i == best[metric] else "" for i in col.index]

    caption = ("Percent. ours: mean ± s.d. over VAE seeds; Δ: ours − paper; bold: our best per column. "
               "† chosen with the true labels (optimistic). ‡ chosen by silhouette, without labels.")
    return (shown.style.apply(bold).hide(axis="index").set_caption(caption)
            .set_table_styles([{"selector": "td, th", "props": "white-space: nowrap; font-size: 0.8em; padding: 2px 6px"}]))


def glue_name(row: str) -> str:
    """A Table 1 row name as a glue key: lower case, letters, digits and underscores only."""
    import re

    return re.sub(r"[^a-z0-9]+", "_", row.lower()).strip("_")


def glue_table1(table: pd.DataFrame, n_seeds: int) -> None:
    """Glue Table 1's numbers for the prose pages (myst-nb).

    Keys: ``<method>_<metric>_ours`` / ``_paper`` (VAE rows at the paper's setting),
    ``best_<row>_ARI`` (best in grid), ``live_<row>_<metric>`` (live baselines), ``n_seeds``.
    """
    from myst_nb import glue

    methods = paper_table1().set_index("row")["method"]
    for rec in table[table["selection"] == SELECTIONS["paper"]].to_dict("records"):
        for m in METRICS:
            glue(f"{methods[rec['row']]}_{m}_ours", rec[f"ours_{m}"], display=False)
            glue(f"{methods[rec['row']]}_{m}_paper", rec[f"paper_{m}"], display=False)
    for rec in table[table["selection"] == "live baseline"].to_dict("records"):
        for m in METRICS:
            glue(f"live_{glue_name(rec['row'])}_{m}", rec[f"ours_{m}"], display=False)
    for rec in table[table["selection"] == SELECTIONS["best"]].to_dict("records"):
        glue(f"best_{glue_name(rec['row'])}_ARI", rec["ours_ARI"], display=False)
    glue("n_seeds", int(n_seeds), display=False)


def grid_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per setting of a method's grid: CA / NMI / ARI (percent, mean ± s.d. over VAE seeds), clusters found, statuses."""
    g = rows.groupby("parameters", sort=False)
    span = lambda s: f"{s.min()}–{s.max()}" if s.min() != s.max() else f"{s.min()}"  # noqa: E731
    out = pd.DataFrame({"clusters found": g["clusters_found"].agg(span),
                        "status": g["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))})
    for m in METRICS:
        mean, sd = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        out[f"{m} (%)"] = [("—" if pd.isna(a) else f"{a:.1f}" + ("" if pd.isna(b) else f" ± {b:.1f}")) for a, b in zip(mean, sd)]
    return out
