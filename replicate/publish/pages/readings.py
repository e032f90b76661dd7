"""The readings of the paper's VAE for readers: the stability study's table and the VAE page's
opening sentences, the readings study's fingerprints, and this run's KL spikes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...studies.fingerprints import targets
from ...studies.readings import default_reading, kl_spikes
from ...studies.stability import choose_default
from ...studies.why import READINGS, committed, matched_reading, readings_summary
from ...studies.why_factors import paper_cells

__all__ = ["readable", "page_summary", "readings_display", "rule_sentence", "rule_on_this_machine", "spikes_display",
           "FIXED"]

#: When and from what the default reading was fixed: a fact of this repository's history (the stability study as
#: first committed), stated wherever a later run of the study would pick another reading.
FIXED = ("on 2026-11-25 (commit 9bea22e), by this rule on the stability study as first committed, where every "
         "seed of it trained")
#: Why the default is not chosen again from each run.
_STAYS = ("It stays: choosing again from each run would follow the luck of a few seeds, and this fragility is part "
          "of the answer: the paper's VAE trains on the edge of stability.")


def readable(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary for readers: outcomes, final KL per cell, active units, VAE + K-means (mean ± s.d., %)."""
    def pm(m: str) -> pd.Series:
        mean, sd = 100 * summary[f"{m}_mean"], 100 * summary[f"{m}_sd"]
        return pd.Series([("—" if np.isnan(a) else f"{a:.1f}" + ("" if np.isnan(b) else f"±{b:.1f}"))
                          for a, b in zip(mean, sd)], index=summary.index)

    out = pd.DataFrame({
        "deviations": summary["deviations"],
        "trained": [f"{t}/{s}" for t, s in zip(summary["trained"], summary["seeds"])],
        "outcomes": summary["outcomes"],
        "final KL / cell": summary["final_kl"].round(1).astype(object).where(summary["final_kl"].notna(), "—"),
        "active units": summary["active_units"].round(1).astype(object).where(summary["active_units"].notna(), "—"),
        "K-means CA (%)": pm("CA"), "K-means ARI (%)": pm("ARI"),
    })
    out.index.name = None
    return out



def page_summary(summary: pd.DataFrame, histories: dict[int, dict[str, list[float]]]) -> str:
    """The VAE page's opening sentences: which readings train, and how this run's seeds (their
    per-epoch ``histories``, by seed) trained."""
    literal = summary.iloc[0]
    default, pick = default_reading(), choose_default(summary)
    trained = summary.loc[default]
    chosen = ("the one with the fewest departures from the text that trained every seed" if pick == default else
              f"the one fixed in advance by the fewest-departures rule (this run of the study would pick {pick})")
    spiky = [s for s, h in histories.items() if kl_spikes(h)["kl_spike"]]
    final = [h["loss"][-1] for h in histories.values()]
    factor = float(targets()["training_health"]["kl_spike_factor"])
    text = (f"Taken literally, the paper's VAE does not train ({literal['outcomes']} in the stability study); of its "
            f"{len(summary)} readings, {chosen} is {default} ({trained['trained']}/{trained['seeds']} seeds trained "
            "there). "
            f"In this run, {len(histories)} VAE seed(s) trained to a final loss of {np.mean(final):.1f} per cell")
    text += (f"; {len(spiky)} of them (seed {', '.join(map(str, spiky))}) show a KL spike, an epoch whose mean KL "
             f"jumps above {factor:g} times its usual level." if spiky else ", none with a KL spike.")
    return text



def readings_display() -> Any:
    """The committed readings study: outcomes, fingerprints, distance, and metrics for information."""
    rows = committed(READINGS)
    if rows is None:
        return "The readings study has not been run: python -m replicate.studies.why --steps readings"
    summary = readings_summary(rows)
    name, _ = matched_reading()
    cols = {"trained": "trained", "kl_spikes": "KL spikes", "ap_clusters_350": "AP clusters at −350",
            "birch_singletons": "alone in BIRCH at 0.7", "gmm_failures": "GMM fails",
            "median_sq_distance": "median d²", "distance": "distance", "kmeans_CA": "K-means CA †", "ap_CA": "AP CA †"}
    shown = summary[[c for c in cols if c in summary]].rename(columns=cols)
    shown["trained"] = [f"{t}/{n}" for t, n in zip(summary["trained"], summary["seeds"])]
    for c in ("K-means CA †", "AP CA †"):
        shown[c] = (100 * shown[c]).round(1)
    shown = shown.round({"AP clusters at −350": 1, "alone in BIRCH at 0.7": 2, "GMM fails": 1, "median d²": 1,
                         "distance": 2, "KL spikes": 0})
    default = default_reading()
    shown.index = [f"{i} ◀ matched" if i == name else f"{i} ◀ default" if i == default else i for i in shown.index]
    formats = {"AP clusters at −350": "{:.1f}", "alone in BIRCH at 0.7": "{:.2f}", "GMM fails": "{:.1f}",
               "median d²": "{:.1f}", "distance": "{:.2f}", "K-means CA †": "{:.1f}", "AP CA †": "{:.1f}",
               "KL spikes": "{:.0f}"}
    return (shown.style.format({k: v for k, v in formats.items() if k in shown})
            .background_gradient(subset=["distance"], cmap="Greens_r")
            .set_table_styles([{"selector": "td, th", "props": "padding: 2px 3px; font-size: 0.78em"},
                               {"selector": "th.col_heading", "props": "white-space: normal; vertical-align: bottom"}])
            .set_caption(f"Means over {int(summary['seeds'].max())} seeds. Distance: to the fingerprints the paper's "
                         "reports imply (0 = as reported). † for information only: labels chose nothing."))



def rule_sentence(summary: pd.DataFrame) -> str:
    """The reading the fewest-deviations rule picks from the stability ``summary``, and, where that is not the
    default, the default's outcomes there and when it was fixed."""
    pick, name = choose_default(summary), default_reading()
    if pick == name:
        return f"{len(summary)} readings; chosen by the rule: **{pick}**."
    row = summary.loc[name]
    return (f"{len(summary)} readings; applied to this run of the study, the rule picks **{pick}**, because the "
            f"default, **{name}**, trained {int(row['trained'])} of {int(row['seeds'])} seeds here "
            f"({row['outcomes']}). The default was fixed {FIXED}. " + _STAYS)


def rule_on_this_machine() -> str:
    """What the fewest-deviations rule picks from the readings study (trained on this repository's study machine)."""
    rows = committed(READINGS)
    if rows is None:
        return ""
    summary = readings_summary(rows)
    pick, name = choose_default(summary), default_reading()
    default = summary.loc[name]
    text = (f"In the readings study ({int(summary['seeds'].max())} seeds each, trained on the study's machine), "
            f"the default reading trained {int(default['trained'])} of {int(default['seeds'])} seeds "
            f"({default['outcomes']}); ")
    if pick == name:
        return text + "the fewest-deviations rule still picks it."
    return text + (f"applied to these trainings, the same fewest-deviations rule would pick \"{pick}\" instead. The "
                   f"default was fixed {FIXED}. " + _STAYS)



def spikes_display(histories: dict[int, dict[str, list[float]]], rows: pd.DataFrame) -> Any:
    """This run's seeds (their per-epoch ``histories``, by seed): KL spike flag and largest KL, beside
    VAE + K-means CA (for information)."""
    km = paper_cells(rows)
    km = km[km["method"] == "kmeans"].set_index("seed")["CA"]
    table = pd.DataFrame([{"seed": s, **kl_spikes(h)} for s, h in histories.items()]).set_index("seed")
    table["K-means CA (%)"] = 100 * km.reindex(table.index)
    spiky = table[table["kl_spike"]]
    calm = table[~table["kl_spike"]]
    note = (f"{len(spiky)} of {len(table)} seeds spike; their mean K-means CA "
            f"{spiky['K-means CA (%)'].mean():.1f} vs {calm['K-means CA (%)'].mean():.1f} for the others."
            if len(spiky) and len(calm) else f"{len(spiky)} of {len(table)} seeds spike.")
    return (table.reset_index().rename(columns={"kl_spike": "KL spike", "kl_max": "largest KL / cell",
                                                "kl_spike_epochs": "epochs"})
            .style.hide(axis="index").format(precision=1, na_rep="—")
            .format({"K-means CA (%)": "{:.1f}"}, na_rep="no cells").set_caption(note))

