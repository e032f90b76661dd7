"""Statistics over VAE seeds: bootstrap intervals of a mean and paired tests."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["bootstrap_ci", "paired_test"]


def bootstrap_ci(values: Any, *, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (resampling VAE seeds with replacement)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = rng.choice(v, size=(n_boot, len(v)), replace=True).mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def paired_test(a: Any, b: Any) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired per-seed values (NaN if not computable)."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or np.allclose(a, b):
        return float("nan")
    return float(wilcoxon(a, b).pvalue)
