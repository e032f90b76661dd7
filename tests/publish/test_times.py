"""The measured step times: one row per step made, the newest shown, and a cold rebuild's rows apart."""

from __future__ import annotations

import pandas as pd

from replicate.method import latents
from replicate.publish import times


def test_the_newest_row_of_each_step_is_shown_and_a_cold_rebuilds_rows_are_kept_apart(tmp_path):
    path = tmp_path / "times.csv"
    for step, seconds, name in (("a", 1.0, ""), ("b", 2.0, "cold-1"), ("a", 3.0, "cold-1"), ("a", 4.0, ""),
                                ("b", 5.0, "cold-2")):
        times.record({"step": step, "seconds": seconds, "cold_rebuild": name}, path)
    assert list(times.latest(path)["seconds"]) == [4.0, 5.0]
    assert list(times.latest(path, longest=True)["seconds"]) == [4.0, 5.0] and list(
        times.latest(path, longest=True)["step"]) == ["a", "b"]
    times.record({"step": "b", "seconds": 0.5}, path)  # a warm re-make: a cold budget still reads 5 s
    assert list(times.latest(path)["seconds"]) == [4.0, 0.5]
    assert list(times.latest(path, longest=True)["seconds"]) == [4.0, 5.0]
    assert list(times.cold_rows(path)["seconds"]) == [5.0]  # the newest cold rebuild
    assert list(times.cold_rows(path, "cold-1")["step"]) == ["b", "a"]


def test_a_table_written_before_the_cold_column_reads_as_no_cold_rebuild(tmp_path):
    path = tmp_path / "times.csv"
    older = times.COLUMNS[:times.COLUMNS.index("cold_rebuild")]
    pd.DataFrame([{c: None for c in older} | {"step": "a", "seconds": 1.0}]).to_csv(path, index=False)
    assert times.cold_rows(path).empty and list(times.latest(path)["step"]) == ["a"]
    assert times.latest(tmp_path / "none.csv").empty


def test_a_row_counts_the_vaes_its_step_trained_and_got_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    ledger = tmp_path / "cache" / latents.LEDGER
    ledger.write_text("before\ttrained\tk0\t9.0\n")  # an earlier step's line: not counted
    snap = times.snapshot()
    with open(ledger, "a") as f:
        f.write("s\ttrained\tk1\t12.5\ns\tcached\tk1\tnan\nother\ttrained\tk2\t3.0\ns\tdiverged\tk3\tnan\n"
                "s\tcached\tk2\tnan\ns\tcached\tk2\tnan\n")  # k2: another step's training, asked for twice
    info = {"cpu": "c", "cores": 2, "family": "f"}
    path = tmp_path / "times.csv"
    times.timed_row("s", 30.0, snap, 0.5, info, path)
    row = pd.read_csv(path).iloc[-1]
    assert (row["vae_trained"], row["vae_from_cache"]) == (2, 1) and pd.isna(row["cold_rebuild"])  # distinct
    assert times.written(path) == [path]  # no cold rebuild: nothing listed entry by entry
    times.timed_row("s", 30.0, snap, 0.5, info, path, ("cold-x", 2))
    listed = times.cold_trainings(path)
    assert list(listed["entry"]) == ["k1", "k1", "k3", "k2", "k2"] and set(listed["cold_part"]) == {2}
    assert times.written(path) == [path, path.with_name(times.COLD_TRAININGS)]
