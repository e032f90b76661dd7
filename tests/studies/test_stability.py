"""The stability study: the label-free rule that chooses the default reading, and a resumable run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replicate.studies import stability
from replicate.studies.readings import readings

ROOT = Path(__file__).resolve().parents[2]


def _rows(spec):
    rows = []
    for name, dev, statuses in spec:
        for seed, st in enumerate(statuses):
            rows.append({"reading": name, "deviations": dev, "seed": seed, "status": st, "final_loss": 1.0,
                         "final_kl": 1.0, "active_units": 5, "unexplained": 0.5, "CA": 0.5, "NMI": 0.5, "ARI": 0.5})
    return pd.DataFrame(rows)



def test_choice_is_the_fewest_deviations_among_readings_that_always_train():
    rows = _rows([("paper, literal", 0, ["diverged"] * 3),
                  ("tanh", 0, ["trained", "diverged", "trained"]),
                  ("lr 0.0005 + log-variance clamp 10", 2, ["trained"] * 3),
                  ("batch normalisation", 1, ["trained"] * 3)])
    summary = stability.summarize(rows)
    assert summary.loc["tanh", "trained"] == 2 and summary.loc["paper, literal", "outcomes"] == "diverged 3"
    assert stability.choose_default(summary) == "batch normalisation"



def test_choice_ignores_scores():
    rows = _rows([("batch normalisation", 1, ["trained"] * 2), ("lr 0.0005", 1, ["trained"] * 2)])
    rows.loc[rows.reading == "lr 0.0005", "CA"] = 0.99  # a better score does not win
    order = [r["name"] for r in readings()]
    expected = min(["batch normalisation", "lr 0.0005"], key=order.index)
    assert stability.choose_default(stability.summarize(rows)) == expected



@pytest.mark.slow
def test_study_records_outcomes_and_resumes(tiny_h5_session, tmp_path, monkeypatch):
    out = tmp_path / "study.csv"
    names = ["paper, literal", "batch normalisation"]
    rows = stability.run_study(str(tiny_h5_session), [0], out, epochs=2, names=names, verbose=False)
    assert set(rows["reading"]) == set(names) and len(pd.read_csv(out)) == 2
    assert set(rows["status"]) <= {"trained", "diverged", "blew up", "collapsed"}
    trained = rows[rows.status != "diverged"]
    assert np.isfinite(trained[["CA", "NMI", "ARI", "final_kl"]].to_numpy()).all()

    def boom(*a, **k):
        raise AssertionError("a finished (reading, seed) was recomputed")

    monkeypatch.setattr(stability, "train_one", boom)
    again = stability.run_study(str(tiny_h5_session), [0], out, epochs=2, names=names, verbose=False)
    assert len(again) == 2



def test_the_committed_summary_is_read_from_the_repository():
    summary = stability.committed_summary()
    on_disk = pd.read_csv(ROOT / "results" / "stability" / "pbmc2100-top2000-summary.csv", index_col="reading")
    pd.testing.assert_frame_equal(summary, on_disk)
    assert {"trained", "seeds", "deviations", "outcomes"} <= set(summary.columns)
    # the rule's pick on the committed study: every seed trained, and no reading with fewer deviations did
    pick = stability.choose_default(summary)
    assert summary.loc[pick, "trained"] == summary.loc[pick, "seeds"]
    fewer = summary[summary["deviations"] < summary.loc[pick, "deviations"]]
    assert (fewer["trained"] < fewer["seeds"]).all()
