"""The benchmarks' committed figures (``benchmarks/results/*.json``) as tables and plots for the book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import paths
from ..method.budget import human_seconds
from .names import name as display_name

__all__ = ["results_dir", "load", "vae_table", "bf16_sentence", "clustering_table", "growth_table", "machine",
           "markdown"]


def _parallel_lines(clu: dict) -> list[str]:
    """What running the grid's cells side by side bought (joblib, and Dask's 2 workers), per latent."""
    lines = []
    for name, entry in clu.get("latents", {}).items():
        if "serial_wall_s" in entry:
            lines.append(f"On the {name} latent, a serial loop over the cells took {entry['serial_wall_s']:.0f} s and "
                         f"joblib on all cores {entry['parallel_wall_s']:.0f} s (speed-up {entry['speed_up']:.2f}).")
        if "dask_wall_s" in entry:
            ratio = f", speed-up {entry['dask_speed_up']:.2f} over the serial loop" if "dask_speed_up" in entry else ""
            lines.append(f"A Dask LocalCluster of {entry['dask_workers']} single-threaded workers ran the {name} grid in "
                         f"{entry['dask_wall_s']:.0f} s (+{entry['dask_start_s']:.0f} s to start the cluster){ratio}; "
                         f"every score identical to joblib's: {'yes' if entry['dask_identical'] else 'no'}.")
    return ["", " ".join(lines)] if lines else []


def results_dir() -> Path:
    """``benchmarks/results`` of the checkout (the committed benchmark figures)."""
    return paths.committed("benchmarks/results")


def load(name: str) -> dict[str, Any] | None:
    """The figures a benchmark wrote (``benchmarks/results/<name>.json``), or None when it has not run."""
    path = results_dir() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def machine(figures: dict[str, Any] | None) -> str:
    """One line: where and when a benchmark ran."""
    if not figures:
        return "not run yet"
    parts = [f"{figures.get('cores', '?')} cores"]
    if "bandwidth_gbs" in figures:
        parts.append(f"measured memory bandwidth {figures['bandwidth_gbs']:.1f} GB/s")
    if "matmul_gflops" in figures:
        parts.append(f"matmul {figures['matmul_gflops']:.0f} GFLOP/s")
    if figures.get("devices"):
        parts.append("devices " + ", ".join(figures["devices"]))
    return f"{figures.get('date', '?')}: " + ", ".join(parts)


#: The speed benchmark's runs on the performance page (two separate runs: machines are noisy).
VAE_RUNS = ("vae_speed", "vae_speed_run2")


def vae_table(figures: dict[str, Any] | list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per run and shape: (speed: our seconds per epoch, with 32 steps per call, with a bfloat16 first
    moment, plain Keras fit; bounds: the memory-traffic and FLOP bounds, our ratios to them, peak memory)."""
    runs = [figures] if isinstance(figures, dict) else list(figures)
    speed, bounds = [], []
    for i, fig in enumerate(runs, 1):
        for cells, r in fig.get("shapes", {}).items():
            key = {"run": f"{i} ({fig.get('date', '?')})", "cells x genes": f"{int(cells):,} x {fig.get('genes', 16449):,}"}
            speed.append({**key, "ours (s/epoch)": r.get("ours_s_per_epoch"),
                          "32 steps/call": r.get("ours_32_steps_per_call_s_per_epoch"),
                          "bf16 1st moment": r.get("ours_bf16_first_moment_s_per_epoch"),
                          "Keras fit": r.get("keras_fit_s_per_epoch"), "fit / ours": r.get("keras_fit_over_ours")})
            bounds.append({**key, "memory bound (s)": r.get("memory_bound_s"),
                           "ours / bound": r.get("ours_over_memory_bound"),
                           "32 steps/call / bound": r.get("ours_32_steps_per_call_over_memory_bound"),
                           "bf16 / its bound": r.get("ours_bf16_over_its_memory_bound"),
                           "ours / FLOP bound": r.get("ours_over_flop_bound"), "peak memory (GB)": r.get("peak_rss_gb")})
    frames = [pd.DataFrame(rows).set_index(["run", "cells x genes"]).dropna(axis=1, how="all") for rows in (speed, bounds)]
    return frames[0], frames[1]


def bf16_sentence(figures: dict[str, Any]) -> str:
    """What the bfloat16 first moment did to speed, the loss curves and VAE + K-means (empty when not measured)."""
    q = figures.get("bf16_quality")
    if not q:
        return ""
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    equal = abs(q["kmeans_ca_difference_mean"]) <= q["float32_kmeans_ca_seed_sd"]
    speed = [s["bf16_speed_up"] for s in figures.get("shapes", {}).values() if "bf16_speed_up" in s]
    spikes = q.get("seeds_with_loss_spikes")
    per_seed = q.get("final_loss_relative_difference_per_seed")
    loss = (f"the loss curve spiked above 1.5x float32's in {spikes} of {q['seeds']} seeds (final loss "
            + ", ".join(f"{100 * v:+.1f}%" for v in per_seed) + " by seed)"
            if spikes is not None and per_seed else
            f"the loss curves differ from float32 by at most {100 * q['max_relative_loss_difference']:.2f}% "
            f"(final loss {100 * q['final_loss_relative_difference']:+.2f}%)")
    return ("With Adam's first moment in bfloat16 (`VAEConfig(optimizer_state=\"bfloat16\")`), "
            + (f"an epoch took {' and '.join(f'{1 / v:.2f}x' for v in speed)} the float32 time at the shapes above; " if speed else "")
            + f"on {q['data']}, {q['seeds']} seeds: {loss}; "
            f"VAE + K-means CA {mean(q['bfloat16']['kmeans_ca']):.1f} against {mean(q['float32']['kmeans_ca']):.1f} "
            f"(paired difference {q['kmeans_ca_difference_mean']:+.1f} ± {q['kmeans_ca_difference_sd']:.1f} points; "
            f"float32's seed-to-seed s.d. {q['float32_kmeans_ca_seed_sd']:.1f}), "
            + ("within seed noise." if equal else "outside seed noise.")
            + (" It is an experimental switch, not the default and not recommended on this evidence: "
               if (spikes or any(v < 1 for v in speed)) else " It stays an option, not the default: ")
            + "the committed study was trained in float32.")


def clustering_table(figures: dict[str, Any]) -> pd.DataFrame:
    """Per latent size and method: grid cells and the summed seconds of their fits."""
    rows = []
    for name, entry in figures.get("latents", {}).items():
        for method, m in entry.get("per_method", {}).items():
            rows.append({"latent": name, "method": method, "grid cells": m["cells"], "fit seconds (sum)": m["fit_seconds"],
                         "slowest cell (s)": m["slowest_s"]})
        rows.append({"latent": name, "method": "all (wall, in parallel)", "grid cells": entry["grid_cells"],
                     "fit seconds (sum)": entry["parallel_wall_s"], "slowest cell (s)": None})
    return pd.DataFrame(rows).set_index(["latent", "method"])


def _md_table(frame: pd.DataFrame, digits: int = 2) -> str:
    """A DataFrame as a Markdown table (numbers rounded; empty cells for missing values)."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        if isinstance(v, float):
            return f"{v:,.{digits}f}"
        return str(v)

    frame = frame.reset_index()
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _seconds(s: float) -> str:
    if s < 10:
        return f"{s:.1f} s"  # budget's human_seconds rounds to whole seconds and minutes
    return f"{s / 60:.1f} min" if 120 <= s < 600 else human_seconds(s)


def _not_run(m: dict[str, Any]) -> str:
    """A stage that did not run at a size, in a few words: what it would need (the page explains the rule)."""
    status = m.get("status", "")
    if not status.startswith("skipped"):  # e.g. "failed: no cluster found" (the fit ran, its labelling is void)
        return ": ".join(part.strip() for part in status.split(":")[:2])
    if "would take" in status and m.get("need_seconds"):
        return f"skipped (~{_seconds(m['need_seconds'])})"
    if m.get("need_gb"):
        return f"skipped (~{m['need_gb']:.0f} GB)"
    return "skipped"


def growth_table(figures: dict[str, Any]) -> pd.DataFrame:
    """Per stage: seconds and peak memory at each number of cells, and the fitted growth exponent."""
    rows = []
    for stage, entry in figures.get("stages", {}).items():
        rec: dict[str, Any] = {"stage": stage}
        for cells, m in sorted(entry.get("by_cells", {}).items(), key=lambda kv: int(kv[0])):
            status = m.get("status", "ok")
            # a skipped size shows why in a few words (the memory it would need); the page explains the rule
            rec[f"{int(cells):,} cells (s)"] = m.get("seconds") if status == "ok" else _not_run(m)
        rec["exponent (seconds ~ cells^k)"] = entry.get("exponent")
        rows.append(rec)
    return pd.DataFrame(rows).set_index("stage") if rows else pd.DataFrame()


#: The sizes of a user's own file that the own-data page shows.
OWN_DATA_SIZES = (10_000, 50_000, 100_000)

#: Readable names of the scaling benchmark's stages.
STAGE_NAMES = {"preprocess": "z-scoring (normalise, log, scale)", "vae_epoch": "VAE training, one epoch",
               "pca32+kmeans": "PCA(32) + K-means (baseline)", "leiden": "Leiden (baseline)"}  # else the method's name


def own_data_table(figures: dict[str, Any] | None = None, sizes: tuple[int, ...] = OWN_DATA_SIZES) -> pd.DataFrame:
    """Seconds and peak memory of every stage at each of ``sizes`` cells (the scaling benchmark's
    figures, ``benchmarks/results/scaling.json``): ``12.3 s, 1.2 GB``, or what a refused stage would need."""
    figures = load("scaling") if figures is None else figures
    rows = []
    for stage, entry in (figures or {}).get("stages", {}).items():
        rec: dict[str, Any] = {"stage": STAGE_NAMES.get(stage, display_name(stage))}
        for cells in sizes:
            m = entry.get("by_cells", {}).get(str(cells))
            if m is None:
                rec[f"{cells:,} cells"] = "not measured"
            elif m.get("status", "ok") == "ok":
                rec[f"{cells:,} cells"] = f"{_seconds(m['seconds'])}, {m['peak_rss_gb']:.1f} GB"
            else:
                rec[f"{cells:,} cells"] = _not_run(m)
        rows.append(rec)
    return pd.DataFrame(rows).set_index("stage").rename_axis(None) if rows else pd.DataFrame()


def own_data_caption(figures: dict[str, Any] | None = None) -> str:
    """Where and when the own-data table was measured, and the limits its refusals used."""
    figures = load("scaling") if figures is None else figures
    if not figures:
        return "The scaling benchmark has not been run: `python benchmarks/scaling.py --json benchmarks/results/scaling.json`."
    limits = (f"; limits {figures['memory_limit_gb']:g} GB and {_seconds(figures['max_seconds'])} per clusterer"
              if "max_seconds" in figures else "")
    cpu = f", {figures['cpu']}" if figures.get("cpu") else ""
    return f"Measured {machine(figures)}{cpu}{limits}."


def gpu_lines(figures: dict[str, Any] | None) -> list[str]:
    """The GPU section: ``benchmarks/vae_gpu.py``'s figures, or that no GPU has been measured."""
    how = ("`python benchmarks/vae_gpu.py --json benchmarks/results/vae_gpu.json` measures it on a machine with an "
           "NVIDIA GPU and JAX or PyTorch (the trainer runs on Keras 3's TensorFlow, JAX and PyTorch engines, "
           "each tested on the CPU in CI: `replicate.method.vae_backends`).")
    if not figures:
        return ["No GPU has been available to this project's measurements yet, so the VAE has not been timed on "
                f"one: {how}"]
    rows = []
    for shape, f in figures["shapes"].items():
        ref = f["reference"]
        rows.append({"shape": f"{f['cells']:,} x {f['genes']:,}", "first VAE (s, compiling)": f["first_vae_seconds"],
                     "s per VAE": f.get("seconds_per_vae"), "memory bound (s)": f["bound_one_vae_seconds"],
                     "x bound": f.get("ratio_to_bound"), "reference, graphed (s)": ref["one_graphed"],
                     "10 VAEs (s)": f.get("ten_vaes_seconds"), "reference, 10 side by side (s)": ref["ten_side_by_side"]})
    engine = figures["engine"]
    return [f"Measured on {figures.get('device_name', 'a GPU')} with the {engine['backend']} engine "
            f"({', '.join(f'{k} {v}' for k, v in figures.get('versions', {}).items())}), {figures.get('epochs', 30)} "
            "epochs, batch 16, the paper's network; the reference is a plain PyTorch implementation of the same "
            "network on one H200 (not this package's code). " + how, "", _md_table(pd.DataFrame(rows), 1)]


def markdown(folder: Path) -> str:
    """The performance page's body: the committed figures as tables and one figure (written into ``folder``)."""
    parts: list[str] = []
    runs = [f for f in (load(name) for name in VAE_RUNS) if f]
    if runs:
        vae = runs[0]
        speed, bounds = vae_table(runs)
        parts += ["## Training the VAE", "Measured " + "; ".join(machine(f) for f in runs) + ".", "",
                  "Seconds per epoch of the paper's configuration (genes → 2048 → 32 → 128 → genes, batch 16) on "
                  "z-scored synthetic data of the paper's full size, against a plain Keras `model.fit` of the same "
                  "model and against two lower bounds: the time to move the bytes a training step must move "
                  "(weights, gradients and Adam's moments) at the memory bandwidth measured in the same run, and the "
                  "time for its floating-point work at the measured matrix-multiply rate. The default trainer returns "
                  "to Python after every batch; `steps_per_call=32` runs 32 batches in one compiled loop (its "
                  "round-off differs, so the committed study keeps the default). Peak memory is the high-water mark "
                  "of a fresh process per shape.", "", _md_table(speed), "", _md_table(bounds), "",
                  "The memory bound is an estimate, not a hard floor: its bandwidth is the median of NumPy copy and "
                  "triad runs before and after the timings, and those loops write more, relative to what they read, "
                  "than a training step does (Adam reads five arrays and writes two). A ratio near 1, or just "
                  "below it, means the trainer runs at the machine's streaming rate; the two runs show how much "
                  "the figure moves between runs."]
        if bf16_sentence(vae):
            parts += ["", bf16_sentence(vae)]
        if vae.get("parallel_seeds"):
            p = vae["parallel_seeds"]
            parts += ["", f"Training {p.get('seeds')} seeds one after another took {p.get('serial_s', float('nan')):.0f} s; "
                      f"in {p.get('processes')} processes with their threads split, {p.get('parallel_s', float('nan')):.0f} s "
                      f"(speed-up {p.get('speed_up', float('nan')):.2f}); the latents were identical: {p.get('identical')}."]
    clu = load("clustering_speed")
    if clu:
        parts += ["", "## Clustering grids", f"Measured {machine(clu)}, scikit-learn {clu.get('sklearn', '?')}.", "",
                  "Every setting of the paper's grids on synthetic 32-dimensional latents (8 Gaussian clusters), run "
                  "by `replicate.grid.execute` on all cores; per method, the summed seconds of its fits.", "",
                  _md_table(clustering_table(clu))]
        parts += _parallel_lines(clu)
        if clu.get("ap_memory"):
            m = clu["ap_memory"]
            parts += ["", f"Affinity propagation at {m['cells']:,} cells (the paper's setting) peaked at "
                      f"{m['rss_peak_mb']:,.0f} MB of resident memory in a fresh process."]
    grow = load("scaling")
    if grow:
        parts += ["", "## How cost grows with cells", f"Measured {machine(grow)}.", "",
                  "Each stage at growing numbers of cells (real files up to 8,617 cells, synthetic beyond); the "
                  "exponent k is fitted to seconds ~ cells^k (1: linear, 2: quadratic). A clusterer is run only where "
                  "the package's own estimate (`replicate.method.budget`, from the measured cost models) says it fits "
                  f"{grow.get('memory_limit_gb', 16):g} GB and {human_seconds(grow.get('max_seconds', 600))}; elsewhere the "
                  "table says what it would need, as `rp.tl.cluster` would refuse it.", "", _md_table(growth_table(grow))]
        if grow.get("note"):  # e.g. which figures were taken while other work loaded the machine
            parts += ["", f"**Note.** {grow['note']}"]
    if not parts:
        parts = ["No benchmark has been run yet: `python benchmarks/vae_speed.py --json "
                 "benchmarks/results/vae_speed.json` and `python benchmarks/clustering_speed.py --json "
                 "benchmarks/results/clustering_speed.json`."]
    parts += ["", "## On a GPU", *gpu_lines(load("vae_gpu"))]
    return "\n".join(parts) + "\n"
