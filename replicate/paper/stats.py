"""Statistics over VAE seeds: bootstrap intervals of a mean, paired tests, and the effect of a change
(paired by seed, or between independent runs) with its interval, in percent points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

__all__ = ["bootstrap_ci", "paired_test", "paired_effect", "unpaired_effect"]


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
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or np.allclose(a, b):
        return float("nan")
    return float(wilcoxon(a, b).pvalue)


def paired_effect(a: pd.Series, b: pd.Series, *, n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of b - a over the seeds both have (paired), with a 95% bootstrap interval; percent points."""
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    diff = 100 * (both["b"] - both["a"])
    lo, hi = bootstrap_ci(diff.to_numpy(), n_boot=n_boot, seed=seed)
    return {"effect": float(diff.mean()) if len(diff) else np.nan, "ci_low": lo, "ci_high": hi, "n": int(len(diff))}



def unpaired_effect(a: pd.Series, b: pd.Series, *, n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of b minus mean of a (different cells or seeds: not paired), 95% bootstrap interval; points."""
    rng = np.random.default_rng(seed)
    a, b = 100 * a.dropna().to_numpy(float), 100 * b.dropna().to_numpy(float)
    if len(a) < 2 or len(b) < 2:
        return {"effect": float(b.mean() - a.mean()) if len(a) and len(b) else np.nan, "ci_low": np.nan,
                "ci_high": np.nan, "n": int(min(len(a), len(b)))}
    boot = rng.choice(b, (n_boot, len(b))).mean(1) - rng.choice(a, (n_boot, len(a))).mean(1)
    return {"effect": float(b.mean() - a.mean()), "ci_low": float(np.quantile(boot, 0.025)),
            "ci_high": float(np.quantile(boot, 0.975)), "n": int(min(len(a), len(b)))}

