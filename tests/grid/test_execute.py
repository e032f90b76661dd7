from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from replicate.grid import execute as execution
from replicate.grid.execute import COLUMNS, run
from replicate.grid.plan import plan
from replicate.io.errors import ParameterError
from replicate.method.cells import run_cell
from replicate.method.clustering import PAPER_METHODS

# Small but real grids: every K-means/GMM/agglomerative cell, thinned BIRCH and spectral.
METHODS = ["kmeans", "gmm", "agglomerative", "birch"]
THIN = {"birch": 8}


@pytest.fixture(scope="module")
def embeddings():
    Z, y = make_blobs(n_samples=200, n_features=32, centers=8, random_state=0)
    Z2, _ = make_blobs(n_samples=200, n_features=32, centers=8, random_state=0, cluster_std=2.0)
    return {"vae_seed=0": Z, "vae_seed=1": Z2}, y


class Counter:
    """Wraps run_cell: counts calls and can raise KeyboardInterrupt at call ``stop_at``."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls, self.stop_at = 0, stop_at

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.stop_at is not None and self.calls == self.stop_at:
            raise KeyboardInterrupt
        return run_cell(*args, **kwargs)


# --------------------------------------------------------------------------- planning


def test_plan_counts_and_keys(embeddings):
    embs, y = embeddings
    cells = plan({"a": embs["vae_seed=0"]}, y, methods=PAPER_METHODS, dataset="blobs")
    assert len(cells) == 35 + 4 + 49 + 4 + 1 + 25
    assert len({c.key for c in cells}) == len(cells)
    assert {c.grid for c in cells} == {"full"} and {c.n_clusters for c in cells} == {8}
    renamed = plan({"b": embs["vae_seed=0"]}, y, methods=PAPER_METHODS)
    assert [c.key for c in renamed] == [c.key for c in cells]  # content, not names
    other = plan({"a": embs["vae_seed=1"]}, y, methods=PAPER_METHODS)
    assert not {c.key for c in other} & {c.key for c in cells}
    seeded = plan({"a": embs["vae_seed=0"]}, y, methods=["kmeans"], random_state=1)
    assert seeded[0].key not in {c.key for c in cells}


def test_plan_thinning_is_recorded(embeddings):
    embs, y = embeddings
    cells = plan(embs, y, methods=["birch", "gmm"], thin={"birch": 3})
    grids = {(c.method, c.grid) for c in cells}
    assert grids == {("birch", "thinned:every-3rd+paper"), ("gmm", "full")}
    assert len([c for c in cells if c.method == "birch"]) == 2 * 18  # 17 every-3rd cells + the paper's choice


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": []}, "methods is empty"),
    ({"methods": ["kmeans", "hdbscan"]}, r"method = 'hdbscan' is unknown; known methods:"),
    ({"methods": ["birch"], "settings": {"birch": []}}, r"settings\['birch'\] is an empty grid"),
    ({"methods": ["birch"], "settings": {"birch": [{"threshold": -1.0, "branching_factor": 50}]}},
     r"birch parameter threshold = -1\.0 is invalid"),
    ({"methods": ["kmeans"], "n_clusters": 500}, r"n_clusters = 500 is invalid for 200 cells"),
    ({"methods": ["kmeans"], "thin": -2}, r"thin = -2 is invalid"),
])
def test_plan_refuses_bad_input(embeddings, kwargs, match):
    embs, y = embeddings
    with pytest.raises(ParameterError, match=match):
        plan(embs, y, **kwargs)


def test_plan_refuses_bad_embeddings(embeddings):
    embs, y = embeddings
    with pytest.raises(ParameterError, match="embeddings is empty"):
        plan({}, y)
    bad = embs["vae_seed=0"].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ParameterError, match="NaN or inf"):
        plan({"bad": bad}, y)
    with pytest.raises(ParameterError, match="one label per cell"):
        plan(embs, y[:10])


def test_bad_input_writes_nothing(tmp_path, embeddings):
    embs, y = embeddings
    out = tmp_path / "r.csv"
    with pytest.raises(ParameterError):
        run(embs, y, out, methods=["kmeans"], settings={"kmeans": [{"n_init": 0}]}, n_jobs=1, progress=False)
    assert not out.exists()


# --------------------------------------------------------------------------- running and resuming


def test_run_writes_a_tidy_table(tmp_path, embeddings, capsys):
    embs, y = embeddings
    out = tmp_path / "r.csv"
    table = run(embs, y, out, dataset="blobs", methods=METHODS, thin=THIN, n_jobs=1, progress=True)
    n = 2 * (1 + 4 + 4 + 8)  # birch every 8th of 49 = 7 cells, plus the paper's choice
    assert len(table) == n and list(table.columns[:len(COLUMNS)]) == COLUMNS
    assert set(table["grid"]) == {"full", "thinned:every-8th+paper"}
    assert set(table["dataset"]) == {"blobs"} and set(table["embedding"]) == set(embs)
    assert table["status"].isin(["ok", "warning", "failed"]).all()
    assert table.loc[table["method"] == "kmeans", "CA"].min() > 0.9
    on_disk = pd.read_csv(out)
    assert len(on_disk) == n and set(on_disk["key"]) == set(table["key"])
    assert {"sklearn", "numpy"} <= set(on_disk.columns)
    err = capsys.readouterr().err
    assert f"[clustering] {n}/{n} cells" in err and "ETA" in err


def test_interrupted_run_resumes_without_recomputing(tmp_path, embeddings, monkeypatch):
    embs, y = embeddings
    out = tmp_path / "r.csv"
    total = len(plan(embs, y, methods=METHODS, thin=THIN))
    killer = Counter(stop_at=6)
    monkeypatch.setattr(execution, "run_cell", killer)
    with pytest.raises(KeyboardInterrupt):
        run(embs, y, out, methods=METHODS, thin=THIN, n_jobs=1, progress=False, flush_every_s=0.0)
    # The file holds exactly the 5 finished cells, as whole rows; no temporary file is left.
    on_disk = pd.read_csv(out)
    assert len(on_disk) == 5
    assert on_disk[["key", "method", "parameters", "status", "CA", "sklearn"]].notna().all().all()
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]

    counter = Counter()
    monkeypatch.setattr(execution, "run_cell", counter)
    table = run(embs, y, out, methods=METHODS, thin=THIN, n_jobs=1, progress=False)
    assert counter.calls == total - 5
    assert len(table) == total and len(pd.read_csv(out)) == total

    again = Counter()
    monkeypatch.setattr(execution, "run_cell", again)
    resumed = run(embs, y, out, methods=METHODS, thin=THIN, n_jobs=1, progress=False)
    assert again.calls == 0

    monkeypatch.setattr(execution, "run_cell", run_cell)
    fresh = run(embs, y, tmp_path / "fresh.csv", methods=METHODS, thin=THIN, n_jobs=1, progress=False)
    cols = ["CA", "NMI", "ARI", "clusters_found", "status"]
    pd.testing.assert_frame_equal(resumed.set_index("key")[cols].sort_index(),
                                  fresh.set_index("key")[cols].sort_index(), check_dtype=False)


def test_failed_cells_are_kept_and_retried_on_request(tmp_path, embeddings, monkeypatch):
    embs, y = embeddings
    out = tmp_path / "r.csv"
    settings = {"dbscan": [{"eps": 1e-3, "min_samples": 5}, {"eps": 30.0, "min_samples": 5}]}
    table = run({"a": embs["vae_seed=0"]}, y, out, methods=["dbscan"], settings=settings, n_jobs=1, progress=False)
    assert list(table["status"]) == ["failed", "ok"] and set(table["grid"]) == {"custom"}
    counter = Counter()
    monkeypatch.setattr(execution, "run_cell", counter)
    run({"a": embs["vae_seed=0"]}, y, out, methods=["dbscan"], settings=settings, n_jobs=1, progress=False)
    assert counter.calls == 0
    run({"a": embs["vae_seed=0"]}, y, out, methods=["dbscan"], settings=settings, n_jobs=1, progress=False,
        retry_failed=True)
    assert counter.calls == 1


def test_unreadable_results_file_is_set_aside(tmp_path, embeddings, capsys):
    embs, y = embeddings
    out = tmp_path / "r.csv"
    out.write_bytes(b"\x00\xff not a table")
    table = run({"a": embs["vae_seed=0"]}, y, out, methods=["kmeans"], n_jobs=1, progress=False)
    assert len(table) == 1 and (tmp_path / "r.csv.corrupt").is_file()
    assert "moved it to" in capsys.readouterr().err


def _rows_by_key(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("key")[["CA", "NMI", "ARI", "clusters_found", "silhouette"]].sort_index()


@pytest.mark.slow
def test_parallel_and_dask_runs_equal_the_serial_run(tmp_path, embeddings, monkeypatch):
    from dask.distributed import Client, LocalCluster, get_task_stream

    embs, y = embeddings
    methods = ["kmeans", "gmm", "agglomerative", "birch", "spectral", "affinity_propagation"]
    thin = {"birch": 8, "spectral": 5, "affinity_propagation": 7}
    serial = run(embs, y, tmp_path / "serial.csv", methods=methods, thin=thin, n_jobs=1, progress=False)
    loky = run(embs, y, tmp_path / "loky.csv", methods=methods, thin=thin, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(_rows_by_key(serial), _rows_by_key(loky))

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with get_task_stream(client) as stream:
            dask = run(embs, y, tmp_path / "dask.csv", methods=methods, thin=thin,
                       scheduler=cluster.scheduler_address, progress=False)
        assert len(stream.data) > 0  # the cells really ran on the cluster
        pd.testing.assert_frame_equal(_rows_by_key(serial), _rows_by_key(dask))

        monkeypatch.setenv(execution.SCHEDULER_ENV, cluster.scheduler_address)
        with get_task_stream(client) as stream:
            by_env = run(embs, y, tmp_path / "env.csv", methods=["kmeans", "gmm"], progress=False)
        assert len(stream.data) > 0
        pd.testing.assert_frame_equal(_rows_by_key(serial[serial["method"].isin(["kmeans", "gmm"])]),
                                      _rows_by_key(by_env))


def test_description_of_a_run(tmp_path, embeddings):
    embs, y = embeddings
    table = run(embs, y, tmp_path / "r.csv", methods=["kmeans", "gmm"], n_jobs=1, progress=False)
    line = execution.describe_run(table)
    assert line.startswith("10 cells") and "grids: full" in line and "sklearn" in line


def test_timeouts_and_refusals_are_rows_and_are_retried_under_a_longer_limit(tmp_path):
    Z, y = make_blobs(n_samples=400, n_features=32, centers=8, random_state=0)
    out = tmp_path / "t.csv"
    # affinity propagation made to iterate for long: estimated past twice the limit, so not started;
    # a Gaussian mixture has no time model (linear), so it starts and the limit stops it; K-means takes ~0.1 s
    slow_ap = {"preference": -350, "damping": 0.9, "max_iter": 5000, "convergence_iter": 5000}
    slow_gmm = {"covariance_type": "full", "max_iter": 300, "tol": 0.0, "n_init": 2}
    settings = {"affinity_propagation": [slow_ap], "gmm": [slow_gmm], "kmeans": [{}]}
    names = ["affinity_propagation", "gmm", "kmeans"]
    first = run({"z": Z}, y, out, methods=names, settings=settings, n_jobs=1, progress=False, time_limit_s=0.05)
    status = dict(zip(first["method"], first["status"]))
    assert status == {"affinity_propagation": "skipped", "gmm": "timeout", "kmeans": "ok"}  # the grid went on
    assert "would take about" in first.set_index("method").loc["affinity_propagation", "message"]
    again = run({"z": Z}, y, out, methods=names, settings=settings, n_jobs=1, progress=False, time_limit_s=600)
    assert set(again["status"]) <= {"ok", "warning"}

def _as_text(frame: pd.DataFrame) -> str:
    return frame.drop(columns=["seconds"]).to_csv(index=False)


def test_a_warm_store_gives_the_section_table_a_cold_run_gives_as_text(tmp_path, embeddings):
    """Read back exactly as written: floats to the last bit, a section's own param_ columns only (the store
    holds every method's), counts as integers."""
    E, y = embeddings
    store = tmp_path / "store.csv"
    run(E, y, store, methods=["birch", "gmm"], thin=4, n_jobs=1, progress=False)  # other methods' rows too
    cold = run(E, y, tmp_path / "cold.csv", methods=["kmeans", "dbscan"], thin=2, n_jobs=1, progress=False)
    run(E, y, store, methods=["kmeans", "dbscan"], thin=2, n_jobs=1, progress=False)
    warm = run(E, y, store, methods=["kmeans", "dbscan"], thin=2, n_jobs=1, progress=False)
    assert _as_text(warm) == _as_text(cold)
    assert not any(c.startswith(("param_threshold", "param_covariance")) for c in warm.columns)
    assert str(warm["clusters_found"].dtype) == "Int64" and "3.0," not in _as_text(warm)


def test_two_runs_into_one_store_keep_each_others_rows(tmp_path, embeddings, monkeypatch):
    """Each write merges with the file under a lock, so sections side by side (replicate run --jobs) or two runs
    on one cache never drop each other's finished cells."""
    E, y = embeddings
    store = tmp_path / "store.csv"
    other = run(E, y, tmp_path / "other.csv", methods=["kmeans"], n_jobs=1, progress=False)
    real = execution.execute

    def meanwhile(*args, **kwargs):  # another process writes its finished cells while this run computes
        other.to_csv(store, index=False)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(execution, "execute", meanwhile)
    mine = run(E, y, store, methods=["gmm"], thin=4, n_jobs=1, progress=False)
    assert set(execution.load_results(store)["key"]) == set(other["key"]) | set(mine["key"])
