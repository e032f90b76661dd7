"""The replication's verdict line and the labels' ceiling, on crafted run folders."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.io.errors import ReplicateError
from replicate.publish import book
from replicate.publish.pages import verdict as v


def _run(tmp_path, *, diffs=(-14.0, -19.0, -19.0), supported=3, testable=9, best_ca=0.5):
    spec = v.rule()["headline"]
    row = {"row": spec["row"], "selection": spec["selection"], "reading": spec["reading"]}
    for m, d in zip(spec["metrics"], diffs):
        row.update({f"paper_{m}": 80.0, f"ours_{m}": 80.0 + d})
    other = {**row, "reading": "second", f"ours_{spec['metrics'][0]}": 99.0}  # another reading: not the headline
    (tmp_path / "05_table1").mkdir(parents=True)
    pd.DataFrame([row, other]).to_csv(tmp_path / "05_table1" / "table1.csv", index=False)
    verdicts = ["supported"] * supported + ["not supported"] * (testable - supported) + ["not testable here"]
    (tmp_path / "06_claims").mkdir()
    pd.DataFrame({"claim": [f"C{i}" for i in range(len(verdicts))], "verdict": verdicts,
                  "reading": spec["reading"]}).to_csv(tmp_path / "06_claims" / "claims.csv", index=False)
    (tmp_path / "03_clustering-kmeans").mkdir()
    pd.DataFrame({"embedding": ["vae_seed=0", "pca"], "method": "kmeans", "parameters": "{}",
                  "CA": [best_ca, 0.999]}).to_csv(tmp_path / "03_clustering-kmeans" / "clustering_kmeans.csv",
                                                  index=False)
    return tmp_path


@pytest.mark.parametrize(("diffs", "supported", "label"), [
    ((-14.0, -19.0, -19.0), 3, "not reproduced"),
    ((-14.0, -19.0, -19.0), 5, "partly reproduced"),    # half the claims, no metric
    ((-4.0, -19.0, -19.0), 0, "partly reproduced"),     # one metric within the margin
    ((-4.0, 2.0, -5.0), 6, "partly reproduced"),        # every metric, but 6 of 9 claims < 75 %
    ((-4.0, 2.0, -5.0), 7, "reproduced"),
])
def test_the_rule_gives_each_verdict(tmp_path, diffs, supported, label):
    result = v.verdict(_run(tmp_path, diffs=diffs, supported=supported))
    assert result["label"] == label and result["testable"] == 9 and result["supported"] == supported
    assert list(result["headline"]["metric"]) == v.rule()["headline"]["metrics"]


def test_the_line_quotes_the_evidence_and_the_rule(tmp_path):
    text = v.markdown(_run(tmp_path))
    assert text.startswith("**Verdict: not reproduced** ([¬Re] in ReScience C's labels).")
    assert "CA 66.0" in text and "3 of the 9 testable claims" in text and "verdict.toml" in text
    assert "0 of 3 within 5 points" in text


def test_the_ceiling_is_the_best_vae_run_anywhere_committed_and_labelled_optimistic(tmp_path):
    committed = v.ceiling(_run(tmp_path, best_ca=0.0))  # this run's VAE rows are poor: a committed study wins
    assert 50 < committed["CA"] <= 100 and committed["source"].startswith("`results/")
    # a readings study's row names no method: its trainings are scored with K-means, and the words say so
    assert committed["row"]["method"] and ", by on the latent" not in v.markdown(tmp_path)
    mine = v.ceiling(_run(tmp_path / "b", best_ca=0.97))  # the PCA row (0.999) is not a VAE's
    assert mine["CA"] == pytest.approx(97.0) and "03_clustering-kmeans" in mine["source"]
    assert mine["row"]["embedding"] == "vae_seed=0"
    assert "chosen *with the labels*" in v.markdown(tmp_path / "b") and "**97.0**" in v.markdown(tmp_path / "b")
    assert "on the latent of VAE seed 0" in v.markdown(tmp_path / "b") and "vae_seed" not in v.markdown(tmp_path / "b")


def test_the_ceiling_setting_reads_as_words():
    row = {"embedding": "vae_seed=5", "method": "spectral",
           "parameters": '{"affinity": "nearest_neighbors", "n_components": 8, "n_neighbors": 20}'}
    assert v.setting_words(row) == ("Spectral (affinity nearest neighbors, n components 8, n neighbors 20) "
                                    "on the latent of VAE seed 5")
    assert v.setting_words({"reading": "matched", "seed": 3, "method": "kmeans"}) == \
        "K-means on the latent of VAE seed 3, reading matched"


def test_a_missing_table_or_headline_row_is_an_error_naming_it(tmp_path):
    with pytest.raises(ReplicateError, match="table1.csv is missing"):
        v.verdict(tmp_path)
    run = _run(tmp_path)
    table = pd.read_csv(run / "05_table1" / "table1.csv")
    table[table["reading"] != "default"].to_csv(run / "05_table1" / "table1.csv", index=False)
    with pytest.raises(ReplicateError, match="0 rows for VAE\\+K-means"):
        v.verdict(run)


def test_the_book_gives_a_verdict_only_for_a_finished_run_on_the_papers_cells(tmp_path):
    run = _run(tmp_path)
    done = {"05_table1": {"status": "done"}, "06_claims": {"status": "done"}}
    assert "no verdict on the replication" in book.substitutions({"dataset": "pbmc68k-reduced"}, run)["verdict"]
    paper = {"dataset": v.PAPER_DATASET, "sections": done}
    assert book.substitutions(paper, run)["verdict"].startswith("**Verdict: not reproduced**")
    assert "no Table 1" in book.substitutions({**paper, "sections": {}}, run)["verdict"]
