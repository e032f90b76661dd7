"""The uncertainty chapter for readers: the verdict in one paragraph and the effects table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import frames
from ..names import NAMES

__all__ = ["points", "verdict", "effects_display"]


def points(*values: float) -> list[str]:
    """Signed effects in points at one precision: one decimal unless one of them would read as 0.0 (then more)."""
    decimals = 1
    while decimals < 4 and any(v != 0 and round(v, decimals) == 0 for v in values):
        decimals += 1
    return [f"{v:+.{decimals}f}" for v in values]


def verdict(eff: pd.DataFrame) -> str:
    """One plain paragraph: where using the uncertainty raises CA, lowers it, or makes no clear difference,
    each named with its paired effect and 95% interval (an interval that excludes 0 is what "clear" means)."""
    ca = eff[eff["metric"] == "CA"]
    def label(r: pd.Series) -> str:
        effect, low, high = points(r["effect"], r["ci_low"], r["ci_high"])
        return f"{NAMES.get(r['method'], r['method'])} on the {r['representation']} ({effect}, {low} to {high})"

    helps = [label(r) for _, r in ca.iterrows() if r["ci_low"] > 0]
    hurts = [label(r) for _, r in ca.iterrows() if r["ci_high"] < 0]
    n_clear = len(helps) + len(hurts)
    text = (f"Over {int(ca['n'].max()) if len(ca) else 0} VAE seeds, using the posterior's uncertainty raises CA "
            f"with a 95% interval above 0 for {'; '.join(helps) if helps else 'no method'}")
    text += f". It lowers CA with an interval below 0 for {'; '.join(hurts) if hurts else 'no method'}"
    text += f". The other {len(ca) - n_clear} comparisons' intervals include 0: no clear difference."
    return text


def effects_display(eff: pd.DataFrame) -> Any:
    """The effects for readers: mean CA / ARI with mu alone and with the uncertainty, the paired effect and its CI."""
    shown = eff.assign(effect=[f"{e:+.1f} ({lo:+.1f} to {hi:+.1f})" if lo == lo else f"{e:+.1f}"
                               for e, lo, hi in zip(eff["effect"], eff["ci_low"], eff["ci_high"])])
    wide = shown.pivot_table(index=["method", "representation"], columns="metric", values="effect", aggfunc="first",
                             sort=False)
    means = eff[eff["metric"] == "CA"].set_index(["method", "representation"])
    wide.insert(0, "CA, mu alone", means["mu alone"].round(1))
    wide.insert(1, "CA, with it", means["with uncertainty"].round(1))
    wide = wide.rename(columns={"CA": "effect on CA (95% CI)", "ARI": "effect on ARI (95% CI)"})
    wide.columns.name = None
    # method and representation as columns, the method by its name (no pandas index on the page)
    return frames.readable(wide).style.hide(axis="index").format(precision=1).set_table_styles(
        [{"selector": "td, th", "props": "padding: 2px 5px; font-size: 0.82em"}]).set_caption(
        "Points, mean over VAE seeds; effect: with the uncertainty minus with the mean alone, paired by seed.")

