"""The generalisation chapter for readers: its opening sentences, the cross-dataset table, the claims'
verdicts, affinity propagation both ways, scVI beside our VAE, method costs and the uncertainty table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...io import paths
from ...io.facts import PAPER_DATASET, paper, profiles
from ...method.clustering import paper_setting
from ...paper.baselines import LATENT_DIM, LEIDEN_COUNT, PCA_KMEANS
from ...paper.claims import NOT_SUPPORTED, SUPPORTED, rules
from ...paper.scvi import SCVI_KMEANS, VARIANTS
from ...paper.table1 import DEFAULT_READING
from ...studies.generalisation import (
    PAPER_VARIANT,
    STUDY,
    UNCERTAINTY_MAX_CELLS,
    committed_rows,
    training_frame,
    verdicts,
)
from ...studies.uncertainty import effects
from .. import frames

__all__ = ["summary", "table_display", "verdicts_display", "ap_display", "training_display", "costs_display",
           "uncertainty_display"]


def _not_run() -> str:
    return "The generalisation study has not been run: python -m replicate.studies.generalisation"


def summary(rows: pd.DataFrame | None) -> str:
    """The chapter's opening sentences."""
    if rows is None:
        return _not_run() + "."
    v = verdicts(rows)
    default = v[v["reading"] == DEFAULT_READING]
    wins = int((default["C9"] == SUPPORTED).sum())
    gaps = default.set_index("dataset")["C9: VAE+K-means CA − PCA+K-means CA"]
    margin = rules()["C9"]["margin"]
    return (f"On {len(default)} labelled data sets, VAE + K-means at the paper's settings beats PCA({LATENT_DIM}) + "
            f"K-means by the paper's wide margin ({margin:g} CA points) on {_of(wins, len(default))}; its CA minus PCA's "
            f"ranges from {gaps.min():+.1f} ({gaps.idxmin()}) to {gaps.max():+.1f} ({gaps.idxmax()}). K-means is the best "
            f"of the six on NMI and ARI on {_of(int((default['C1'] == SUPPORTED).sum()), len(default))}.")


def _of(count: int, total: int) -> str:
    """``none of them``, ``all of them`` or ``N of them``."""
    return "none of them" if count == 0 else "all of them" if count == total else f"{count} of them"



def _pm(s: pd.Series) -> str:
    v = 100 * s.dropna()
    return "" if v.empty else (f"{v.mean():.1f}±{v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}")



def table_display(rows: pd.DataFrame | None) -> Any:
    """Data sets x methods: CA (%) mean ± s.d. over VAE seeds (default reading), and the live baselines."""
    if rows is None:
        return _not_run()
    vae = rows[(rows["reading"] == DEFAULT_READING) & (rows["variant"] == PAPER_VARIANT)]
    table = vae.pivot_table(index="dataset", columns="method", values="CA", aggfunc=_pm, sort=False)
    for method, name in ((PCA_KMEANS, "PCA+K-means"), (LEIDEN_COUNT, "Leiden"), (SCVI_KMEANS, "scVI+K-means")):
        part = rows[rows["method"] == method].set_index("dataset")["CA"]
        table[name] = (100 * part).reindex(table.index).map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    shapes = rows.drop_duplicates("dataset").set_index("dataset")
    table.index = [f"{ds} ({shapes.loc[ds, 'cells']:,} × {shapes.loc[ds, 'genes']:,}, {shapes.loc[ds, 'labels']} labels)"
                   for ds in table.index]
    table = table.rename(columns={"affinity_propagation": "AP", "agglomerative": "agglom.", "spectral": "spectral"})
    table.columns.name = None
    seeds = sorted(set(vae.groupby("dataset")["seed"].nunique()))
    per = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"
    table1 = len(profiles()["paper"]["params"]["seeds"])
    return table.style.set_table_styles([{"selector": "td, th", "props": "padding: 2px 4px; font-size: 0.78em"}]
                                        ).set_caption(
        f"CA (%): VAE + each method at the paper's setting, mean ± s.d. over {per} VAE seeds per data set (default "
        f"reading); baselines: one run. Table 1 averages {table1} seeds on the paper's cells, so its VAE + K-means "
        f"row and this table's {PAPER_DATASET} row are two estimates of one quantity.")



def verdicts_display(rows: pd.DataFrame | None) -> Any:
    if rows is None:
        return _not_run()
    v = verdicts(rows)
    colours = {SUPPORTED: "#d9f0d3", NOT_SUPPORTED: "#f7d4d4"}
    return v.style.hide(axis="index").apply(lambda col: [f"background-color: {colours.get(x, '')}" for x in col],
                                            subset=["C9", "C1", "C3"]).format(precision=1)



def ap_display(rows: pd.DataFrame | None) -> Any:
    if rows is None:
        return _not_run()
    ap = rows[(rows["method"] == "affinity_propagation") & (rows["reading"] == DEFAULT_READING)]
    preference = f"{paper_setting('affinity_propagation')['preference']:g}".replace("-", "−")
    ap = ap.assign(setting=np.where(ap["variant"] == PAPER_VARIANT, f"paper's {preference}", "rescaled to the latent"))
    out = ap.groupby(["dataset", "setting"], sort=False).agg(clusters=("clusters_found", "mean"), CA=("CA", _pm),
                                                              ARI=("ARI", _pm))
    return out.style.format({"clusters": "{:.1f}"}).set_caption("Clusters found and scores (%), mean over seeds.")



def training_display(rows: pd.DataFrame | None) -> Any:
    if rows is None:
        return _not_run()
    frame = training_frame(rows)
    if frame["scVI s"].isna().all():
        return "scVI was not run (install the `scvi` extra: pip install -e \".[scvi]\")."
    return frame.style.format(precision=1, thousands=",").set_caption(
        f"Training seconds: our VAE per seed, {paper()['model']['epochs']} epochs (the paper's cells: both cores; the other data sets: one "
        f"thread per training, two trainings side by side); scVI's default model ({VARIANTS[0][1]}-d latent, its own "
        "epoch rule), "
        "PyTorch's default threads. CA in percent.")



def costs_display() -> Any:
    path = paths.committed(f"results/{STUDY}") / "method-costs.csv"
    if not path.is_file():
        return _not_run()
    costs = pd.read_csv(path)
    cols = [c for c in ("method", "cells", "seconds", "peak_rss_mb", "status", "message") if c in costs]
    shown = frames.readable(costs[cols])  # method names and headers as words
    return shown.style.hide(axis="index").format(precision=1, thousands=",", na_rep=frames.MISSING).set_caption(
        "One fresh process per method at the paper's setting; peak resident memory includes the Python runtime.")



def uncertainty_display() -> Any:
    path = paths.committed(f"results/{STUDY}") / "uncertainty.csv"
    if not path.is_file():
        return ("The uncertainty comparison on the other data sets has not been run "
                "(python -m replicate.studies.generalisation).")
    rows = pd.read_csv(path)
    shapes = committed_rows()
    skipped = [] if shapes is None else [
        f"{ds} ({n:,} cells)" for ds, n in shapes.drop_duplicates("dataset")[["dataset", "cells"]].itertuples(index=False)
        if ds != PAPER_DATASET and ds not in set(rows["dataset"])]
    parts = []
    for ds, part in rows.groupby("dataset", sort=False):
        parts.append(effects(part).assign(dataset=ds))
    eff = pd.concat(parts, ignore_index=True)
    ca = eff[eff["metric"] == "CA"]
    wide = ca.assign(cell=[f"{e:+.1f} ({lo:+.1f} to {hi:+.1f})" if lo == lo else f"{e:+.1f}"
                           for e, lo, hi in zip(ca["effect"], ca["ci_low"], ca["ci_high"])]).pivot_table(
        index=["method", "representation"], columns="dataset", values="cell", aggfunc="first", sort=False)
    wide.columns.name = None
    caption = "Effect on CA (points, 95% CI over VAE seeds), paired by seed."
    if skipped:
        caption += (f" Not run on {', '.join(skipped)}: above {UNCERTAINTY_MAX_CELLS:,} cells the n × n distance "
                    "matrices of three representations per seed cost more time than 2 cores allow.")
    # method and representation as columns, the method by its name (no pandas index on the page)
    return frames.readable(wide).style.hide(axis="index").set_table_styles(
        [{"selector": "td, th", "props": "padding: 2px 4px; font-size: 0.78em"}]).set_caption(caption)

