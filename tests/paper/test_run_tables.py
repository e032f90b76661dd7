"""The tables each section writes: those later sections depend on, and those its page alone draws."""

from __future__ import annotations

from replicate.paper.run_tables import DRAWN, SPLIT, TABLES, table_names
from replicate.publish.pipeline import SECTIONS


def test_every_section_declares_its_tables_and_the_split_ones_exist():
    assert set(TABLES) == set(SECTIONS) and set(SPLIT) <= set(SECTIONS) and set(DRAWN) <= set(SPLIT)
    assert table_names("03_clustering", {"method": "birch"}) == ["clustering_birch", "labels_birch"]
    assert table_names("03_clustering", {"method": "birch"}, drawn=False) == ["clustering_birch"]
    assert table_names("09_generalisation", {}) == []
