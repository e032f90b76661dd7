"""A cold rebuild: every step, current or not, from an empty cache folder, resumable, each row naming it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replicate.io.errors import ReplicateError
from replicate.publish import cold, rebuild
from replicate.publish import times as timing
from replicate.publish.pages import rebuild_times

from .test_status import GRAPH, project  # noqa: F401  (the fixture)


@pytest.fixture
def here(project, monkeypatch, tmp_path_factory):  # noqa: F811
    for module in (rebuild, rebuild_times, timing):
        monkeypatch.setattr(module, "project_root", lambda: project)
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path_factory.mktemp("cold-cache")))
    return project


def test_a_cold_rebuild_makes_every_step_once_and_goes_on_from_the_steps_made(here, capsys):
    assert rebuild.pending() == ["never"]  # `made` is current: an ordinary rebuild leaves it alone
    assert rebuild.rebuild(cold=True, dry_run=True) == ["made", "never"]
    made = rebuild.rebuild(["made"], cold=True)  # a first sitting that made one step
    name = json.loads((cold.store.cache_dir() / cold.MARKER).read_text())["name"]
    assert made == ["made"] and name.startswith("cold-")
    assert rebuild.rebuild(cold=True) == ["never"]  # the next sitting: only what this cold rebuild has not made
    assert rebuild.rebuild(cold=True) == []
    rows = pd.read_csv(here / timing.TIMES)
    assert list(rows["cold_rebuild"]) == [name, name]
    assert list(timing.cold_rows()["step"]) == ["made", "never"]
    # an ordinary rebuild's row is not part of it
    rebuild.rebuild(["made"])
    assert pd.isna(pd.read_csv(here / timing.TIMES)["cold_rebuild"].iloc[-1]) and len(timing.cold_rows()) == 2
    page = rebuild_times.markdown()
    assert f"cold rebuild `{name}`" in page and "all 2 steps" in page


def test_a_cold_rebuild_refuses_a_cache_that_already_holds_trainings(here, tmp_path, monkeypatch):
    warm = tmp_path / "warm"
    (warm / "vae").mkdir(parents=True)
    (warm / "vae" / "entry.npz").write_bytes(b"x")
    for create in (True, False):  # a dry run says so too
        with pytest.raises(ReplicateError, match=r"already holds 1 files.*REPLICATE_CACHE_DIR"):
            cold.begin(warm, create=create)
    assert not (warm / cold.MARKER).exists()
    assert cold.begin(tmp_path / "new", create=False) == ("", 0) and not (tmp_path / "new").exists()
    name, part = cold.begin(tmp_path / "new")  # a folder not there yet is made empty
    assert name.startswith("cold-") and part == 1
    # the default cache folder is everyone's: refused, whatever it holds
    monkeypatch.delenv("REPLICATE_CACHE_DIR")
    with pytest.raises(ReplicateError, match="REPLICATE_CACHE_DIR is not set"):
        cold.begin()


def test_a_cold_rebuild_makes_one_step_at_a_time(here):
    with pytest.raises(ReplicateError, match="one step at a time"):
        rebuild.rebuild(cold=True, jobs=2)


def test_the_page_says_how_to_measure_a_cold_rebuild_before_one_was_made(here):
    timing.record({"step": "made", "seconds": 60.0, "cores": 2, "cpu": "c", "date": "2026-12-07", "commit": "a"},
                  here / timing.TIMES)
    page = rebuild_times.markdown()
    assert "No cold rebuild" in page and "replicate rebuild --cold" in page


def test_a_machine_that_did_not_keep_the_cache_goes_on_as_the_next_part_and_the_page_counts_its_trainings(
        here, tmp_path, monkeypatch):
    rebuild.rebuild(["made"], cold=True)  # the first sitting: its machine's cache folder is then lost
    name = timing.cold_rows()["cold_rebuild"].iloc[0]
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "next-machine"))
    assert cold.begin(create=False, steps=["made", "never"]) == (name, 2)  # a dry run: what it would go on with
    assert rebuild.rebuild(cold=True) == ["never"]
    assert list(timing.cold_rows()["cold_part"]) == [1, 2]
    uses = pd.DataFrame({"cold_rebuild": name, "cold_part": [1, 1, 1, 2, 2, 2, 2],
                         "step": ["made", "made", "made", "never", "never", "never", "never"],
                         "outcome": ["trained", "cached", "trained", "trained", "trained", "cached", "cached"],
                         "entry": ["k1", "k1", "k3", "k1", "k2", "k3", "k3"],
                         "seconds": [120.0, None, 30.0, 120.0, 60.0, None, None]})
    # `never` got k3 (twice) from `made`'s training: one saved; `made` asking for its own k1 again saves none
    sentence = rebuild_times.trainings_sentence(timing.cold_rows(), uses)
    assert "Its steps trained 3 VAEs, and **1 training was saved**" in sentence
    assert "in 2 parts" in sentence and "1 training (2 min) was made again" in sentence
    # a finished cold rebuild is not gone on with: an empty folder begins a new one
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "third"))
    assert cold.begin(create=False, steps=["made", "never"]) == ("", 0)
