"""The uncertainty chapter for readers: the verdict in one paragraph and the effects table."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["verdict", "effects_display"]


def verdict(eff: pd.DataFrame) -> str:
    """One plain paragraph: where using the uncertainty helps, hurts, or makes no clear difference (CA)."""
    ca = eff[eff["metric"] == "CA"]
    label = lambda r: f"{r['method']} on the {r['representation']}"  # noqa: E731
    helps = [f"{label(r)} ({r['effect']:+.1f})" for _, r in ca.iterrows() if r["ci_low"] > 0]
    hurts = [f"{label(r)} ({r['effect']:+.1f})" for _, r in ca.iterrows() if r["ci_high"] < 0]
    n_clear = len(helps) + len(hurts)
    text = (f"Over {int(ca['n'].max()) if len(ca) else 0} VAE seeds, using the posterior's uncertainty raises CA "
            f"clearly (95% interval above 0) for {', '.join(helps) if helps else 'no method'}")
    text += f", and lowers it clearly for {', '.join(hurts) if hurts else 'none'}"
    text += f"; the other {len(ca) - n_clear} comparisons show no clear difference."
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
    return wide.style.format(precision=1).set_table_styles(
        [{"selector": "td, th", "props": "padding: 2px 5px; font-size: 0.82em"}]).set_caption(
        "Points, mean over VAE seeds; effect: with the uncertainty minus with the mean alone, paired by seed.")

