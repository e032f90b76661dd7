"""The benchmarks' committed figures (``benchmarks/results/*.json``) as tables and plots for the book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["results_dir", "load", "vae_table", "clustering_table", "machine"]


def results_dir() -> Path:
    """``benchmarks/results`` of the checkout."""
    from .provenance import project_root

    return project_root() / "benchmarks" / "results"


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


def vae_table(figures: dict[str, Any]) -> pd.DataFrame:
    """Per shape: our seconds per epoch, plain Keras fit, the memory-traffic and FLOP bounds, ratios, peak memory."""
    rows = []
    for cells, r in figures.get("shapes", {}).items():
        rows.append({"cells x genes": f"{int(cells):,} x {figures.get('genes', 16449):,}",
                     "ours (s/epoch)": r.get("ours_s_per_epoch"), "Keras fit (s/epoch)": r.get("keras_fit_s_per_epoch"),
                     "fit / ours": r.get("keras_fit_over_ours"), "memory bound (s)": r.get("memory_bound_s"),
                     "ours / memory bound": r.get("ours_over_memory_bound"), "FLOP bound (s)": r.get("flop_bound_s"),
                     "ours / FLOP bound": r.get("ours_over_flop_bound"), "peak memory (GB)": r.get("peak_rss_gb")})
    return pd.DataFrame(rows).set_index("cells x genes")


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
