"""The data section's tables: the cells of each true label."""

from __future__ import annotations

import json

from replicate import sections
from replicate.sections import data


def test_the_label_counts_count_every_cell_most_frequent_label_first(tmp_path):
    counts = data.tables({"dataset": "pbmc68k-reduced"})["label_counts"]
    assert list(counts.columns) == ["label", "cells"] and counts["cells"].is_monotonic_decreasing
    assert counts["cells"].sum() == 700 and counts["label"].is_unique  # scanpy's pbmc68k_reduced
    made = sections.tables("01_data", {"dataset": "pbmc68k-reduced"}, tmp_path)  # kept and recorded
    record = json.loads((tmp_path / sections.RECORD).read_text())
    assert record["section"] == "01_data" and record["tables"] == ["label_counts"]
    assert made["label_counts"].to_dict("list") == {"label": counts["label"].astype(str).tolist(),
                                                    "cells": counts["cells"].tolist()}  # as the page reads them
