"""The package's facts as data: read from replicate/data, each number written once."""

from __future__ import annotations

from replicate.io import facts


def test_the_paper_dataset_is_the_paper_profiles():
    assert facts.PAPER_DATASET == facts.profiles()["paper"]["dataset"] == "pbmc2100-top2000"


def test_titles_quote_the_shape_fields_so_each_number_is_written_once():
    reg = facts.registry()
    assert reg["worm-2100"]["title"].startswith("2,100 C. elegans neurons") and "all 13,488 genes" in reg["worm-2100"]["title"]
    assert "(195 genes differ)" in reg["pbmc2100-top2000-scdcc"]["title"]
    raw = facts.load_toml("datasets")
    for name, entry in raw.items():
        assert "{" not in reg[name]["title"], name
        for field in ("cells", "genes"):
            if field in entry:  # a number in a title comes from its field, never typed
                assert f"{entry[field]:,}" not in entry["title"], (name, field)


def test_the_paper_toml_holds_table_1():
    rows = facts.paper()["table1"]
    assert len(rows) == 13 and {r["source"] for r in rows} == {"copied", "paper"}
