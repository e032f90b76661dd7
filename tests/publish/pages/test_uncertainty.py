"""The uncertainty chapter for readers: the verdict paragraph and the effects table."""

from __future__ import annotations

import pandas as pd

from replicate.publish import audit
from replicate.publish.pages import uncertainty as pages
from replicate.studies import uncertainty


def _effects() -> pd.DataFrame:
    rows = []
    for seed in range(4):
        rows += [{"seed": seed, "method": "spectral", "representation": uncertainty.REPRESENTATIONS[0],
                  "CA": 0.6, "ARI": 0.5},
                 {"seed": seed, "method": "spectral", "representation": uncertainty.REPRESENTATIONS[2],
                  "CA": 0.7 + 0.01 * seed, "ARI": 0.6},
                 {"seed": seed, "method": "optics", "representation": uncertainty.REPRESENTATIONS[0],
                  "CA": 0.5 + 0.02 * seed, "ARI": 0.5},
                 {"seed": seed, "method": "optics", "representation": uncertainty.REPRESENTATIONS[1],
                  "CA": 0.5 + 0.02 * (3 - seed), "ARI": 0.5}]
    return uncertainty.effects(pd.DataFrame(rows))


def test_the_verdict_says_where_the_uncertainty_helps_hurts_or_is_unclear(tmp_path):
    text = pages.verdict(_effects())
    assert text.startswith("Over 4 VAE seeds")
    assert "Spectral on the posterior (Bhattacharyya) (+11.5, +10.5 to +12.5)" in text
    assert "lowers CA with an interval below 0 for no method" in text
    assert "The other 1 comparisons' intervals include 0: no clear difference." in text
    # a small but clear drop reads as its size, never as "-0.0", and the audit finds no words against numbers
    small = pd.DataFrame([{"metric": "CA", "method": "agglomerative", "representation": "posterior", "effect": -0.04,
                           "ci_low": -0.07, "ci_high": -0.01, "n": 10}])
    said = pages.verdict(small)
    assert "Agglomerative on the posterior (-0.04, -0.07 to -0.01)" in said and "0.0)" not in said
    (tmp_path / "p.html").write_text(f"<html><body><main><p>{text}</p><p>{said}</p></main></body></html>")
    assert audit.audit(tmp_path) == []


def test_the_effects_table_shows_both_means_and_the_effects_with_their_intervals():
    styler = pages.effects_display(_effects())
    shown = styler.data
    assert list(shown.columns) == ["method", "representation", "CA, mu alone", "CA, with it", "effect on CA (95% CI)",
                                   "effect on ARI (95% CI)"]
    assert "Spectral" in set(shown["method"]) and ">0<" not in styler.to_html()  # names, no pandas index
    row = shown.set_index(["method", "representation"]).loc[("Spectral", uncertainty.REPRESENTATIONS[2])]
    assert row["CA, mu alone"] == 60.0 and row["effect on CA (95% CI)"].startswith("+11.5 (")
