"""Table 1 and the clustering and baseline pages for readers: styled tables, opening sentences, glue."""

from __future__ import annotations

import json
import re

import pandas as pd
from myst_nb import glue

from ...grid.selection import (
    SELECTIONS,
    best_in_grid,
    paper_setting_rows,
    settings_table,
)
from ...method.clustering import paper_setting
from ...paper.baselines import LATENT_DIM, PCA_KMEANS
from ...paper.table1 import (
    COPIED,
    DEFAULT_READING,
    LIVE,
    LIVE_BASELINES,
    METRICS,
    paper_table1,
    second_reading,
)

__all__ = ["CELL", "table1_main", "table1_selections", "short_parameters", "grid_summary", "grid_summary_frame",
           "settings_display", "glue_name", "glue_table1", "summary", "baselines_table", "method_summary",
           "baselines_summary", "open_points_summary", "ran", "not_run", "NOT_RUN", "NO_SILHOUETTE"]

#: The compact cell style of the wide tables (the book's column is narrow).
CELL = {"selector": "td, th", "props": "white-space: nowrap; padding: 1px 2px; font-size: 0.74em"}
_WRAP_INDEX = {"selector": "th.row_heading", "props": "white-space: normal; text-align: left; font-weight: normal"}


#: Statuses of a baseline that could not run here (:func:`replicate.paper.scvi.scvi_rows`).
NOT_RUN = ("not installed", "not applicable")
#: What a silhouette that does not exist reads as: no seed's clustering had 2 to n - 1 clusters (or it failed).
NO_SILHOUETTE = "undefined (under 2 clusters or 1 per cell)"

def _pm(mean: float, sd: float) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.1f}" + ("" if pd.isna(sd) else f"±{sd:.1f}")



def _delta(v: float) -> str:
    return "" if pd.isna(v) else f"{v:+.1f}".replace("-", "−")



def table1_main(table: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Table 1 as the paper prints it: one row per method in its order, paper vs ours and Δ.

    The copied baselines (paper only), then the six VAE rows at the paper's setting -- the second
    VAE reading, if any, on the line below each (↳) -- then our live baselines. Percent; ours is
    mean ± s.d. over VAE seeds; Δ = ours − paper.
    """
    keep = table[table["selection"].isin([COPIED, SELECTIONS["paper"], LIVE])]
    second = second_reading(table)
    records, groups = [], []
    for _, r in keep.iterrows():
        if r["selection"] == COPIED:
            name, group = r["row"], "copied"
        elif r["selection"] == LIVE:
            name, group = r["row"].replace(" (live)", ", live"), "live"
        else:
            name, group = (r["row"] if r["reading"] == DEFAULT_READING else "  ↳ second reading"), "vae"
        rec = {("", "method"): name}
        for m in METRICS:
            live = r["selection"] == LIVE
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
    copied = int((paper_table1()["source"] != "paper").sum())
    caption = (f"Percent. paper: its Table 1 (the first {copied} rows copied by the paper from earlier studies). "
               "ours: mean ± s.d. over VAE seeds at the paper's setting of each method; Δ = ours − paper. "
               + (f"↳ second reading: {second}. " if second else "")
               + "The last rows are baselines we run on the same cells.")
    styles = [CELL, {"selector": "th.row_heading", "props": "font-weight: normal; text-align: left"}]
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
    return wide.style.format("{:.1f}", na_rep="").set_caption(caption).set_table_styles([CELL])



def short_parameters(parameters: str) -> str:
    """A setting's JSON as a short line for narrow tables, e.g. ``damping 0.9, preference -350``."""
    try:
        params = json.loads(parameters)
    except (TypeError, ValueError):
        return str(parameters)
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in params.items()) or "defaults"



def grid_summary(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Per setting of a method's grid: CA / NMI / ARI (percent, mean ± s.d. over VAE seeds), clusters found, statuses."""
    return grid_summary_frame(rows).style.set_table_styles([CELL, _WRAP_INDEX])



def settings_display(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The three ways of choosing a setting for one method's grid: the setting, CA / NMI / ARI (%) and silhouette."""
    frame = settings_table(rows)
    shown = pd.DataFrame({"selection": frame["selection"], "setting": frame["parameters"].map(short_parameters)})
    for m in METRICS:
        shown[f"{m} (%)"] = (100 * frame[m]).round(1)
    shown["silhouette"] = frame["silhouette"].round(3)
    return (shown.style.hide(axis="index").format({f"{m} (%)": "{:.1f}" for m in METRICS}, na_rep="failed")
            .format({"silhouette": "{:.3f}"}, na_rep=NO_SILHOUETTE)
            .set_table_styles([CELL, {"selector": "td.col0, td.col1", "props": "white-space: normal"}])
            .set_caption("Mean over VAE seeds."))



def grid_summary_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`grid_summary` as a plain frame (index: the setting, shortened)."""
    g = rows.groupby("parameters", sort=False)
    def span(s: pd.Series) -> str:  # counts as integers; a setting whose every fit failed has none
        found = s.dropna().astype(int)
        if found.empty:
            return "—"
        return f"{found.min()}–{found.max()}" if found.min() != found.max() else f"{found.min()}"

    out = pd.DataFrame({"clusters found": g["clusters_found"].agg(span),
                        "status": g["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))})
    for m in METRICS:
        mean, sd = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        out[f"{m} (%)"] = [("—" if pd.isna(a) else f"{a:.1f}" + ("" if pd.isna(b) else f" ± {b:.1f}")) for a, b in zip(mean, sd)]
    out.index = [short_parameters(p) for p in out.index]
    out.index.name = "setting"
    return out



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
    for rec in table[table["selection"] == LIVE].to_dict("records"):
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
    live = table[table["row"] == LIVE_BASELINES[PCA_KMEANS]]
    if len(live):
        text += f"; a PCA({LATENT_DIM}) + K-means baseline run on the same cells reaches {live['ours_CA'].iloc[0]:.2f}."
    else:
        text += "."
    return text



def ran(rows: pd.DataFrame) -> pd.DataFrame:
    """The baselines that ran: not those that could not run here (scVI without scvi-tools or raw counts)."""
    return rows[~rows["status"].isin(NOT_RUN)]


def not_run(rows: pd.DataFrame) -> str:
    """One sentence per group of baselines that could not run, with the reason ('' when all ran)."""
    out = rows[rows["status"].isin(NOT_RUN)]
    said = []
    for msg, group in out.fillna({"message": "no reason given"}).groupby("message", sort=False):
        names = ", ".join(LIVE_BASELINES.get(m, m).removesuffix(" (live)") for m in group["method"])
        said.append(f"Not run: {names} ({group['status'].iloc[0]}: {msg}).")
    return " ".join(said)


def baselines_table(rows: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The live baselines for readers: clusters found, CA / NMI / ARI (%), seconds; their notes as the caption.
    A baseline that could not run here is one sentence of the caption, not a row of blanks."""
    skipped, rows = not_run(rows), ran(rows)
    shown = pd.DataFrame({"baseline": rows["method"].map(lambda m: LIVE_BASELINES.get(m, m).removesuffix(" (live)")),
                          "clusters": rows["clusters_found"],
                          **{f"{m} (%)": (100 * rows[m].astype(float)).round(2) for m in METRICS},
                          "seconds": rows["seconds"].round(1), "status": rows["status"]})
    notes = [f"{LIVE_BASELINES.get(m, m).removesuffix(' (live)')}: {msg}" for m, msg in zip(rows["method"], rows["message"])
             if isinstance(msg, str) and msg]
    caption = "; ".join(notes) if notes else ("No baseline could run here." if rows.empty else
                                              "The baselines shown ran without warnings." if skipped
                                              else "All baselines ran without warnings.")
    return (shown.style.hide(axis="index").format(precision=2, na_rep="failed").set_table_styles([CELL])
            .set_caption(f"{caption} {skipped}".strip()))



def method_summary(rows: pd.DataFrame, method: str) -> str:
    """The clustering page's opening sentences: the paper's setting, the best of the grid, failures."""
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
    by = ran(rows).set_index("method")
    if by.empty:
        return f"No baseline could run here. {not_run(rows)}".strip()
    parts = [f"{LIVE_BASELINES.get(m, m).removesuffix(' (live)')} "
             + (f"{100 * by.loc[m, 'CA']:.1f}" if pd.notna(by.loc[m, "CA"]) else f"not reached ({by.loc[m, 'status']})")
             for m in by.index]
    text = "Run on the same cells and preprocessing as the VAE, the baselines reach CA " + "; ".join(parts) + "."
    return f"{text} {not_run(rows)}".strip()



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

