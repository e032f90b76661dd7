"""The "against chance" sections of the Table 1 and generalisation pages."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.io import paths
from replicate.method.controls import CONTROLS
from replicate.publish.pages import controls as page
from replicate.studies import controls, generalisation

RUN = paths.project_root() / "results" / "pbmc2100-top2000" / "paper"


def _table1_controls() -> pd.DataFrame:
    table = pd.read_csv(RUN / "05_table1" / "table1.csv")
    settings = controls.table1_settings(table)
    return pd.concat([settings.assign(control=c, CA=ca, NMI=0.0, ARI=ari)
                      for c, ca, ari in ((CONTROLS[0], 0.3, 0.01), (CONTROLS[1], 0.28, -0.01))], ignore_index=True)


def test_every_row_of_table1_that_we_computed_stands_beside_its_controls(monkeypatch):
    monkeypatch.setattr(page, "_controls", lambda name: _table1_controls() if name == "table1" else None)
    frame = page.table1_frame(RUN)
    assert len(frame) == int((pd.read_csv(RUN / "05_table1" / "table1.csv")["n"] > 0).sum())
    assert frame["CA random"].notna().all() and frame["ARI permuted"].notna().all()  # live baselines too
    km = frame[(frame["row"] == "VAE+K-means") & (frame["reading"] == "default")].iloc[0]
    assert km["CA scaled"] == pytest.approx((km["ours_CA"] / 100 - 0.3) / 0.7)
    text = page.table1_markdown(RUN)
    assert text.startswith("## Against chance") and f"| K-means | paper's | {km['ours_CA']:.1f} |" in text


def test_without_the_controls_the_sections_say_how_to_make_them(monkeypatch):
    monkeypatch.setattr(page, "_controls", lambda name: None)
    assert "replicate rebuild controls-table1" in page.table1_markdown(RUN)
    assert "controls-<dataset>" in page.generalisation_markdown()


def test_the_generalisation_section_scales_each_data_sets_scores(monkeypatch):
    ds = "kidney-top2000"
    rows = pd.read_csv(paths.project_root() / "results" / "generalisation" / f"{ds}.csv")
    first = rows[(rows["reading"] == "default") & (rows["seed"] == 0)].drop_duplicates(["method", "parameters", "variant"])
    fake = pd.concat([first[["method", "parameters", "variant"]].assign(control=c, CA=0.2, NMI=0.0, ARI=0.0)
                      for c in CONTROLS], ignore_index=True)
    monkeypatch.setattr(page, "_controls", lambda name: fake if name == ds else None)
    frame = page.generalisation_frame()
    assert set(frame["dataset"]) == {ds} and frame["CA random"].eq(20.0).all()
    assert "pca32+kmeans" in set(frame["method"])
    text = page.generalisation_markdown()
    assert "| CA (scaled) | kidney |" in text and "| kmeans | " in text and "Not computed yet: " + generalisation.PAPER_DATASET in text
