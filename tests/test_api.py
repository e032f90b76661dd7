"""The scanpy-style face: rp.pp / rp.tl / rp.pl on one's own AnnData (dense or sparse)."""

from __future__ import annotations

import re
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import replicate as rp
from replicate.errors import ParameterError
from replicate.vae import VAEConfig

from .conftest import synthetic_counts

TINY = VAEConfig(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=8, learning_rate=1e-3)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def own():
    """A user's AnnData: sparse raw counts, three cell types, labels under obs['label']."""
    X, y = synthetic_counts(n_per=40, n_genes=60)
    adata = anndata.AnnData(sp.csr_matrix(X.astype(np.float32)),
                            obs=pd.DataFrame({"label": pd.Categorical(y.astype(int).astype(str))},
                                             index=[f"c{i}" for i in range(len(y))]))
    rp.pp.zscore(adata)
    model = rp.tl.vae(adata, TINY, seed=0)
    return adata, model


def test_the_route_writes_what_the_docstrings_name(own):
    adata, model = own
    assert adata.obsm["X_vae"].shape == adata.obsm["X_vae_logvar"].shape == (120, 4)
    assert adata.uns["X_vae"]["params"]["seed"] == 0 and adata.uns["X_vae"]["params"]["latent_dim"] == 4
    assert len(adata.uns["X_vae"]["history"]["loss"]) == 8
    rp.tl.cluster(adata, "kmeans")
    assert adata.obs["kmeans"].dtype == "category" and adata.obs["kmeans"].nunique() == 3
    assert adata.uns["kmeans"]["params"] == {"method": "kmeans", "params": {}, "use_rep": "X_vae",
                                             "n_clusters": 3, "random_state": 0}
    scores = rp.tl.evaluate(adata, "kmeans")
    assert set(scores) == {"CA", "NMI", "ARI"} and scores["CA"] > 0.9
    mu, _ = model.encode(adata[:7])
    np.testing.assert_allclose(mu, adata.obsm["X_vae"][:7], atol=1e-5)


def test_the_h5ad_round_trip_keeps_what_the_tools_wrote(own, tmp_path):
    adata, _ = own
    rp.tl.cluster(adata, "birch", key_added="birch")
    adata.write_h5ad(tmp_path / "own.h5ad")
    back = anndata.read_h5ad(tmp_path / "own.h5ad")
    assert back.uns["birch"]["params"]["params"] == {"threshold": 0.2, "branching_factor": 50}
    assert list(back.uns["zscore"]["steps"]) == adata.uns["zscore"]["steps"]


def test_cluster_with_settings_noise_and_other_representations(own):
    adata, _ = own
    rp.tl.cluster(adata, "dbscan", {"eps": 0.01, "min_samples": 5}, key_added="db")
    assert "-1" in set(adata.obs["db"])  # noise cells
    adata.obsm["X_first2"] = adata.X[:, :2]
    rp.tl.cluster(adata, "gmm", {"covariance_type": "diag"}, use_rep="X_first2", n_clusters=2, key_added="g2")
    assert adata.obs["g2"].nunique() == 2 and adata.uns["g2"]["params"]["use_rep"] == "X_first2"


def test_clear_errors_name_the_fix(own):
    adata, _ = own
    with pytest.raises(ParameterError, match="use_rep = 'X_pca' is not in adata.obsm"):
        rp.tl.cluster(adata, "kmeans", use_rep="X_pca")
    with pytest.raises(ParameterError, match="unknown for method 'birch'"):
        rp.tl.cluster(adata, "birch", {"treshold": 0.2})
    with pytest.raises(ParameterError, match="method = 'kmean' is unknown"):
        rp.tl.cluster(adata, "kmean")
    unlabelled = anndata.AnnData(adata.X.copy())
    unlabelled.obsm["X_vae"] = adata.obsm["X_vae"]
    with pytest.raises(ParameterError, match="needs a cluster count: pass n_clusters"):
        rp.tl.cluster(unlabelled, "kmeans")
    with pytest.raises(ParameterError, match="'nope' \\(clustering\\) is not a column"):
        rp.tl.evaluate(adata, "nope")


def test_the_vae_comes_back_from_the_cache_with_a_model(own):
    adata, first = own
    again = adata.copy()
    model = rp.tl.vae(again, TINY, seed=0)
    np.testing.assert_array_equal(again.obsm["X_vae"], adata.obsm["X_vae"])
    np.testing.assert_allclose(model.encode(again)[0], first.encode(adata)[0], atol=1e-6)


def test_plots_take_the_anndata(own):
    import matplotlib

    matplotlib.use("Agg")
    adata, _ = own
    rp.tl.cluster(adata, "kmeans")
    for fig in (rp.pl.loss_curves(adata), rp.pl.contingency(adata, "kmeans")):
        assert fig.axes and fig.axes[0].get_title()
    with pytest.raises(ParameterError, match="run rp.tl.vae"):
        rp.pl.loss_curves(adata, key="X_other")


@pytest.mark.slow
def test_the_own_data_page_runs_as_written(tmp_path, monkeypatch):
    """The code cells of notebooks/own_data.md, exactly as the book shows and executes them."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "notebooks" / "own_data.md").read_text()
    cells = re.findall(r"```\{code-cell\}\n(.*?)```", text, flags=re.S)
    assert len(cells) >= 4
    ns: dict = {}
    for source in cells:
        source = re.sub(r"\A(?::\w[\w-]*:.*\n)+", "", source)  # MyST cell options (:tags: ...) are not code
        exec(compile(source, "own_data.md", "exec"), ns)
    import scanpy as sc

    assert sp.issparse(sc.datasets.pbmc68k_reduced().raw.to_adata().X)  # the page's input is sparse
    adata = ns["adata"]
    assert adata.uns["zscore"]["input_log_normalised"] is True  # sparse, log-normalised, no marker
    assert adata.obsm["X_vae"].shape == (700, 32) and adata.obs["kmeans"].nunique() == 10
    assert ns["scores"]["CA"] > 0.4 and ns["mu"].shape == (5, 32)


def test_printed_warnings_lose_the_machines_folders(tmp_path):
    import nbformat

    from replicate.provenance import project_root, scrub_notebook, scrub_paths

    warning = "/opt/x/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
    assert scrub_paths(warning) == "site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
    assert scrub_paths(f'File "{project_root()}/replicate/vae.py"') == 'File "replicate/vae.py"'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=warning),
        nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[f"{project_root()}/replicate/x.py"])])])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert scrub_notebook(path) and not scrub_notebook(path)
    text = path.read_text()
    assert "/opt/x" not in text and str(project_root()) not in text and "site-packages/tqdm" in text
