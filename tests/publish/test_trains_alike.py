"""A section of the paper run is re-made only where seed 0 trains as the run recorded it (measured, not named)."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.io.errors import ReplicateError
from replicate.publish import trains_alike


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(trains_alike, "project_root", lambda: tmp_path)
    folder = tmp_path / trains_alike.RUN / "02_vae"
    folder.mkdir(parents=True)
    pd.DataFrame({"seed": [0, 0, 1], "epoch": [2, 1, 1], "loss": [894.886, 1015.9, 990.0]}).to_csv(
        folder / "vae_history.csv", index=False)
    return folder


def test_only_sections_that_read_the_runs_vaes_without_re_making_them_are_checked():
    assert trains_alike.readers(["stability", "paper-01_data", "paper-05_table1", "page-05_table1"]) == [
        "paper-05_table1"]
    assert trains_alike.readers(["paper-02_vae", "paper-05_table1"]) == []  # the run is re-made from its VAEs on


def test_a_machine_that_trains_another_seed_0_is_refused_and_one_that_trains_it_alike_goes_on(run):
    assert trains_alike.committed_loss() == 894.886  # the last epoch of seed 0
    with pytest.raises(ReplicateError, match=r"paper-05_table1 read the VAEs of .*894\.886.*893\.608.*--other-family"):
        trains_alike.check(["paper-05_table1"], trained=lambda: 893.608)
    trains_alike.check(["paper-05_table1"], trained=lambda: 894.886)


def test_nothing_is_trained_where_no_step_reads_the_runs_vaes_or_the_run_records_none(run):
    def never() -> float:
        raise AssertionError("trained for nothing")

    trains_alike.check(["stability", "paper-02_vae", "paper-05_table1"], trained=never)
    (run / "vae_history.csv").unlink()
    trains_alike.check(["paper-05_table1"], trained=never)
