import pytest

from replicate.grid.selection import SELECTIONS
from replicate.paper.table1 import METRICS, paper_table1, table1

from .test_claims import BASE, results


def test_paper_table1_is_complete():
    t = paper_table1()
    assert len(t) == 13
    assert set(t.loc[t.source == "paper", "method"]) == {
        "affinity_propagation", "agglomerative", "birch", "gmm", "kmeans", "spectral"}
    assert ((t[["CA", "NMI", "ARI"]] > 0) & (t[["CA", "NMI", "ARI"]] < 100)).all().all()


def test_table1_rows_selections_percent_and_differences():
    table = table1(results(kmeans=0.85, others=0.80), BASE)
    vae = table[table["selection"] == SELECTIONS["paper"]].set_index("row")
    assert len(vae) == 6 and set(table["selection"]) >= set(SELECTIONS.values()) | {"copied by the paper", "live baseline"}
    km = vae.loc["VAE+K-means"]
    paper = paper_table1().set_index("row").loc["VAE+K-means"]
    # results(): NMI is exactly the score for every seed, CA/ARI move by 0.1 point per seed
    assert km["ours_NMI"] == pytest.approx(85.0) and km["sd_NMI"] == pytest.approx(0.0)
    assert km["ours_CA"] == pytest.approx(85.2) and km["n"] == 5
    for m in METRICS:
        assert km[f"paper_{m}"] == paper[m] and km[f"diff_{m}"] == pytest.approx(km[f"ours_{m}"] - paper[m])
    copied = table[table["selection"] == "copied by the paper"]
    assert len(copied) == 7 and copied["ours_CA"].isna().all()
    live = table[table["selection"] == "live baseline"].set_index("row")
    assert live.loc["PCA(32)+k-means (live)", "ours_CA"] == pytest.approx(55.0)
    assert live.loc["PCA(32)+k-means (live)", "paper_CA"] == paper_table1().set_index("row").loc["PCA+k-means", "CA"]
