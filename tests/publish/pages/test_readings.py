"""The readings of the paper's VAE for readers: stability table, the VAE page's sentences, KL spikes.

Each reading's outcome for the prose pages is a book substitution (tests/publish/test_book.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.method.cells import params_json
from replicate.method.clustering import paper_setting
from replicate.publish.pages import readings as pages
from replicate.studies.fingerprints import targets
from replicate.studies.readings import default_reading
from replicate.studies.stability import choose_default, committed_summary
from replicate.studies.why import READINGS, committed, matched_reading, readings_summary

FACTOR = float(targets()["training_health"]["kl_spike_factor"])


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return committed_summary()


def _calm(n: int = 6, loss_end: float = 900.0) -> dict[str, list[float]]:
    return {"loss": list(np.linspace(1000.0, loss_end, n)), "reconstruction": [1.0] * n, "kl": [20.0] * n,
            "seconds": [1.0] * n}


def _spiky(n: int = 6, loss_end: float = 900.0) -> dict[str, list[float]]:
    h = _calm(n, loss_end)
    h["kl"] = [20.0] * n
    h["kl"][3] = 20.0 * FACTOR * 1.5  # epoch 4 jumps above factor x the median
    return h


def test_readable_formats_the_stability_summary(summary):
    out = pages.readable(summary)
    assert list(out.index) == list(summary.index) and out.index.name is None
    assert list(out.columns) == ["deviations", "trained", "outcomes", "final KL / cell", "active units",
                                 "K-means CA (%)", "K-means ARI (%)"]
    literal = out.loc["paper, literal"]
    assert literal["trained"] == f"0/{summary.loc['paper, literal', 'seeds']}"
    assert (literal["final KL / cell"], literal["active units"], literal["K-means CA (%)"]) == ("—", "—", "—")
    bn = summary.loc["batch normalisation"]
    shown = out.loc["batch normalisation"]
    assert shown["trained"] == f"{bn['trained']}/{bn['seeds']}"
    assert shown["K-means CA (%)"] == f"{100 * bn['CA_mean']:.1f}±{100 * bn['CA_sd']:.1f}"
    assert shown["final KL / cell"] == round(bn["final_kl"], 1)


def test_readable_mean_without_a_spread():
    frame = pd.DataFrame({"deviations": [1], "seeds": [3], "trained": [1], "outcomes": ["diverged 2, trained 1"],
                          "final_kl": [26.66], "active_units": [32.0], "CA_mean": [0.7443], "CA_sd": [np.nan],
                          "ARI_mean": [0.6761], "ARI_sd": [np.nan]}, index=["lr 0.0005"])
    out = pages.readable(frame).loc["lr 0.0005"]
    assert (out["trained"], out["K-means CA (%)"], out["K-means ARI (%)"]) == ("1/3", "74.4", "67.6")
    assert out["final KL / cell"] == pytest.approx(26.7)


def test_page_summary_with_and_without_a_kl_spike(summary):
    default = default_reading()
    text = pages.page_summary(summary, {0: _calm(loss_end=900.0), 3: _spiky(loss_end=800.0)})
    assert text.startswith(f"Taken literally, the paper's VAE does not train ({summary.iloc[0]['outcomes']} in the "
                           f"stability study); of its {len(summary)} readings")
    trained = summary.loc[default]
    assert f"is {default} ({trained['trained']}/{trained['seeds']} seeds trained there)" in text
    # the reading the run uses, also where this run of the study would pick another
    assert ("this run of the study would pick" in text) == (choose_default(summary) != default)
    assert "In this run, 2 VAE seed(s) trained to a final loss of 850.0 per cell" in text
    assert text.endswith(f"; 1 of them (seed 3) show a KL spike, an epoch whose mean KL jumps above {FACTOR:g} "
                         "times its usual level.")
    assert f"above {FACTOR:g} times" in text
    calm = pages.page_summary(summary, {5: _calm(loss_end=700.0)})
    assert calm.endswith("In this run, 1 VAE seed(s) trained to a final loss of 700.0 per cell, none with a KL spike.")


def test_page_summary_spike_just_below_the_factor_is_no_spike(summary):
    h = _calm()
    h["kl"][2] = 20.0 * FACTOR * 0.9
    assert pages.page_summary(summary, {0: h}).endswith("none with a KL spike.")


def test_readings_display_marks_the_matched_and_default_readings():
    rows = committed(READINGS)
    assert rows is not None, "results/why/<paper dataset>-readings.csv is committed"
    styler = pages.readings_display()
    shown = styler.data
    study = readings_summary(rows)
    matched, default = matched_reading()[0], default_reading()
    assert len(shown) == len(study)
    assert f"{matched} ◀ matched" in shown.index
    if matched != default:
        assert f"{default} ◀ default" in shown.index
    assert {"trained", "KL spikes", "distance", "K-means CA †", "AP CA †"} <= set(shown.columns)
    row = shown.loc[f"{matched} ◀ matched"]
    assert row["trained"] == f"{study.loc[matched, 'trained']}/{study.loc[matched, 'seeds']}"
    assert row["K-means CA †"] == pytest.approx(round(100 * study.loc[matched, "kmeans_CA"], 1))
    assert row["distance"] == pytest.approx(round(study.loc[matched, "distance"], 2))
    assert styler.caption.startswith(f"Means over {int(study['seeds'].max())} seeds.")


def test_rule_on_this_machine_reads_the_committed_study():
    rows = committed(READINGS)
    study = readings_summary(rows)
    name = default_reading()
    text = pages.rule_on_this_machine()
    assert (f"the default reading trained {int(study.loc[name, 'trained'])} of {int(study.loc[name, 'seeds'])} "
            f"seeds ({study.loc[name, 'outcomes']}); ") in text
    pick = choose_default(study)
    if pick == name:
        assert text.endswith("the fewest-deviations rule still picks it.")
    else:
        assert f'the same fewest-deviations rule would pick "{pick}" instead.' in text


def test_rule_on_this_machine_both_branches_and_no_study(monkeypatch):
    monkeypatch.setattr(pages, "choose_default", lambda summary: default_reading())
    assert pages.rule_on_this_machine().endswith("the fewest-deviations rule still picks it.")
    monkeypatch.setattr(pages, "choose_default", lambda summary: "some other reading")
    assert 'would pick "some other reading" instead.' in pages.rule_on_this_machine()
    monkeypatch.setattr(pages, "committed", lambda name: None)
    assert pages.rule_on_this_machine() == ""
    assert pages.readings_display() == ("The readings study has not been run: "
                                        "python -m replicate.studies.why --steps readings")


def _grid(ca_by_seed: dict[int, float]) -> pd.DataFrame:
    rows = []
    for seed, ca in ca_by_seed.items():
        for method, params in (("kmeans", paper_setting("kmeans")), ("birch", paper_setting("birch")),
                               ("birch", {"threshold": 0.7, "branching_factor": 70})):
            rows.append({"dataset": "d", "embedding": f"vae_seed={seed}", "method": method,
                         "parameters": params_json(params), "CA": ca if method == "kmeans" else 0.1, "NMI": 0.5,
                         "ARI": 0.4, "silhouette": 0.2, "status": "ok"})
    return pd.DataFrame(rows)


def test_spikes_display_beside_kmeans_ca():
    histories = {0: _calm(), 1: _spiky(), 2: _calm()}
    styler = pages.spikes_display(histories, _grid({0: 0.80, 1: 0.70, 2: 0.90}))
    table = styler.data.set_index("seed")
    assert list(table.index) == [0, 1, 2]  # a column of its own: no index is shown
    assert list(table.columns) == ["KL spike", "largest KL / cell", "epochs", "K-means CA (%)"]
    assert "row_heading" not in styler.to_html() and "index_name" not in styler.to_html()
    assert list(table["KL spike"]) == [False, True, False]
    assert table.loc[1, "epochs"] == "4" and table.loc[0, "epochs"] == ""
    assert table.loc[1, "largest KL / cell"] == pytest.approx(20.0 * FACTOR * 1.5)
    assert list(table["K-means CA (%)"]) == pytest.approx([80.0, 70.0, 90.0])
    assert styler.caption == "1 of 3 seeds spike; their mean K-means CA 70.0 vs 85.0 for the others."


def test_spikes_display_when_no_seed_spikes_or_a_seed_has_no_cells():
    styler = pages.spikes_display({0: _calm(), 7: _calm()}, _grid({0: 0.8}))
    assert styler.caption == "0 of 2 seeds spike."
    assert np.isnan(styler.data.set_index("seed").loc[7, "K-means CA (%)"])
    assert "nan" not in styler.to_html() and "no cells" in styler.to_html()


def test_the_rule_sentence_names_the_default_and_when_it_was_fixed_where_the_rule_now_picks_another(summary):
    name = default_reading()
    same = summary.copy()
    same.loc[name, "trained"] = same.loc[name, "seeds"]  # every seed of the default trained: the rule picks it
    same.loc[same.index != name, "deviations"] += same.loc[name, "deviations"] + 1
    assert pages.rule_sentence(same) == f"{len(same)} readings; chosen by the rule: **{name}**."
    other = same.copy()
    other.loc[name, ["trained", "outcomes"]] = [2, "trained 2, blew up 1"]  # one seed blew up on this machine
    text = pages.rule_sentence(other)
    assert f"the rule picks **{choose_default(other)}**, because the default, **{name}**, trained 2 of" in text
    assert "(trained 2, blew up 1). The default was fixed on 2026-11-25 (commit 9bea22e)" in text
