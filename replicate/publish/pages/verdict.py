"""The replication's verdict in one line, and the ceiling the labels allow, from a run's committed results.

The rule is :file:`replicate/data/verdict.toml` (written before the verdict is computed): the
headline row of Table 1 against the paper's, and the share of testable claims supported. The
ceiling is the best clustering accuracy that any committed training and setting reached on the
paper's cells, picked with the labels -- an optimistic bound, never the method's result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

import pandas as pd

from ...io import paths
from ...io.errors import ReplicateError
from ...io.facts import PAPER_DATASET, load_toml
from ..names import NAMES

__all__ = ["LABELS", "rule", "headline", "claims_tally", "verdict", "ceiling", "setting_words", "markdown"]

#: The verdicts and ReScience C's label for each.
LABELS = {"reproduced": "[Re]", "partly reproduced": "[~Re]", "not reproduced": "[¬Re]"}
TESTABLE = ("supported", "not supported")


def rule() -> dict[str, Any]:
    """The verdict's rule (``verdict.toml``)."""
    return load_toml("verdict")


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReplicateError(f"{path.name} is missing from {path.parent.name}: re-run `replicate run` for that "
                             "section.")
    return pd.read_csv(path)


def headline(run: str | Path) -> pd.DataFrame:
    """Per headline metric: ``paper``, ``ours`` (mean over VAE seeds), ``diff`` and ``matched``."""
    spec = rule()["headline"]
    table = _read(Path(run) / "05_table1" / "table1.csv")
    row = table[(table["row"] == spec["row"]) & (table["selection"] == spec["selection"])
                & (table["reading"] == spec["reading"])]
    if len(row) != 1:
        raise ReplicateError(f"Table 1 of {run} has {len(row)} rows for {spec['row']} ({spec['selection']}, "
                             f"{spec['reading']} reading); verdict.toml names one.")
    r = row.iloc[0]
    out = pd.DataFrame({"metric": spec["metrics"], "paper": [float(r[f"paper_{m}"]) for m in spec["metrics"]],
                        "ours": [float(r[f"ours_{m}"]) for m in spec["metrics"]]})
    out["diff"] = out["ours"] - out["paper"]
    out["matched"] = out["diff"].abs() <= spec["margin"]
    return out


def claims_tally(run: str | Path) -> tuple[int, int]:
    """(supported, testable) claims under the headline's reading."""
    claims = _read(Path(run) / "06_claims" / "claims.csv")
    mine = claims[claims["reading"] == rule()["headline"]["reading"]]
    return int((mine["verdict"] == "supported").sum()), int(mine["verdict"].isin(TESTABLE).sum())


def verdict(run: str | Path) -> dict[str, Any]:
    """``label`` (a key of :data:`LABELS`), the ``headline`` table, ``supported`` and ``testable``."""
    cut = rule()["verdict"]
    head = headline(run)
    supported, testable = claims_tally(run)
    share = supported / testable if testable else 0.0
    if head["matched"].all() and share >= cut["reproduced_claims"]:
        label = "reproduced"
    elif head["matched"].any() or share >= cut["partly_claims"]:
        label = "partly reproduced"
    else:
        label = "not reproduced"
    return {"label": label, "headline": head, "supported": supported, "testable": testable}


def _vae_rows(run: Path) -> list[tuple[str, pd.DataFrame]]:
    """Every committed table of single trainings clustered on the paper's cells, VAE latents only."""
    found = []
    for path in sorted(run.glob("03_clustering-*/clustering_*.csv")):
        rows = pd.read_csv(path)
        found.append((f"this run's `{path.parent.name}/{path.name}`", rows[rows["embedding"].str.startswith("vae")]))
    studies = {"results/stability": [f"{PAPER_DATASET}.csv"],
               "results/why": [f"{PAPER_DATASET}-readings.csv", f"{PAPER_DATASET}-scdcc.csv",
                               f"{PAPER_DATASET}-other-cpu.csv"]}
    for folder, names in studies.items():
        for name in names:
            path = paths.committed(folder) / name
            if path.is_file():
                rows = pd.read_csv(path)
                if "method" not in rows:  # the readings' tables score each training with K-means at the label count
                    rows = rows.assign(method="kmeans")
                found.append((f"`{folder}/{name}`", rows[rows["reading"] != "baseline"] if "reading" in rows else rows))
    return found


def ceiling(run: str | Path) -> dict[str, Any]:
    """The best single CA (in points) of :func:`_vae_rows`: ``CA``, ``source`` (a committed file) and ``row``."""
    best: dict[str, Any] = {"CA": float("nan"), "source": "", "row": {}}
    for source, rows in _vae_rows(Path(run)):
        rows = rows[rows["CA"].notna()]
        if rows.empty:
            continue
        top = rows.loc[rows["CA"].idxmax()]
        if not best["CA"] >= 100 * top["CA"]:
            keep = [c for c in ("reading", "embedding", "method", "parameters", "seed") if c in top.index]
            best = {"CA": 100 * float(top["CA"]), "source": source, "row": {c: top[c] for c in keep}}
    return best


def setting_words(row: dict[str, Any]) -> str:
    """Where a best score came from, in words: "Spectral (affinity nearest neighbors, n components 8) on the latent
    of VAE seed 5" (a grid row's method, parameters and embedding; a study row's reading and seed)."""
    method = str(row.get("method", ""))
    text = NAMES.get(method, method.replace("_", " "))
    params = row.get("parameters")
    if isinstance(params, str) and params.startswith("{"):
        params = json.loads(params)
    if isinstance(params, dict) and params:
        text += " (" + ", ".join(f"{k.replace('_', ' ')} {str(v).replace('_', ' ')}" for k, v in params.items()) + ")"
    embedding = str(row.get("embedding", ""))
    if embedding.startswith("vae_seed="):
        text += f" on the latent of VAE seed {embedding.split('=', 1)[1]}"
    elif "seed" in row:
        text += f" on the latent of VAE seed {int(row['seed'])}"
    if row.get("reading"):
        text += f", reading {row['reading']}"
    return text.strip()


def markdown(run: str | Path) -> str:
    """The introduction's first lines: the verdict with its evidence and rule, then the ceiling."""
    v, spec, cut = verdict(run), rule()["headline"], rule()["verdict"]
    head = v["headline"]
    ours = ", ".join(f"{r.metric} {r.ours:.1f}" for r in head.itertuples())
    paper = ", ".join(f"{r.paper:.2f}" for r in head.itertuples())
    line = (f"**Verdict: {v['label']}** ({LABELS[v['label']]} in ReScience C's labels). {spec['row']} at the paper's setting reaches {ours} "
            f"(paper: {paper}); {int(head['matched'].sum())} of {len(head)} within {spec['margin']:g} points of "
            f"the paper's, and {v['supported']} of the {v['testable']} testable claims are supported. The rule "
            f"(`replicate/data/verdict.toml`, the same for every run): *reproduced* needs every metric "
            f"within {spec['margin']:g} points and {cut['reproduced_claims']:.0%} of the claims, *partly* one "
            f"metric or {cut['partly_claims']:.0%} of the claims.")
    top = ceiling(run)
    if top["source"]:
        line += (f"\n\n**The ceiling.** The best CA that any committed training and setting reached on the paper's "
                 f"cells is **{top['CA']:.1f}**, by {setting_words(top['row'])} (in {top['source']}), chosen "
                 f"*with the labels* and so optimistic: one run, against the paper's mean of "
                 f"{head['paper'].iloc[0]:.2f} over its VAEs.")
    return line
