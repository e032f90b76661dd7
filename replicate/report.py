"""Table 1: the paper's published numbers beside ours, computed from results, and its displays."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from ._resources import paper
from .selection import SELECTIONS, best_in_grid, label_free_choice, paper_setting_rows
from .stats import bootstrap_ci

__all__ = ["METRICS", "DEFAULT_READING", "paper_table1", "table1", "table1_main", "table1_selections", "second_reading",
           "selection_effect", "grid_summary", "grid_summary_frame", "settings_display", "short_parameters", "glue_table1", "glue_name", "headline_frame"]

METRICS = ("CA", "NMI", "ARI")
#: The name of the default VAE reading in tables (batch normalisation, chosen by the stability study).
DEFAULT_READING = "default"


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (percent) with ``source``: "copied" (baselines) or "paper" (VAE rows)."""
    return pd.DataFrame(paper()["table1"])


#: Our live baselines, shown under these names (method column of replicate.baselines' rows).
LIVE_BASELINES = {
    "pca32+kmeans": "PCA(32)+k-means (live)",
    "genes+kmeans": "k-means on genes (live)",
    "scanpy+leiden": "Leiden, resolution 1 (live)",
    "scanpy+leiden(count)": "Leiden, label count (live)",
    "scvi+kmeans": "scVI+k-means (live)",
    "scvi+leiden(count)": "scVI+Leiden, label count (live)",
    "scvi32+kmeans": "scVI(32)+k-means (live)",
    "scvi32+leiden(count)": "scVI(32)+Leiden, label count (live)",
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
            out.append(_summary_row(pub["row"], "copied by the paper", pub, None))
            continue
        for reading, selections in chosen.items():
            for name, frame in selections.items():
                out.append(_summary_row(pub["row"], name, pub, frame[frame["method"] == pub["method"]], reading))
    if baseline_rows is not None:
        for method, label in LIVE_BASELINES.items():
            part = baseline_rows[(baseline_rows["method"] == method) & baseline_rows["CA"].notna()]
            if len(part):
                pub = paper_table1().set_index("row").loc["PCA+k-means"] if method == "pca32+kmeans" else None
                out.append(_summary_row(label, "live baseline", pub, part))
    return pd.DataFrame(out)


def selection_effect(table: pd.DataFrame, metric: str = "ARI", reading: str = DEFAULT_READING) -> pd.DataFrame:
    """Our mean ``metric`` per VAE row under each way of choosing a setting (rows x selections)."""
    chosen = table[table["selection"].isin(SELECTIONS.values()) & (table["reading"] == reading)]
    return chosen.pivot(index="row", columns="selection", values=f"ours_{metric}")


# --------------------------------------------------------------------------- displays

_CELL = {"selector": "td, th", "props": "white-space: nowrap; padding: 1px 2px; font-size: 0.74em"}
_WRAP_INDEX = {"selector": "th.row_heading", "props": "white-space: normal; text-align: left; font-weight: normal"}


def _pm(mean: float, sd: float) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.1f}" + ("" if pd.isna(sd) else f"±{sd:.1f}")


def _delta(v: float) -> str:
    return "" if pd.isna(v) else f"{v:+.1f}".replace("-", "−")


def second_reading(table: pd.DataFrame) -> str:
    """The name of the second VAE reading in a Table 1, or '' when it has only the default."""
    others = [r for r in dict.fromkeys(table["reading"]) if r and r != DEFAULT_READING]
    return others[0] if others else ""


def table1_main(table: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Table 1 as the paper prints it: one row per method in its order, paper vs ours and Δ.

    The copied baselines (paper only), then the six VAE rows at the paper's setting -- the second
    VAE reading, if any, on the line below each (↳) -- then our live baselines. Percent; ours is
    mean ± s.d. over VAE seeds; Δ = ours − paper.
    """
    keep = table[table["selection"].isin(["copied by the paper", SELECTIONS["paper"], "live baseline"])]
    second = second_reading(table)
    records, groups = [], []
    for _, r in keep.iterrows():
        if r["selection"] == "copied by the paper":
            name, group = r["row"], "copied"
        elif r["selection"] == "live baseline":
            name, group = r["row"].replace(" (live)", ", live"), "live"
        else:
            name, group = (r["row"] if r["reading"] == DEFAULT_READING else "  ↳ second reading"), "vae"
        rec = {("", "method"): name}
        for m in METRICS:
            live = r["selection"] == "live baseline"
            rec[(m, "paper")] = "" if pd.isna(r[f"paper_{m}"]) or live else f"{r[f'paper_{m}']:.2f}"
            rec[(m, "ours")] = _pm(r[f"ours_{m}"], r[f"sd_{m}"])
            rec[(m, "Δ")] = _delta(r[f"diff_{m}"]) if r["selection"] == SELECTIONS["paper"] else ""
        records.append(rec)
        groups.append(group)
    shown = pd.DataFrame(records)
    shown.columns = pd.MultiIndex.from_tuples(shown.columns)
    shown = shown.set_index(("", "method"))
    shown.index.name = None
    starts = [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]
    caption = ("Percent. paper: its Table 1 (the first seven rows copied by the paper from earlier studies). "
               "ours: mean ± s.d. over VAE seeds at the paper's setting of each method; Δ = ours − paper. "
               + (f"↳ second reading: {second}. " if second else "")
               + "The last rows are baselines we run on the same cells.")
    styles = [_CELL, {"selector": "th.row_heading", "props": "font-weight: normal; text-align: left"}]
    styles += [{"selector": f"tbody tr:nth-child({i + 1})", "props": "border-top: 2px solid #888"} for i in starts]
    return shown.style.set_caption(caption).set_table_styles(styles)


def table1_selections(table: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Our VAE rows under the three ways of choosing a setting (one column per selection and metric)."""
    part = table[table["selection"].isin(SELECTIONS.values())].copy()
    short = {SELECTIONS["paper"]: "paper's", SELECTIONS["best"]: "best †", SELECTIONS["label_free"]: "label-free ‡"}
    part["selection"] = part["selection"].map(short)
    part["method"] = [row if reading == DEFAULT_READING else "  ↳ second reading"
                      for row, reading in zip(part["row"], part["reading"])]
    part["order"] = range(len(part))
    part["key"] = part["row"] + "|" + part["reading"]
    wide = part.pivot_table(index="key", columns="selection", values=[f"ours_{m}" for m in ("CA", "ARI")],
                            sort=False).round(1)
    wide.index = part.drop_duplicates("key").set_index("key").loc[wide.index, "method"].to_numpy()
    wide.columns = pd.MultiIndex.from_tuples([(c.removeprefix("ours_"), s) for c, s in wide.columns])
    wide = wide.reindex(columns=[(m, s) for m in ("CA", "ARI") for s in short.values()])
    wide.index.name = ""
    caption = ("Percent, mean over VAE seeds. † best setting of the grid, chosen with the true labels (optimistic). "
               "‡ highest silhouette, chosen without labels.")
    return wide.style.format("{:.1f}", na_rep="").set_caption(caption).set_table_styles([_CELL])


def short_parameters(parameters: str) -> str:
    """A setting's JSON as a short line for narrow tables: ``damping 0.9, preference -350``."""
    import json

    try:
        params = json.loads(parameters)
    except (TypeError, ValueError):
        return str(parameters)
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in params.items()) or "defaults"


def grid_summary(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Per setting of a method's grid: CA / NMI / ARI (percent, mean ± s.d. over VAE seeds), clusters found, statuses."""
    return grid_summary_frame(rows).style.set_table_styles([_CELL, _WRAP_INDEX])


def settings_display(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The three ways of choosing a setting for one method's grid: the setting, CA / NMI / ARI (%) and silhouette."""
    from .selection import settings_table

    frame = settings_table(rows)
    shown = pd.DataFrame({"selection": frame["selection"], "setting": frame["parameters"].map(short_parameters)})
    for m in METRICS:
        shown[f"{m} (%)"] = (100 * frame[m]).round(1)
    shown["silhouette"] = frame["silhouette"].round(3)
    return (shown.style.hide(axis="index").format({f"{m} (%)": "{:.1f}" for m in METRICS} | {"silhouette": "{:.3f}"})
            .set_table_styles([_CELL, {"selector": "td.col0, td.col1", "props": "white-space: normal"}])
            .set_caption("Mean over VAE seeds."))


def grid_summary_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`grid_summary` as a plain frame (index: the setting, shortened)."""
    g = rows.groupby("parameters", sort=False)
    span = lambda s: f"{s.min()}–{s.max()}" if s.min() != s.max() else f"{s.min()}"  # noqa: E731
    out = pd.DataFrame({"clusters found": g["clusters_found"].agg(span),
                        "status": g["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))})
    for m in METRICS:
        mean, sd = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        out[f"{m} (%)"] = [("—" if pd.isna(a) else f"{a:.1f}" + ("" if pd.isna(b) else f" ± {b:.1f}")) for a, b in zip(mean, sd)]
    out.index = [short_parameters(p) for p in out.index]
    out.index.name = "setting"
    return out


# --------------------------------------------------------------------------- glue


def glue_name(row: str) -> str:
    """A Table 1 row name as a glue key: lower case, letters, digits and underscores only."""
    return re.sub(r"[^a-z0-9]+", "_", row.lower()).strip("_")


def glue_table1(table: pd.DataFrame, n_seeds: int) -> None:
    """Glue Table 1's numbers for the prose pages (myst-nb).

    Keys: ``<method>_<metric>_ours`` / ``_paper`` / ``_gap`` (paper − ours) / ``_lo`` / ``_hi``
    (the default reading at the paper's setting); ``<method>_<metric>_<reading>`` for other
    readings; ``best_<row>_ARI`` (best in grid); ``live_<row>_<metric>`` (live baselines);
    ``n_seeds``; ``matched_name`` (the second reading's name, or "none").
    """
    from myst_nb import glue

    methods = paper_table1().set_index("row")["method"]
    paper_rows = table[table["selection"] == SELECTIONS["paper"]]
    for rec in paper_rows.to_dict("records"):
        key = methods[rec["row"]]
        for m in METRICS:
            if rec["reading"] == DEFAULT_READING:
                glue(f"{key}_{m}_ours", rec[f"ours_{m}"], display=False)
                glue(f"{key}_{m}_paper", rec[f"paper_{m}"], display=False)
                glue(f"{key}_{m}_gap", -rec[f"diff_{m}"], display=False)
                glue(f"{key}_{m}_lo", rec[f"ci_low_{m}"], display=False)
                glue(f"{key}_{m}_hi", rec[f"ci_high_{m}"], display=False)
            else:
                glue(f"{key}_{m}_{glue_name(rec['reading'])}", rec[f"ours_{m}"], display=False)
    for rec in table[table["selection"] == "live baseline"].to_dict("records"):
        for m in METRICS:
            glue(f"live_{glue_name(rec['row'])}_{m}", rec[f"ours_{m}"], display=False)
    best = table[(table["selection"] == SELECTIONS["best"]) & (table["reading"] == DEFAULT_READING)]
    for rec in best.to_dict("records"):
        glue(f"best_{glue_name(rec['row'])}_ARI", rec["ours_ARI"], display=False)
    glue("n_seeds", int(n_seeds), display=False)
    glue("matched_name", second_reading(table) or "none", display=False)
    glue("table1_summary", summary(table, n_seeds), display=False)


def summary(table: pd.DataFrame, n_seeds: int) -> str:
    """The two sentences a Table 1 page opens with (numbers from the table)."""
    paper_rows = table[(table["selection"] == SELECTIONS["paper"]) & (table["reading"] == DEFAULT_READING)]
    by = paper_rows.set_index("row")
    km, ap = by.loc["VAE+K-means"], by.loc["VAE+Affinity propagation"]
    seeds = f"{n_seeds} VAE seeds" if n_seeds > 1 else "one VAE seed"
    interval = (f" (95% interval {km['ci_low_CA']:.1f}–{km['ci_high_CA']:.1f})" if n_seeds > 1 else "")
    text = (f"At the paper's setting, VAE + K-means reached CA {km['ours_CA']:.2f}{interval} over {seeds}, against "
            f"the paper's {km['paper_CA']:.2f}; VAE + affinity propagation reached {ap['ours_CA']:.2f} against "
            f"{ap['paper_CA']:.2f}.")
    below = int((paper_rows["diff_CA"] < 0).sum())
    text += f" {below} of the {len(paper_rows)} VAE rows are below the paper's CA"
    live = table[table["row"] == "PCA(32)+k-means (live)"]
    if len(live):
        text += f"; a PCA(32) + K-means baseline run on the same cells reaches {live['ours_CA'].iloc[0]:.2f}."
    else:
        text += "."
    return text


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


def baselines_table(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The live baselines for readers: clusters found, CA / NMI / ARI (%), seconds; their notes as the caption."""
    shown = pd.DataFrame({"baseline": rows["method"].map(lambda m: LIVE_BASELINES.get(m, m).removesuffix(" (live)")),
                          "clusters": rows["clusters_found"],
                          **{f"{m} (%)": (100 * rows[m].astype(float)).round(2) for m in METRICS},
                          "seconds": rows["seconds"].round(1), "status": rows["status"]})
    notes = [f"{LIVE_BASELINES.get(m, m).removesuffix(' (live)')}: {msg}" for m, msg in zip(rows["method"], rows["message"])
             if isinstance(msg, str) and msg]
    return (shown.style.hide(axis="index").format(precision=2).set_table_styles([_CELL])
            .set_caption("; ".join(notes) if notes else "All baselines ran without warnings."))


# --------------------------------------------------------------------------- page summaries


def method_summary(rows: pd.DataFrame, method: str) -> str:
    """The clustering page's opening sentences: the paper's setting, the best of the grid, failures."""
    from .clustering import paper_setting

    paper_rows = paper_setting_rows(rows)
    best = best_in_grid(rows, "ARI")
    n = rows["embedding"].nunique()
    p_ca, p_ari = 100 * paper_rows["CA"].mean(), 100 * paper_rows["ARI"].mean()
    text = (f"At the paper's setting {paper_setting(method) or '(scikit-learn defaults)'}, {method} reached CA "
            f"{p_ca:.1f} and ARI {p_ari:.1f} on average over {n} VAE latent(s)")
    if len(best) and best["parameters"].iloc[0] != paper_rows["parameters"].iloc[0]:
        text += (f"; the best setting of its grid by ARI, chosen with the labels, reached ARI "
                 f"{100 * best['ARI'].mean():.1f}")
    text += "."
    bad = rows[rows["status"].isin(["failed", "timeout"])]
    if len(bad):
        settings = bad["parameters"].nunique()
        text += (f" {len(bad)} of {len(rows)} grid cells ({settings} setting(s)) failed or timed out; "
                 "they are rows with a message below, never averaged in.")
    return text


def baselines_summary(rows: pd.DataFrame) -> str:
    """The baselines page's opening sentence."""
    by = rows.set_index("method")
    parts = [f"{LIVE_BASELINES.get(m, m).removesuffix(' (live)')} {100 * by.loc[m, 'CA']:.1f}" for m in by.index]
    return "Run on the same cells and preprocessing as the VAE, the baselines reach CA " + "; ".join(parts) + "."


def open_points_summary(sensitivity: pd.DataFrame, choice: pd.DataFrame) -> str:
    """The open-points page's opening sentences: how far the preprocessing readings and the choice of setting move scores."""
    ca = 100 * sensitivity.groupby("reading", sort=False)["CA"].mean()
    text = (f"The preprocessing readings move VAE + K-means CA between {ca.min():.1f} and {ca.max():.1f} "
            f"({ca.idxmax()} highest).")
    if SELECTIONS["best"] in choice and SELECTIONS["label_free"] in choice:
        gain = (choice[SELECTIONS["best"]] - choice[SELECTIONS["label_free"]]).mean()
        text += (f" Choosing each method's setting with the labels instead of without them (silhouette) adds "
                 f"{gain:.1f} ARI points on average: the price of not knowing the labels.")
    return text
