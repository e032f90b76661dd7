"""The measured step times: one row per step made, the newest shown, and a cold rebuild's rows apart."""

from __future__ import annotations

import pandas as pd

from replicate.publish import times


def test_the_newest_row_of_each_step_is_shown_and_a_cold_rebuilds_rows_are_kept_apart(tmp_path):
    path = tmp_path / "times.csv"
    for step, seconds, name in (("a", 1.0, ""), ("b", 2.0, "cold-1"), ("a", 3.0, "cold-1"), ("a", 4.0, ""),
                                ("b", 5.0, "cold-2")):
        times.record({"step": step, "seconds": seconds, "cold_rebuild": name}, path)
    assert list(times.latest(path)["seconds"]) == [4.0, 5.0]
    assert list(times.cold_rows(path)["seconds"]) == [5.0]  # the newest cold rebuild
    assert list(times.cold_rows(path, "cold-1")["step"]) == ["b", "a"]


def test_a_table_written_before_the_cold_column_reads_as_no_cold_rebuild(tmp_path):
    path = tmp_path / "times.csv"
    pd.DataFrame([{c: None for c in times.COLUMNS[:-1]} | {"step": "a", "seconds": 1.0}]).to_csv(path, index=False)
    assert times.cold_rows(path).empty and list(times.latest(path)["step"]) == ["a"]
    assert times.latest(tmp_path / "none.csv").empty
