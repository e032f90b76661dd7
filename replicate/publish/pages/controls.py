"""The "against chance" sections the book adds to the Table 1 and generalisation pages: each score
beside its negative controls (``results/controls/``, :mod:`replicate.studies.controls`) and scaled
between the random-embedding control (0) and perfect agreement (1)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...io import paths
from ...method.controls import CONTROLS, scaled
from ...paper.baselines import PCA_KMEANS
from ...paper.table1 import DEFAULT_READING, paper_table1
from ...studies.controls import STUDY, table1_settings
from ...studies.generalisation import DATASETS
from ...studies.recipe_tables import RESCALED, summary

__all__ = ["INTRO", "fmt", "table1_frame", "table1_markdown", "generalisation_frame", "generalisation_markdown"]

INTRO = ("Each score beside what chance gives on the same cells, computed live (`results/controls/`): "
         "**random**, the same method and setting on a random embedding of the latent's shape (Gaussian, each "
         "dimension with the latent's mean and s.d., seed 0) and **permuted**, the method's labelling of the "
         "latent of VAE seed 0 scored against permuted labels. **Scaled** is the fraction of the way from the "
         "random-embedding control (0) to perfect agreement (1). The live baselines are judged by the K-means "
         "control at the paper's setting (the same number of clusters).")


def fmt(v: float | None, digits: int = 1) -> str:
    """A number as the book's tables print it: ``–`` when missing, never ``-0.0``."""
    if v is None or pd.isna(v):
        return "–"
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.0"


def _controls(name: str) -> pd.DataFrame | None:
    path = paths.committed(f"results/{STUDY}") / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def table1_frame(run: str | Path) -> pd.DataFrame | None:
    """Table 1's VAE rows and live baselines with both controls and the scaled CA and ARI (None before
    ``results/controls/table1.csv`` exists)."""
    controls = _controls("table1")
    if controls is None:
        return None
    table = pd.read_csv(Path(run) / "05_table1" / "table1.csv")
    ours = table[table["n"] > 0].copy()
    keys = table1_settings(table)[["reading", "method", "parameters"]]
    method_of = paper_table1().set_index("row")["method"]
    ours["method"] = ours["row"].map(method_of).fillna("kmeans")  # a live baseline: judged by K-means
    ours["parameters"] = [json.dumps(json.loads(s), sort_keys=True) if r in set(keys["reading"]) else "{}"
                          for s, r in zip(ours["setting"].fillna("{}"), ours["reading"].fillna(""))]
    ours["reading"] = ours["reading"].fillna(DEFAULT_READING)
    controls = controls.assign(parameters=controls["parameters"].map(lambda s: json.dumps(json.loads(s), sort_keys=True)))
    for control, short in zip(CONTROLS, ("random", "permuted")):
        part = controls[controls["control"] == control][["reading", "method", "parameters", "CA", "ARI"]]
        ours = ours.merge(part.rename(columns={"CA": f"CA {short}", "ARI": f"ARI {short}"}), how="left",
                          on=["reading", "method", "parameters"])
    for m in ("CA", "ARI"):
        ours[f"{m} random"] *= 100
        ours[f"{m} permuted"] *= 100
        ours[f"{m} scaled"] = scaled(ours[f"ours_{m}"] / 100, ours[f"{m} random"] / 100)
    return ours


def _short(text: str) -> str:
    """A reading's or selection's name as the compact table shows it."""
    for start, short in (("fingerprint-matched", "matched"), ("best in grid", "best by ARI (labels)"),
                         ("label-free", "label-free"), ("paper's setting", "paper's"), ("live", "live")):
        if str(text).startswith(start):
            return short
    return str(text)


def table1_markdown(run: str | Path) -> str:
    """The section added to the Table 1 page."""
    frame = table1_frame(run)
    if frame is None:
        return ("## Against chance\n\n*The controls of Table 1 are not computed yet: "
                "`replicate rebuild controls-table1`.*")
    blocks = []
    for reading, part in frame.groupby(frame["reading"].map(_short), sort=False):
        lines = ["| row | setting | CA | random | scaled | ARI | random | scaled |", "|---|---|---|---|---|---|---|---|"]
        for r in part.to_dict("records"):
            lines.append(f"| {r['row'].removeprefix('VAE+')} | {_short(r['selection'])} | {fmt(r['ours_CA'])} | "
                         f"{fmt(r['CA random'])} | {fmt(r['CA scaled'], 2)} | {fmt(r['ours_ARI'])} | "
                         f"{fmt(r['ARI random'])} | {fmt(r['ARI scaled'], 2)} |")
        title = "The default reading and the live baselines" if reading == DEFAULT_READING else \
            "The fingerprint-matched reading" if reading == "matched" else reading
        blocks.append(f"**{title}**\n\n" + "\n".join(lines))
    perm = (f"The permuted-labels control gives CA {frame['CA permuted'].min():.1f} to {frame['CA permuted'].max():.1f} "
            f"and ARI {fmt(frame['ARI permuted'].min())} to {fmt(frame['ARI permuted'].max())} across these rows "
            "(every value in `results/controls/table1.csv`). *best by ARI (labels)*: chosen with the labels, "
            "optimistic.")
    return "## Against chance\n\n" + INTRO + "\n\n" + "\n\n".join(blocks) + "\n\n" + perm


def generalisation_frame() -> pd.DataFrame | None:
    """Per data set, the default reading's methods and PCA + K-means with their controls (None before any)."""
    out = []
    for name in DATASETS:
        controls, path = _controls(name), paths.committed("results/generalisation") / f"{name}.csv"
        if controls is None or not path.is_file():
            continue
        rows = pd.read_csv(path)
        table = summary(rows[rows["reading"].isin([DEFAULT_READING, "baseline"])], controls)
        keep = (table["reading"] == DEFAULT_READING) | (table["method"] == PCA_KMEANS)
        out.append(table[keep].assign(dataset=name))
    return pd.concat(out, ignore_index=True) if out else None


def generalisation_markdown() -> str:
    """The section added to the generalisation page."""
    frame = generalisation_frame()
    if frame is None:
        return ("## Against chance\n\n*The controls of the generalisation study are not computed yet: "
                "`replicate rebuild` (the `controls-<dataset>` steps).*")
    frame = frame.assign(name=[m.replace("_", " ") + (", rescaled" if v == RESCALED else "")
                               for m, v in zip(frame["method"], frame["variant"])])
    names = list(dict.fromkeys(frame["dataset"]))
    tables = []
    for m in ("CA", "ARI"):
        heads = [d.removesuffix("-top2000") for d in names]  # the column is narrow
        lines = [f"| {m} (scaled) | " + " | ".join(heads) + " |", "|---|" + "---|" * len(names)]
        for name, part in frame.groupby("name", sort=False):
            by = part.set_index("dataset")
            cells = [f"{fmt(by.loc[d, m])} ({fmt(by.loc[d, f'{m} scaled'], 2)})" if d in by.index else "–"
                     for d in names]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        km = frame[(frame["method"] == "kmeans") & (frame["variant"] != RESCALED)].set_index("dataset")
        lines.append("| *random embedding, K-means* | " + " | ".join(fmt(km.loc[d, f"{m} random"]) for d in names) + " |")
        tables.append("\n".join(lines))
    missing = [d for d in DATASETS if d not in set(frame["dataset"])]
    note = (f"\n\nThe permuted-labels control gives ARI {fmt(frame['ARI permuted'].min())} to "
            f"{fmt(frame['ARI permuted'].max())} on every data set (`results/controls/<dataset>.csv`).")
    note += f"\n\nNot computed yet: {', '.join(missing)}." if missing else ""
    return ("## Against chance\n\n" + INTRO.replace("Each score", "Each data set's mean score over the VAE seeds")
            + "\n\n" + "\n\n".join(tables) + note)

