"""The claims' verdicts for readers: the coloured table, the counts glued for the prose, the variation table."""

from __future__ import annotations

import pandas as pd
from myst_nb import glue

from ...paper.claims import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED

__all__ = ["verdict_table", "glue_verdicts", "variation_summary"]


def verdict_table(checks: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The checks for readers, verdicts coloured; with several VAE readings, their verdicts side by side."""
    colours = {SUPPORTED: "#d9f0d3", NOT_SUPPORTED: "#f7d4d4", NOT_TESTABLE: "#eeeeee"}
    if "reading" in checks and checks["reading"].nunique() > 1:
        order = list(dict.fromkeys(checks["reading"]))
        wide = checks.pivot(index="claim", columns="reading", values="verdict")[order]
        names = {order[0]: "verdict, default reading", **{r: "verdict, second reading" for r in order[1:]}}
        first = checks[checks["reading"] == order[0]].set_index("claim")
        shown = pd.concat([first[["statement"]], wide.rename(columns=names),
                           first[["evidence"]].rename(columns={"evidence": "evidence (default reading)"})], axis=1)
        verdicts = list(names.values())
        return (shown.reset_index().style.hide(axis="index")
                .apply(lambda col: [f"background-color: {colours.get(v, '')}" for v in col], subset=verdicts)
                .set_caption(f"Second reading: {', '.join(order[1:])}. Its evidence is in claims.csv of the run."))
    shown = checks[["claim", "statement", "verdict", "evidence"]]
    return shown.style.apply(lambda col: [f"background-color: {colours.get(v, '')}" for v in col],
                             subset=["verdict"]).hide(axis="index")



def glue_verdicts(checks: pd.DataFrame) -> None:
    """Glue the verdict counts: ``n_supported``, ``n_not_supported``, ``n_not_testable_here`` (the first
    reading), and the same keys with ``_second`` for a second reading when there is one."""
    order = list(dict.fromkeys(checks["reading"])) if "reading" in checks else [None]
    order = order[:2] if len(order) > 1 else order * 2  # without a second reading, "_second" repeats the first
    for i, reading in enumerate(order):
        part = checks if reading is None else checks[checks["reading"] == reading]
        for verdict in (SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE):
            glue(f"n_{verdict.replace(' ', '_')}{'_second' if i else ''}", int((part["verdict"] == verdict).sum()),
                 display=False)



def variation_summary(spread: pd.DataFrame) -> pd.DataFrame:
    """Per source of randomness and metric: "mean ± s.d. (min–max)" in percent (three narrow columns)."""
    def cell(v: pd.Series) -> str:
        v = 100 * v
        return f"{v.mean():.2f} ± {v.std(ddof=1):.2f} ({v.min():.2f}–{v.max():.2f})"

    out = spread.groupby("source", sort=False)[["CA", "NMI", "ARI"]].agg(cell)
    out.columns = [f"{c}: mean ± s.d. (min–max)" for c in out.columns]
    return out

