import dataclasses

import numpy as np
import pandas as pd
import pytest

from replicate import stability
from replicate.vae import VAEConfig


def test_every_reading_names_real_parameters():
    fields = {f.name for f in dataclasses.fields(VAEConfig)}
    names = [r["name"] for r in stability.readings()]
    assert len(names) == len(set(names))
    for r in stability.readings():
        assert set(r["params"]) <= fields | set(stability.PREPROCESS_KEYS), r["name"]
        stability.reading_config(r)  # valid values


def test_reading_config_starts_from_the_literal_paper_reading():
    literal = stability.reading_config({"name": "x", "deviations": 0, "params": {}})
    assert literal == VAEConfig.paper_reading()
    changed = stability.reading_config({"name": "x", "deviations": 1, "params": {"logvar_clamp": 5.0, "clip_zscore": 10}},
                                       epochs=2)
    assert changed.logvar_clamp == 5.0 and changed.epochs == 2 and changed.learning_rate == 0.004


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
    order = [r["name"] for r in stability.readings()]
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

    monkeypatch.setattr(stability, "_train_one", boom)
    again = stability.run_study(str(tiny_h5_session), [0], out, epochs=2, names=names, verbose=False)
    assert len(again) == 2


def test_label_free_diagnostics():
    mu = np.zeros((50, 4))
    mu[:, 0] = np.linspace(-1, 1, 50)
    assert stability.active_units(mu) == 1
    X = np.ones((3, 4))
    assert stability.trivial_reconstruction(X, "sum") == pytest.approx(2.0)
    assert stability.trivial_reconstruction(X, "mean") == pytest.approx(1.0)
