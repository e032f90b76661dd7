"""The 'why we differ' experiments: the readings they fingerprint and the reading matched by fingerprints."""

from __future__ import annotations

from replicate.method.vae_config import VAEConfig
from replicate.studies import readings, why


def test_the_matched_reading_comes_from_the_committed_readings_study_without_labels():
    name, config = why.matched_reading()
    assert name in why.candidate_readings() and isinstance(config, VAEConfig)
    assert config == readings.reading_config(readings.reading_by_name(name))
    rows = why.committed(why.READINGS)
    summary = why.readings_summary(rows)
    assert summary.loc[name, "trained"] == summary.loc[name, "seeds"]


def test_candidates_leave_out_readings_that_failed_in_the_stability_study_but_keep_the_studys_own(monkeypatch):
    names = why.candidate_readings()
    assert "paper, literal" not in names and readings.default_reading() in names
    failed = why.committed_summary()
    failed = failed[failed["trained"] < failed["seeds"]].index
    assert "lr 0.0005" in failed and "lr 0.0005" not in names  # no batch normalisation: left out
    for r in readings.readings():  # on the committed study: kept iff batch normalisation or every seed trained
        assert (r["name"] in names) == bool(r["params"].get("batch_norm") or r["name"] not in failed), r["name"]
    # a reading around the default (batch normalisation kept) is fingerprinted even where a seed failed there
    loss_balance = readings.gene_count_reading(2000)  # the paper's 16,449 genes on a 2,000-gene file
    summary = why.committed_summary().copy()
    summary.loc[loss_balance, "trained"] = summary.loc[loss_balance, "seeds"] - 1
    monkeypatch.setattr(why, "committed_summary", lambda: summary)
    assert loss_balance in why.candidate_readings()


def test_a_committed_table_is_noted_as_the_one_file_read(tmp_path, monkeypatch):
    """A section that reads the readings table records that file, not ``results/why``: its step need not wait
    for the why study's other tables."""
    from replicate.io.paths import READS_ENV, recorded_reads

    monkeypatch.setenv(READS_ENV, str(tmp_path / "reads.log"))
    why.committed(why.READINGS)
    why.committed("no-such-table")
    assert recorded_reads(tmp_path / "reads.log") == ["results/why/no-such-table.csv",
                                                     f"results/why/{why.READINGS}.csv"]
