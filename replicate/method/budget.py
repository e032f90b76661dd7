"""What a clusterer will need before it runs, and a refusal when this machine cannot give it.

Each method's peak memory and, where it grows faster than linearly in the cells, its time are
estimated for the number of cells from a cost model: the *form* follows the algorithm (Affinity
Propagation keeps several n x n float64 arrays; BIRCH's final step runs Ward's method on the
condensed distances of its m subclusters; DBSCAN holds every cell's neighbourhood), the
*coefficients* are measured by ``benchmarks/clustering_cost.py`` on a synthetic 32-d latent and
kept in ``replicate/data/clustering_costs.json`` (with the machine and date they were measured
on: a slower machine takes proportionally longer). The estimate is compared with the memory
available now (the smallest of the free memory, the address-space limit and the cgroup limit)
and with a time budget; a setting that would not fit raises :class:`ResourceError` with one line
naming the estimate, what is available and what to do.

A setting that is hopeless by construction is recognised from the embedding alone, without
labels (:func:`hopeless`): an rbf affinity whose off-diagonal entries underflow to exactly 0 at
the latent's scale leaves the spectral eigensolver no graph to work on.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from ..io.errors import ReplicateError

try:
    import resource
except ImportError:  # not on Windows: no address-space limit to read
    resource = None

__all__ = ["COSTS_FILE", "Need", "ResourceError", "costs", "terms", "estimate", "global_step", "available_bytes",
           "hopeless", "check", "check_global_step", "human_bytes", "human_seconds"]

#: The measured coefficients of every method's cost model (written by benchmarks/clustering_cost.py).
COSTS_FILE = "clustering_costs.json"
#: Share of the available memory a fit may plan to use (the rest: the interpreter, the embedding, rounding).
USABLE = 0.8
#: Cell pairs sampled to estimate DBSCAN's neighbourhoods and the rbf affinity's underflow.
PAIRS = 20_000
#: The alternatives named in every refusal: linear in the cells, in time and memory.
LINEAR = "kmeans or gmm (linear in the cells)"


class ResourceError(ReplicateError, MemoryError):
    """A clustering setting that cannot run here (memory, time) or cannot work (hopeless); ``need`` says why."""

    def __init__(self, message: str, need: Need | None = None):
        super().__init__(message)
        self.need = need


@dataclass(frozen=True)
class Need:
    """The estimated peak memory (bytes) and time (seconds; None where the method is linear) of one fit."""

    method: str
    n_cells: int
    bytes: float
    seconds: float | None
    what: str


@lru_cache(maxsize=1)
def costs() -> dict[str, Any]:
    """The measured cost models: ``{"machine", "date", "methods": {method: {"bytes"|"seconds": {term: coef}}}}``."""
    # as replicate.io.facts reads the package's data: without importing replicate.data (a folder of files)
    return json.loads(resources.files("replicate").joinpath("data", COSTS_FILE).read_text())


def human_bytes(b: float) -> str:
    """``b`` bytes as GB (MB under 1 GB), the unit of every refusal."""
    return f"{b / 2**30:,.1f} GB" if b >= 2**30 else f"{b / 2**20:,.0f} MB"


def human_seconds(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:,.1f} h"
    if s >= 120:
        return f"{s / 60:,.0f} min"
    return f"{s:,.0f} s" if s >= 10 else f"{s:.2g} s"


def _pairs(Z: np.ndarray, seed: int = 0) -> np.ndarray:
    """Squared distances of up to :data:`PAIRS` random pairs of distinct cells (seeded: the same estimate every time)."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, Z.shape[0], size=(2, PAIRS))
    keep = i != j
    d = Z[i[keep]] - Z[j[keep]]
    return np.einsum("ij,ij->i", d, d)


def terms(Z: np.ndarray, method: str, params: dict[str, Any], *, subclusters: int | None = None) -> dict[str, float]:
    """The quantities a method's cost grows with, on this embedding and setting.

    ``n``, ``n2``, ``n3`` (cells, squared, cubed) for every method, scaled where the cost is
    proportional to a parameter (``iter_n2``: AP's n^2 per iteration times ``max_iter`` / 200; the neighbour counts of spectral and
    agglomerative clustering); ``pairs``, the expected number of (cell, neighbour) pairs within
    DBSCAN's ``eps`` (from sampled pairs); ``m2``, BIRCH's subclusters squared (known only after
    its tree is built: ``subclusters``).
    """
    n = float(Z.shape[0])
    t = {"n": n, "n2": n * n, "n3": n**3}
    if method == "affinity_propagation":  # time grows with the iterations, the arrays do not
        t["iter_n2"] = n * n * params.get("max_iter", 200) / 200
    elif method == "spectral" and params.get("affinity", "rbf") == "nearest_neighbors":
        scale = params.get("n_neighbors", 10) / 40  # the models are measured at the paper's 40 neighbours
        t = {"n": n * scale, "n2": n * n * scale, "n3": n**3 * scale}
    elif method == "agglomerative":
        scale = params.get("connectivity_n_neighbors", 10) / 10
        t = {"n": n * scale, "n2": n * n * scale}
    elif method == "dbscan":
        within = float((_pairs(Z) <= params.get("eps", 0.5) ** 2).mean())
        t["pairs"] = within * n * n
    if subclusters is not None:
        t["m2"] = float(subclusters) ** 2
    return t


def _model(method: str, params: dict[str, Any]) -> dict[str, dict[str, float]]:
    models = costs()["methods"]
    key = f"{method}:{params.get('affinity', 'rbf')}" if method == "spectral" else method
    if key not in models:
        raise ReplicateError(f"no cost model for {key!r} in replicate/data/{COSTS_FILE}; "
                             "run benchmarks/clustering_cost.py --write to measure it.")
    return models[key]


def _what(method: str, params: dict[str, Any], n: int) -> str:
    if method == "affinity_propagation":
        return f"six {n:,} x {n:,} float64 arrays: similarities, responsibilities, availabilities and work arrays"
    if method == "spectral" and params.get("affinity") == "rbf":
        return f"the dense {n:,} x {n:,} rbf affinity and its Laplacian"
    if method == "spectral":
        return "the k-nearest-neighbour affinity and the shift-invert factorisation of its Laplacian"
    if method == "dbscan":
        return "every cell's eps-neighbourhood"
    if method == "birch":
        return "the CF tree (its final Ward step is checked once the subclusters are known)"
    return "the fit's working arrays"


def estimate(Z: np.ndarray, method: str, params: dict[str, Any]) -> Need:
    """The estimated peak memory and time of fitting ``method`` with ``params`` on the rows of ``Z``."""
    model = _model(method, params)
    t = terms(Z, method, params)
    mem = sum(c * t[k] for k, c in model["bytes"].items() if k in t)
    secs = model.get("seconds")
    seconds = None if secs is None else sum(c * t[k] for k, c in secs.items() if k in t)
    return Need(method, int(Z.shape[0]), float(mem), seconds, _what(method, params, int(Z.shape[0])))


def global_step(n_cells: int, subclusters: int) -> Need:
    """BIRCH's final step: Ward's method on the condensed distances of its ``subclusters`` centroids."""
    model = _model("birch", {})
    t = {"m2": float(subclusters) ** 2}
    mem = sum(c * t[k] for k, c in model.get("global_bytes", {}).items())
    secs = sum(c * t[k] for k, c in model.get("global_seconds", {}).items())
    return Need("birch", n_cells, float(mem), float(secs),
                f"Ward's condensed distances of its {subclusters:,} subclusters (threshold too small "
                "for the latent's scale makes almost every cell its own subcluster)")


def _meminfo_available() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float(psutil.virtual_memory().available)


def _address_space_left() -> float:
    if resource is None:
        return math.inf
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return math.inf
    size = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                size = int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return max(soft - size, 0.0)


def _cgroup_left() -> float:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return math.inf
        return max(int(limit) - int((root / "memory.current").read_text()), 0)
    except (OSError, ValueError):
        return math.inf


def available_bytes() -> float:
    """Memory a fit can have now: the least of free memory, the address-space limit and the cgroup limit.

    ``REPLICATE_MEMORY_GB`` caps it (to plan for a smaller machine, or share this one)."""
    avail = min(_meminfo_available(), _address_space_left(), _cgroup_left())
    cap = os.environ.get("REPLICATE_MEMORY_GB")
    if cap:
        try:
            avail = min(avail, float(cap) * 2**30)
        except ValueError:
            raise ReplicateError(f"REPLICATE_MEMORY_GB = {cap!r} is not a number of GB (e.g. 8).") from None
    return avail


def hopeless(Z: np.ndarray, method: str, params: dict[str, Any]) -> str | None:
    """Why this setting cannot work on ``Z`` whatever the machine (None: it can); from ``Z`` alone, no labels.

    An rbf affinity exp(-gamma d^2) is exactly 0 in float64 beyond d^2 ~ 745 / gamma. When a
    cell's expected number of nonzero off-diagonal affinities is below one, the affinity graph is
    isolated cells, the eigensolver cannot converge, and the fit runs until a time limit stops it.
    """
    if method != "spectral" or params.get("affinity", "rbf") != "rbf" or Z.shape[0] < 3:
        return None
    gamma = float(params.get("gamma", 1.0))
    d2 = _pairs(Z)
    nonzero = float((np.exp(-gamma * d2) > 0).mean())
    per_cell = nonzero * (Z.shape[0] - 1)
    if per_cell >= 1:
        return None
    median = float(np.median(d2))
    return (f"affinity='rbf' with gamma={gamma:g} is exactly 0 for {1 - nonzero:.1%} of cell pairs at this "
            f"latent's scale (median squared distance {median:,.0f}): a cell has {per_cell:.2g} neighbours "
            f"on average, so the eigensolver has no graph; use affinity='nearest_neighbors', or gamma near "
            f"1/median = {1 / median:.2g}")


def _refuse_memory(need: Need, available: float) -> None:
    if need.bytes > USABLE * available:
        raise ResourceError(
            f"{need.method} on {need.n_cells:,} cells needs about {human_bytes(need.bytes)} ({need.what}) but "
            f"{human_bytes(available)} is available; use {LINEAR}, or cluster a subsample of the cells.", need)


def check(Z: np.ndarray, method: str, params: dict[str, Any], *, max_seconds: float | None = None,
          available: float | None = None) -> Need:
    """Refuse (:class:`ResourceError`) a fit that is hopeless, would not fit in memory, or would take
    longer than ``max_seconds`` by the estimate; otherwise return the estimate."""
    reason = hopeless(Z, method, params)
    if reason:
        raise ResourceError(f"spectral cannot work here: {reason}.")
    need = estimate(Z, method, params)
    _refuse_memory(need, available_bytes() if available is None else available)
    if max_seconds is not None and need.seconds is not None and need.seconds > max_seconds:
        machine = costs()["machine"].get("cpu", "the measured machine")
        raise ResourceError(
            f"{method} on {need.n_cells:,} cells would take about {human_seconds(need.seconds)} (estimated from "
            f"its cost measured on {machine}; the limit is {human_seconds(max_seconds)}); use {LINEAR}, or "
            f"cluster a subsample of the cells, or raise the limit.", need)
    return need


def check_global_step(n_cells: int, subclusters: int, *, max_seconds: float | None = None,
                      available: float | None = None) -> Need:
    """:func:`check` for BIRCH's final step, once its tree has ``subclusters`` subclusters."""
    need = global_step(n_cells, subclusters)
    _refuse_memory(need, available_bytes() if available is None else available)
    if max_seconds is not None and need.seconds is not None and need.seconds > max_seconds:
        raise ResourceError(
            f"birch on {n_cells:,} cells would take about {human_seconds(need.seconds)} in its final step "
            f"({need.what}); the limit is {human_seconds(max_seconds)}; raise threshold, use {LINEAR}, or "
            "cluster a subsample of the cells.", need)
    return need
