"""The reproducibility page's rebuild times: the table, what it leaves out, and the critical-path projection."""

from __future__ import annotations

import json

import pandas as pd

from replicate.publish import performance
from replicate.publish import times as timing
from replicate.publish.pages import rebuild_times

STAGES = {"data": {"outs": ["data.csv"]}, "train": {"deps": ["data.csv"], "outs": ["vae"]},
          "side": {"deps": ["data.csv"], "outs": ["side.csv"]}}


def _times(seconds: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"step": list(seconds), "seconds": list(seconds.values()), "cores": 2})


def test_the_projection_is_the_critical_path_or_the_work_spread_over_the_cores_whichever_is_longer():
    text = rebuild_times.projection(_times({"data": 360.0, "train": 3600.0, "side": 1800.0}), STAGES)
    assert "takes **1.10 h** as measured (`data` → `train`)" in text  # 360 + 3600 s
    assert "On 16 cores a rebuild would take at least **1.10 h**" in text and "not a measurement" in text
    text = rebuild_times.projection(_times({"data": 360.0, "train": 3600.0, "side": 1800.0}), STAGES, cores=1)
    assert "On 1 cores a rebuild would take at least **3.20 h**" in text  # 5,760 s of 2-core work on 1 core


def test_the_page_names_the_steps_never_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(rebuild_times, "project_root", lambda: tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  data: {cmd: x, outs: [data.csv]}\n  train: {cmd: y, deps: [data.csv]}\n")
    path = tmp_path / timing.TIMES
    timing.record({"step": "data", "seconds": 90.0, "date": "2026-12-06", "commit": "abc1234", "cpu": "CPU",
                    "cores": 2, "vae_cache_entries": 0, "load_average": 0.5, "vae_trained": 3, "vae_from_cache": 1},
                  path)
    page = rebuild_times.markdown(path)
    assert page.startswith("**1** of the 2 steps timed, **0.03 h** in all, on CPU, 2 cores, 2026-12-06")
    assert "leaves out the 1 step never timed (`train`)" in page and "| data | 1.5 | 0 | 3 (1) | 0.5 | – |" in page
    assert "critical path" in page and str(tmp_path) not in page


def test_a_cold_rebuild_counts_the_benchmarks_once_it_made_one(tmp_path, monkeypatch):
    """Without --machine-specific a cold rebuild makes the other steps only; with it, every step of the graph."""
    monkeypatch.setattr(rebuild_times, "project_root", lambda: tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  data: {cmd: x}\n  train: {cmd: y}\n"
                                       "  bench: {cmd: z, meta: {machine_specific: true}}\n"
                                       "  bench2: {cmd: w, meta: {machine_specific: true}}\n")
    path = tmp_path / timing.TIMES
    row = {"seconds": 60.0, "date": "2026-12-07", "commit": "abc1234", "cpu": "CPU", "cores": 2,
           "cold_rebuild": "cold-1", "cold_part": 1}
    timing.record({"step": "data", **row}, path)
    assert "has made 1 of the 2 steps" in rebuild_times.markdown(path)  # the benchmarks are not its to make
    timing.record({"step": "bench", **row}, path)
    page = rebuild_times.markdown(path)
    assert "has made 2 of the 4 steps" in page and "not made by it yet: `train`, `bench2`" in page


FIGURES = {"commit": "abc1234", "date": "2026-12-07", "steps": ["controls-a", "controls-b"],
           "machine": {"cpu": "AMD EPYC", "cores": 2}, "speed_up": 1.5, "longest_step_s": 300.0, "identical": True,
           "one_at_a_time": {"wall_s": 900.0, "numbers_as_committed": True},
           "side_by_side": {"jobs": 2, "wall_s": 600.0, "numbers_as_committed": True}}


def test_the_side_by_side_measurement_is_stated_with_the_commit_that_made_it_and_whether_outputs_matched():
    text = rebuild_times.side_by_side_sentence(FIGURES)
    assert "`benchmarks/rebuild_jobs.py` at commit abc1234, 2026-12-07" in text
    assert "**15.0 min** one at a time and **10.0 min** with `replicate rebuild --jobs 2`: **1.50×**" in text
    assert "the same numbers both ways (timings aside), the committed ones" in text
    moved = rebuild_times.side_by_side_sentence({**FIGURES, "identical": False})
    assert "**their numbers differed**" in moved and "same numbers" not in moved
    assert rebuild_times.side_by_side_sentence({}) == ""


def test_the_page_shows_the_side_by_side_measurement_when_it_was_made(tmp_path, monkeypatch):
    monkeypatch.setattr(rebuild_times, "project_root", lambda: tmp_path)
    monkeypatch.setattr(performance, "results_dir", lambda: tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  data: {cmd: x, outs: [data.csv]}\n")
    path = tmp_path / timing.TIMES
    timing.record({"step": "data", "seconds": 90.0, "date": "2026-12-06", "commit": "abc1234", "cpu": "CPU",
                   "cores": 2}, path)
    assert "Measured side by side" not in rebuild_times.markdown(path)
    (tmp_path / "rebuild_jobs.json").write_text(json.dumps(FIGURES))
    assert "Measured side by side on AMD EPYC, 2 cores" in rebuild_times.markdown(path)
