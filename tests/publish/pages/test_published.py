from replicate.publish.pages import published


def test_each_published_number_names_its_source_and_cells_and_stands_apart():
    (entry,) = [e for e in published.entries() if e["tool"] == "scDeepCluster"]
    assert "0766744f9b937264af1ee06176d7aadd92116f9b" in entry["source"] and "ACC= 0.8100" in entry["quote"]
    text = published.markdown()
    assert "| scDeepCluster | 81.0 | 77.4 | 78.4 |" in text and "*scDeepCluster*, on the 4,271 PBMCs of" in text
    assert "The same 4,271 cells, in a 2,000-gene file of the same authors, are scored here as `pbmc4k-top2000`" in text
    assert "apart from ours" in text
    # the source is a link to the file at that commit, in the sentence under the table (a link does not wrap)
    assert ("[README.md of ttgump/scDeepCluster, commit 0766744f9b93](https://github.com/ttgump/scDeepCluster/blob/"
            "0766744f9b937264af1ee06176d7aadd92116f9b/README.md)") in text


def test_a_metric_its_authors_did_not_report_is_said_so_and_every_entry_is_traced():
    text = published.markdown()
    assert "| contrastive-sc | not reported | 73.1 | 70.2 | mean of 3 runs (seeds 0-2) |" in text
    assert "| contrastive-sc | not reported | 63.3 | 49.2 |" in text
    assert "nan" not in text
    for e in published.entries():  # a repository file at a full commit, a quote holding its numbers, the cells
        assert len(e["source"].rsplit("commit ", 1)[1]) == 40 and e["cells"] and e["runs"]
        for m in ("CA", "NMI", "ARI"):
            if m in e:
                assert f"{e[m]:.4f}".rstrip("0").lstrip("0") in e["quote"] or f"{e[m]}" in e["quote"], (e["tool"], m)
