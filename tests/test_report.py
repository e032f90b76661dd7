import pandas as pd
import pytest

from replicate.report import compare_to_paper, paper_table1


def test_paper_table1_is_complete():
    t = paper_table1()
    assert len(t) == 13
    assert set(t.loc[t.source == "paper", "method"]) == {
        "affinity_propagation", "agglomerative", "birch", "gmm", "kmeans", "spectral"}
    assert ((t[["CA", "NMI", "ARI"]] > 0) & (t[["CA", "NMI", "ARI"]] < 100)).all().all()


def test_compare_to_paper_uses_percent_mean_sd_and_difference():
    scores = pd.DataFrame({"CA": [0.80, 0.90], "NMI": [0.7, 0.7], "ARI": [0.6, 0.8]})
    out = compare_to_paper(scores, "kmeans").set_index("metric")
    paper = paper_table1().set_index("method").loc["kmeans"]
    assert out.loc["CA", "ours_mean"] == pytest.approx(85.0)
    assert out.loc["ARI", "ours_sd"] == pytest.approx(14.142135, rel=1e-5)
    assert out.loc["NMI", "difference"] == pytest.approx(70.0 - paper["NMI"])
    assert (out["n_seeds"] == 2).all()


def test_unknown_method():
    with pytest.raises(KeyError):
        compare_to_paper(pd.DataFrame({"CA": [1], "NMI": [1], "ARI": [1]}), "dbscan")
