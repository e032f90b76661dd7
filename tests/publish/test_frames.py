"""The one rule for how a plain table reads on a page: no pandas index, no identifier, no nan/None/inf."""

from __future__ import annotations

import numpy as np
import pandas as pd

from replicate.publish import audit, frames


def test_a_table_reads_as_words_on_the_page(tmp_path):
    seeds = pd.DataFrame({"loss": [1.5, np.nan], "kl": [np.inf, 2.0], "note": [None, "x"]},
                         index=pd.Index([0, 1], name="seed"))
    costs = pd.DataFrame({"method": ["kmeans", "affinity_propagation"], "peak_rss_mb": [1, 2]})
    facts = pd.DataFrame({"value": [1.0, 2.0]}, index=["input_log_normalised", "genes_dropped_all_zero"])
    page = "".join(frames.html(f) for f in (seeds, costs, facts))
    (tmp_path / "page.html").write_text(f"<html><body><main>{page}</main></body></html>")
    assert audit.audit(tmp_path) == []  # the audit that fails CI on raw tables finds nothing
    assert "<th>seed</th>" in page and "<th>KL</th>" in page and page.count("—") == 3  # nan, inf and None
    assert "<td>Affinity propagation</td>" in page and "<th>peak memory (MB)</th>" in page
    assert "<th>input log-normalised</th>" in page and "<th>genes dropped (all zero)</th>" in page
    assert "dataframe" in page and "nan" not in page and "None" not in page
    # raw, the same tables fail the audit: the test above can fail
    (tmp_path / "page.html").write_text(f"<html><body><main>{seeds.to_html()}{costs.to_html()}</main></body></html>")
    kinds = {(f.kind, f.text) for f in audit.audit(tmp_path)}
    assert {("identifier", "peak_rss_mb"), ("identifier", "0"), ("not a value", "NaN"), ("not a value", "inf")} <= kinds


def test_the_rule_is_installed_only_in_a_kernel():
    assert frames.register() is False  # no IPython shell in a test process
