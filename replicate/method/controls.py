"""Negative controls: what a score looks like when the embedding or the labels carry no information.

Two controls, computed on the same cells as the method they judge (as Open Problems scores every
method between controls):

- **random embedding**: Gaussian noise of the latent's shape, each dimension with the latent's own
  mean and standard deviation (so a setting tied to the latent's scale, such as Affinity
  Propagation's preference or DBSCAN's ``eps``, means the same on the noise), clustered by the same
  method at the same setting;
- **permuted labels**: the method's own labelling of the real latent scored against a random
  permutation of the true labels (chance agreement for that labelling's cluster sizes).

A score is also shown as the fraction of the way from the random-embedding control to perfect
agreement (:func:`scaled`): 0 is no better than noise, 1 is perfect, below 0 is worse than noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io.errors import ParameterError

__all__ = ["CONTROLS", "random_embedding", "permuted_labels", "scaled"]

#: The controls' names, as the ``control`` column of a controls table spells them.
CONTROLS = ("random embedding", "permuted labels")


def random_embedding(Z: Any, *, seed: int = 0) -> np.ndarray:
    """Gaussian noise shaped like ``Z`` (cells x dimensions), with each column's mean and s.d. of ``Z``."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ParameterError(f"random_embedding: Z must be cells x dimensions with at least 2 cells, got shape {Z.shape}.")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(Z.shape)
    return (noise * Z.std(axis=0) + Z.mean(axis=0)).astype(np.float32)


def permuted_labels(labels: Any, *, seed: int = 0) -> np.ndarray:
    """The labels in a random order (the same multiset of labels, no relation to the cells)."""
    labels = np.asarray(labels)
    return np.random.default_rng(seed).permutation(labels)


def scaled(raw: Any, control: Any) -> Any:
    """``(raw - control) / (1 - control)``: 0 at the control, 1 at perfect agreement, NaN where the
    control is already perfect (or either is NaN). A float for numbers, an array for array-likes."""
    raw, control = np.asarray(raw, dtype=np.float64), np.asarray(control, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(control < 1.0, (raw - control) / (1.0 - control), np.nan)
    return float(out) if out.ndim == 0 else out
