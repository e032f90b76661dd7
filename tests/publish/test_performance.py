import json
import subprocess
import sys
from pathlib import Path

import pytest

from replicate.publish import performance

RUN = {"date": "2026-01-01", "cores": 2, "genes": 16449, "bandwidth_gbs": 30.0,
       "shapes": {"2100": {"ours_s_per_epoch": 7.0, "memory_bound_s": 5.6, "ours_over_memory_bound": 1.25,
                           "ours_bf16_first_moment_s_per_epoch": 6.5, "ours_bf16_over_its_memory_bound": 1.3,
                           "peak_rss_gb": 1.7}},
       "bf16_quality": {"seeds": 3, "data": "pbmc", "max_relative_loss_difference": 0.01,
                        "final_loss_relative_difference": 0.001, "float32": {"kmeans_ca": [70.0, 72.0, 74.0]},
                        "bfloat16": {"kmeans_ca": [71.0, 72.0, 73.0]}, "kmeans_ca_difference_mean": 0.0,
                        "kmeans_ca_difference_sd": 1.0, "float32_kmeans_ca_seed_sd": 2.0}}


def test_vae_table_has_a_row_per_run_and_shape_and_drops_unmeasured_columns():
    second = {**RUN, "date": "2026-01-02", "shapes": {"2100": {"ours_s_per_epoch": 7.2, "ours_over_memory_bound": 1.28}}}
    speed, bounds = performance.vae_table([RUN, second])
    assert list(speed.index) == [("1 (2026-01-01)", "2,100 x 16,449"), ("2 (2026-01-02)", "2,100 x 16,449")]
    assert "Keras fit" not in speed  # neither run measured it
    assert bounds["ours / bound"].tolist() == [1.25, 1.28]
    assert bounds["peak memory (GB)"].iloc[0] == 1.7


@pytest.mark.parametrize("diff, verdict", [(0.5, "within seed noise"), (-5.0, "outside seed noise")])
def test_bf16_sentence_compares_the_paired_difference_with_seed_noise(diff, verdict):
    q = {**RUN["bf16_quality"], "kmeans_ca_difference_mean": diff}
    text = performance.bf16_sentence({**RUN, "bf16_quality": q})
    assert verdict in text and "not the default" in text
    assert performance.bf16_sentence({"shapes": {}}) == ""


def test_bf16_sentence_names_spiking_seeds_and_a_slowdown():
    q = {**RUN["bf16_quality"], "seeds_with_loss_spikes": 1, "final_loss_relative_difference_per_seed": [0.003, 476.0, 0.017]}
    shapes = {"2100": {**RUN["shapes"]["2100"], "bf16_speed_up": 0.78}}
    text = performance.bf16_sentence({**RUN, "shapes": shapes, "bf16_quality": q})
    assert "spiked above 1.5x float32's in 1 of 3 seeds" in text and "+47600.0%" in text
    assert "1.28x the float32 time" in text and "not recommended" in text


def test_markdown_renders_the_runs_and_says_when_nothing_ran(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(performance, "load", lambda name: RUN if name == "vae_speed" else None)
    page = performance.markdown(tmp_path)
    assert "## Training the VAE" in page and "| 1 (2026-01-01) | 2,100 x 16,449 | 7.00 |" in page
    assert "within seed noise" in page
    monkeypatch.setattr(performance, "load", lambda name: None)
    assert "No benchmark has been run yet" in performance.markdown(tmp_path)


def test_the_parallel_speed_ups_of_the_clustering_grid_are_quoted_from_the_benchmark():
    from replicate.publish.performance import _parallel_lines

    entry = {"serial_wall_s": 30.0, "parallel_wall_s": 20.0, "speed_up": 1.5, "dask_workers": 2, "dask_wall_s": 18.0,
             "dask_start_s": 2.2, "dask_identical": True, "dask_speed_up": 30.0 / 18.0}
    text = " ".join(_parallel_lines({"latents": {"synthetic 2100 x 32": entry}}))
    assert "serial loop over the cells took 30 s and joblib on all cores 20 s (speed-up 1.50)" in text
    assert "2 single-threaded workers ran the synthetic 2100 x 32 grid in 18 s" in text and "speed-up 1.67" in text
    assert "identical to joblib's: yes" in text
    assert _parallel_lines({"latents": {"x": {"parallel_wall_s": 5.0}}}) == []


ROOT = Path(__file__).resolve().parents[2]


def test_the_scaling_benchmark_measures_what_fits_and_records_what_the_estimate_refuses(tmp_path: Path):
    # the benchmark's own child processes, at one size: K-means runs (well under a second), affinity
    # propagation is refused by the package's estimate before it starts (about 15 s against a 3 s limit)
    out = tmp_path / "scaling.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scaling.py"), "--sizes", "5000", "--stages", "kmeans",
                    "affinity_propagation", "--max-seconds", "3", "--json", str(out)], check=True,
                   capture_output=True, text=True)
    figures = json.loads(out.read_text())
    kmeans, ap = (figures["stages"][s]["by_cells"]["5000"] for s in ("kmeans", "affinity_propagation"))
    assert kmeans["status"] == "ok" and kmeans["seconds"] > 0 and kmeans["peak_rss_gb"] > 0.05
    assert ap["status"].startswith("skipped: affinity_propagation on 5,000 cells would take") and ap["need_seconds"] > 0
    assert figures["cpu"] and figures["max_seconds"] == 3
    table = performance.own_data_table(figures, sizes=(5000, 800))
    assert table.loc["K-means", "5,000 cells"].endswith(" GB") and table.loc["K-means", "800 cells"] == "not measured"
    assert table.loc["Affinity propagation", "5,000 cells"].startswith("skipped (~")
    assert performance.own_data_caption(figures).startswith("Measured ") and "per clusterer" in performance.own_data_caption(figures)


def test_the_own_data_table_says_what_a_refused_stage_would_need():
    figures = {"stages": {"birch": {"by_cells": {"100000": {"status": "skipped: birch ... needs about 40 GB",
                                                             "need_gb": 40.2, "need_seconds": None}}},
                          "vae_epoch": {"by_cells": {"100000": {"status": "ok", "seconds": 61.0, "peak_rss_gb": 4.4}}}}}
    table = performance.own_data_table(figures, sizes=(100_000,))
    assert table.loc["BIRCH", "100,000 cells"] == "skipped (~40 GB)"
    assert table.loc["VAE training, one epoch", "100,000 cells"] == "61 s, 4.4 GB"
    assert performance.own_data_caption({}).startswith("The scaling benchmark has not been run")


def test_the_gpu_section_gives_the_measured_figures_or_says_none_was_measured():
    from replicate.publish import performance

    assert "No GPU has been available" in performance.gpu_lines(None)[0]
    figures = {"engine": {"backend": "jax", "device": "gpu"}, "device_name": "NVIDIA H200", "epochs": 30,
               "versions": {"keras": "3.15.1", "jax": "0.11.2"},
               "shapes": {"study": {"cells": 2100, "genes": 2000, "first_vae_seconds": 9.5, "seconds_per_vae": 2.5,
                                    "bound_one_vae_seconds": 0.16, "ratio_to_bound": 15.6, "ten_vaes_seconds": 25.0,
                                    "reference": {"one_graphed": 2.2, "ten_side_by_side": 8.1}}}}
    text = "\n".join(performance.gpu_lines(figures))
    assert "NVIDIA H200 with the jax engine (keras 3.15.1, jax 0.11.2)" in text and "| 2,100 x 2,000 |" in text
    assert "| 2.5 |" in text and "| 8.1 |" in text
