"""The baselines section's tables: one row per live baseline, run on the section's cells."""

from __future__ import annotations

from replicate.sections import baselines


def test_every_baseline_has_a_row_and_scvi_is_not_applicable_to_log_normalised_cells():
    rows = baselines.tables({"dataset": "pbmc68k-reduced"})["baselines"].set_index("method")
    assert rows.loc["pca32+kmeans", "status"] == "ok" and 0 < rows.loc["pca32+kmeans", "CA"] <= 1
    assert (rows["dataset"] == "pbmc68k-reduced").all()
    scvi = rows[rows.index.str.startswith("scvi")]
    assert len(scvi) and set(scvi["status"]) <= {"not applicable", "not installed"}  # it needs raw counts
