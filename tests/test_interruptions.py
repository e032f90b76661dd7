"""kill -9 in the middle of a training, a grid, a section of a run and a book build; then the same again.

Each test starts the work in a child process of its own session and kills the whole process group
with SIGKILL (what a crashed machine or `kill -9 -PGID` does: no handler, no ``finally`` runs),
then runs the same work again and checks that it resumes (what finished is kept, nothing
half-written is trusted) and that the outputs equal those of a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replicate.grid.execute import load_results, run as run_grid
from replicate.io import datasets
from replicate.method.latents import entry_paths, latents
from replicate.method.preprocess import zscore
from replicate.method.vae_config import VAEConfig

# Long enough that the kill lands inside the second seed's training, small enough for seconds.
TRAIN = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=40, batch_size=16,
             learning_rate=1e-3)


CLI = [sys.executable, "-m", "replicate.cli"]


def _start_command(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """``command`` in a session (process group) of its own, so that a kill reaches its kernels too."""
    return subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _start(code: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return _start_command([sys.executable, "-c", textwrap.dedent(code)], cwd, env)


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 240.0) -> None:
    """SIGKILL the child's whole process group as soon as ``ready()`` is true."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the child ended (rc {proc.returncode}) before it could be killed:\n"
                        f"{proc.stderr.read().decode()[-3000:]}")
        if time.monotonic() - t0 > timeout_s:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the child never reached the point where it is killed")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def tiny_z(tiny_h5):
    return zscore(datasets.load(tiny_h5), copy=True).X


@pytest.mark.slow
def test_training_killed_keeps_the_finished_seed_and_never_trusts_the_interrupted_one(tmp_path, tiny_h5, tiny_z,
                                                                                      monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(cache))  # the child's cache, and the entries' paths below
    cfg = VAEConfig(**TRAIN)
    child = _start(f"""
        from replicate.io import datasets
        from replicate.method.latents import latents
        from replicate.method.preprocess import zscore
        from replicate.method.vae_config import VAEConfig
        X = zscore(datasets.load({str(tiny_h5)!r}), copy=True).X
        latents(X, VAEConfig(**{TRAIN!r}), seeds=[0, 1], verbose=False)
    """, tmp_path, {})
    (done0, weights0), (done1, weights1) = entry_paths(tiny_z, cfg, 0), entry_paths(tiny_z, cfg, 1)
    _kill_when(child, lambda: done0.is_file() and time.sleep(0.5) is None)  # seed 1 is training
    assert done0.is_file() and weights0.is_file() and not done1.exists() and not weights1.exists()
    # at most a temporary file is left beside them, named so that nothing reads it
    assert all(p.name.endswith(".tmp") for p in (cache / "vae").iterdir() if p not in (done0, weights0))

    resumed = latents(tiny_z, cfg, seeds=[0, 1], verbose=False)
    assert resumed[0].cached and not resumed[1].cached  # the finished seed is not trained again
    (fresh,) = latents(tiny_z, cfg, seeds=[1], cache=False, verbose=False)  # seed 1 never interrupted
    np.testing.assert_array_equal(resumed[1].mu, fresh.mu)
    np.testing.assert_array_equal(resumed[1].logvar, fresh.logvar)


METHODS = ["agglomerative", "birch", "kmeans"]
GRID_CODE = """
    import numpy as np
    from replicate.grid.execute import run
    inputs = np.load("inputs.npz")
    run({"z": inputs["Z"]}, inputs["y"], "grid.csv", methods=%r, n_jobs=1, progress=False, flush_every_s=0.0)
""" % METHODS


def _grid_inputs(n_per: int = 300) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat([1, 2, 3], n_per)
    return {"z": rng.normal(size=(y.size, 4)) + 4 * np.eye(4)[y]}, y


@pytest.mark.slow
def test_grid_killed_resumes_from_its_whole_rows_and_equals_an_uninterrupted_grid(tmp_path):
    out = tmp_path / "grid.csv"
    embs, y = _grid_inputs()
    np.savez(tmp_path / "inputs.npz", Z=embs["z"], y=y)
    child = _start(GRID_CODE, tmp_path, {})

    def some_rows() -> bool:
        return out.is_file() and len(load_results(out)) >= 10

    _kill_when(child, some_rows)
    kept = load_results(out)  # a killed writer leaves whole rows only (temp file + rename)
    full = run_grid(embs, y, tmp_path / "fresh.csv", methods=METHODS, n_jobs=1, progress=False)
    assert 10 <= len(kept) < len(full)
    assert kept[["key", "method", "status", "CA"]].notna().all().all()
    resumed = run_grid(embs, y, out, methods=METHODS, n_jobs=1, progress=False)
    cols = ["CA", "NMI", "ARI", "clusters_found", "status"]
    pd.testing.assert_frame_equal(resumed.set_index("key")[cols].sort_index(),
                                  full.set_index("key")[cols].sort_index(), check_dtype=False)
    # the rows that survived the kill were not computed again
    pd.testing.assert_series_equal(load_results(out).set_index("key").loc[kept["key"], "seconds"],
                                   kept.set_index("key")["seconds"], check_dtype=False)


def _tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {p.relative_to(run_dir).as_posix(): pd.read_csv(p) for p in sorted(run_dir.glob("*/*.csv"))}


@pytest.mark.slow
def test_run_killed_in_a_training_then_run_again_equals_an_uninterrupted_run(tmp_path):
    part = ["--profile", "smoke", "--sections", "01_data,02_vae,03_clustering", "--methods", "kmeans"]
    results, reference = tmp_path / "results", tmp_path / "reference"
    run_dir = results / "pbmc68k-reduced" / "smoke"
    manifest = run_dir / "manifest.json"
    command = CLI + ["run", *part, "--results", str(results)]
    env = {"REPLICATE_CACHE_DIR": str(tmp_path / "cache")}  # empty: the VAE is trained here, and killed
    child = _start_command(command, tmp_path, env)

    def training() -> bool:  # 01_data done, 02_vae's kernel running
        return manifest.is_file() and any((run_dir / "02_vae").glob(".02_vae.*.running.ipynb")) and \
            json.loads(manifest.read_text())["sections"].get("01_data", {}).get("status") == "done"

    _kill_when(child, training)
    assert not (run_dir / "02_vae" / "02_vae.ipynb").exists()
    subprocess.run(command, cwd=tmp_path, env={**os.environ, **env}, check=True, capture_output=True)
    after = json.loads(manifest.read_text())["sections"]
    assert after["01_data"]["skipped"] and not after["02_vae"]["skipped"]  # resumed: what was done is kept
    assert all(s["status"] == "done" for s in after.values())
    assert not list(run_dir.rglob(".*.running.ipynb"))  # the killed run's scratch notebook is swept away
    assert not [p.name for p in run_dir.rglob(".*") if p.is_file() and p.name != ".kernel.log"]
    # the same command never interrupted, with a cache of its own
    subprocess.run(CLI + ["run", *part, "--results", str(reference)], cwd=tmp_path, check=True, capture_output=True,
                   env={**os.environ, "REPLICATE_CACHE_DIR": str(tmp_path / "cache-reference")})
    ours, theirs = _tables(run_dir), _tables(reference / "pbmc68k-reduced" / "smoke")
    assert set(ours) == set(theirs) and ours
    for name, table in theirs.items():
        drop = [c for c in table.columns if c == "seconds" or c.endswith("_seconds")]
        pd.testing.assert_frame_equal(ours[name].drop(columns=drop), table.drop(columns=drop), obj=name)


@pytest.mark.slow
def test_book_build_killed_keeps_no_half_book_and_builds_again(tmp_path, smoke_run):
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir, ignore=shutil.ignore_patterns("book", ".book.building"))
    child = _start_command(CLI + ["book", "--run", str(run_dir)], tmp_path, {})
    _kill_when(child, lambda: (run_dir / ".book.building" / "_build").is_dir())  # inside jupyter-book
    assert not (run_dir / "book").exists()  # nothing half-built stands where the book goes
    subprocess.run(CLI + ["book", "--run", str(run_dir)], cwd=tmp_path, check=True, capture_output=True)
    assert not (run_dir / ".book.building").exists()
    html = run_dir / "book" / "_build" / "html"
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    assert {"intro.html", "05_table1.html", "02_vae.html"} <= pages
