"""Cost estimates before a clusterer runs, and the refusals they lead to."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from replicate.io.errors import ReplicateError
from replicate.io.memory import peak_rss_bytes, reset_peak, rss_bytes
from replicate.method import budget
from replicate.method.budget import ResourceError
from replicate.method.clustering import fit_labels, methods, paper_setting

ROOT = Path(__file__).resolve().parents[2]


def latent(n: int, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (8, 32))
    return (scale * (centres[rng.integers(0, 8, n)] + rng.normal(0, 1.0, (n, 32)))).astype(np.float32)


def test_every_method_has_a_measured_model():
    models = budget.costs()["methods"]
    keys = {m for m in methods() if m != "spectral"} | {"spectral:nearest_neighbors", "spectral:rbf"}
    assert keys <= set(models)
    assert budget.costs()["machine"]["cores"] >= 1 and budget.costs()["date"]
    for key, model in models.items():
        assert all(c >= 0 for q in model.values() for c in q.values()), key


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="the kernel's high-water mark is Linux's")
def test_affinity_propagation_estimate_is_within_a_factor_of_two_of_its_measured_peak():
    Z = latent(1500)
    need = budget.estimate(Z, "affinity_propagation", paper_setting("affinity_propagation"))
    assert reset_peak()
    before = rss_bytes()
    with threadpool_limits(1):
        fit_labels(Z, "affinity_propagation", {**paper_setting("affinity_propagation"), "max_iter": 5},
                   n_clusters=8)
    measured = peak_rss_bytes() - before
    assert 0.5 < need.bytes / measured < 2.0, (need.bytes, measured)
    assert need.bytes > 4 * 8 * 1500**2  # several n x n float64 arrays
    assert "1,500 x 1,500" in need.what


def test_quadratic_estimates_grow_fourfold_when_the_cells_double():
    small = budget.estimate(latent(20_000), "affinity_propagation", paper_setting("affinity_propagation"))
    large = budget.estimate(latent(40_000), "affinity_propagation", paper_setting("affinity_propagation"))
    assert 3.5 < large.bytes / small.bytes < 4.01
    assert 3.5 < large.seconds / small.seconds < 4.01
    assert budget.estimate(latent(1000), "kmeans", {}).seconds is None  # linear: never refused on time


def test_memory_refusal_names_estimate_available_and_alternatives():
    Z = latent(3000)
    with pytest.raises(ResourceError) as err:
        budget.check(Z, "affinity_propagation", paper_setting("affinity_propagation"), available=2**28)
    msg = str(err.value)
    assert "\n" not in msg
    assert "affinity_propagation on 3,000 cells needs about" in msg
    assert "256 MB is available" in msg and "kmeans or gmm" in msg and "subsample" in msg
    assert err.value.need.bytes > 0.8 * 2**28
    assert isinstance(err.value, MemoryError) and isinstance(err.value, ReplicateError)
    # the same setting fits where there is room, and a linear method fits in little
    assert budget.check(Z, "affinity_propagation", paper_setting("affinity_propagation"), available=2**33).bytes > 0
    assert budget.check(Z, "kmeans", {}, available=2**28).bytes < 2**26


def test_time_refusal_for_quadratic_methods_only():
    Z = latent(60_000)
    with pytest.raises(ResourceError, match=r"optics on 60,000 cells would take about .* the limit is 30 s"):
        budget.check(Z, "optics", paper_setting("optics"), max_seconds=30, available=2**40)
    assert budget.check(Z, "gmm", paper_setting("gmm"), max_seconds=1, available=2**40).seconds is None


def test_dbscan_memory_follows_its_neighbourhoods():
    Z = latent(10_000)
    narrow = budget.terms(Z, "dbscan", {"eps": 0.5, "min_samples": 5})["pairs"]
    wide = budget.terms(Z, "dbscan", {"eps": 1e3, "min_samples": 5})["pairs"]
    assert narrow < 0.01 * 10_000**2 and wide == pytest.approx(10_000**2, rel=1e-3)
    assert (budget.estimate(Z, "dbscan", {"eps": 1e3, "min_samples": 5}).bytes
            > 10 * budget.estimate(Z, "dbscan", {"eps": 0.5, "min_samples": 5}).bytes)


def test_birch_final_step_is_checked_on_its_subclusters():
    need = budget.global_step(60_000, 60_000)
    assert need.bytes > 60_000**2 / 2 * 8 * 0.8  # the condensed distances (13.4 GiB) and more
    with pytest.raises(ResourceError, match="birch on 60,000 cells needs about .* subclusters"):
        budget.check_global_step(60_000, 60_000, available=8 * 2**30)
    assert budget.check_global_step(60_000, 500, available=8 * 2**30).bytes < 2**30


def test_rbf_underflow_is_hopeless_without_labels():
    setting = {"affinity": "rbf", "n_components": 4}
    assert budget.hopeless(latent(2000), "spectral", setting) is None
    far = latent(2000, scale=30.0)  # squared distances ~ 1e5: exp(-d^2) is exactly 0
    reason = budget.hopeless(far, "spectral", setting)
    assert reason and "exactly 0 for 100.0% of cell pairs" in reason and "nearest_neighbors" in reason
    assert budget.hopeless(far, "spectral", {**setting, "gamma": 1e-5}) is None  # a width at the latent's scale
    assert budget.hopeless(far, "spectral", paper_setting("spectral")) is None  # nearest neighbours: no kernel
    t0 = time.perf_counter()
    with pytest.raises(ResourceError, match="spectral cannot work here: affinity='rbf'"):
        budget.check(far, "spectral", setting, available=2**40)
    assert time.perf_counter() - t0 < 5  # recognised before it runs


def test_available_memory_honours_a_cap(monkeypatch):
    assert budget.available_bytes() > 0
    monkeypatch.setenv("REPLICATE_MEMORY_GB", "0.5")
    assert budget.available_bytes() <= 0.5 * 2**30
    monkeypatch.setenv("REPLICATE_MEMORY_GB", "lots")
    with pytest.raises(ReplicateError, match="REPLICATE_MEMORY_GB = 'lots' is not a number"):
        budget.available_bytes()


def test_available_memory_sees_the_address_space_limit():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, resource.RLIM_INFINITY)); "
            "from replicate.method import budget; print(budget.available_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert 0 < float(out.stdout) < 8 * 2**30


def test_the_committed_models_come_from_the_benchmark():
    report = json.loads((ROOT / "benchmarks" / "results" / "clustering_cost.json").read_text())
    assert report["date"] == budget.costs()["date"]
    # held-out sizes are predicted within a factor of three by the committed models
    assert all(1 / 3 < r["ratio"] < 3 for r in report["ratios"]), [r for r in report["ratios"] if not 1 / 3 < r["ratio"] < 3]


_BIG = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))
import anndata as ad, numpy as np
import replicate as rp
from replicate.method.budget import ResourceError
rng = np.random.default_rng(0)
centers = rng.normal(scale=4.0, size=(8, 32))
adata = ad.AnnData(np.zeros((60_000, 1), np.float32))
adata.obsm["X_vae"] = (centers[rng.integers(0, 8, 60_000)] + rng.normal(size=(60_000, 32))).astype(np.float32)
t0 = time.perf_counter()
try:
    rp.tl.cluster(adata, sys.argv[1], n_clusters=8, max_seconds=60)
    out = {"clusters": int(adata.obs[sys.argv[1]].nunique())}
except ResourceError as exc:
    out = {"refused": str(exc)}
print(json.dumps({**out, "seconds": time.perf_counter() - t0}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("method", methods())
def test_60000_cells_under_8_gb_give_labels_or_a_one_line_refusal_within_a_minute(method):
    """The paper's setting of every method on 60,000 cells (a 32-d latent), in a process limited to 8 GB of
    address space: labels, or the package's refusal naming the estimate, what is available and what to do --
    never numpy's raw MemoryError, the out-of-memory killer or an hour-long fit."""
    done = subprocess.run([sys.executable, "-c", _BIG, method], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["seconds"] < 60, out
    if "refused" in out:
        text = out["refused"]
        assert "\n" not in text and f"{method} on 60,000 cells" in text
        assert ("needs about" in text and "is available" in text) or ("would take about" in text and "limit is" in text)
        assert "use kmeans or gmm" in text
    else:
        assert out["clusters"] >= 1
