"""The recipe's results as a reader wants them: one row per method with its controls, and the verdict.

:func:`summary` puts every method's mean score over the VAE seeds beside both negative controls
and the score scaled between the random-embedding control (0) and perfect agreement (1);
:func:`headline` is the verdict sentence, by claim C9's own rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..method.controls import CONTROLS, scaled
from ..paper.baselines import PCA_KMEANS
from ..paper.claims import SUPPORTED, rules
from ..paper.table1 import DEFAULT_READING
from .generalisation import PAPER_VARIANT

__all__ = ["METRICS", "SHORT", "RESCALED", "setting_of", "diverged", "diverged_text", "summary", "headline"]

METRICS = ("CA", "NMI", "ARI")
#: Column suffix of each control in :func:`summary`.
SHORT = {CONTROLS[0]: "random", CONTROLS[1]: "permuted"}
#: The name of Affinity Propagation's second setting in :func:`summary`: its preference rescaled to
#: each latent's scale (a factor per seed, so one name for all seeds).
RESCALED = "preference rescaled to the latent's scale"


def setting_of(variant: str) -> str:
    """The setting a row's ``variant`` belongs to (the rescaled AP rows of every seed are one setting)."""
    return RESCALED if str(variant).startswith("preference x") else str(variant)


#: The control that judges a baseline: each baseline ends in K-means or Leiden at the label count,
#: so the K-means control at the label count (the same number of clusters) stands in for all.
BASELINE_CONTROL = ("kmeans", PAPER_VARIANT)


def _with_controls(entry: dict[str, Any], ctrl: pd.DataFrame) -> dict[str, Any]:
    for control, short in SHORT.items():
        row = ctrl[ctrl["control"] == control]
        for m in METRICS:
            entry[f"{m} {short}"] = 100 * float(row[m].iloc[0]) if len(row) else np.nan
    for m in METRICS:
        entry[f"{m} scaled"] = scaled(entry[m] / 100, entry[f"{m} random"] / 100)
    permuted = ctrl[ctrl["control"] == CONTROLS[1]]
    if len(permuted) and "peak_rss_mb" in permuted:
        entry["peak memory MB"] = float(permuted["peak_rss_mb"].iloc[0])
        entry["memory added MB"] = float(permuted["peak_rss_mb"].iloc[0] - permuted["rss_before_mb"].iloc[0])
    return entry


def _span(found: pd.Series) -> str:
    """The clusters a method found over the seeds: ``8``, or ``30–56`` when the seeds differ; '' when none."""
    if found.empty:
        return ""
    low, high = int(found.min()), int(found.max())
    return f"{low}" if low == high else f"{low}–{high}"


def diverged(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The VAE trainings of the rows that diverged: reading, seed, the epoch and the loss where known."""
    out = []
    bad = rows[rows["status"] == "vae diverged"].drop_duplicates(["reading", "seed"])
    for r in bad.to_dict("records"):
        epoch, loss = r.get("diverged_epoch"), r.get("diverged_loss")
        out.append({"reading": r["reading"], "seed": int(r["seed"]),
                    "epoch": None if epoch is None or pd.isna(epoch) else int(epoch),
                    "loss": None if loss is None or pd.isna(loss) else float(loss)})
    return out


def diverged_text(items: list[dict[str, Any]]) -> str:
    """``seed 2 diverged at epoch 20 (loss nan)``, one clause per training."""
    clauses = []
    for d in items:
        text = f"seed {d['seed']}" + ("" if d["reading"] == DEFAULT_READING else f" ({d['reading']})") + " diverged"
        if d["epoch"] is not None:
            text += f" at epoch {d['epoch']}"
        if d["loss"] is not None:
            text += f" (loss {d['loss']:.4g})"
        clauses.append(text)
    return "; ".join(clauses)


def summary(rows: pd.DataFrame, controls: pd.DataFrame) -> pd.DataFrame:
    """Per reading, method and setting: mean and s.d. of CA/NMI/ARI (percent) over the seeds that
    were scored, the seeds' statuses, both controls, the scaled scores, seconds and memory of a fit.
    The live baselines follow, one row each (``reading`` = baseline), judged by the K-means control."""
    out = []
    vae = rows[(rows["reading"] != "baseline") & (rows["status"] != "vae diverged")]
    vae = vae.assign(variant=vae["variant"].map(setting_of))
    controls = controls.assign(variant=controls["variant"].map(setting_of))
    for (reading, method, variant), part in vae.groupby(["reading", "method", "variant"], sort=False):
        scores = 100 * part[list(METRICS)].astype(float)
        found = pd.to_numeric(part.get("clusters_found", pd.Series(dtype=float)), errors="coerce").dropna()
        entry = {"reading": reading, "method": method, "variant": variant, "seeds": len(part),
                 "scored": int(scores["CA"].notna().sum()), "clusters": _span(found),
                 "status": ", ".join(f"{s} {n}" for s, n in part["status"].value_counts().items()),
                 **{m: scores[m].mean() for m in METRICS}, **{f"{m} sd": scores[m].std(ddof=1) for m in METRICS},
                 "seconds": float(part["seconds"].mean())}
        ctrl = controls[(controls["method"] == method) & (controls["variant"] == variant)]
        out.append(_with_controls(entry, ctrl))
    judge = controls[(controls["method"] == BASELINE_CONTROL[0]) & (controls["variant"] == BASELINE_CONTROL[1])]
    for r in rows[rows["reading"] == "baseline"].itertuples(index=False):
        entry = {"reading": "baseline", "method": r.method, "variant": r.variant, "seeds": 1,
                 "scored": int(pd.notna(r.CA)), "status": r.status,
                 "clusters": _span(pd.to_numeric(pd.Series([getattr(r, "clusters_found", np.nan)]), errors="coerce").dropna()),
                 **{m: 100 * float(getattr(r, m)) for m in METRICS}, "seconds": float(r.seconds)}
        out.append(_with_controls(entry, judge))
    return pd.DataFrame(out)


def headline(table: pd.DataFrame, verdicts: pd.DataFrame, *, cells: int, asked: int | None = None,
             lost: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The verdict on the default reading, by claim C9's rule (VAE + K-means CA at least the margin
    above PCA + K-means): ``better`` (bool), ``gap`` (points), both CAs, the margin and a sentence.

    ``asked``: the VAE seeds the run trained; when fewer were scored (``lost``: the trainings that diverged,
    :func:`diverged`), the sentence says the verdict is judged on the seeds that trained, and which did not."""
    v = verdicts[verdicts["reading"] == DEFAULT_READING].iloc[0]
    gap = float(v["C9: VAE+K-means CA − PCA+K-means CA"])
    vae = table[(table["reading"] == DEFAULT_READING) & (table["method"] == "kmeans")].iloc[0]
    pca = table[(table["reading"] == "baseline") & (table["method"] == PCA_KMEANS)]
    margin = float(rules()["C9"]["margin"])
    better = v["C9"] == SUPPORTED
    pca_ca = float(pca["CA"].iloc[0]) if len(pca) else np.nan
    word = "is" if better else "is not"
    n = int(vae["scored"])
    seeds = f"mean of {n} seeds" if n > 1 else "one seed"
    mine = [d for d in lost if d["reading"] == DEFAULT_READING]
    if asked and n < asked:
        seeds = f"judged on {n} of {asked} seeds" + (f": {diverged_text(mine)}" if mine else "")
    sentence = (f"On these {cells:,} cells the VAE route {word} better than PCA(32) + K-means: VAE + K-means CA "
                f"{vae['CA']:.1f} ({seeds}) against {pca_ca:.1f}, "
                f"{gap:+.1f} points, where the paper's claim C9 asks for at least {margin:g}.")
    return {"better": bool(better), "gap": gap, "vae_kmeans_CA": float(vae["CA"]), "pca_kmeans_CA": pca_ca,
            "margin": margin, "sentence": sentence}
