"""The "why we differ" page for readers: its opening summary (glued), the findings in sentences,
the ranked decomposition, and the committed experiments' tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
from myst_nb import glue

from ...io.facts import PAPER_DATASET, paper, registry
from ...paper.baselines import LATENT_DIM, LEIDEN_COUNT, PCA_KMEANS
from ...paper.table1 import DEFAULT_READING
from ...studies.why import CELL_SET, GENE_SET, WORM, committed
from .. import frames

__all__ = ["NOT_MEASURED", "glue_decomposition", "findings", "ranked_display", "gene_count_display", "datasets_display"]

#: A factor's effect on a score its experiment did not measure.
NOT_MEASURED = "not measured"


def glue_decomposition(ranked: pd.DataFrame, dataset: str) -> None:
    """Glue the page's opening summary (``why_summary``) and its numbers (``why_gap``, ``why_explained``, ...)."""
    km = ranked[ranked["score"] == "VAE+K-means CA"]
    rest = km[km["factor"].str.startswith("not explained")].iloc[0]
    factors = km[~km["factor"].str.startswith("not explained") & km["counts"].fillna(True).astype(bool)]
    gap, remainder = float(rest["gap"]), float(rest["effect"])
    top = factors.iloc[0] if len(factors) else None
    glue("why_gap", gap, display=False)
    glue("why_explained", gap - remainder, display=False)
    glue("why_remainder", remainder, display=False)
    if dataset != PAPER_DATASET:
        summary = (f"This run is on {dataset}, not the paper's 2,100 cells, so its gap to the paper "
                   f"({gap:.1f} CA points for VAE + K-means) is a difference of data sets; the factors below "
                   "are shown for the method, and the decomposition of the real gap is on the study's site.")
    else:
        raising, lowering = factors[factors["effect"] > 0], factors[factors["effect"] < 0]
        items = [f"{r['factor']} {r['effect']:+.1f} ({_interval(r)})" for _, r in raising.iterrows()]
        terms = ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items else "")
        summary = (f"Of the {gap:.1f}-point gap between the paper's VAE + K-means CA and ours, the counted factors "
                   f"that raise our score add up to {gap - remainder:.1f} points"
                   + (f": {terms}." if terms else ".")
                   + (f" The {len(lowering)} counted factor{'s' if len(lowering) != 1 else ''} that lower{'' if len(lowering) != 1 else 's'} it "
                      f"({-lowering['effect'].sum():.1f} points in all) {'are' if len(lowering) != 1 else 'is'} "
                      "left out of that sum, which assumes the effects add up." if len(lowering) else
                      " The sum assumes the effects add up.")
                   + f" {remainder:.1f} points ({remainder / gap:.0%} of the gap) remain unexplained.")
        if top is not None:
            summary += f" The largest factor is {top['factor']}."
    glue("why_summary", summary, display=False)



def _interval(r: pd.Series) -> str:
    """A factor's 95% interval in words, saying when it includes 0 (the effect is then not clear)."""
    text = f"95% CI {r['ci_low']:+.1f} to {r['ci_high']:+.1f}"
    return text + (", an interval that includes 0" if r["ci_low"] <= 0 <= r["ci_high"] else "")


def _ci(r: pd.Series) -> str:
    """A factor's 95% interval as "low to high", or why there is none (one seed, one run)."""
    return "no interval: one seed" if pd.isna(r["ci_low"]) else f"{r['ci_low']:+.1f} to {r['ci_high']:+.1f}"


def findings(effects: pd.DataFrame) -> str:
    """What the factors say, in sentences for the discussion page (numbers from the effects)."""
    def eff(factor_start: str, score: str) -> pd.Series | None:
        part = effects[effects["factor"].str.startswith(factor_start) & (effects["score"] == score)]
        return part.iloc[0] if len(part) else None

    parts = []
    reading_ap, reading_km = eff("VAE reading", "VAE+AP CA"), eff("VAE reading", "VAE+K-means CA")
    if reading_ap is not None and reading_km is not None:
        parts.append(f"The reading whose latent space behaves as the paper reports changes VAE + affinity propagation "
                     f"by {reading_ap['effect']:+.1f} CA points ({_ci(reading_ap)}) but VAE + K-means by "
                     f"{reading_km['effect']:+.1f} ({_ci(reading_km)}): the scale of the latent explains "
                     "why affinity propagation differed, not why K-means does.")
    balance = eff("loss balance", "VAE+K-means CA")
    if balance is not None:
        parts.append(f"Weighting the reconstruction as if the data had the paper's {paper()['data']['n_genes']:,} genes "
                     "moves VAE + K-means "
                     f"by {balance['effect']:+.1f} points ({_ci(balance)}).")
    genes = eff("gene set", "VAE+K-means CA")
    if genes is not None:
        parts.append(f"Another 2,000-gene selection of the same cells moves it by {genes['effect']:+.1f} "
                     f"({_ci(genes)}).")
    return " ".join(parts)



def ranked_display(ranked: pd.DataFrame, scores: str | list[str]) -> Any:
    """The ranked decomposition for readers.

    One score: factor, change, effect with its 95% CI, seeds, share of the gap, evidence page.
    Several: one column per score, each cell "effect (low to high)".
    """
    scores = [scores] if isinstance(scores, str) else scores
    part = ranked[ranked["score"].isin(scores)].copy()
    ci = [("" if pd.isna(lo) else f"{lo:+.1f} to {hi:+.1f}") for lo, hi in zip(part["ci_low"], part["ci_high"])]
    styles = [{"selector": "td, th", "props": "padding: 2px 5px; font-size: 0.82em"}]
    caption = ("Effect: our score after the change minus before (points); positive moves us towards the paper. "
               "Not counted in the share (grey): random perturbations, whose interval is the range of the changes. "
               "scikit-learn 0.24.1 itself cannot be measured here (it has no build for Python 3.11); its one known "
               "difference, how k-means++ draws, acts like another random_state. Not measured: the experiment behind "
               "the factor did not score that method (the gene-count study on worm neurons scores K-means only).")
    if len(scores) > 1:
        part["cell"] = [NOT_MEASURED if pd.isna(e) else f"{e:+.1f}" + (f" ({c})" if c else "")
                        for e, c in zip(part["effect"], ci)]
        wide = part.pivot_table(index="factor", columns="score", values="cell", aggfunc="first", sort=False)
        wide = wide.reindex(columns=scores).fillna(NOT_MEASURED)
        wide.index.name = None
        return wide.style.set_table_styles(styles).set_caption(caption)
    counts = part["counts"].fillna(True).astype(bool)
    shown = pd.DataFrame({
        "factor": part["factor"], "change": part["change"].fillna(""),
        "effect (points)": part["effect"].map(lambda v: NOT_MEASURED if pd.isna(v) else f"{v:+.1f}"), "95% CI": ci,
        "seeds": part["n"].map(lambda v: "" if pd.isna(v) else f"{int(v)}"),
        "share of the gap": [f"{v:.0%}" if c else "(not counted)" for v, c in zip(part["share_of_gap"], counts)],
        "evidence": part["page"].fillna(""),
    })
    grey = ["color: #777" if not c else "" for c in counts]
    return (shown.style.hide(axis="index").set_table_styles(styles).set_caption(caption)
            .apply(lambda col: grey, subset=["factor", "effect (points)", "95% CI", "share of the gap"]))



def _mean_sd(s: pd.Series) -> str:
    return f"{100 * s.mean():.1f} ± {100 * s.std(ddof=1):.1f}" if len(s) > 1 else f"{100 * s.mean():.1f}"



def gene_count_display() -> Any:
    """Worm neurons, all genes vs the selected ones: VAE + K-means per reading, PCA + K-means, Leiden; CA (%)."""
    rows = committed(f"{WORM}-gene-count")
    if rows is None:
        return "The gene-count study has not been run: python -m replicate.studies.why --steps gene-count"
    out = []
    for variant, part in rows.groupby("variant", sort=False):
        rec = {"genes": variant}
        for reading in [r for r in dict.fromkeys(part["reading"]) if r != "baseline"]:
            rec[f"VAE ({reading}) + K-means"] = _mean_sd(part[(part["reading"] == reading) & (part["method"] == "kmeans")]["CA"])
        pca = part[part["method"] == PCA_KMEANS]["CA"]
        rec[f"PCA({LATENT_DIM}) + K-means"] = _mean_sd(pca)
        rec["Leiden (label count)"] = _mean_sd(part[part["method"] == LEIDEN_COUNT]["CA"])
        vae = part[(part["reading"] == DEFAULT_READING) & (part["method"] == "kmeans")]["CA"]
        rec["VAE − PCA (default)"] = f"{100 * (vae.mean() - pca.mean()):+.1f}".replace("-", "−")
        out.append(rec)
    info = registry()[WORM]
    return pd.DataFrame(out).set_index("genes").style.set_caption(
        f"CA (%), mean ± s.d. over VAE seeds; worm neurons, {info['cells']:,} cells, {info['labels']} labels.")



def datasets_display() -> Any:
    """Gene set and cell set: the paper's six methods at its settings, per reading; CA (%) and ARI (%)."""
    made = [f for f in (committed(GENE_SET), committed(CELL_SET)) if f is not None]
    if not made:
        return ("The gene-set and cell-set runs have not been run: "
                "python -m replicate.studies.why --steps gene-set cell-set")
    rows = pd.concat(made, ignore_index=True)
    out = rows.groupby(["dataset", "reading", "method"], sort=False).agg(
        CA=("CA", _mean_sd), ARI=("ARI", _mean_sd), seeds=("seed", "nunique"))
    # data set, reading and method as columns, the method by its name (no pandas index on the page)
    return frames.readable(out).style.hide(axis="index").set_caption(
        "Percent, mean ± s.d. over VAE seeds (baselines: one run).")

