"""The factors behind the gap to the paper, measured and ranked.

:func:`run_factors` gathers, for a run, the factors it can measure: its second VAE reading and the
committed experiments of :mod:`replicate.studies.why`. :func:`factor_effects` turns each into
paired differences by VAE seed with bootstrap intervals, one row per factor and score;
:func:`decomposition` ranks them by the share of the gap each closes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..grid.selection import SELECTIONS, paper_setting_rows
from ..io.facts import PAPER_DATASET, paper, registry
from ..method.cells import run_cell
from ..method.clustering import paper_setting
from ..paper.stats import paired_effect, unpaired_effect
from ..paper.table1 import DEFAULT_READING, paper_table1
from .readings import MATCHED, default_reading, gene_count_reading
from .why import CELL_SET, GENE_SET, SELECTED_GENES, WORM, committed

__all__ = ["HEADLINE", "factor_effects", "decomposition", "readings_as_cells", "paper_cells", "seed_spread",
           "run_factors", "gaps"]

#: Scores the decomposition follows: the paper's headline method and its most different one.
HEADLINE = (("kmeans", "CA"), ("kmeans", "ARI"), ("affinity_propagation", "CA"), ("affinity_propagation", "ARI"))



def _by_seed(rows: pd.DataFrame, method: str, metric: str) -> pd.Series:
    part = rows[rows["method"] == method]
    return part.groupby("seed")[metric].mean()



def factor_effects(factors: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (factor, score): the effect (ours after the change minus before), 95% CI, n.

    ``factors``: dicts with ``factor``, ``change`` (words), ``page`` (where the evidence is),
    ``before`` and ``after`` (rows with method, seed, CA/NMI/ARI), ``paired`` (same seeds).
    """
    out = []
    for f in factors:
        for method, metric in HEADLINE:
            a, b = _by_seed(f["before"], method, metric), _by_seed(f["after"], method, metric)
            if f.get("spread"):  # a random perturbation: its range, not the interval of a mean
                d = 100 * (b - a.reindex(b.index)).dropna()
                eff = {"effect": float(d.mean()) if len(d) else np.nan, "n": int(len(d)),
                       "ci_low": float(d.quantile(0.025)) if len(d) else np.nan,
                       "ci_high": float(d.quantile(0.975)) if len(d) else np.nan}
            else:
                eff = paired_effect(a, b) if f.get("paired", True) else unpaired_effect(a, b)
            out.append({"factor": f["factor"], "change": f["change"], "score": f"VAE+{_short(method)} {metric}",
                        "paired": bool(f.get("paired", True)), "counts": bool(f.get("counts", True)),
                        "page": f.get("page", ""), **eff})
    return pd.DataFrame(out)



def _short(method: str) -> str:
    return {"kmeans": "K-means", "affinity_propagation": "AP"}.get(method, method)



def decomposition(effects: pd.DataFrame, gaps: dict[str, float]) -> pd.DataFrame:
    """Rank the factors by the share of the gap to the paper each closes, per score.

    ``gaps``: score -> paper minus ours (points). A factor closes ``effect / gap`` of it (negative:
    it widens the gap). The last row per score, "not explained", is the gap minus the sum of the
    positive effects of the systematic factors (``counts``: a choice the paper may have made
    differently; random perturbations such as a seed or CPU round-off are shown but not counted).
    It assumes the effects add up, which the page says.
    """
    rows = []
    for score, gap in gaps.items():
        part = effects[effects["score"] == score].copy()
        part["gap"] = gap
        part["share_of_gap"] = part["effect"] / gap
        part = part.sort_values("effect", ascending=False, key=lambda s: s.abs())
        rows.append(part)
        counted = part[part["counts"].astype(bool)] if "counts" in part else part
        explained = float(counted["effect"].clip(lower=0).sum())
        rows.append(pd.DataFrame([{"factor": "not explained by the measured factors", "change": "", "score": score,
                                   "effect": gap - explained, "gap": gap, "share_of_gap": (gap - explained) / gap,
                                   "counts": True}]))
    return pd.concat(rows, ignore_index=True)



def readings_as_cells(rows: pd.DataFrame, reading: str) -> pd.DataFrame:
    """The readings study's per-seed K-means and AP scores of one reading, as (method, seed, CA, NMI, ARI) rows."""
    part = rows[(rows["reading"] == reading) & (rows["status"] != "diverged")]
    out = []
    for prefix, method in (("kmeans", "kmeans"), ("ap", "affinity_propagation")):
        out.append(pd.DataFrame({"method": method, "seed": part["seed"].to_numpy(),
                                 **{m: part[f"{prefix}_{m}"].to_numpy() for m in ("CA", "NMI", "ARI")}}))
    return pd.concat(out, ignore_index=True)



def paper_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Grid rows at the paper's setting as (method, seed, CA, NMI, ARI)."""
    chosen = paper_setting_rows(rows)
    return chosen.assign(seed=chosen["embedding"].str.removeprefix("vae_seed=").astype(int))[
        ["method", "seed", "CA", "NMI", "ARI"]]



def seed_spread(latents: dict[int, np.ndarray], labels: Any, *, states: int = 10) -> pd.DataFrame:
    """The clusterers' own seed: K-means and AP with random_state 1..states-1, each minus random_state 0.

    Returned as (method, seed, CA, NMI, ARI) rows of the *differences* (fractions), one per
    (latent, random_state), so their mean and interval show how far the clusterer's seed alone
    moves a score.
    """
    y = np.asarray(labels)
    k = int(len(np.unique(y)))
    out = []
    for seed, mu in latents.items():
        for method, params in (("kmeans", {}), ("affinity_propagation", paper_setting("affinity_propagation"))):
            base = run_cell(mu, y, method, params, n_clusters=k, random_state=0)
            for rs in range(1, states if method == "kmeans" else 2):
                row = run_cell(mu, y, method, params, n_clusters=k, random_state=rs)
                out.append({"method": method, "seed": seed * 100 + rs,
                            **{m: row[m] - base[m] for m in ("CA", "NMI", "ARI")}})
    return pd.DataFrame(out)



def _cells_of(rows: pd.DataFrame, reading: str) -> pd.DataFrame:
    part = rows[(rows["reading"] == reading)]
    return part[part["seed"] >= 0][["method", "seed", "CA", "NMI", "ARI"]]



def _loss_balance(dataset: str) -> dict[str, Any] | None:
    """The reconstruction weighted as if the file had the paper's gene count (the readings study)."""
    rows = committed(f"{dataset}-readings")
    genes = registry().get(dataset, {}).get("genes")
    reading = gene_count_reading(genes) if genes else None
    if rows is None or reading is None or reading not in set(rows["reading"]):
        return None
    weight, paper_genes = paper()["data"]["n_genes"] / genes, paper()["data"]["n_genes"]
    return {"factor": f"loss balance: reconstruction x{weight:.2f} ({paper_genes:,} genes)",
            "change": f"the reconstruction term weighted as if the {genes:,} genes were {paper_genes:,}",
            "before": readings_as_cells(rows, default_reading()), "after": readings_as_cells(rows, reading),
            "paired": True, "page": "08_why"}


def _paper_cells_factors(base: pd.DataFrame) -> list[dict[str, Any]]:
    """The factors that compare with the paper's own cells: another gene set, another CPU, all the cells."""
    factors = []
    genes = committed(GENE_SET)
    if genes is not None:
        info = registry()[GENE_SET]
        factors.append({"factor": f"gene set: scDCC's {info['genes']:,} genes",
                        "change": f"{info['genes_differ']} of the {info['genes']:,} genes swapped",
                        "before": base, "after": _cells_of(genes, DEFAULT_READING), "paired": True, "page": "08_why"})
    other = committed(f"{PAPER_DATASET}-other-cpu")
    if other is not None:
        factors.append({"factor": "CPU round-off: the same code and seeds on this run's machine",
                        "change": "instead of the machine of the first study run (XLA/oneDNN kernels differ by CPU)",
                        "before": other[["method", "seed", "CA", "NMI", "ARI"]], "after": base, "paired": True,
                        "counts": False, "page": "08_why"})
    cells = committed(CELL_SET)
    if cells is not None:
        factors.append({"factor": f"cell set: all {registry()[CELL_SET]['cells']:,} cells",
                        "change": f"the full data set instead of the {registry()[PAPER_DATASET]['cells']:,}",
                        "before": base, "after": _cells_of(cells, DEFAULT_READING), "paired": False, "page": "08_why"})
    return factors


def _worm_gene_count() -> dict[str, Any] | None:
    worm = committed(f"{WORM}-gene-count")
    if worm is None:
        return None
    all_genes = _cells_of(worm[worm["variant"] == "all genes"], DEFAULT_READING)
    hvg = _cells_of(worm[worm["variant"].str.contains("hvg")], DEFAULT_READING)
    return {"factor": f"gene count, worm neurons: all {registry()[WORM]['genes']:,} genes",
            "change": f"instead of {SELECTED_GENES:,} (hvg)", "before": hvg, "after": all_genes, "paired": True,
            "page": "08_why", "counts": False}


def run_factors(dataset: str, default_rows: pd.DataFrame, second_rows: pd.DataFrame | None, second_name: str,
                spread: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The factors measured for a run: this run's second reading, and the committed study's experiments.

    The gene-set and cell-set factors compare with the paper's cells and are used only when the
    run is on them (:data:`~replicate.io.facts.PAPER_DATASET`); the worm gene count is shown but,
    being another data set, not counted towards the PBMC gap (``counts=False``).
    """
    base = paper_cells(default_rows)
    factors: list[dict[str, Any]] = []
    if second_rows is not None:
        factors.append({"factor": f"VAE reading: {MATCHED}" if second_name.startswith(MATCHED)
                        else f"VAE reading: {second_name}", "change": second_name, "before": base,
                        "after": paper_cells(second_rows), "paired": True, "page": "05_table1"})
    factors += [f for f in [_loss_balance(dataset)] if f is not None]
    if dataset == PAPER_DATASET:
        factors += _paper_cells_factors(base)
    if spread is not None and len(spread):
        zero = spread.assign(CA=0.0, NMI=0.0, ARI=0.0)
        factors.append({"factor": "clusterer's own seed (random_state)",
                        "change": f"random_state 1-{int((spread['seed'] % 100).max())} instead of 0 "
                                  "(interval: 95% of the changes)",
                        "before": zero, "after": spread, "paired": True, "spread": True, "counts": False,
                        "page": "06_claims"})
    factors += [f for f in [_worm_gene_count()] if f is not None]
    return factors


def gaps(table: pd.DataFrame) -> dict[str, float]:
    """Paper minus ours (points) at the paper's setting, default reading, for the headline scores."""
    rows = table[(table["selection"] == SELECTIONS["paper"]) & (table["reading"] == DEFAULT_READING)]
    by_method = paper_table1().dropna(subset=["method"]).set_index("row")["method"]
    out = {}
    for method, metric in HEADLINE:
        rec = rows[rows["row"].map(by_method) == method].iloc[0]
        out[f"VAE+{_short(method)} {metric}"] = float(-rec[f"diff_{metric}"])
    return out

