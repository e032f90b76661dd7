from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests never read or write the user's VAE cache."""
    old = os.environ.get("REPLICATE_CACHE_DIR")
    os.environ["REPLICATE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("REPLICATE_CACHE_DIR", None)
    else:
        os.environ["REPLICATE_CACHE_DIR"] = old


def synthetic_counts(n_per: int = 40, n_genes: int = 60, n_types: int = 3, seed: int = 0):
    """Poisson counts with ``n_types`` cell types, each over-expressing its own block of genes."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(1, n_types + 1), n_per)
    rates = np.full((n_types, n_genes), 1.0)
    block = n_genes // n_types
    for t in range(n_types):
        rates[t, t * block:(t + 1) * block] = 8.0
    X = rng.poisson(rates[labels - 1]).astype(np.float64)
    return X, labels.astype(np.float64)


def write_h5(path: Path, X, Y) -> Path:
    with h5py.File(path, "w") as f:
        f["X"] = X
        f["Y"] = Y
    return path


@pytest.fixture
def tiny_h5(tmp_path) -> Path:
    """A labelled scDeepCluster-style file: 120 cells x 60 genes, 3 types."""
    return write_h5(tmp_path / "tiny.h5", *synthetic_counts())


@pytest.fixture(scope="session")
def tiny_h5_session(tmp_path_factory) -> Path:
    return write_h5(tmp_path_factory.mktemp("data") / "tiny.h5", *synthetic_counts())


@pytest.fixture
def shared_2100() -> Path:
    path = Path(os.environ.get("REPLICATE_DATA_DIR", SHARED)) / "pbmc_2100_top2000.h5"
    if not path.is_file():
        path = SHARED / "pbmc_2100_top2000.h5"
    if not path.is_file():
        pytest.skip("pbmc_2100_top2000.h5 is not available (CI has it in ../shared/data)")
    return path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/interrupted"):
            body = b"x" * 1000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) * 10))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_root(tmp_path):
    """Serve ``tmp_path/'www'`` on 127.0.0.1; yields (folder, base_url). /interrupted* breaks off."""
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(www), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def once_per_session(tmp_path_factory, name: str, make: Callable[[], Path]) -> Path:
    """``make()`` run once per test session, also when pytest-xdist splits the session over worker
    processes: the first worker to ask makes it under a lock, the others wait and read its path."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the session's workers
    record = root / "once" / f"{name}.json"
    from replicate.io import store

    with store.locked(record):
        if record.is_file():
            return Path(json.loads(record.read_text())["path"])
        made = Path(make())
        record.write_text(json.dumps({"path": str(made)}))
        return made


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One `replicate run --profile smoke` for every test that reads a run (copy it before changing it)."""
    from replicate.publish.pipeline import run

    return once_per_session(tmp_path_factory, "smoke_run",
                            lambda: run("smoke", None, results=tmp_path_factory.mktemp("results")))


@pytest.fixture(scope="session")
def committed_book(tmp_path_factory):
    """The committed study's book, built once as the Pages workflow builds it: its HTML folder."""
    from replicate.publish import book

    run = Path(__file__).resolve().parents[1] / "results" / "pbmc2100-top2000" / "paper"
    return once_per_session(tmp_path_factory, "committed_book", lambda: book.build(run))


#: The repository the smoke book's launch buttons and header link point to.
SMOKE_REPOSITORY = "https://github.com/example/replicate"


@pytest.fixture(scope="session")
def smoke_book(smoke_run, tmp_path_factory):
    """The smoke run's book, built once with ``replicate book`` (read it, never build into it): its HTML folder."""
    from replicate import cli

    def make() -> Path:
        assert cli.main(["book", "--run", str(smoke_run), "--repository", SMOKE_REPOSITORY]) == 0
        return smoke_run / "book" / "_build" / "html"

    return once_per_session(tmp_path_factory, "smoke_book", make)
