"""The claims' verdicts for readers: the table, the glued counts, the variation table."""

from __future__ import annotations

import pandas as pd

from replicate.publish.pages import claims as pages


def test_variation_summary_is_one_narrow_cell_per_source_and_metric():
    import pandas as pd

    spread = pd.DataFrame({"source": ["VAE seed"] * 3 + ["K-means random_state"] * 2,
                           "CA": [0.70, 0.72, 0.74, 0.6, 0.8], "NMI": [0.5] * 5, "ARI": [0.4] * 5})
    out = pages.variation_summary(spread)
    assert list(out.index) == ["VAE seed", "K-means random_state"]
    assert out.loc["VAE seed", "CA: mean ± s.d. (min–max)"] == "72.00 ± 2.00 (70.00–74.00)"
    assert out.shape == (2, 3)



def test_the_verdict_table_puts_two_readings_side_by_side():
    checks = pd.DataFrame([{"claim": c, "statement": f"claim {c}", "verdict": v, "evidence": "e", "reading": r}
                           for r, verdicts in (("default", ("supported", "not supported")),
                                               ("second", ("not supported", "not supported")))
                           for c, v in zip(("C1", "C9"), verdicts)])
    shown = pages.verdict_table(checks).data
    assert list(shown.columns) == ["claim", "statement", "verdict, default reading", "verdict, second reading",
                                   "evidence (default reading)"]
    assert shown.set_index("claim").loc["C1", "verdict, second reading"] == "not supported"
    single = pages.verdict_table(checks[checks["reading"] == "default"].drop(columns="reading")).data
    assert list(single.columns) == ["claim", "statement", "verdict", "evidence"]
